"""Jinja2: a template span per ``Template.render`` / ``render_async``."""

from pulse_agent.log import internal_error
from pulse_agent.instrumentation import unwrap_method, wrap_method
from pulse_agent.state import current
from pulse_agent.transaction import TEMPLATE, perf_counter

LIBRARY = "jinja2"
SUPPORTED = ("2.11", "4.0")


def _render(original, patch):
    def render(self, *args, **kwargs):
        txn = current()
        if txn is None or patch.passthrough:
            return original(self, *args, **kwargs)
        try:
            saved = txn.enter()
        except Exception:
            internal_error("jinja2.enter")
            return original(self, *args, **kwargs)
        t0 = perf_counter()
        try:
            return original(self, *args, **kwargs)
        finally:
            try:
                name = self.name or "<string>"
                txn.leave(TEMPLATE, name, t0, saved)
            except Exception:
                internal_error("jinja2")

    return render


def _render_async(original, patch):
    async def render_async(self, *args, **kwargs):
        txn = current()
        if txn is None or patch.passthrough:
            return await original(self, *args, **kwargs)
        try:
            saved = txn.enter()
        except Exception:
            internal_error("jinja2.enter")
            return await original(self, *args, **kwargs)
        t0 = perf_counter()
        try:
            return await original(self, *args, **kwargs)
        finally:
            try:
                name = self.name or "<string>"
                txn.leave(TEMPLATE, name, t0, saved)
            except Exception:
                internal_error("jinja2")

    return render_async


def instrument():
    from jinja2 import environment

    wrap_method(environment.Template, "render", _render)
    wrap_method(environment.Template, "render_async", _render_async)


def uninstrument():
    from jinja2 import environment

    unwrap_method(environment.Template, "render")
    unwrap_method(environment.Template, "render_async")
