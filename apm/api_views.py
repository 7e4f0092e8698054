"""JSON endpoints of the query layer (docs/query-api.md), and the Prometheus scrape endpoint
(docs/prometheus.md). Thin: parse, scope, call apm.queries."""

import re
import time
import uuid
from functools import wraps
from typing import NamedTuple

from django.http import Http404, HttpResponse
from django.views.decorators.http import require_GET

from apm import queries
from apm.json_output import json_response
from apm.params import MAX_SPAN, BadParam, invalid, time_range
from apm.prometheus import exposition
from tenants.access import org_view, token_view
from tenants.models import App, TokenScope

SORTS = ("time", "avg", "p95", "rpm", "errors")  # ``errors`` ranks by count


def bad(field, message):
    raise BadParam(field, message)


def api(view):
    """@org_view for GET JSON endpoints (a session, or an API token with read scope),
    answering bad parameters with a 400 naming them."""

    @org_view(tokens=True)
    @wraps(view)
    def wrapped(request, *args, **kwargs):
        if request.method != "GET":
            return json_response({"error": {"code": "method_not_allowed", "message": "use GET"}}, status=405)
        try:
            return json_response(view(request, *args, **kwargs))
        except BadParam as exc:
            return invalid(exc)

    return wrapped


def _int(request, field, default, lo, hi):
    raw = request.GET.get(field)
    if raw is None:
        return default
    if not raw.isdigit() or not lo <= int(raw) <= hi:
        bad(field, f"{field} must be an integer from {lo} to {hi}")
    return int(raw)


def _txn_type(request, default="web"):
    raw = request.GET.get("type")
    if raw is None:
        return default
    if raw not in ("web", "background"):
        bad("type", "type must be web or background")
    return raw


def get_app(request, app_id):
    try:
        uuid.UUID(str(app_id))
    except ValueError:
        raise Http404("No such app")
    app = App.objects.for_org(request.org).filter(pk=app_id).first()
    if app is None:
        raise Http404("No such app")
    return app


class Scope(NamedTuple):
    """What an app endpoint reads: the app (of the request's organisation) and the range."""

    app: App
    since: float
    until: float


def app_endpoint(max_span=MAX_SPAN, ranged=True):
    """@api for endpoints under apps/<app_id>/: the view gets a Scope instead of the app id.

    The app is looked up first, so another organisation's app is a 404 whatever the
    parameters; then the range (a 400 naming ``range``/``from``/``to`` when bad).
    """

    def decorate(view):
        @api
        @wraps(view)
        def wrapped(request, app_id, *args, **kwargs):
            app = get_app(request, app_id)
            since, until = time_range(request.GET, now=time.time(), max_span=max_span) if ranged else (None, None)
            return view(request, Scope(app, since, until), *args, **kwargs)

        return wrapped

    return decorate


def _transaction_param(request, app):
    """The ``transaction`` parameter as {id, name, type} of one of the app's transactions, or None."""
    raw = request.GET.get("transaction")
    if raw is None or raw == "":
        return None
    if not raw.isdigit() or len(raw) > 18:
        bad("transaction", "transaction must be a transaction id")
    txn = queries.transaction_info(request.org, app, int(raw))
    if txn is None:
        raise Http404("No such transaction")
    return txn


def _limit(request, default, most=500):
    return _int(request, "limit", default, 1, most)


@api
def apps(request):
    minutes = _int(request, "minutes", 5, 1, 60)
    return {"apps": queries.app_summaries(request.org, minutes=minutes)}


@app_endpoint()
def timeseries(request, s):
    txn = _transaction_param(request, s.app)
    txn_type = txn["type"] if txn is not None else _txn_type(request)
    out = queries.timeseries(request.org, s.app, s.since, s.until, transaction=txn["id"] if txn else None, txn_type=txn_type)
    return {"app": queries.app_info(s.app), "transaction": txn, **out}


@app_endpoint()
def transactions(request, s):
    sort = request.GET.get("sort", "time")
    if sort not in SORTS:
        bad("sort", "sort must be one of " + ", ".join(SORTS))
    q = request.GET.get("q") or None
    if q is not None and len(q) > 255:
        bad("q", "q is at most 255 characters")
    return queries.transactions(
        request.org, s.app, s.since, s.until, txn_type=_txn_type(request), sort=sort, limit=_limit(request, 50), q=q
    )


@app_endpoint()
def transaction_detail(request, s, txn_id):
    out = queries.transaction_detail(request.org, s.app, txn_id, s.since, s.until)
    if out is None:
        raise Http404("No such transaction")
    return out


@app_endpoint()
def errors(request, s):
    return queries.error_groups(request.org, s.app, s.since, s.until, limit=_limit(request, 50))


@app_endpoint()
def error_detail(request, s, group_id):
    out = queries.error_group(request.org, s.app, group_id, s.since, s.until)
    if out is None:
        raise Http404("No such error group")
    return out


@app_endpoint()
def traces(request, s):
    txn = _transaction_param(request, s.app)
    return queries.traces(
        request.org, s.app, s.since, s.until, transaction=txn["id"] if txn else None, limit=_limit(request, 50)
    )


@app_endpoint(ranged=False)
def trace_detail(request, s, trace_id):
    if not re.fullmatch(r"[0-9a-f]{32}", trace_id):
        raise Http404("No such trace")
    out = queries.trace(request.org, s.app, trace_id)
    if out is None:
        raise Http404("No such trace")
    return out


@app_endpoint(max_span=86400)
def events(request, s):
    txn_type = _txn_type(request, default=None)
    txn = _transaction_param(request, s.app)
    return queries.events(
        request.org, s.app, s.since, s.until, transaction=txn["id"] if txn else None, txn_type=txn_type,
        limit=_limit(request, 2000, most=10_000),
    )


@app_endpoint()
def instances(request, s):
    return queries.instances(request.org, s.app, s.since, s.until)


@app_endpoint(ranged=False)
def deployments(request, s):
    limit = _limit(request, 20, most=100)
    offset = _int(request, "offset", 0, 0, 100_000)
    return queries.deployment_impacts(request.org, s.app, limit=limit, offset=offset)


@token_view(TokenScope.READ)
@require_GET
def prometheus_metrics(request):
    """GET /api/v1/metrics: the organisation of the bearer token, for Prometheus (apm/prometheus.py)."""
    body, content_type = exposition(request.org, request.headers.get("Accept"))
    return HttpResponse(body, content_type=content_type)
