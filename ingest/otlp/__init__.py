"""The OTLP/HTTP receiver: OpenTelemetry SDKs of any language send traces (and metrics,
logs) to /v1/traces, /v1/metrics, /v1/logs with the Pulse ingest key; spans become the
same queued payloads the agent's harvests become, logged exceptions errors (docs/otlp.md).

``wire``: requests and answers in protobuf and JSON; ``spans``: spans → queued payload;
``logs``: logged exceptions → errors; ``stacks``: exception stack traces → frames;
``receiver``: the checks of one request, framework-free, served by ingest/asgi.py and
ingest/views.py.
"""
