"""The evaluator in process, over rollups written through the real ingest path."""

from datetime import timedelta

import pytest
from django.utils import timezone

from alerts import actions
from alerts.evaluation import evaluate_org, judge
from alerts.models import (
    SLO,
    AppMute,
    Comparison,
    Condition,
    Delivery,
    EventKind,
    Incident,
    IncidentEvent,
    Metric,
    Mode,
    Severity,
)
from tests.alerts.conftest import make_condition, make_webhook, minute_floor

pytestmark = pytest.mark.django_db


@pytest.fixture
def base():
    return minute_floor() - timedelta(minutes=30)


def at(base, i):
    return base + timedelta(minutes=i)


def test_it_opens_in_the_first_evaluation_after_the_window_completes(rollups, org, app, base):
    make_condition(org, app, window_minutes=3)
    rollups.minutes(app, [at(base, -3), at(base, -2), at(base, -1)], p95=0.5)
    # The window ending at -1 holds a minute without data: not yet a sustained breach.
    assert evaluate_org(org, at(base, -1)).opened == 0
    outcome = evaluate_org(org, at(base, 0))
    assert outcome.opened == 1
    incident = Incident.objects.for_org(org).get()
    assert incident.severity == Severity.WARNING
    assert incident.started_at == at(base, -3)
    assert incident.value == pytest.approx(500, rel=0.02)
    assert incident.threshold == 300


def test_evaluating_the_same_minute_twice_changes_nothing(rollups, org, app, base, django_capture_on_commit_callbacks):
    channel = make_webhook(org, "http://127.0.0.1:9/hook")
    condition = make_condition(org, app, [channel], window_minutes=2)
    rollups.minutes(app, [at(base, -2), at(base, -1)], p95=2.0)
    with django_capture_on_commit_callbacks() as callbacks:
        first = evaluate_org(org, at(base, 0))
    assert (first.opened, first.evaluated) == (1, 1)
    assert len(callbacks) == 1
    state = (Incident.objects.for_org(org).count(), IncidentEvent.objects.for_org(org).count(), Delivery.objects.for_org(org).count())
    with django_capture_on_commit_callbacks() as callbacks:
        second = evaluate_org(org, at(base, 0))
    assert (second.evaluated, second.opened) == (0, 0)
    assert callbacks == []
    after = (Incident.objects.for_org(org).count(), IncidentEvent.objects.for_org(org).count(), Delivery.objects.for_org(org).count())
    assert after == state == (1, 1, 1)
    # An older minute arriving late is not evaluated either.
    assert evaluate_org(org, at(base, -1)).evaluated == 0
    condition.refresh_from_db()
    assert condition.last_evaluated_minute == at(base, 0)


def test_it_routes_warning_and_critical_to_their_own_channels(rollups, org, app, base):
    team = make_webhook(org, "http://127.0.0.1:9/team", name="team")
    pager = make_webhook(org, "http://127.0.0.1:9/pager", name="pager")
    condition = make_condition(org, app, window_minutes=2)
    condition.warning_channels.set([team])
    condition.critical_channels.set([pager])
    rollups.minutes(app, [at(base, -2), at(base, -1)], p95=0.5)
    evaluate_org(org, at(base, 0))
    rollups.minutes(app, [at(base, 0), at(base, 1)], p95=3.0)
    assert evaluate_org(org, at(base, 2)).escalated == 1
    incident = Incident.objects.for_org(org).get()
    assert incident.severity == Severity.CRITICAL
    routed = {
        (d.event.kind, d.channel.name)
        for d in Delivery.objects.for_org(org).select_related("event", "channel")
    }
    assert routed == {(EventKind.OPENED, "team"), (EventKind.ESCALATED, "pager")}
    # Back to warning level: it stays critical and open (not recovered).
    rollups.minutes(app, [at(base, 2), at(base, 3)], p95=0.5)
    outcome = evaluate_org(org, at(base, 4))
    assert (outcome.escalated, outcome.resolved) == (0, 0)
    # Recovered for the window: resolved, and both channels that heard of it hear the end.
    rollups.minutes(app, [at(base, 4), at(base, 5)], p95=0.05)
    assert evaluate_org(org, at(base, 6)).resolved == 1
    resolved = Delivery.objects.for_org(org).filter(event__kind=EventKind.RESOLVED)
    assert {d.channel.name for d in resolved} == {"team", "pager"}


