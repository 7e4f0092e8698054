"""Transaction names from URLs, without raw ids (they would explode the name count)."""

import re

_ID_SEGMENT = re.compile(
    r"^(?:\d+|[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}"
    r"|[0-9a-fA-F]{16,}|[^/]*\d[^/]*\d[^/]*\d[^/]*)$"
)


def url_name(method, path):
    """``GET /items/{id}`` from ``GET /items/42``; at most 8 path segments."""
    if not path:
        path = "/"
    parts = path.split("/")
    if len(parts) > 9:
        parts = parts[:9] + ["*"]
    out = []
    for p in parts:
        out.append("{id}" if p and _ID_SEGMENT.match(p) else p)
    return ("%s %s" % (method or "GET", "/".join(out)))[:255]


def callable_name(obj):
    """``package.module.function`` or ``package.module.Class`` for a view.

    A view defined in the script that was run (module ``__main__``) keeps its own name only:
    the module says nothing a reader would recognise.
    """
    target = getattr(obj, "view_class", None) or getattr(obj, "cls", None) or obj
    if not isinstance(target, type) and not hasattr(target, "__qualname__"):
        target = type(target)
    mod = getattr(target, "__module__", None) or ""
    qual = getattr(target, "__qualname__", None) or getattr(target, "__name__", None) or repr(target)
    return ("%s.%s" % (mod, qual) if mod and mod != "__main__" else qual)[:255]
