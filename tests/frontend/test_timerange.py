from datetime import UTC, datetime, timedelta

import pytest
from django.http import QueryDict

from apm.params import BadParam
from frontend.timerange import parse_range

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def parse(qs):
    return parse_range(QueryDict(qs), now=NOW)


def test_it_defaults_to_the_last_hour():
    r = parse("")
    assert (r.start, r.end, r.key) == (NOW - timedelta(hours=1), NOW, "1h")
    assert r.params == {"range": "1h"}


@pytest.mark.parametrize("key,span", [("30m", 1800), ("6h", 6 * 3600), ("7d", 7 * 86400), ("30d", 30 * 86400)])
def test_it_reads_presets(key, span):
    r = parse(f"range={key}")
    assert r.seconds == span and r.end == NOW


def test_it_reads_a_custom_range_in_unix_seconds_and_round_trips_it():
    start = int((NOW - timedelta(hours=3)).timestamp())
    r = parse(f"from={start}&to={start + 600}")
    assert r.key == "custom" and r.seconds == 600
    assert parse(r.query) == r


def test_it_reads_datetime_local_values_as_utc():
    r = parse("from=2026-03-01T10:00&to=2026-03-01T11:30")
    assert r.start == datetime(2026, 3, 1, 10, 0, tzinfo=UTC)
    assert r.seconds == 5400


def test_it_reads_other_durations_and_partial_ranges_like_the_api():
    assert parse("range=45m").seconds == 2700 and parse("range=45m").key == "custom"
    assert parse("from=2026-03-01T11:30").end == NOW  # "to" is now
    r = parse("to=2026-03-01T11:00")  # "from" is the default range before "to"
    assert r.start == datetime(2026, 3, 1, 10, 0, tzinfo=UTC) and r.key == "custom"


def test_it_clamps_the_end_to_now():
    r = parse("from=2026-03-01T11:00&to=2026-03-02T00:00")
    assert r.end == NOW


@pytest.mark.parametrize(
    "qs,words",
    [
        ("range=2w", "range must look like 30m"),
        ("from=123", "400 days"),
        ("from=abc&to=def", "unix seconds"),
        ("from=2026-03-01T11:00&to=2026-03-01T11:00", "before"),
        ("from=2026-03-01T11:00&to=2026-03-01T10:00", "before"),
        ("from=2026-03-01T11:59:30&to=2026-03-02T00:00", "at least a minute"),
        ("from=2020-01-01T00:00&to=2026-03-01T10:00", "400 days"),
        ("from=99999999999999999999&to=1", "unix seconds"),
    ],
)
def test_it_explains_bad_ranges(qs, words):
    with pytest.raises(BadParam, match=words):
        parse(qs)
