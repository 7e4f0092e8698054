"""Helpers shared by the monitoring pages: the app from the URL, the time range, links."""

from datetime import UTC, datetime, timedelta
from functools import wraps

from django.http import Http404, HttpResponseNotAllowed
from django.shortcuts import render
from django.urls import reverse

from alerts.status import incident_periods, open_incident_severity_by_app, with_incident
from apm import queries
from apm.params import BadParam
from frontend.status import status_dot
from frontend.timerange import DEFAULT, PRESETS, parse_range
from tenants.models import App
from tenants.roles import Role, role_at_least

RANGE_PARAMS = ("range", "from", "to")


def get_app(request, app_id):
    """The app of the request's organisation (we run inside org_scope), or 404 like a missing one."""
    app = App.objects.filter(id=app_id).first()
    if app is None:
        raise Http404("No such app")
    return app


def app_page(view):
    """For views under an app: the app (404 when not the organisation's), then GET only.

    The app is looked up before the method is checked, so another organisation's app is a
    404 whatever the method, like everywhere else. Use inside ``@org_view``.
    """

    @wraps(view)
    def wrapped(request, app_id, **kwargs):
        app = get_app(request, app_id)
        if request.method not in ("GET", "HEAD"):
            return HttpResponseNotAllowed(["GET", "HEAD"])
        return view(request, app, **kwargs)

    return wrapped


def time_range_or_error(request, default=DEFAULT, **context):
    """(TimeRange, None), or (None, a 400 page saying what is wrong with the range)."""
    try:
        return parse_range(request.GET, default=default), None
    except BadParam as exc:
        context.update(message=str(exc), org=request.org)
        return None, render(request, "frontend/bad_range.html", context, status=400)


def with_params(request, drop=(), **updates):
    """The current query string with ``updates`` applied and ``drop`` removed, as '?…' or ''."""
    params = request.GET.copy()
    for key in drop:
        params.pop(key, None)
    for key, value in updates.items():
        if value is None:
            params.pop(key, None)
        else:
            params[key] = value
    encoded = params.urlencode()
    return "?" + encoded if encoded else ""


def range_picker(request, time_range):
    """Context for frontend/parts/range_picker.html."""
    presets = [
        {"key": key, "label": key, "title": "Last " + label, "href": with_params(request, drop=RANGE_PARAMS, range=key)}
        for key, (label, _) in PRESETS.items()
    ]
    # Other parameters (sort, filters) survive a custom range submission as hidden fields.
    keep = [(k, v) for k, values in request.GET.lists() if k not in RANGE_PARAMS for v in values]
    return {
        "presets": presets,
        "current": time_range.key,
        "label": time_range.label,
        "keep": keep,
        "from_value": f"{time_range.start:%Y-%m-%dT%H:%M}",
        "to_value": f"{time_range.end:%Y-%m-%dT%H:%M}",
    }


def app_tabs(org, app, active, time_range=None):
    """The tab bar of an app's pages; tabs carry the time range along."""
    query = "?" + time_range.query if time_range else ""
    tabs = [
        ("overview", "Overview", "app_overview"),
        ("live", "Live", "app_live"),
        ("transactions", "Transactions", "app_transactions"),
        ("errors", "Errors", "app_errors"),
        ("instances", "Instances", "app_instances"),
        ("capacity", "Capacity", "app_capacity"),
        ("deployments", "Deployments", "app_deployments"),
    ]
    return [
        {"key": key, "label": label, "href": reverse(name, args=[org.slug, app.id]) + query, "active": key == active}
        for key, label, name in tabs
    ]


TXN_TYPES = (("web", "Web"), ("background", "Background"))


def txn_type(request):
    value = request.GET.get("type", "web")
    return value if value in dict(TXN_TYPES) else "web"


def type_links(request, current):
    return [
        {"key": key, "label": label, "href": with_params(request, type=key), "active": key == current}
        for key, label in TXN_TYPES
    ]


NOW_WINDOW = timedelta(minutes=5)


def current_health(org, app):
    """The app's status (apm.queries.health) from its web transactions over the last
    minutes, raised by an open incident; and that incident's severity (or None)."""
    now = datetime.now(UTC)
    stats = queries.window_stats(org, app, now - NOW_WINDOW, now)
    incident = open_incident_severity_by_app(org).get(app.id)
    return with_incident(queries.status_of(stats), incident), incident


def incident_bands(org, app, time_range, transaction=None):
    """Incidents overlapping the range, for shading on the charts (app-wide ones, plus
    those of ``transaction`` on its page)."""
    periods = incident_periods(org, app.id, time_range.start, time_range.end)
    return [
        {
            "start": p["start"],
            "end": p["end"],
            "severity": p["severity"],
            "title": p["title"],
            "url": reverse("alerts:incident", args=[org.slug, p["id"]]),
        }
        for p in periods
        if p["transaction"] in (None, transaction)
    ]


def deployment_markers(org, app, time_range):
    """The app's deployments in the range, to mark on its charts; each links to the list."""
    url = reverse("app_deployments", args=[org.slug, app.id])
    return [{**d, "url": url} for d in queries.deployments_between(org, app, time_range.start, time_range.end)]


def app_page_context(request, app, active, time_range=None, **extra):
    """The context every app page shares (frame, status, tabs, range picker)."""
    dot, label = status_dot(*current_health(request.org, app))
    context = {
        "org": request.org,
        "app": app,
        "health": dot,
        "health_label": label,
        "can_alert": role_at_least(request.membership.role, Role.ADMIN),
        "tabs": app_tabs(request.org, app, active, time_range),
        "picker": range_picker(request, time_range) if time_range else None,
    }
    context.update(extra)
    return context
