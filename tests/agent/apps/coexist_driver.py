"""The Django sample app under Pulse and another tool at once, Sentry or the
OpenTelemetry SDK, started in the order given: ``coexist_driver.py sentry|otel
pulse-first|tool-first``. Requests run with both tools, then Pulse is shut down and
uninstrumented and the same requests run again. Prints what the other tool recorded
in each phase (Sentry's transactions go to the sink through its DSN instead)."""

import importlib
import json
import os
import sys

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "djshop.settings")
TOOL, ORDER = sys.argv[1], sys.argv[2]
PATHS = ("/items/%d/", "/call/", "/raw-sql/")
otel_spans = None


def start_pulse():
    import pulse_agent

    assert pulse_agent.init() is not None


def stop_pulse():
    import pulse_agent
    from pulse_agent.instrumentation import applied

    pulse_agent.shutdown()
    for name in list(applied):
        importlib.import_module("pulse_agent.instrumentation." + name).uninstrument()


def start_tool():
    global otel_spans
    if TOOL == "sentry":
        import sentry_sdk

        sentry_sdk.init(dsn=os.environ["SENTRY_DSN"], traces_sample_rate=1.0)
        return
    from opentelemetry import trace
    from opentelemetry.instrumentation.django import DjangoInstrumentor
    from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
    from opentelemetry.instrumentation.requests import RequestsInstrumentor
    from opentelemetry.instrumentation.sqlite3 import SQLite3Instrumentor
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    otel_spans = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(otel_spans))
    trace.set_tracer_provider(provider)
    DjangoInstrumentor().instrument()
    RequestsInstrumentor().instrument()
    HTTPXClientInstrumentor().instrument()
    SQLite3Instrumentor().instrument()


def otel_phase():
    """Names and kinds of the spans OpenTelemetry finished since the last call."""
    if otel_spans is None:
        return []
    spans = otel_spans.get_finished_spans()
    otel_spans.clear()
    return sorted("%s %s" % (s.kind.name, s.name) for s in spans)


def main():
    for start in (start_pulse, start_tool) if ORDER == "pulse-first" else (start_tool, start_pulse):
        start()

    import django

    django.setup()
    from django.core.management import call_command
    from django.core.wsgi import get_wsgi_application

    from djshop.models import Item
    from wsgi_client import call

    call_command("migrate", run_syncdb=True, verbosity=0)
    Item.objects.all().delete()
    item = Item.objects.create(name="item one", price=150)
    app = get_wsgi_application()
    otel_phase()  # the set-up's queries
    out = {"statuses": [], "otel": []}
    for phase in ("both", "pulse stopped"):
        if phase == "pulse stopped":
            stop_pulse()
        for path in PATHS:
            out["statuses"].append(call(app, path.replace("%d", str(item.pk)))[0])
        out["otel"].append(otel_phase())
    if TOOL == "sentry":
        import sentry_sdk

        sentry_sdk.flush(timeout=10)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
