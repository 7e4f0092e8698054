"""Alerting pages under /o/<org_slug>/alerts/. Thin: forms validate, alerts.actions changes state.

Roles: viewers read everything; members acknowledge, resolve and mute; admins and owners
edit conditions, channels and SLOs. Objects are fetched through the organisation
(``org_scope`` set by ``@org_view``), so another organisation's id is a 404.
"""

import time
import uuid
from datetime import datetime, timedelta, timezone as dt_timezone

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from alerts import actions, budget, preview
from alerts.forms import ChannelForm, ConditionForm, ConditionMuteForm, IncidentFilterForm, MuteForm, SLOForm
from alerts.models import (
    SLO,
    AppMute,
    ChannelKind,
    Condition,
    Delivery,
    Incident,
    Metric,
    NotificationChannel,
)
from alerts.status import incident_periods
from apm.json_output import json_response
from apm.params import BadParam, invalid, time_range
from tenants import limits
from tenants.access import org_view, wants_json
from tenants.models import App
from tenants.roles import Role, role_at_least

ADMIN = Role.ADMIN
MEMBER = Role.MEMBER


def _can(request, role):
    return role_at_least(request.membership.role, role)


def _ctx(request, **extra):
    extra.setdefault("can_edit", _can(request, ADMIN))
    extra.setdefault("can_act", _can(request, MEMBER))
    extra["org"] = request.org
    return extra


def _url(request, name, *args):
    return reverse(f"alerts:{name}", args=[request.org.slug, *args])


# --- the shapes conditions, channels and SLOs share ----------------------------------


def _editor_page(request, form, *, noun, limit, template, done, reevaluate=False, **context):
    """A create/edit page: a valid POST saves the organisation's object and redirects to
    ``done(obj)``; anything else shows the form. A new object needs room under ``limit``."""
    if request.method == "POST" and form.is_valid():
        try:
            obj = actions.save_definition(form, request.org, request.user, limit=limit, reevaluate=reevaluate)
        except limits.LimitReached as exc:
            if refusal := limits.json_refusal(request, exc):
                return refusal
            form.add_error(None, str(exc))
        else:
            messages.success(request, f"{noun} \u201c{obj.name}\u201d saved.")
            return redirect(done(obj))
    return render(request, template, _ctx(request, form=form, **context))


def _editor_views(model, id_name, page):
    """The ``new`` and ``edit`` views of one kind of object (admins write), both drawn by
    ``page(request, instance_or_None)``."""

    @org_view(write_role=ADMIN)
    def new(request):
        return page(request, None)

    @org_view(write_role=ADMIN)
    def edit(request, **kwargs):
        return page(request, get_object_or_404(model, id=kwargs[id_name]))

    return new, edit


def _delete_view(model, id_name, noun, back, delete):
    """An admin's POST that deletes one object with ``delete(item, user)``, then goes ``back``."""

    @org_view(write_role=ADMIN)
    @require_POST
    def view(request, **kwargs):
        item = get_object_or_404(model, id=kwargs[id_name])
        delete(item, request.user)
        messages.success(request, f"{noun} \u201c{item.name}\u201d deleted.")
        return redirect(_url(request, back))

    return view


# --- incidents ------------------------------------------------------------------


@org_view()
def incidents(request):
    form = IncidentFilterForm(request.GET or None, org=request.org)
    qs = Incident.objects.select_related("app", "condition", "slo", "acknowledged_by")
    days = 7
    if form.is_valid():
        data = form.cleaned_data
        days = data.get("days") or 7
        state = data.get("state")
        if state == "open":
            qs = qs.filter(resolved_at__isnull=True, acknowledged_at__isnull=True)
        elif state == "acknowledged":
            qs = qs.filter(resolved_at__isnull=True, acknowledged_at__isnull=False)
        elif state == "resolved":
            qs = qs.filter(resolved_at__isnull=False)
        if data.get("severity"):
            qs = qs.filter(severity=data["severity"])
        if data.get("app"):
            qs = qs.filter(app=data["app"])
    since = timezone.now() - timedelta(days=days)
    open_now = qs.filter(resolved_at__isnull=True)
    history = qs.filter(resolved_at__isnull=False, opened_at__gte=since)
    page = Paginator(history, 50).get_page(request.GET.get("page"))
    filters = request.GET.copy()
    filters.pop("page", None)
    return render(
        request,
        "alerts/incidents.html",
        _ctx(request, form=form, open_incidents=list(open_now[:200]), page=page, filters=filters.urlencode(), section="incidents"),
    )


