import pytest

from frontend.capacity import concurrency, what_if
from alerts.status import with_incident
from apm.queries import status_of
from frontend.status import status_dot


def test_it_applies_littles_law():
    assert concurrency(200, 0.25) == 50
    assert concurrency(None, 0.25) is None


def test_it_sizes_instances_from_cpu_per_tps():
    # 2% CPU per TPS: at 75% an instance sustains 37.5 TPS; 100 TPS needs 3 instances.
    w = what_if(100, 0.2, cpu_per_tps=2.0, peak_tps_per_instance=10, cpu_target=75)
    assert w.tps_per_instance == pytest.approx(37.5)
    assert w.instances == 3
    assert w.concurrency == pytest.approx(20)


def test_it_falls_back_to_measured_peak_throughput_without_cpu():
    w = what_if(100, 0.2, cpu_per_tps=None, peak_tps_per_instance=40)
    assert (w.instances, w.tps_per_instance) == (3, 40)
    assert "no CPU" in w.basis


def test_it_says_when_it_cannot_size():
    w = what_if(100, None, None, None)
    assert w.instances is None and w.concurrency is None


def health(apdex, error_rate, count=100):
    return status_of({"count": count, "apdex": apdex, "error_rate": error_rate})


def test_it_colours_health_from_apdex_and_error_rate():
    assert health(None, None, count=0) == "grey"
    assert health(0.97, 0.001) == "green"
    assert health(0.8, 0.001) == "amber"
    assert health(0.97, 0.02) == "amber"
    assert health(0.6, 0.0) == "red"
    assert health(0.99, 0.09) == "red"
    assert with_incident(health(0.99, 0.0), "critical") == "red"
    assert with_incident(health(0.99, 0.0), "warning") == "amber"
    assert with_incident(health(0.6, 0.0), "warning") == "red"
    assert with_incident(health(None, None, count=0), "warning") == "amber"
    assert with_incident(health(0.99, 0.0), None) == "green"


def test_it_shows_health_as_a_status_dot():
    assert status_dot("green") == ("ok", "Healthy")
    assert status_dot("grey") == ("none", "No recent data")
    assert status_dot("amber", "warning") == ("warn", "Degraded (open incident)")
    assert status_dot("red", "critical") == ("bad", "Critical (open incident)")
