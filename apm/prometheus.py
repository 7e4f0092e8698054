"""An organisation's figures in the Prometheus text format, or OpenMetrics when asked for.

``OrgCollector`` is a prometheus_client custom collector over the query layer
(apm/queries/scrape.py): the library writes the exposition, escapes the label values
(agent-supplied transaction names) and negotiates the format from the Accept header.
Series (docs/prometheus.md):

- per transaction (labels app, transaction, type): requests and errors as counters since
  the UTC day start, a duration summary (p50/p95/p99 of the last five closed minutes, from
  the merged sketches; sum and count since the day start) and Apdex of those minutes;
- per app and transaction type: the same summary and Apdex over all its transactions;
- per process (labels app, host, pid): CPU and memory of its latest sample.

Transactions per app are bounded by TRANSACTIONS_PER_APP_LIMIT (apm/rollup/names.py folds
the rest into "(other)"), so a scrape's series are bounded too. A scrape costs a fixed
number of queries whatever the number of apps and transactions.
"""

import time
from collections.abc import Iterable, Iterator, Mapping

from prometheus_client.exposition import choose_encoder
from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector, CollectorRegistry

from apm.queries import scrape
from apm.queries.scrape import Recent, Totals
from tenants.models import Organization

QUANTILES = ("0.5", "0.95", "0.99")
TXN_LABELS = ["app", "transaction", "type"]
APP_LABELS = ["app", "type"]
INSTANCE_LABELS = ["app", "host", "pid"]
NO_TOTALS = Totals(0, 0, 0.0)


def _add_summary(metric: Metric, labels: dict[str, str], totals: Totals, recent: Recent | None, created: float) -> None:
    if recent is not None:
        for q, value in zip(QUANTILES, recent.quantiles):
            if value is not None:
                metric.add_sample(metric.name, {**labels, "quantile": q}, value)
    metric.add_sample(metric.name + "_count", labels, totals.requests)
    metric.add_sample(metric.name + "_sum", labels, totals.seconds)
    metric.add_sample(metric.name + "_created", labels, created)


class OrgCollector(Collector):
    """The figures of one organisation, read when the registry collects."""

    def __init__(self, org: Organization, now: float | None = None) -> None:
        self.org = org
        self.now = now

    def collect(self) -> Iterator[Metric]:
        now = self.now or time.time()
        origin = scrape.day_start(now)
        start, end = scrape.recent_window(now)
        apps = scrape.app_names(self.org)
        from_minutes = scrape.hours_from_minutes(self.org, list(apps), origin, now)
        yield from self._transactions(apps, origin, from_minutes["t"], start, end)
        yield from self._apps(apps, origin, from_minutes["a"], start, end)
        yield from self._instances(apps, start)

    def _transactions(
        self, apps: Mapping[str, str], origin: int, from_minutes: list[int], start: int, end: int
    ) -> Iterable[Metric]:
        totals = scrape.transaction_totals(self.org, list(apps), origin, from_minutes)
        recent = scrape.recent_transactions(self.org, list(apps), start, end)
        names = scrape.transactions_of(self.org, set(totals) | set(recent))
        requests = CounterMetricFamily(
            "pulse_transaction_requests", "Transactions since the UTC day start (created).", labels=TXN_LABELS
        )
        errors = CounterMetricFamily(
            "pulse_transaction_errors", "Transactions that failed, since the UTC day start.", labels=TXN_LABELS
        )
        duration = Metric(
            "pulse_transaction_duration_seconds",
            "Response time: quantiles over the last five closed minutes; sum and count since the UTC day start.",
            "summary",
        )
        apdex = GaugeMetricFamily("pulse_transaction_apdex", "Apdex over the last five closed minutes.", labels=TXN_LABELS)
        for tid, (app_id, name, typ) in sorted(names.items(), key=lambda item: item[1]):
            label_values = [apps.get(app_id, app_id), name, typ]
            labels = dict(zip(TXN_LABELS, label_values))
            t = totals.get(tid, NO_TOTALS)
            requests.add_metric(label_values, t.requests, created=origin)
            errors.add_metric(label_values, t.errors, created=origin)
            r = recent.get(tid)
            _add_summary(duration, labels, t, r, origin)
            if r is not None and r.apdex is not None:
                apdex.add_metric(label_values, r.apdex)
        return [requests, errors, duration, apdex]

    def _apps(
        self, apps: Mapping[str, str], origin: int, from_minutes: list[int], start: int, end: int
    ) -> Iterable[Metric]:
        totals = scrape.app_totals(self.org, list(apps), origin, from_minutes)
        recent = scrape.recent_apps(self.org, list(apps), start, end)
        duration = Metric(
            "pulse_app_duration_seconds",
            "Response time of all an app's transactions of a type: quantiles over the last five closed minutes; "
            "sum and count since the UTC day start.",
            "summary",
        )
        apdex = GaugeMetricFamily("pulse_app_apdex", "Apdex over the last five closed minutes.", labels=APP_LABELS)
        for app_id, typ in sorted(set(totals) | set(recent)):
            if app_id not in apps:
                continue  # deleted meanwhile
            label_values = [apps[app_id], typ]
            r = recent.get((app_id, typ))
            _add_summary(duration, dict(zip(APP_LABELS, label_values)), totals.get((app_id, typ), NO_TOTALS), r, origin)
            if r is not None and r.apdex is not None:
                apdex.add_metric(label_values, r.apdex)
        return [duration, apdex]

    def _instances(self, apps: Mapping[str, str], since: float) -> Iterable[Metric]:
        cpu = GaugeMetricFamily(
            "pulse_instance_cpu_percent", "CPU of an agent process, its latest sample (100 = one core).",
            labels=INSTANCE_LABELS,
        )
        memory = GaugeMetricFamily(
            "pulse_instance_memory_bytes", "Resident memory of an agent process, its latest sample.",
            labels=INSTANCE_LABELS,
        )
        for app_id, host, pid, cpu_percent, memory_bytes in scrape.latest_instances(self.org, list(apps), since):
            if app_id not in apps:
                continue
            label_values = [apps[app_id], host, str(pid)]
            if cpu_percent is not None:
                cpu.add_metric(label_values, cpu_percent)
            if memory_bytes is not None:
                memory.add_metric(label_values, memory_bytes)
        return [cpu, memory]


def exposition(org: Organization, accept: str | None, now: float | None = None) -> tuple[bytes, str]:
    """(body, content type) of the organisation's figures in the format ``accept`` asks for."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(OrgCollector(org, now))
    encode, content_type = choose_encoder(accept or "")
    return encode(registry), content_type
