"""Django views of the ingest API. Production serves POST /api/v1/ingest and the OTLP
paths through ingest/asgi.py before Django; these views run the same handlers (tests, WSGI)."""

from django.http import HttpResponse, JsonResponse
from django.views.decorators.cache import cache_control
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET

from ingest import handler
from ingest.errors import Refused
from ingest.otlp import receiver
from ingest.otlp.wire import SIGNALS
from contract.schema import MAX_COMPRESSED_BYTES, json_schema

_schema = None


@csrf_exempt
def ingest(request):
    if request.method != "POST":
        response = handler.error(405, "method_not_allowed", "use POST")
    else:
        headers = {k.lower(): v for k, v in request.headers.items()}
        body = request.read(MAX_COMPRESSED_BYTES + 1)
        response = handler.handle(headers, body)
    return _http_response(response)


@csrf_exempt
def otlp(request):
    """POST /v1/traces, /v1/metrics, /v1/logs (ingest/otlp/receiver.py)."""
    headers = {k.lower(): v for k, v in request.headers.items()}
    if request.method != "POST":
        refusal = Refused(405, "method_not_allowed", "use POST")
        return _http_response(receiver.refused(receiver.media_of(headers), refusal))
    body = request.read(receiver.MAX_BODY_BYTES + 1)
    return _http_response(receiver.handle(headers, body, SIGNALS[request.path_info]))


def _http_response(response):
    out = HttpResponse(response.body, status=response.status, content_type=response.headers[0][1].decode())
    for name, value in response.headers[1:]:
        out[name.decode()] = value.decode()
    return out


@require_GET
@cache_control(public=True, max_age=3600)
def schema(request):
    global _schema
    if _schema is None:
        _schema = json_schema()
    return JsonResponse(_schema)
