"""Django views of the ingest API. Production serves POST /api/v1/ingest through
ingest/asgi.py before Django; this view runs the same handler (tests, WSGI)."""

from django.http import HttpResponse, JsonResponse
from django.views.decorators.cache import cache_control
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET

from ingest import handler
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
    out = HttpResponse(response.body, status=response.status, content_type="application/json")
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
