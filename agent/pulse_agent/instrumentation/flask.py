"""Flask: one web transaction per request (``Flask.wsgi_app``), named after the view
function; the view is a span; unhandled exceptions are recorded (and still handled
or propagated by Flask exactly as before)."""

from pulse_agent.instrumentation import unwrap_method, wrap_method
from pulse_agent.instrumentation.wsgi import run_wsgi
from pulse_agent.log import internal_error
from pulse_agent.naming import callable_name
from pulse_agent.state import current
from pulse_agent.transaction import PRIORITY_FRAMEWORK, perf_counter

LIBRARY = "flask"
SUPPORTED = ("2.0", "4.0")
FRAMEWORK = True


def _wsgi_app(original, patch):
    def wsgi_app(self, environ, start_response):
        if patch.passthrough:
            return original(self, environ, start_response)
        return run_wsgi(lambda e, s: original(self, e, s), environ, start_response, True)

    return wsgi_app


def _dispatch_request(original, patch):
    def dispatch_request(self, *args, **kwargs):
        txn = current()
        if txn is None or patch.passthrough:
            return original(self, *args, **kwargs)
        try:
            from flask import request

            rule = request.url_rule
            if rule is not None:
                view = self.view_functions.get(rule.endpoint)
                txn.set_name(callable_name(view) if view is not None else rule.endpoint, PRIORITY_FRAMEWORK)
            else:
                txn.set_name("%s (no route)" % request.method, PRIORITY_FRAMEWORK)
        except Exception:
            internal_error("flask.name")
        t0 = perf_counter()
        try:
            return original(self, *args, **kwargs)
        finally:
            try:
                txn.add_function_span("view", t0)
            except Exception:
                internal_error("flask.view_span")

    return dispatch_request


def _handle_exception(original, patch):
    def handle_exception(self, e, *args, **kwargs):
        try:
            txn = current()
            if txn is not None and not patch.passthrough:
                txn.record_exception(e)
        except Exception:
            internal_error("flask.exception")
        return original(self, e, *args, **kwargs)

    return handle_exception


def instrument():
    import flask

    wrap_method(flask.Flask, "wsgi_app", _wsgi_app)
    wrap_method(flask.Flask, "dispatch_request", _dispatch_request)
    wrap_method(flask.Flask, "handle_exception", _handle_exception)


def uninstrument():
    import flask

    for attr in ("wsgi_app", "dispatch_request", "handle_exception"):
        unwrap_method(flask.Flask, attr)
