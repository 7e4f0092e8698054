"""The agent's logger, with a rate limit so a broken hook can't flood the host's logs."""

import logging
import sys
import time

logger = logging.getLogger("pulse_agent")

_last = {}
_RATE_SECONDS = 300.0


def configure(level):
    logger.setLevel(getattr(logging, level.upper(), logging.WARNING))
    if not logger.handlers and not logging.getLogger().handlers:
        h = logging.StreamHandler(sys.stderr)
        h.setFormatter(logging.Formatter("pulse-agent: %(levelname)s %(message)s"))
        logger.addHandler(h)
        logger.propagate = False


def log_once(key, msg, *args, level=logging.WARNING, exc_info=False):
    """Log ``msg`` at most once per 5 minutes for each ``key``; never raises."""
    try:
        now = time.monotonic()
        last = _last.get(key)
        if last is not None and now - last < _RATE_SECONDS:
            return
        _last[key] = now
        if len(_last) > 1000:
            _last.clear()
        logger.log(level, msg, *args, exc_info=exc_info)
    except Exception:  # logging must never break the host either
        pass


def internal_error(where):
    """Call from an ``except`` block in agent code: log the agent's own failure."""
    log_once("internal:" + where, "internal error in %s (the app is unaffected)", where, exc_info=True)