@org_view()
def incident(request, incident_id):
    item = get_object_or_404(Incident.objects.select_related("app", "condition", "slo", "acknowledged_by", "resolved_by"), id=incident_id)
    events = list(item.events.select_related("actor").prefetch_related("deliveries__channel"))
    chart = None
    if item.condition_id:
        end = (item.resolved_at or timezone.now()) + timedelta(minutes=30)
        start = item.started_at - timedelta(minutes=max(30, item.condition.window_minutes * 2))
        chart = preview.replay(request.org, item.condition, start, min(end, timezone.now()))
        # Shade this incident itself (the replay may differ if the condition changed since).
        chart["bands"] = [
            {
                "start": item.started_at.timestamp(),
                "end": item.resolved_at.timestamp() if item.resolved_at else None,
                "severity": item.severity,
            }
        ]
    return render(
        request,
        "alerts/incident.html",
        _ctx(request, incident=item, events=events, chart=chart, section="incidents"),
    )


@org_view(write_role=MEMBER)
@require_POST
def incident_acknowledge(request, incident_id):
    item = get_object_or_404(Incident, id=incident_id)
    try:
        actions.acknowledge(item, request.user)
        messages.success(request, "Incident acknowledged.")
    except actions.IncidentStateError as exc:
        messages.error(request, str(exc))
    return redirect(_url(request, "incident", item.id))


@org_view(write_role=MEMBER)
@require_POST
def incident_resolve(request, incident_id):
    item = get_object_or_404(Incident, id=incident_id)
    try:
        actions.resolve(item, by=request.user)
        messages.success(request, "Incident resolved.")
    except actions.IncidentStateError as exc:
        messages.error(request, str(exc))
    return redirect(_url(request, "incident", item.id))


def _uuid(raw):
    try:
        return uuid.UUID(str(raw))
    except ValueError:
        return None


INCIDENTS_JSON_MAX_SPAN = 90 * 86400


@org_view()
def incidents_json(request):
    """Incident periods of one app (or all apps) overlapping [from, to), for chart bands."""
    try:
        since, until = time_range(request.GET, now=time.time(), default="1d", max_span=INCIDENTS_JSON_MAX_SPAN)
    except BadParam as exc:
        return invalid(exc)
    start, end = datetime.fromtimestamp(since, dt_timezone.utc), datetime.fromtimestamp(until, dt_timezone.utc)
    app_id = None
    raw_app = request.GET.get("app")
    if raw_app:
        app = App.objects.filter(id=_uuid(raw_app)).first() if _uuid(raw_app) else None
        if app is None:
            raise Http404("No such app")
        app_id = app.id
    periods = incident_periods(request.org, app_id, start, end)
    for period in periods:
        period["url"] = _url(request, "incident", period["id"])
    return json_response({"from": since, "to": until, "incidents": periods})


# --- conditions -------------------------------------------------------------------


@org_view()
def conditions(request):
    items = Condition.objects.select_related("app").prefetch_related("warning_channels", "critical_channels")
    open_ids = set(Incident.objects.filter(resolved_at__isnull=True, condition__isnull=False).values_list("condition_id", flat=True))
    return render(
        request,
        "alerts/conditions.html",
        _ctx(request, conditions=items, open_ids=open_ids, now=timezone.now(), section="conditions", mute_form=ConditionMuteForm()),
    )


def _prefill(request):
    """Initial values from a chart's "Create alert" link: ?app=<id>&metric=p95&transaction=<name>."""
    initial = {"window_minutes": 5}
    app_id = request.GET.get("app")
    if app_id:
        app = App.objects.filter(id=_uuid(app_id)).first() if _uuid(app_id) else None
        if app is not None:
            initial["app"] = app.id
    metric = request.GET.get("metric")
    if metric in Metric.values:
        initial["metric"] = metric
    transaction_name = request.GET.get("transaction", "")[:255]
    if transaction_name:
        initial["transaction"] = transaction_name
    if "metric" in initial:
        # Incident titles add the app (and transaction) to the name.
        initial["name"] = Metric(initial["metric"]).label
    return initial


