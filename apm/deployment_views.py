"""POST /api/v1/deployments: a pipeline records a release with the app's ingest key, or an
organisation API token with write scope (docs/deployments.md). Errors have the ingest API's
shape: {"error": {code, message, field}}."""

from django.http import HttpResponse
from django.views.decorators.csrf import csrf_exempt

from apm import deployments
from apm.json_output import json_response
from tenants.api_tokens import API_TOKEN, resolve_api_token
from tenants.keys import resolve_ingest_key
from tenants.limits import LimitReached
from tenants.models import Organization, TokenScope
from tenants.secret_tokens import bearer

MAX_BODY_BYTES = 16 * 1024


def _error(status, code, message, field=None, retry_after=None):
    err = {"code": code, "message": message}
    if field is not None:
        err["field"] = field
    response = json_response({"error": err}, status=status)
    if retry_after is not None:
        response["Retry-After"] = str(retry_after)
    return response


def _caller(raw: str):
    """(organisation, the one app it may name or None, that app's name) of an ingest key or a
    write-scope organisation API token; else the 401/403 refusal."""
    if API_TOKEN.looks_like(raw):
        token = resolve_api_token(raw)
        if token is None:
            return _error(401, "unauthorized", "unknown or revoked API token", "Authorization")
        if not token.allows(TokenScope.WRITE):
            return _error(403, "forbidden", "recording a deployment needs a token with the write scope", "Authorization")
        return token.organization, None, None
    resolved = resolve_ingest_key(raw)
    if resolved is None:
        return _error(401, "unauthorized", "unknown or revoked ingest key", "Authorization")
    return Organization.objects.get(pk=resolved.organization_id), resolved.app_id, resolved.app_name


@csrf_exempt
def record(request) -> HttpResponse:
    if request.method != "POST":
        return _error(405, "method_not_allowed", "use POST")
    if request.content_type != "application/json":
        return _error(415, "unsupported_media_type", "Content-Type must be application/json", "Content-Type")
    raw_key = bearer(request.headers.get("Authorization"))
    if raw_key is None:
        return _error(
            401, "unauthorized", "send the ingest key or an API token as 'Authorization: Bearer <key>'", "Authorization"
        )
    caller = _caller(raw_key)
    if isinstance(caller, HttpResponse):
        return caller
    org, bound_app_id, bound_app_name = caller
    body = request.read(MAX_BODY_BYTES + 1)
    if len(body) > MAX_BODY_BYTES:
        return _error(413, "too_large", f"body is over {MAX_BODY_BYTES} bytes", "body")
    try:
        deployment = deployments.record_deployment(org, deployments.decode(body), bound_app_id)
    except deployments.BadDeployment as exc:
        return _error(400, "invalid", str(exc), exc.field)
    except deployments.WrongApp:
        return _error(403, "wrong_app", f"this ingest key may only record deployments of {bound_app_name!r}", "app")
    except deployments.TooManyDeployments as exc:
        return _error(429, "too_many_deployments", str(exc), retry_after=exc.retry_after)
    except LimitReached as exc:
        return _error(403, "app_limit", str(exc), "app")
    return json_response(
        {"id": str(deployment.id), "app_id": str(deployment.app_id), "time": deployment.time.timestamp()}, status=201
    )
