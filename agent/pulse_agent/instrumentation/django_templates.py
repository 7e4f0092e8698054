"""Django template rendering: a template span per ``Template.render`` (includes nest)."""

from pulse_agent.log import internal_error
from pulse_agent.instrumentation import unwrap_method, wrap_method
from pulse_agent.state import current
from pulse_agent.transaction import MAX_SPANS, TEMPLATE, perf_counter

LIBRARY = "django"
SUPPORTED = ("3.2", "6.1")


def _render(original, patch):
    get_txn = current
    clock = perf_counter
    template = TEMPLATE

    def render(self, context):
        txn = get_txn()
        if txn is None or patch.passthrough:
            return original(self, context)
        try:
            saved = txn.acc  # Transaction.enter, inlined
            txn.acc = 0.0
        except Exception:
            internal_error("django_templates.enter")
            return original(self, context)
        t0 = clock()
        try:
            return original(self, context)
        finally:
            try:
                # Transaction.leave, inlined; the span's attributes are made from its
                # name on the harvest thread, and only if it is sent
                t1 = clock()
                d = t1 - t0
                excl = d - txn.acc
                txn.acc = saved + d
                if excl > 0.0:
                    txn.t_tmpl += excl
                spans = txn.spans
                if len(spans) < MAX_SPANS:
                    spans.append((template, self.name or "<string>", t0, t1, None, None))
                else:
                    txn.spans_dropped += 1
            except Exception:
                internal_error("django_templates")

    return render


def instrument():
    from django.template import base

    wrap_method(base.Template, "render", _render)


def uninstrument():
    from django.template import base

    unwrap_method(base.Template, "render")
