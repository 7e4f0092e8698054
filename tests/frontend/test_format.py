import json
import re

import pytest

from frontend.templatetags.apm_format import bar, json_data, ms


def test_json_data_cannot_be_broken_out_of():
    value = {"label": '</script><script>alert(1)</script> & <!-- "x"', "n": [1.5, None]}
    html = str(json_data(value, 'chart"><x'))
    assert html.count("</script>") == 1 and html.endswith("</script>")
    assert "<script>" not in html.removeprefix(html.split(">", 1)[0] + ">")
    assert 'id="chart&quot;&gt;&lt;x"' in html
    body = re.match(r"<script [^>]*>(.*)</script>$", html).group(1)
    assert json.loads(body) == value


def test_it_formats_durations_and_bar_widths():
    assert (ms(None), ms(0.5), ms(12.34), ms(250), ms(1500), ms(12000)) == ("–", "0.50 ms", "12.3 ms", "250 ms", "1.50 s", "12.0 s")
    assert (bar(0.25), bar(None), bar(2), bar(40, 100), bar(-1)) == ("25.000", "0", "100.000", "40.000", "0.000")


def test_json_data_writes_no_nan_or_infinity():
    # JSON.parse rejects NaN and Infinity, and with them every chart of the page.
    html = str(json_data({"avg": float("nan"), "max": float("inf"), "min": -float("inf"), "n": 2.5}, "d"))
    body = re.match(r"<script [^>]*>(.*)</script>$", html).group(1)
    assert json.loads(body, parse_constant=lambda token: pytest.fail(f"{token} in JSON")) == {
        "avg": None, "max": None, "min": None, "n": 2.5,
    }
