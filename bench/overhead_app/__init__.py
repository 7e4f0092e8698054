"""The models of ``bench/agent_overhead.py``'s app (a Django app needs a package)."""
