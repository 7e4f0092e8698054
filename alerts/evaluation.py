"""Evaluation of an organisation's conditions and SLOs for one minute.

``evaluate_org(org, minute_end)`` looks at the windows that end (exclusively) at
``minute_end``, a minute boundary: the incident of a breach whose window completes at
12:05 opens in the evaluation of 12:05, the first one after it.

Idempotent: each condition and SLO stores the last minute it was evaluated for, and
is locked while it is evaluated, so running the same minute twice (a duplicate beat,
a retried task) changes nothing. Muted conditions and apps are evaluated and their
incidents recorded; only the notifications are left out.

Semantics per condition (values are per minute; see alerts/metrics.py):
- "for at least N minutes" (sustained): a severity is reached when every minute of
  the window breaches its threshold; "at least once in N minutes": when one does.
- An open incident escalates from warning to critical, never back down.
- It resolves when no minute of the window breaches any threshold (recovered for the
  whole window); a no-data incident resolves as soon as the latest minute has data.
"""

import logging
import time
from dataclasses import dataclass, field
from datetime import timedelta

from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from apm import queries

from alerts import actions, metrics, slo as slo_math
from alerts.models import (
    INSTANCE_METRICS,
    SEVERITY_RANK,
    SLO,
    AppMute,
    Comparison,
    Condition,
    Incident,
    Metric,
    Mode,
    Severity,
    SLOIndicator,
)
from tenants.scoping import org_scope

log = logging.getLogger(__name__)


@dataclass
class Outcome:
    evaluated: int = 0
    skipped: int = 0
    opened: int = 0
    escalated: int = 0
    resolved: int = 0
    deferred: int = 0
    details: list = field(default_factory=list)


# --- judging a window (pure) ------------------------------------------------


def breaches(value, comparison, threshold):
    if value is None or threshold is None:
        return False
    return value > threshold if comparison == Comparison.ABOVE else value < threshold


def thresholds(condition):
    """(severity, threshold) pairs, most severe first, of the thresholds that are set."""
    pairs = [(Severity.CRITICAL, condition.critical_threshold), (Severity.WARNING, condition.warning_threshold)]
    return [(sev, thr) for sev, thr in pairs if thr is not None]


@dataclass
class Judgement:
    severity: str | None  # reached this minute, or None
    threshold: float | None
    value: float | None  # the value to report
    recovered: bool  # nothing in the window breaches any threshold


def judge(condition, values):
    """Judge one target's per-minute ``values`` (oldest first) against ``condition``."""
    if condition.metric == Metric.NO_DATA:
        # values are transaction counts: silent means nothing in the whole window.
        silent = all(not v for v in values)
        return Judgement(Severity.CRITICAL if silent else None, None, 0.0 if silent else None, bool(values and values[-1]))
    known = [v for v in values if v is not None]
    latest = known[-1] if known else None
    for severity, threshold in thresholds(condition):
        flags = [breaches(v, condition.comparison, threshold) for v in values]
        reached = all(flags) if condition.mode == Mode.SUSTAINED else any(flags)
        if reached and values:
            breaching = [v for v, f in zip(values, flags) if f]
            return Judgement(severity, threshold, breaching[-1], False)
    lowest = thresholds(condition)[-1][1] if thresholds(condition) else None
    recovered = not any(breaches(v, condition.comparison, lowest) for v in values)
    return Judgement(None, None, latest, recovered)


# --- reading the data ---------------------------------------------------------


def _targets(condition, data, open_targets, window_minutes):
    """{target: per-minute values} for the condition."""
    minute_list = metrics.minutes(data.minute_end, window_minutes)
    if condition.metric in INSTANCE_METRICS:
        hosts = data.instances.get(condition.app_id, {})
        index = 0 if condition.metric == Metric.CPU else 1
        out = {}
        for host in set(hosts) | set(open_targets):
            per_minute = hosts.get(host, {})
            out[host] = [per_minute[m][index] if m in per_minute else None for m in minute_list]
        return out
    if condition.transaction:
        buckets = data.transactions.get((condition.app_id, condition.transaction), {})
    elif condition.metric == Metric.NO_DATA:
        buckets = data.any_type.get(condition.app_id, {})
    else:
        buckets = data.apps.get(condition.app_id, {})
    if condition.metric == Metric.NO_DATA:
        return {"": [buckets[m].count if m in buckets else 0 for m in minute_list]}
    return {"": metrics.series(buckets, condition.metric, minute_list)}


