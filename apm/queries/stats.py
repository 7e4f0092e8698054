"""Row statistics: the sums of rollup rows turned into averages, rates and Apdex.

The one place these rules live: the JSON API, the pages, the live updates and alert
evaluation all read their figures through ``Acc``. The ``stats`` dict is the one of
docs/query-api.md (durations in milliseconds, rates as fractions).
"""

from typing import Any

from apm.queries.base import ms

SEGMENTS = ("python", "database", "external", "template")
NO_QUANTILES: tuple[None, None, None] = (None, None, None)

Quantiles = tuple[float | None, float | None, float | None]


class Acc:
    """Sums of rollup rows, turned into a ``stats`` dict (percentiles are added by the caller)."""

    __slots__ = ("count", "errors", "sum", "min", "max", "s", "t", "f", "seg")

    def __init__(self) -> None:
        self.count = self.errors = self.s = self.t = self.f = 0
        self.sum = 0.0
        self.min: float | None = None
        self.max: float | None = None
        self.seg = [0.0, 0.0, 0.0, 0.0]

    def add_row(
        self,
        count: int,
        errors: int,
        total: float,
        mn: float | None,
        mx: float | None,
        s: int,
        t: int,
        f: int,
        py: float,
        db: float,
        ext: float,
        tpl: float,
    ) -> None:
        """Add one row's columns, in the order of ``base.ROW_COLUMNS``."""
        self.count += count
        self.errors += errors
        self.sum += total
        if mn is not None and (self.min is None or mn < self.min):
            self.min = mn
        if mx is not None and (self.max is None or mx > self.max):
            self.max = mx
        self.s += s
        self.t += t
        self.f += f
        seg = self.seg
        seg[0] += py
        seg[1] += db
        seg[2] += ext
        seg[3] += tpl

    def add_rollup(self, row: Any) -> None:
        """Add one rollup model instance (AppMinute, TransactionHour, ...)."""
        self.add_row(
            row.count, row.errors, row.sum, row.min, row.max, row.apdex_s, row.apdex_t, row.apdex_f,
            row.seg_python, row.seg_database, row.seg_external, row.seg_template,
        )

    def avg(self) -> float | None:
        """Mean duration in seconds; None without transactions."""
        return self.sum / self.count if self.count else None

    def error_rate(self) -> float | None:
        """Errors per transaction (a fraction); None without transactions."""
        return self.errors / self.count if self.count else None

    def apdex(self) -> float | None:
        """(satisfied + tolerating / 2) / all; None without transactions."""
        judged = self.s + self.t + self.f
        return (self.s + self.t / 2.0) / judged if self.count and judged else None

    def stats(self, minutes: float, quantiles: Quantiles = NO_QUANTILES) -> dict[str, Any]:
        """The ``stats`` dict; ``quantiles`` are (p50, p95, p99) seconds."""
        n = self.count
        p50, p95, p99 = quantiles if n else NO_QUANTILES
        return {
            "count": n,
            "rpm": n / minutes if minutes else 0.0,
            "avg_ms": ms(self.avg()),
            "min_ms": ms(self.min) if n else None,
            "max_ms": ms(self.max) if n else None,
            "p50_ms": ms(p50),
            "p95_ms": ms(p95),
            "p99_ms": ms(p99),
            "error_count": self.errors,
            "error_rate": self.error_rate(),
            "apdex": self.apdex(),
            "apdex_s": self.s,
            "apdex_t": self.t,
            "apdex_f": self.f,
            "segments_ms": {k: (ms(v / n) if n else None) for k, v in zip(SEGMENTS, self.seg)},
        }
