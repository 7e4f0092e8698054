"""The one reader of time-range parameters (apm.params), shared by the JSON API, alerts and pages."""

import json

import pytest
from django.http import QueryDict

from apm.params import MAX_SPAN, BadParam, instant, invalid, time_range

NOW = 1_772_366_400.0  # 2026-03-01 12:00 UTC


def parse(qs, **kwargs):
    return time_range(QueryDict(qs), now=NOW, **kwargs)


def test_it_reads_a_range_ending_now():
    assert parse("") == (NOW - 3600, NOW)
    assert parse("range=45m") == (NOW - 2700, NOW)
    assert parse("range=7d") == (NOW - 7 * 86400, NOW)
    assert parse("", default="1d") == (NOW - 86400, NOW)


def test_it_reads_from_and_to_as_unix_seconds_or_utc_datetimes():
    assert parse("from=1772359200&to=1772362800.5") == (1772359200.0, 1772362800.5)
    assert parse("from=2026-03-01T10:00&to=2026-03-01T13:00%2B01:00") == (1772359200.0, NOW)
    assert instant("2026-03-01T10:00", "from") == 1772359200.0
    assert instant("2026-03-01T11:00+01:00", "from") == 1772359200.0


def test_missing_ends_are_now_and_the_default_range_before_to():
    assert parse("from=1772359200") == (1772359200.0, NOW)
    assert parse("to=1772359200") == (1772359200.0 - 3600, 1772359200.0)
    assert parse("from=&to=&range=6h") == (NOW - 6 * 3600, NOW)  # empty values count as missing


@pytest.mark.parametrize(
    "qs,field,words",
    [
        ("range=0m", "range", "range must look like 30m"),
        ("range=2w", "range", "range must look like 30m"),
        ("range=12345d", "range", "range must look like 30m"),
        ("from=yesterday", "from", "from must be unix seconds or a date"),
        ("from=1&to=nan", "to", "to must be unix seconds"),
        ("from=-5&to=10", "from", "unix seconds"),
        ("from=1e309", "from", "unix seconds"),
        ("from=99999999999999999999&to=1", "from", "unix seconds"),
        ("from=1772359200&to=1772359200", "from", "from must be before to"),
        ("range=401d", "range", "at most 400 days"),
        ("from=1&to=1772359200", "range", "at most 400 days"),
    ],
)
def test_it_names_the_bad_parameter(qs, field, words):
    with pytest.raises(BadParam, match=words) as caught:
        parse(qs)
    assert caught.value.field == field


def test_the_span_limit_is_the_callers():
    assert MAX_SPAN == 400 * 86400
    with pytest.raises(BadParam, match="at most 6 hours"):
        parse("range=7h", max_span=6 * 3600)
    with pytest.raises(BadParam, match="at most 90 days"):
        parse("range=91d", max_span=90 * 86400)


def test_a_bad_parameter_is_one_json_shape():
    response = invalid(BadParam("from", "from must be before to"))
    assert response.status_code == 400
    assert json.loads(response.content) == {
        "error": {"code": "invalid", "field": "from", "message": "from must be before to"}
    }
