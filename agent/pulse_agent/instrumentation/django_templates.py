"""Django template rendering: a template span per ``Template.render`` (includes nest)."""

from pulse_agent.log import internal_error
from pulse_agent.instrumentation import unwrap_method, wrap_method
from pulse_agent.transaction import TEMPLATE, _current, perf_counter

LIBRARY = "django"
SUPPORTED = ("3.2", "6.1")


def _render(original):
    def render(self, context):
        txn = _current.get()
        if txn is None:
            return original(self, context)
        try:
            saved = txn.enter()
        except Exception:
            internal_error("django_templates.enter")
            return original(self, context)
        t0 = perf_counter()
        try:
            return original(self, context)
        finally:
            try:
                name = self.name or "<string>"
                txn.leave(TEMPLATE, name, t0, saved, {"template": name})
            except Exception:
                internal_error("django_templates")

    return render


def instrument():
    from django.template import base

    wrap_method(base.Template, "render", _render)


def uninstrument():
    from django.template import base

    unwrap_method(base.Template, "render")
