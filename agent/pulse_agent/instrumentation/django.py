"""Django request handling: one web transaction per request, named after the
resolved view (``shop.views.checkout``); a span per middleware and for the view;
server errors (5xx from an exception) recorded with their stack.

Templates and the ORM have their own modules (django_templates, django_orm).
"""

from pulse_agent.instrumentation import unwrap_method, wrap_method
from pulse_agent.instrumentation.asgi import run_asgi
from pulse_agent.instrumentation.wsgi import finish as finish_wsgi
from pulse_agent.log import internal_error
from pulse_agent.naming import callable_name
from pulse_agent.state import current, hand_off, reset_current, set_current
from pulse_agent.transaction import FUNCTION, PRIORITY_FRAMEWORK, PRIORITY_URL, Transaction, perf_counter

LIBRARY = "django"
SUPPORTED = ("3.2", "6.1")
FRAMEWORK = True

_UNRESOLVED = "(no route)"


def _is_djangos_own(function, handler_module):
    code = getattr(function, "__code__", None)
    return code is not None and code.co_filename == handler_module.__file__


def _noting_status(txn, start_response):
    """``start_response`` that notes the status on ``txn`` first."""

    def noting(status, headers, exc_info=None):
        try:
            txn.status = int(status[:3])
        except Exception:
            internal_error("django.status")
        return start_response(status, headers, exc_info)

    return noting


def _wsgi_call(original, patch):
    from django.core.handlers import wsgi

    # Under another tool's wrapper (Sentry's returns its own response object) the
    # status is taken from start_response; Django's own handler returns its response.
    direct = _is_djangos_own(original, wsgi)
    # Module globals bound as closure locals: this runs once per request.
    get_txn = current
    set_txn = set_current
    reset_txn = reset_current
    clock = perf_counter
    url = PRIORITY_URL

    def __call__(self, environ, start_response):
        if patch.passthrough or get_txn() is not None:
            return original(self, environ, start_response)
        try:
            txn = Transaction(_UNRESOLVED)  # start_transaction, inlined (hot path)
            token = txn.token = set_txn(txn)
            tp = environ.get("HTTP_TRACEPARENT")
            if tp:
                txn.accept_traceparent(tp, environ.get("HTTP_TRACESTATE"))
        except Exception:
            internal_error("django.begin")
            return original(self, environ, start_response)
        try:
            if not direct:
                start_response = _noting_status(txn, start_response)
            response = original(self, environ, start_response)
        except BaseException as exc:
            _name_unresolved(txn, environ)
            finish_wsgi(txn, exc)
            raise
        try:
            # end_transaction, inlined
            d = txn.duration = clock() - txn.t0
            if direct:
                txn.status = response.status_code
            if txn.priority == url:
                _name_unresolved(txn, environ)
            txn.token = None
            reset_txn(token)
            if not txn.ignore:
                hand_off(txn, d)
        except Exception:
            internal_error("django.end")
        return response

    return __call__


def _name_unresolved(txn, environ):
    if txn.priority == PRIORITY_URL:
        txn.name = "%s %s" % (environ.get("REQUEST_METHOD") or "GET", _UNRESOLVED)


def _resolve_request(original, patch):
    def resolve_request(self, request):
        match = original(self, request)
        txn = current()
        if txn is not None and not patch.passthrough:
            try:
                name = getattr(match, "_func_path", None) or callable_name(match.func)
                if txn.priority <= PRIORITY_FRAMEWORK:
                    txn.name = name[:255]
                    txn.priority = PRIORITY_FRAMEWORK
            except Exception:
                internal_error("django.resolve")
        return match

    return resolve_request


def _response_for_exception(original, patch):
    def response_for_exception(request, exc):
        response = original(request, exc)
        try:
            txn = current()
            if txn is not None and not patch.passthrough and getattr(response, "status_code", 500) >= 500:
                txn.record_exception(exc)
        except Exception:
            internal_error("django.exception")
        return response

    return response_for_exception


def _timed(handler, name):
    """Wrap one link of Django's middleware chain in a 'function' span."""
    from asgiref.sync import iscoroutinefunction, markcoroutinefunction

    if iscoroutinefunction(handler):

        async def inner_async(request):
            txn = current()
            if txn is None:
                return await handler(request)
            t0 = perf_counter()
            try:
                return await handler(request)
            finally:
                try:
                    txn.add_function_span(name, t0)
                except Exception:
                    internal_error("django.middleware_span")

        return markcoroutinefunction(inner_async)

    # Module globals bound as locals of the closure: this runs once per middleware
    # per request. No span bound check: a request has as many of these as the
    # project has middleware.
    get_txn = current
    clock = perf_counter
    function = FUNCTION

    def inner(request):
        txn = get_txn()
        if txn is None:
            return handler(request)
        t0 = clock()
        try:
            return handler(request)
        finally:
            try:
                txn.spans.append((function, name, t0, clock(), None, None))
            except Exception:
                internal_error("django.middleware_span")

    return inner


def _convert_exception_to_response(original, patch):
    def convert_exception_to_response(get_response):
        handler = original(get_response)
        if patch.passthrough:
            return handler
        try:
            if getattr(get_response, "__func__", None) is not None and get_response.__name__ in (
                "_get_response",
                "_get_response_async",
            ):
                name = "view"
            else:
                name = callable_name(get_response)
            return _timed(handler, name)
        except Exception:
            internal_error("django.middleware")
            return handler

    return convert_exception_to_response


def instrument_trigger(trigger):
    from django.core.handlers import base, exception

    wrap_method(base.BaseHandler, "resolve_request", _resolve_request)
    wrap_method(exception, "response_for_exception", _response_for_exception)
    wrap_method(base, "convert_exception_to_response", _convert_exception_to_response)
    if trigger == "django.core.handlers.wsgi":
        from django.core.handlers import wsgi

        wrap_method(wsgi.WSGIHandler, "__call__", _wsgi_call)
    elif trigger == "django.core.handlers.asgi":
        from django.core.handlers import asgi

        wrap_method(asgi.ASGIHandler, "__call__", _asgi_call)


def _asgi_call(original, patch):
    async def __call__(self, scope, receive, send):
        if patch.passthrough:
            return await original(self, scope, receive, send)
        await run_asgi(lambda s, r, se: original(self, s, r, se), scope, receive, send)

    return __call__


def instrument():
    instrument_trigger("django.core.handlers.wsgi")
    instrument_trigger("django.core.handlers.asgi")


def uninstrument():
    from django.core.handlers import asgi, base, exception, wsgi

    unwrap_method(wsgi.WSGIHandler, "__call__")
    unwrap_method(asgi.ASGIHandler, "__call__")
    unwrap_method(base.BaseHandler, "resolve_request")
    unwrap_method(exception, "response_for_exception")
    unwrap_method(base, "convert_exception_to_response")
