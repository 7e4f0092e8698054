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
    "django_connections": ("django.db.backends.signals",),
    "flask": ("flask",),
    "starlette": ("starlette.applications",),
    "celery": ("celery",),
    "psycopg": ("psycopg",),
    "psycopg2": ("psycopg2",),
    "sqlite3": ("sqlite3",),
    "urllib3": ("urllib3.connectionpool",),
    "requests": ("requests.sessions",),
    "httpx": ("httpx",),
    "httpx2": ("httpx2",),
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


class Patch:
    """One attribute we replaced with a wrapper of ours.

    Our wrappers are known by identity (this registry), never by an attribute on the
    function: ``functools.wraps`` copies a function's ``__dict__`` and wrapt proxies
    attribute reads, so another tool's wrapper around ours would carry any marker we
    set. ``passthrough`` is set when we were asked to unwrap but another tool's
    wrapper sits above ours and still calls it: we cannot take ours out of their
    closure, so ours forwards every call untouched instead (each wrapper checks the
    flag once per call).
    """

    __slots__ = ("owner", "attr", "original", "inherited", "wrapper", "passthrough")

    def __init__(self, owner, attr, original, inherited):
        self.owner = owner
        self.attr = attr
        self.original = original
        self.inherited = inherited  # the attribute came from a base class
        self.wrapper = None
        self.passthrough = False


_patches = {}  # (id(owner), attr) -> Patch; owners are classes and modules, never freed

# How far down a chain of other tools' wrappers we look for ours.
_MAX_CHAIN = 32


def _current(owner, attr):
    if isinstance(owner, type):
        return owner.__dict__.get(attr)
    return getattr(owner, attr, None)


def _in_chain(obj, target):
    """True when ``target`` is ``obj`` or reachable through ``__wrapped__`` links
    (functools.wraps, wrapt proxies and our own wrappers all set them)."""
    for _ in range(_MAX_CHAIN):
        if obj is target:
            return True
        try:
            obj = getattr(obj, "__wrapped__", None)
        except Exception:
            return False
        if obj is None:
            return False
    return False


def wrap_method(owner, attr, make_wrapper):
    """Replace ``owner.attr`` with ``make_wrapper(original, patch)``, once.

    The wrapper must call ``original`` untouched while ``patch.passthrough`` is set.
    Calling this again while our wrapper is in place (even under another tool's
    wrapper) changes nothing, except that a wrapper left as a pass-through by
    ``unwrap_method`` records again. Returns True when our wrapper became active.
    """
    key = (id(owner), attr)
    patch = _patches.get(key)
    current = _current(owner, attr)
    if patch is not None and _in_chain(current, patch.wrapper):
        if not patch.passthrough:
            return False
        patch.passthrough = False
        return True
    if patch is not None:  # ours was replaced without a __wrapped__ link: retire it
        patch.passthrough = True
    inherited = current is None
    original = getattr(owner, attr) if inherited else current
    patch = Patch(owner, attr, original, inherited)
    wrapper = make_wrapper(original, patch)
    try:
        wrapper.__wrapped__ = original
        wrapper.__name__ = getattr(original, "__name__", attr)
        wrapper.__qualname__ = getattr(original, "__qualname__", attr)
        wrapper.__doc__ = getattr(original, "__doc__", None)
    except (AttributeError, TypeError):
        pass
    patch.wrapper = wrapper
    setattr(owner, attr, wrapper)
    _patches[key] = patch
    return True


def unwrap_method(owner, attr):
    """Take our wrapper of ``owner.attr`` out of service, leaving other tools' alone.

    On top: the attribute goes back to what we found. Under another tool's wrapper:
    ours becomes a pass-through (their wrapper keeps calling it, so it stays in the
    chain). Returns True when ours no longer records.
    """
    key = (id(owner), attr)
    patch = _patches.get(key)
    if patch is None:
        return False
    current = _current(owner, attr)
    if current is patch.wrapper:
        if patch.inherited:
            delattr(owner, attr)
        else:
            setattr(owner, attr, patch.original)
        del _patches[key]
        patch.passthrough = True  # for callers that kept a reference to it
        return True
    already = patch.passthrough
    patch.passthrough = True
    return not already


def is_ours(owner, attr):
    """True when our wrapper of ``owner.attr`` is in the chain and recording."""
    patch = _patches.get((id(owner), attr))
    return patch is not None and not patch.passthrough and _in_chain(_current(owner, attr), patch.wrapper)