def _preview_for(request, form):
    """Replay the form's condition over the last day when its fields are valid enough."""
    if not form.is_bound or form.errors:
        return None
    candidate = form.instance
    for name, value in form.cleaned_data.items():
        if name not in ("warning_channels", "critical_channels"):
            setattr(candidate, name, value)
    if not candidate.app_id:
        return None
    end = timezone.now()
    return preview.replay(request.org, candidate, end - timedelta(days=1), end)


def _condition_form_page(request, instance):
    chart = None
    if request.method == "POST":
        form = ConditionForm(request.POST, instance=instance, org=request.org)
    elif "preview" in request.GET:
        form = ConditionForm(request.GET, instance=instance, org=request.org)
        chart = _preview_for(request, form)
    elif instance is None:
        form = ConditionForm(initial=_prefill(request), org=request.org)
        chart = _bare_preview(request, form.initial)
    else:
        form = ConditionForm(instance=instance, org=request.org)
        end = timezone.now()
        chart = preview.replay(request.org, instance, end - timedelta(days=1), end)
    return _editor_page(
        request, form, noun="Condition", limit=limits.ALERT_CONDITIONS, template="alerts/condition_form.html",
        done=lambda _: _url(request, "conditions"), reevaluate=True,
        condition=instance, chart=chart, section="conditions",
    )


def _bare_preview(request, initial):
    app_id, metric = initial.get("app"), initial.get("metric")
    if not app_id or metric not in Metric.values:
        return None
    candidate = Condition(
        organization=request.org,
        app_id=app_id,
        metric=metric,
        transaction=initial.get("transaction", ""),
        window_minutes=initial.get("window_minutes", 5),
    )
    end = timezone.now()
    return preview.replay(request.org, candidate, end - timedelta(days=1), end)


condition_new, condition_edit = _editor_views(Condition, "condition_id", _condition_form_page)
condition_delete = _delete_view(Condition, "condition_id", "Condition", "conditions", actions.delete_source)


@org_view(write_role=MEMBER)
@require_POST
def condition_mute(request, condition_id):
    item = get_object_or_404(Condition, id=condition_id)
    form = ConditionMuteForm(request.POST)
    if form.is_valid():
        minutes = form.cleaned_data["minutes"]
        item.muted_until = timezone.now() + timedelta(minutes=minutes) if minutes else None
        item.save(update_fields=["muted_until"])
        messages.success(request, "Condition unmuted." if not minutes else f"Condition muted until {item.muted_until:%Y-%m-%d %H:%M} UTC.")
    else:
        messages.error(request, "Choose how long to mute for.")
    return redirect(_url(request, "conditions"))


# --- channels and deliveries ---------------------------------------------------------


@org_view()
def channels(request):
    return render(
        request,
        "alerts/channels.html",
        _ctx(request, channels=NotificationChannel.objects.all(), section="channels"),
    )


def _channel_form_page(request, instance):
    form = ChannelForm(request.POST if request.method == "POST" else None, instance=instance)
    deliveries = instance.deliveries.select_related("event__incident")[:20] if instance else []
    return _editor_page(
        request, form, noun="Channel", limit=limits.NOTIFICATION_CHANNELS, template="alerts/channel_form.html",
        done=lambda channel: _url(request, "channel", channel.id),
        channel=instance, deliveries=deliveries, section="channels",
    )


channel_new, channel_edit = _editor_views(NotificationChannel, "channel_id", _channel_form_page)
channel_delete = _delete_view(NotificationChannel, "channel_id", "Channel", "channels", actions.delete_channel)


