import pytest

from frontend.capacity import concurrency, what_if
from frontend.status import health


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


def test_it_colours_health_from_apdex_and_error_rate():
    assert health(None, None) == "none"
    assert health(0.97, 0.001) == "ok"
    assert health(0.8, 0.001) == "warn"
    assert health(0.97, 0.02) == "warn"
    assert health(0.6, 0.0) == "bad"
    assert health(0.99, 0.09) == "bad"
    assert health(0.99, 0.0, incident="critical") == "bad"
    assert health(0.99, 0.0, incident="warning") == "warn"
    assert health(0.6, 0.0, incident="warning") == "bad"
    assert health(None, None, incident="warning") == "warn"