class WindowData:
    """Everything the organisation's conditions read, fetched once for the largest window."""

    def __init__(self, org, conditions, minute_end):
        self.minute_end = minute_end
        longest = max((c.window_minutes for c in conditions), default=1)
        start = minute_end - timedelta(minutes=longest)
        app_ids = {c.app_id for c in conditions if not c.transaction and c.metric not in INSTANCE_METRICS | {Metric.NO_DATA}}
        silent_ids = {c.app_id for c in conditions if not c.transaction and c.metric == Metric.NO_DATA}
        txn_scopes = {(c.app_id, c.transaction) for c in conditions if c.transaction and c.metric not in INSTANCE_METRICS}
        instance_apps = {c.app_id for c in conditions if c.metric in INSTANCE_METRICS}
        self.apps = queries.app_buckets(org, app_ids, start, minute_end) if app_ids else {}
        self.any_type = queries.app_buckets(org, silent_ids, start, minute_end, txn_type=None) if silent_ids else {}
        self.transactions = queries.transaction_buckets(org, txn_scopes, start, minute_end)
        self.instances = queries.instance_minutes(org, instance_apps, start, minute_end) if instance_apps else {}


def _muted_apps(org, at):
    return set(AppMute.objects.for_org(org).filter(starts_at__lte=at, ends_at__gt=at).values_list("app_id", flat=True))


def _title(condition, target):
    scope = condition.app.name + (f" \u203a {condition.transaction}" if condition.transaction else "")
    if target:
        scope += f" \u203a {target}"
    return f"{condition.name} ({scope})"


# --- applying a judgement -----------------------------------------------------


def _claim(model, obj_id, minute_end, extra=Q()):
    """Lock the row for this minute, or None when another run has it or did it already."""
    return (
        model.objects.select_for_update(skip_locked=True)
        .filter(extra, id=obj_id)
        .filter(Q(last_evaluated_minute__isnull=True) | Q(last_evaluated_minute__lt=minute_end))
        .first()
    )


def _apply(outcome, incident, judgement, *, at, muted, open_fn):
    if incident is None:
        if judgement.severity:
            if open_fn() is not None:
                outcome.opened += 1
        return
    if judgement.severity and SEVERITY_RANK[judgement.severity] > SEVERITY_RANK[incident.severity]:
        if actions.escalate(incident, judgement.severity, value=judgement.value, threshold=judgement.threshold, muted=muted, at=at):
            outcome.escalated += 1
    elif judgement.recovered:
        try:
            actions.resolve(incident, at=at, value=judgement.value, muted=muted)
        except actions.IncidentStateError:
            return  # resolved by hand meanwhile
        outcome.resolved += 1


CHUNK = 200  # conditions claimed, judged and marked per transaction


def _evaluate_one(org, condition, locked, incidents, data, muted_apps, now, outcome):
    minute_end = data.minute_end
    muted = locked.is_muted(now) or locked.app_id in muted_apps
    mine = {i.target: i for i in incidents}
    last_value = None
    for target, values in _targets(condition, data, mine.keys(), condition.window_minutes).items():
        judgement = judge(condition, values)
        last_value = judgement.value if judgement.value is not None else last_value

        def open_fn(target=target, judgement=judgement):
            return actions.open_incident(
                org=org,
                app_id=condition.app_id,
                condition=locked,
                target=target,
                title=_title(condition, target),
                severity=judgement.severity,
                started_at=minute_end - timedelta(minutes=condition.window_minutes),
                value=judgement.value,
                threshold=judgement.threshold,
                muted=muted,
                at=now,
            )

        _apply(outcome, mine.get(target), judgement, at=now, muted=muted, open_fn=open_fn)
    locked.last_evaluated_minute = minute_end
    locked.last_value = last_value
    outcome.evaluated += 1


def _mark_evaluated(org, minute_end, conditions):
    """One UPDATE for the chunk (Django's bulk_update builds a CASE per row: slow at this size)."""
    rows = list(conditions)
    if not rows:
        return
    with connection.cursor() as cur:
        cur.execute(
            f"UPDATE {Condition._meta.db_table} AS c SET last_evaluated_minute = %s, last_value = v.value "
            "FROM unnest(%s::uuid[], %s::float8[]) AS v(id, value) WHERE c.id = v.id AND c.organization_id = %s",
            [minute_end, [c.id for c in rows], [c.last_value for c in rows], org.id],
        )