def test_a_muted_app_is_evaluated_and_recorded_but_not_notified(rollups, org, app, owner, base):
    channel = make_webhook(org, "http://127.0.0.1:9/hook")
    make_condition(org, app, [channel], window_minutes=2)
    AppMute.objects.for_org(org).create(
        organization=org, app=app, ends_at=timezone.now() + timedelta(hours=1), created_by=owner
    )
    rollups.minutes(app, [at(base, -2), at(base, -1)], p95=2.0)
    assert evaluate_org(org, at(base, 0)).opened == 1
    incident = Incident.objects.for_org(org).get()
    assert incident.muted
    event = incident.events.get()
    assert event.not_notified_reason == "muted"
    assert Delivery.objects.for_org(org).count() == 0


def test_a_muted_condition_is_not_notified(rollups, org, app, base):
    channel = make_webhook(org, "http://127.0.0.1:9/hook")
    make_condition(org, app, [channel], window_minutes=2, muted_until=timezone.now() + timedelta(minutes=30))
    rollups.minutes(app, [at(base, -2), at(base, -1)], p95=2.0)
    evaluate_org(org, at(base, 0))
    assert Incident.objects.for_org(org).get().muted
    assert Delivery.objects.for_org(org).count() == 0


def test_at_least_once_fires_on_one_minute_where_sustained_does_not(rollups, org, app, base):
    sustained = make_condition(org, app, name="sustained", window_minutes=3)
    once = make_condition(org, app, name="once", window_minutes=3, mode=Mode.ANY)
    rollups.minutes(app, [at(base, -3), at(base, -1)], p95=0.05)
    rollups.minutes(app, [at(base, -2)], p95=0.6)
    evaluate_org(org, at(base, 0))
    assert not Incident.objects.for_org(org).filter(condition=sustained).exists()
    assert Incident.objects.for_org(org).get(condition=once).severity == Severity.WARNING


def test_a_transaction_condition_looks_at_that_transaction_only(rollups, org, app, base):
    make_condition(org, app, transaction="shop.views.search", window_minutes=2)
    rollups.minutes(app, [at(base, -2), at(base, -1)], p95=2.0, name="shop.views.checkout")
    rollups.minutes(app, [at(base, -2), at(base, -1)], p95=0.05, name="shop.views.search")
    evaluate_org(org, at(base, 0))
    assert not Incident.objects.for_org(org).exists()
    rollups.minutes(app, [at(base, 0), at(base, 1)], p95=2.0, name="shop.views.search")
    evaluate_org(org, at(base, 2))
    assert "shop.views.search" in Incident.objects.for_org(org).get().title


def test_error_rate_and_instance_cpu_per_host(rollups, org, app, base):
    from tests.ingest import payloads as P

    errors = make_condition(org, app, name="errors", metric=Metric.ERROR_RATE, warning_threshold=5, critical_threshold=20, window_minutes=2)
    cpu = make_condition(org, app, name="cpu", metric=Metric.CPU, warning_threshold=80, critical_threshold=None, window_minutes=2)
    for i in (-2, -1):
        t = at(base, i).timestamp() + 30
        rollups.minutes(app, [at(base, i)], durations=[0.05] * 10, errors=1, inst=P.instance(t, host="web-1", cpu=95.0))
        rollups.minutes(app, [at(base, i)], durations=[0.05] * 10, errors=1, inst=P.instance(t, host="web-2", pid=7, cpu=10.0))
    evaluate_org(org, at(base, 0))
    # 2 errors in 20 transactions a minute: 10 %.
    assert Incident.objects.for_org(org).get(condition=errors).value == pytest.approx(10.0)
    hot = Incident.objects.for_org(org).get(condition=cpu)
    assert hot.target == "web-1" and hot.value == pytest.approx(95.0)


