"""JSON endpoints of the query layer (docs/query-api.md). Thin: parse, scope, call apm.queries."""

import re
import time
import uuid
from functools import wraps

from django.http import Http404, JsonResponse

from apm import queries, ui_queries
from tenants.access import org_view
from tenants.models import App

_RANGE = re.compile(r"^(\d{1,4})([mhd])$")
_UNITS = {"m": 60, "h": 3600, "d": 86400}
MAX_SPAN = 400 * 86400


class BadParam(Exception):
    def __init__(self, field, message):
        super().__init__(message)
        self.field = field
        self.message = message


def bad(field, message):
    raise BadParam(field, message)


def api(view):
    """@org_view for GET JSON endpoints, answering bad parameters with a 400 naming them."""

    @org_view()
    @wraps(view)
    def wrapped(request, *args, **kwargs):
        if request.method != "GET":
            return JsonResponse({"error": {"code": "method_not_allowed", "message": "use GET"}}, status=405)
        try:
            return JsonResponse(view(request, *args, **kwargs))
        except BadParam as exc:
            return JsonResponse({"error": {"code": "invalid", "field": exc.field, "message": exc.message}}, status=400)

    return wrapped


def time_range(request, default="1h", max_span=MAX_SPAN):
    """(since, until) unix seconds from ``range`` or ``from``/``to``."""
    now = time.time()
    raw_from, raw_to = request.GET.get("from"), request.GET.get("to")
    if raw_from is not None or raw_to is not None:
        since = _number(raw_from, "from") if raw_from is not None else bad("from", "from is required with to")
        until = _number(raw_to, "to") if raw_to is not None else now
        if since >= until:
            bad("from", "from must be before to")
    else:
        raw = request.GET.get("range", default)
        m = _RANGE.match(raw)
        if not m or int(m.group(1)) == 0:
            bad("range", "range must look like 30m, 6h or 7d")
        until = now
        since = now - int(m.group(1)) * _UNITS[m.group(2)]
    if until - since > max_span:
        bad("range", f"the range may span at most {max_span // 86400} days" if max_span >= 86400 else
            f"the range may span at most {max_span // 3600} hours")
    return since, until


def _number(raw, field):
    try:
        value = float(raw)
    except ValueError:
        bad(field, f"{field} must be unix seconds")
    if not (0 < value < 1e11):
        bad(field, f"{field} must be unix seconds")
    return value


def _int(request, field, default, lo, hi):
    raw = request.GET.get(field)
    if raw is None:
        return default
    if not raw.isdigit() or not lo <= int(raw) <= hi:
        bad(field, f"{field} must be an integer from {lo} to {hi}")
    return int(raw)


def _txn_type(request, default="web", allow_none=False):
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


def _transaction_param(request, app):
    raw = request.GET.get("transaction")
    if raw is None or raw == "":
        return None
    if not raw.isdigit() or len(raw) > 18:
        bad("transaction", "transaction must be a transaction id")
    if queries.transaction_info(request.org, app, int(raw)) is None:
        raise Http404("No such transaction")
    return int(raw)


@api
def apps(request):
    minutes = _int(request, "minutes", 5, 1, 60)
    return {"apps": queries.app_summaries(request.org, minutes=minutes)}


@api
def timeseries(request, app_id):
    app = get_app(request, app_id)
    since, until = time_range(request)
    txn = _transaction_param(request, app)
    txn_type = _txn_type(request)
    if txn is not None:
        txn_type = queries.transaction_info(request.org, app, txn)["type"]
    # Same body as queries.timeseries (tests/frontend/test_ui_queries.py holds them equal),
    # with the sketch work cached, which keeps long ranges fast.
    out = ui_queries.series(request.org, app, since, until, transaction=txn, txn_type=txn_type)
    txn_info = queries.transaction_info(request.org, app, txn) if txn is not None else None
    return {"app": queries._app_info(app), "transaction": txn_info, **out}


@api
def transactions(request, app_id):
    app = get_app(request, app_id)
    since, until = time_range(request)
    sort = request.GET.get("sort", "time")
    if sort not in queries.SORTS:
        bad("sort", "sort must be one of " + ", ".join(queries.SORTS))
    q = request.GET.get("q") or None
    if q is not None and len(q) > 255:
        bad("q", "q is at most 255 characters")
    return queries.transactions(
        request.org, app, since, until, txn_type=_txn_type(request), sort=sort,
        limit=_int(request, "limit", 50, 1, 500), q=q,
    )


@api
def transaction_detail(request, app_id, txn_id):
    app = get_app(request, app_id)
    since, until = time_range(request)
    out = queries.transaction_detail(request.org, app, txn_id, since, until)
    if out is None:
        raise Http404("No such transaction")
    return out


@api
def errors(request, app_id):
    app = get_app(request, app_id)
    since, until = time_range(request)
    return queries.error_groups(request.org, app, since, until, limit=_int(request, "limit", 50, 1, 500))


@api
def error_detail(request, app_id, group_id):
    app = get_app(request, app_id)
    since, until = time_range(request)
    out = queries.error_group(request.org, app, group_id, since, until)
    if out is None:
        raise Http404("No such error group")
    return out


@api
def traces(request, app_id):
    app = get_app(request, app_id)
    since, until = time_range(request)
    return queries.traces(
        request.org, app, since, until, transaction=_transaction_param(request, app),
        limit=_int(request, "limit", 50, 1, 500),
    )


@api
def trace_detail(request, app_id, trace_id):
    app = get_app(request, app_id)
    if not re.fullmatch(r"[0-9a-f]{32}", trace_id):
        raise Http404("No such trace")
    out = queries.trace(request.org, app, trace_id)
    if out is None:
        raise Http404("No such trace")
    return out


@api
def events(request, app_id):
    app = get_app(request, app_id)
    since, until = time_range(request, max_span=86400)
    raw_type = request.GET.get("type")
    txn_type = _txn_type(request) if raw_type is not None else None
    return queries.events(
        request.org, app, since, until, transaction=_transaction_param(request, app), txn_type=txn_type,
        limit=_int(request, "limit", 2000, 1, 10_000),
    )


@api
def instances(request, app_id):
    app = get_app(request, app_id)
    since, until = time_range(request)
    return queries.instances(request.org, app, since, until)
