"""Starlette and FastAPI (which builds on it): one web transaction per HTTP request,
named ``METHOD /route/{param}`` after the matched route, else after the endpoint."""

import sys

from pulse_agent.instrumentation import unwrap_method, wrap_method
from pulse_agent.instrumentation.asgi import run_asgi
from pulse_agent.naming import callable_name
from pulse_agent.state import set_framework

LIBRARY = "starlette"
SUPPORTED = ("0.20", "2.0")
FRAMEWORK = True


def route_name(scope):
    route = scope.get("route")
    path = getattr(route, "path_format", None) or getattr(route, "path", None)
    if isinstance(path, str) and path:
        return "%s %s" % (scope.get("method") or "GET", path)
    endpoint = scope.get("endpoint")
    if endpoint is not None:
        return callable_name(endpoint)
    return "%s (no route)" % (scope.get("method") or "GET")


def _call(original, patch):
    async def __call__(self, scope, receive, send):
        if patch.passthrough:
            return await original(self, scope, receive, send)
        await run_asgi(lambda s, r, se: original(self, s, r, se), scope, receive, send, route_name)

    return __call__


def library_version():
    import starlette

    return getattr(starlette, "__version__", None)


def instrument():
    from starlette import applications

    wrap_method(applications.Starlette, "__call__", _call)
    try:
        fastapi = sys.modules.get("fastapi")
        if fastapi is not None:
            set_framework("fastapi", getattr(fastapi, "__version__", None))
    except Exception:
        pass


def uninstrument():
    from starlette import applications

    unwrap_method(applications.Starlette, "__call__")
