"""Capacity planning arithmetic: Little's law and a what-if for instance counts.

Pure functions over measured figures, so the page and its tests share one definition.
Concurrency L = λ·W: arrivals per second times the average time each spends in the
system. Over a minute that is simply the busy time summed over its transactions / 60 s.
"""

import math
from dataclasses import dataclass

CPU_TARGET_MIN, CPU_TARGET_MAX, CPU_TARGET_DEFAULT = 50, 90, 75


def concurrency(tps, avg_seconds):
    """Average number of transactions in flight (Little's law)."""
    if tps is None or avg_seconds is None:
        return None
    return tps * avg_seconds


@dataclass(frozen=True)
class WhatIf:
    target_tps: float
    cpu_target: float
    concurrency: float | None  # transactions in flight at the target rate
    tps_per_instance: float | None  # one instance's sustainable rate at the CPU target
    instances: int | None
    basis: str  # how tps_per_instance was obtained, shown to the user


def what_if(target_tps, avg_seconds, cpu_per_tps, peak_tps_per_instance, cpu_target=CPU_TARGET_DEFAULT):
    """Instances needed to serve ``target_tps`` with each instance's CPU at most ``cpu_target`` %.

    ``cpu_per_tps`` is the measured CPU % one instance spends per transaction/second (CPU is
    taken to grow linearly with throughput, which holds well below saturation). Without CPU
    samples, the busiest measured per-instance rate is the only safe capacity figure.
    """
    conc = concurrency(target_tps, avg_seconds)
    if cpu_per_tps and cpu_per_tps > 0:
        per_instance = cpu_target / cpu_per_tps
        basis = f"CPU at {cpu_target:g}% of one core per instance, measured {cpu_per_tps:.2f}% per TPS"
    elif peak_tps_per_instance:
        per_instance = peak_tps_per_instance
        basis = "the busiest measured throughput per instance (no CPU samples)"
    else:
        return WhatIf(target_tps, cpu_target, conc, None, None, "not enough instance data yet")
    instances = max(1, math.ceil(target_tps / per_instance - 1e-9)) if target_tps > 0 else 0
    return WhatIf(target_tps, cpu_target, conc, per_instance, instances, basis)
