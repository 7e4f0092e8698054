"""Loaded by ``pulse-agent run`` through PYTHONPATH: start the agent in the child
process, then hand over to any other ``sitecustomize`` the environment had."""

import importlib.util
import os
import sys


def _chain():
    here = os.path.dirname(os.path.abspath(__file__))
    saved = sys.modules.pop("sitecustomize", None)
    path = [p for p in sys.path if os.path.abspath(p or ".") != here]
    try:
        spec = None
        for entry in path:
            candidate = os.path.join(entry or ".", "sitecustomize.py")
            if os.path.isfile(candidate):
                spec = importlib.util.spec_from_file_location("sitecustomize", candidate)
                break
        if spec is not None and spec.loader is not None:
            module = importlib.util.module_from_spec(spec)
            sys.modules["sitecustomize"] = module
            spec.loader.exec_module(module)
            return
    except Exception:
        pass
    if saved is not None:
        sys.modules["sitecustomize"] = saved


try:
    import pulse_agent

    pulse_agent.init()
except Exception:  # never keep the app from starting
    pass
_chain()
