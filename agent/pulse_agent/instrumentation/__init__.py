"""One module per instrumented library.

Each module defines ``LIBRARY`` (the distribution name), ``SUPPORTED`` (a version
range, inclusive lower and exclusive upper bound), ``instrument()`` and
``uninstrument()``; both are idempotent. ``REGISTRY`` maps each module to the
imports that trigger it.
"""

import importlib

from pulse_agent.log import log_once, logger
from pulse_agent.state import set_framework

REGISTRY = {
    "django": ("django.core.handlers.wsgi", "django.core.handlers.asgi"),
    "django_templates": ("django.template.base",),
    "django_orm": ("django.db.backends.utils",),
    "flask": ("flask",),
    "starlette": ("starlette.applications",),
    "celery": ("celery",),
    "psycopg": ("psycopg",),
    "psycopg2": ("psycopg2",),
    "sqlite3": ("sqlite3",),
    "urllib3": ("urllib3.connectionpool",),
    "requests": ("requests.sessions",),
    "httpx": ("httpx",),
    "urllib": ("urllib.request",),
    "redis": ("redis.client", "redis.asyncio.client"),
    "jinja2": ("jinja2.environment",),
}

applied = {}  # module name -> version string


def version_of(dist):
    try:
        from importlib.metadata import version

        return version(dist)
    except Exception:
        return None


def _parse(v):
    out = []
    for part in v.split("."):
        num = ""
        for ch in part:
            if not ch.isdigit():
                break
            num += ch
        out.append(int(num or 0))
        if len(out) == 3:
            break
    while len(out) < 3:
        out.append(0)
    return tuple(out)


def supported(mod, version):
    if version is None:
        return True
    lo, hi = getattr(mod, "SUPPORTED", (None, None))
    v = _parse(version)
    if lo and v < _parse(lo):
        return False
    if hi and v >= _parse(hi):
        return False
    return True


def apply(name, trigger=None):
    """Instrument one library (called by the import hook); never raises."""
    try:
        mod = importlib.import_module("pulse_agent.instrumentation." + name)
        if hasattr(mod, "library_version"):
            version = mod.library_version()
        else:
            version = version_of(mod.LIBRARY) if mod.LIBRARY else None
        if not supported(mod, version):
            log_once(
                "unsupported:" + name,
                "%s %s is outside the supported range %s: not instrumented",
                mod.LIBRARY,
                version,
                mod.SUPPORTED,
            )
            return False
        if trigger is not None and hasattr(mod, "instrument_trigger"):
            mod.instrument_trigger(trigger)
        else:
            mod.instrument()
        applied[name] = version
        if getattr(mod, "FRAMEWORK", False):
            set_framework(mod.LIBRARY, version)
        logger.debug("instrumented %s %s", name, version)
        return True
    except Exception:
        log_once("instrument:" + name, "could not instrument %s (the app is unaffected)", name, exc_info=True)
        return False


def wrap_method(owner, attr, make_wrapper):
    """Replace ``owner.attr`` with ``make_wrapper(original)``, once; keeps the original."""
    original = owner.__dict__.get(attr) if isinstance(owner, type) else getattr(owner, attr, None)
    if original is None:
        original = getattr(owner, attr)
    if getattr(original, "__pulse_original__", None) is not None:
        return False
    wrapper = make_wrapper(original)
    try:
        wrapper.__pulse_original__ = original
        wrapper.__wrapped__ = original
        wrapper.__name__ = getattr(original, "__name__", attr)
        wrapper.__qualname__ = getattr(original, "__qualname__", attr)
        wrapper.__doc__ = getattr(original, "__doc__", None)
    except (AttributeError, TypeError):
        pass
    setattr(owner, attr, wrapper)
    return True


def unwrap_method(owner, attr):
    current = owner.__dict__.get(attr) if isinstance(owner, type) else getattr(owner, attr, None)
    original = getattr(current, "__pulse_original__", None)
    if original is not None:
        setattr(owner, attr, original)
        return True
    return False
