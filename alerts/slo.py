"""SLO arithmetic: error budgets and burn rates, as pure functions.

Definitions follow the SRE workbook ("Alerting on SLOs"):

- the error budget is the share of events allowed to be bad: ``1 - objective``;
- over the SLO period, budget remaining = ``1 - bad / (total * budget)`` (1.0 untouched,
  0.0 exhausted, negative when overspent);
- the burn rate of a window is its bad share divided by the budget: at 1x the budget
  lasts exactly the period; at 14.4x one hour spends 2 % of a 30-day budget
  (14.4 h / 720 h), at 6x six hours spend 5 % (the workbook's numbers);
- a multi-window alert fires when both its long and its short window burn at least at
  the factor: the long window shows it is significant, the short one that it is still
  happening (so the alert resolves soon after the problem stops).
"""

from dataclasses import dataclass

# (name, long window minutes, short window minutes, burn factor, severity)
FAST_BURN = ("fast", 60, 5, 14.4, "critical")
SLOW_BURN = ("slow", 360, 30, 6.0, "warning")
BURN_ALERTS = (FAST_BURN, SLOW_BURN)
_EPSILON = 1e-9


@dataclass(frozen=True)
class Counts:
    total: int
    bad: int

    @property
    def good(self):
        return self.total - self.bad


def budget_fraction(objective_percent):
    """The allowed bad share for an objective given in percent: 99.9 -> 0.001."""
    if not 0 < objective_percent < 100:
        raise ValueError("objective must be between 0 and 100 percent")
    return round(1.0 - objective_percent / 100.0, 12)


def sli(counts):
    """The good share, or None without events."""
    if counts.total <= 0:
        return None
    return counts.good / counts.total


def budget_remaining(counts, objective_percent):
    """Share of the period's error budget left (1.0 when nothing was bad or nothing happened)."""
    if counts.total <= 0:
        return 1.0
    allowed = counts.total * budget_fraction(objective_percent)
    return 1.0 - counts.bad / allowed


def burn_rate(counts, objective_percent):
    """How many times faster than sustainable the budget burns over a window (0 without events)."""
    if counts.total <= 0:
        return 0.0
    return (counts.bad / counts.total) / budget_fraction(objective_percent)


def burn_alert(windows, objective_percent):
    """The severity of the multi-window burn-rate alert that fires, or None.

    ``windows`` maps a window length in minutes (60, 5, 360, 30) to its Counts. Returns
    (severity, name, long burn, short burn) of the most severe alert firing, else None.
    """
    for name, long_minutes, short_minutes, factor, severity in BURN_ALERTS:
        long_burn = burn_rate(windows[long_minutes], objective_percent)
        short_burn = burn_rate(windows[short_minutes], objective_percent)
        # A burn of exactly the factor fires; float division must not decide that.
        if long_burn >= factor - _EPSILON and short_burn >= factor - _EPSILON:
            return severity, name, long_burn, short_burn
    return None


def window_minutes_needed():
    return sorted({m for _, long_m, short_m, _, _ in BURN_ALERTS for m in (long_m, short_m)})
