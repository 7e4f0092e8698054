"""SLO arithmetic against budgets and burn rates computed by hand."""

import pytest

from alerts.slo import Counts, budget_fraction, budget_remaining, burn_alert, burn_rate, sli


def test_budget_fraction():
    assert budget_fraction(99.9) == pytest.approx(0.001)
    assert budget_fraction(99) == pytest.approx(0.01)
    with pytest.raises(ValueError):
        budget_fraction(100)


def test_budget_remaining_by_hand():
    # 99.9 % of 1,000,000 allows 1,000 bad; 250 bad spend a quarter.
    assert budget_remaining(Counts(1_000_000, 250), 99.9) == pytest.approx(0.75)
    # 1,500 bad overspend by half.
    assert budget_remaining(Counts(1_000_000, 1_500), 99.9) == pytest.approx(-0.5)
    # 99 % of 20,000 allows 200 bad; 200 bad exhaust it.
    assert budget_remaining(Counts(20_000, 200), 99) == pytest.approx(0.0)
    assert budget_remaining(Counts(0, 0), 99.9) == 1.0


def test_sli_by_hand():
    assert sli(Counts(400, 3)) == pytest.approx(397 / 400)
    assert sli(Counts(0, 0)) is None


def test_burn_rate_by_hand():
    # 144 bad in 10,000 = 1.44 % against a 0.1 % budget: 14.4x.
    assert burn_rate(Counts(10_000, 144), 99.9) == pytest.approx(14.4)
    # 3 bad in 200 = 1.5 % against 1 %: 1.5x.
    assert burn_rate(Counts(200, 3), 99) == pytest.approx(1.5)
    assert burn_rate(Counts(0, 0), 99) == 0.0


def windows(h1, m5, h6, m30):
    return {60: Counts(*h1), 5: Counts(*m5), 360: Counts(*h6), 30: Counts(*m30)}


def test_fast_burn_needs_both_windows():
    # 1 h at 14.4x and 5 min at 15x: page.
    fired = burn_alert(windows((10_000, 144), (1_000, 15), (60_000, 144), (5_000, 15)), 99.9)
    assert fired[:2] == ("critical", "fast")
    assert fired[2] == pytest.approx(14.4) and fired[3] == pytest.approx(15.0)
    # The short window has calmed down (10x): no fast alert; 6 h at 2.4x: no slow alert either.
    assert burn_alert(windows((10_000, 144), (1_000, 10), (60_000, 144), (5_000, 10)), 99.9) is None


def test_slow_burn_by_hand():
    # 6 h: 360 bad in 60,000 = 6x; 30 min: 30 in 5,000 = 6x; 1 h only 6x too (< 14.4).
    fired = burn_alert(windows((10_000, 60), (1_000, 6), (60_000, 360), (5_000, 30)), 99.9)
    assert fired[:2] == ("warning", "slow")
    assert fired[2] == pytest.approx(6.0)
    # 29 bad in the last 30 min (5.8x) is not enough.
    assert burn_alert(windows((10_000, 60), (1_000, 6), (60_000, 360), (5_000, 29)), 99.9) is None
