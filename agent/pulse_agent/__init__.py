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
