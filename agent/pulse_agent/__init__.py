"""Pulse APM agent.

Importing this package has no side effects (the server imports
``pulse_agent.sketch``). Start the agent with ``pulse_agent.init()`` or run the
app under ``pulse-agent run -- <command>``.
"""

__version__ = "0.1.0"


def init(**overrides):
    """Start the agent in this process (idempotent). Returns the Agent or None."""
    from pulse_agent.agent import init as _init

    return _init(**overrides)


def shutdown(timeout=None):
    """Flush and stop the agent (idempotent)."""
    from pulse_agent.agent import shutdown as _shutdown

    return _shutdown(timeout)


def __getattr__(name):
    # Lazy, so ``import pulse_agent.sketch`` stays free of side effects and cheap.
    if name in ("background_task", "set_transaction_name", "record_exception", "ignore_transaction"):
        from pulse_agent import api

        return getattr(api, name)
    if name == "WSGIMiddleware":
        from pulse_agent.instrumentation.wsgi import WSGIMiddleware

        return WSGIMiddleware
    if name == "ASGIMiddleware":
        from pulse_agent.instrumentation.asgi import ASGIMiddleware

        return ASGIMiddleware
    raise AttributeError("module 'pulse_agent' has no attribute %r" % name)