@org_view(write_role=ADMIN)
@require_POST
def channel_test(request, channel_id):
    item = get_object_or_404(NotificationChannel, id=channel_id)
    try:
        actions.send_test(item)
    except actions.TestSendsThrottled as exc:
        if wants_json(request):
            response = json_response({"error": {"code": "throttled", "message": str(exc)}}, status=429)
            response["Retry-After"] = str(exc.retry_after)
            return response
        messages.error(request, str(exc))
        return redirect(_url(request, "channel", item.id))
    if wants_json(request):
        return json_response({"status": "queued"}, status=202)
    messages.success(request, "Test notification queued; its result appears in the delivery log below.")
    return redirect(_url(request, "channel", item.id))


@org_view(write_role=ADMIN)
@require_POST
def channel_rotate_secret(request, channel_id):
    item = get_object_or_404(NotificationChannel, id=channel_id, kind=ChannelKind.WEBHOOK)
    item = actions.rotate_webhook_secret(item, request.user)
    until = timezone.localtime(item.previous_secret_until).strftime("%Y-%m-%d %H:%M %Z")
    messages.success(request, f"New signing secret below. Until {until} requests are signed with the old one too.")
    return redirect(_url(request, "channel", item.id))


@org_view()
def deliveries(request):
    qs = Delivery.objects.select_related("channel", "event__incident")
    channel_id = request.GET.get("channel")
    if channel_id:
        qs = qs.filter(channel_id=_uuid(channel_id)) if _uuid(channel_id) else qs.none()
    page = Paginator(qs, 50).get_page(request.GET.get("page"))
    return render(request, "alerts/deliveries.html", _ctx(request, page=page, section="deliveries"))


# --- mutes ------------------------------------------------------------------------------


@org_view(write_role=MEMBER)
def mutes(request):
    if request.method == "POST":
        form = MuteForm(request.POST, org=request.org)
        if form.is_valid():
            start, end = form.window()
            AppMute.objects.create(
                organization=request.org,
                app=form.cleaned_data["app"],
                starts_at=start,
                ends_at=end,
                reason=form.cleaned_data["reason"],
                created_by=request.user,
            )
            messages.success(request, f"{form.cleaned_data['app'].name} muted until {end:%Y-%m-%d %H:%M} UTC.")
            return redirect(_url(request, "mutes"))
    else:
        form = MuteForm(org=request.org)
    now = timezone.now()
    items = AppMute.objects.select_related("app", "created_by")
    muted_conditions = Condition.objects.filter(muted_until__gt=now).select_related("app")
    return render(
        request,
        "alerts/mutes.html",
        _ctx(request, form=form, active=items.filter(ends_at__gt=now), past=items.filter(ends_at__lte=now)[:50],
             muted_conditions=muted_conditions, section="mutes"),
    )


@org_view(write_role=MEMBER)
@require_POST
def mute_end(request, mute_id):
    item = get_object_or_404(AppMute, id=mute_id)
    now = timezone.now()
    if item.ends_at > now:
        item.ends_at = max(now, item.starts_at + timedelta(seconds=1))
        item.save(update_fields=["ends_at"])
        messages.success(request, "Mute ended.")
    return redirect(_url(request, "mutes"))


# --- SLOs ----------------------------------------------------------------------------------


@org_view()
def slos(request):
    items = list(SLO.objects.select_related("app"))
    rows = [(s, budget.summary(request.org, s)) for s in items]
    return render(request, "alerts/slos.html", _ctx(request, rows=rows, section="slos"))


@org_view()
def slo_detail(request, slo_id):
    item = get_object_or_404(SLO.objects.select_related("app"), id=slo_id)
    summary = budget.summary(request.org, item)
    recent = Incident.objects.filter(slo=item).order_by("-opened_at")[:20]
    return render(request, "alerts/slo.html", _ctx(request, slo=item, summary=summary, incidents=recent, section="slos"))


def _slo_form_page(request, instance):
    data = request.POST if request.method == "POST" else None
    form = SLOForm(data, instance=instance, org=request.org, initial={"objective": 99.9, "period_days": 28})
    return _editor_page(
        request, form, noun="SLO", limit=limits.SLOS, template="alerts/slo_form.html",
        done=lambda slo: _url(request, "slo", slo.id), reevaluate=True, slo=instance, section="slos",
    )


slo_new, slo_edit = _editor_views(SLO, "slo_id", _slo_form_page)
slo_delete = _delete_view(SLO, "slo_id", "SLO", "slos", actions.delete_source)