def evaluate_conditions(org, conditions, data, muted_apps, now, outcome, deadline=None):
    """Claim, judge and mark conditions a chunk per transaction (a few queries per chunk)."""
    minute_end = data.minute_end
    for start in range(0, len(conditions), CHUNK):
        chunk = conditions[start : start + CHUNK]
        if deadline is not None and time.monotonic() > deadline:
            outcome.deferred += len(conditions) - start
            return
        with transaction.atomic():
            # Rows another run holds, or that were evaluated for this minute already, are left out.
            locked = {
                c.id: c
                for c in Condition.objects.select_for_update(skip_locked=True)
                .filter(id__in=[c.id for c in chunk], enabled=True)
                .filter(Q(last_evaluated_minute__isnull=True) | Q(last_evaluated_minute__lt=minute_end))
            }
            outcome.skipped += len(chunk) - len(locked)
            # Read under the claim: an earlier minute's run may have changed them meanwhile.
            incidents = {}
            for incident in Incident.objects.filter(condition_id__in=list(locked), resolved_at__isnull=True):
                incidents.setdefault(incident.condition_id, []).append(incident)
            for condition in chunk:
                if condition.id in locked:
                    _evaluate_one(org, condition, locked[condition.id], incidents.get(condition.id, []), data, muted_apps, now, outcome)
            _mark_evaluated(org, minute_end, locked.values())


# --- SLOs ---------------------------------------------------------------------


def slo_window_counts(org, slo, minute_end):
    """{window minutes: Counts} for the burn-rate windows ending at ``minute_end``."""
    windows = slo_math.window_minutes_needed()
    start = minute_end - timedelta(minutes=max(windows))
    buckets = queries.app_buckets(org, [slo.app_id], start, minute_end).get(slo.app_id, {})
    out = {}
    for window in windows:
        since = minute_end - timedelta(minutes=window)
        total = bad = 0
        for minute, bucket in buckets.items():
            if minute >= since:
                total += bucket.count
                bad += bad_events(slo, bucket)
        out[window] = slo_math.Counts(total=total, bad=bad)
    return out


def bad_events(slo, bucket):
    if slo.indicator == SLOIndicator.ERRORS:
        return bucket.errors
    threshold = (slo.latency_threshold_ms or 0) / 1000
    return bucket.count - bucket.count_at_most(threshold)


def evaluate_slo(org, slo, minute_end, muted_apps, now, outcome):
    with transaction.atomic():
        locked = _claim(SLO, slo.id, minute_end, Q(alerts_enabled=True))
        if locked is None:
            outcome.skipped += 1
            return
        muted = locked.is_muted(now) or locked.app_id in muted_apps
        fired = slo_math.burn_alert(slo_window_counts(org, locked, minute_end), locked.objective)
        if fired:
            severity, name, long_burn, short_burn = fired
            factor = slo_math.FAST_BURN[3] if name == "fast" else slo_math.SLOW_BURN[3]
            judgement = Judgement(severity, factor, round(long_burn, 2), False)
        else:
            judgement = Judgement(None, None, None, True)

        def open_fn():
            kind = "fast" if judgement.severity == Severity.CRITICAL else "slow"
            return actions.open_incident(
                org=org,
                app_id=locked.app_id,
                slo=locked,
                title=f"SLO {locked.name} ({locked.app.name}): error budget burning {judgement.value:g}\u00d7 ({kind} burn)",
                severity=judgement.severity,
                started_at=minute_end - timedelta(minutes=60 if kind == "fast" else 360),
                value=judgement.value,
                threshold=judgement.threshold,
                muted=muted,
                at=now,
            )

        incident = Incident.objects.filter(slo=locked, resolved_at__isnull=True).first()
        _apply(outcome, incident, judgement, at=now, muted=muted, open_fn=open_fn)
        locked.last_evaluated_minute = minute_end
        locked.save(update_fields=["last_evaluated_minute"])
        outcome.evaluated += 1


# --- the organisation ----------------------------------------------------------


def evaluate_org(org, minute_end, *, now=None, deadline=None):
    """Evaluate every enabled condition and SLO of ``org`` for the window ending at ``minute_end``.

    Stops early when ``deadline`` (time.monotonic()) passes: what is left is not marked
    as evaluated and is caught up with the next minute's window.
    """
    now = now or timezone.now()
    outcome = Outcome()
    with org_scope(org):
        stale = Q(last_evaluated_minute__isnull=True) | Q(last_evaluated_minute__lt=minute_end)
        conditions = list(Condition.objects.filter(stale, enabled=True).select_related("app"))
        slos = list(SLO.objects.filter(stale, alerts_enabled=True).select_related("app"))
        if not conditions and not slos:
            return outcome
        muted_apps = _muted_apps(org, now)
        data = WindowData(org, conditions, minute_end)
        evaluate_conditions(org, conditions, data, muted_apps, now, outcome, deadline)
        for slo in slos:
            if deadline is not None and time.monotonic() > deadline:
                outcome.deferred += 1
                continue
            evaluate_slo(org, slo, minute_end, muted_apps, now, outcome)
    if outcome.deferred:
        log.warning("alert evaluation of org %s for %s ran out of time; %d deferred", org.id, minute_end, outcome.deferred)
    return outcome