def test_judge_directions_and_no_data():
    apdex = Condition(metric=Metric.APDEX, comparison=Comparison.BELOW, warning_threshold=0.85, critical_threshold=0.7, window_minutes=2, mode=Mode.SUSTAINED)
    assert judge(apdex, [0.8, 0.6]).severity == Severity.WARNING
    assert judge(apdex, [0.6, 0.65]).severity == Severity.CRITICAL
    assert judge(apdex, [0.9, None]).recovered
    assert not judge(apdex, [0.9, 0.8]).recovered
    throughput = Condition(metric=Metric.THROUGHPUT, comparison=Comparison.BELOW, warning_threshold=10, critical_threshold=None, window_minutes=2, mode=Mode.SUSTAINED)
    assert judge(throughput, [0.0, 3.0]).severity == Severity.WARNING
    silent = Condition(metric=Metric.NO_DATA, window_minutes=3, mode=Mode.SUSTAINED)
    assert judge(silent, [0, 0, 0]).severity == Severity.CRITICAL
    assert judge(silent, [5, 0, 0]).severity is None
    assert judge(silent, [0, 0, 4]).recovered


def test_a_fast_burning_slo_opens_a_critical_incident(rollups, org, app, base):
    slo = SLO.objects.for_org(org).create(organization=org, app=app, name="Checkout errors", indicator="errors", objective=99.0)
    # 1 error in 10 a minute: 10 % bad against a 1 % budget = 10x; then 3 in 10 = 30x.
    minutes = [at(base, i) for i in range(-60, 0)]
    rollups.minutes(app, minutes[:-5], durations=[0.05] * 10, errors=1)
    rollups.minutes(app, minutes[-5:], durations=[0.05] * 10, errors=3)
    outcome = evaluate_org(org, at(base, 0))
    assert outcome.opened == 1
    incident = Incident.objects.for_org(org).get(slo=slo)
    # 1 h: (55 + 15) / 600 = 11.67 % -> 11.67x: not fast (14.4); slow needs 6 h >= 6x: 70/600 -> yes.
    assert incident.severity == Severity.WARNING
    assert incident.value == pytest.approx(70 / 600 / 0.01, rel=1e-3)


def test_a_hand_resolved_incident_is_not_resolved_again(rollups, org, app, owner, base):
    make_condition(org, app, window_minutes=2)
    rollups.minutes(app, [at(base, -2), at(base, -1)], p95=0.5)
    evaluate_org(org, at(base, 0))
    incident = Incident.objects.for_org(org).get()
    actions.resolve(incident, by=owner)
    with pytest.raises(actions.IncidentStateError):
        actions.resolve(incident, by=owner)
    with pytest.raises(actions.IncidentStateError):
        actions.acknowledge(incident, owner)


def test_beat_fans_out_one_task_per_organisation_with_alerts(org, app, outsider_org, settings):
    from celery.schedules import crontab

    from alerts.tasks import evaluate_all
    from pulse.celery import app as celery_app
    from tenants.models import App, Organization

    entry = celery_app.conf.beat_schedule["alerts-evaluate"]
    assert entry["task"] == "alerts.evaluate_all" and isinstance(entry["schedule"], crontab)
    assert entry["options"]["expires"] < 60
    make_condition(org, app)
    other_app = App.objects.for_org(outsider_org).create(organization=outsider_org, name="x")
    SLO.objects.for_org(outsider_org).create(organization=outsider_org, app=other_app, name="s", indicator="errors", objective=99)
    quiet = Organization.objects.create(name="Quiet", slug="quiet")
    quiet_app = App.objects.for_org(quiet).create(organization=quiet, name="y")
    make_condition(quiet, quiet_app, enabled=False)
    assert evaluate_all(minute_floor().isoformat()) == 2


def test_evaluation_queries_do_not_grow_with_conditions(rollups, org, app, base):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def queries_for(n, minute):
        Condition.objects.for_org(org).delete()
        for i in range(n):
            metric = [Metric.P95, Metric.ERROR_RATE, Metric.APDEX][i % 3]
            comparison = Comparison.BELOW if metric == Metric.APDEX else Comparison.ABOVE
            make_condition(org, app, name=f"c{i}", metric=metric, comparison=comparison, warning_threshold=0.01 if metric == Metric.APDEX else 10_000, critical_threshold=None)
        with CaptureQueriesContext(connection) as ctx:
            outcome = evaluate_org(org, minute)
        assert outcome.evaluated == n and outcome.opened == 0
        return len(ctx.captured_queries)

    rollups.minutes(app, [at(base, -3), at(base, -2), at(base, -1)], p95=0.1)
    assert queries_for(3, at(base, 0)) == queries_for(30, at(base, 1))
