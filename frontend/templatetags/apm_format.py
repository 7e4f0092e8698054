"""Formatting of monitoring figures in templates (durations, rates, percentages, bytes)."""

from datetime import UTC, datetime

from django import template
from django.utils.html import escape
from django.utils.safestring import mark_safe

from apm.json_output import dumps

register = template.Library()

DASH = "–"


@register.filter
def ms(value):
    """Milliseconds, with a unit that fits."""
    if value is None:
        return DASH
    value = float(value)
    if value >= 10000:
        return f"{value / 1000:.1f} s"
    if value >= 1000:
        return f"{value / 1000:.2f} s"
    if value >= 100:
        return f"{value:.0f} ms"
    if value >= 10:
        return f"{value:.1f} ms"
    return f"{value:.2f} ms"


@register.filter
def seconds_as_ms(value):
    return DASH if value is None else ms(float(value) * 1000)


@register.filter
def rate(value):
    """A throughput or count, compact."""
    if value is None:
        return DASH
    value = float(value)
    if value >= 1e6:
        return f"{value / 1e6:.1f}M"
    if value >= 1e4:
        return f"{value / 1e3:.0f}k"
    if value >= 1e3:
        return f"{value / 1e3:.1f}k"
    if value >= 10 or value == int(value):
        return f"{value:.0f}"
    return f"{value:.1f}"


@register.filter
def fraction_percent(value):
    """A fraction 0–1 as a percentage."""
    if value is None:
        return DASH
    pct = float(value) * 100
    if pct == 0:
        return "0%"
    if pct < 0.1:
        return f"{pct:.2f}%"
    return f"{pct:.1f}%"


@register.filter
def signed_change(value):
    """A relative change (0.12) as '+12%', '−5%'."""
    if value is None:
        return ""
    pct = float(value) * 100
    return f"{'+' if pct >= 0 else '−'}{abs(pct):.0f}%"


@register.filter
def percent(value):
    """A value already in percent."""
    if value is None:
        return DASH
    return f"{float(value):.1f}%"


@register.filter
def apdex(value):
    return DASH if value is None else f"{float(value):.2f}"


@register.filter
def bytes_(value):
    if value is None:
        return DASH
    value = float(value)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024:
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} TiB"


register.filter("bytes", bytes_)


@register.filter
def unix_time(value):
    """Unix seconds (or an aware datetime) as 'YYYY-MM-DD HH:MM:SS UTC'."""
    if value is None or value == "":
        return DASH
    if not isinstance(value, datetime):
        value = datetime.fromtimestamp(float(value), tz=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


@register.filter
def ago(value):
    """How long ago, coarse ('3 min ago')."""
    if value is None or value == "":
        return DASH
    if isinstance(value, datetime):
        value = value.timestamp()
    delta = datetime.now(UTC).timestamp() - float(value)
    if delta < 60:
        return "just now"
    for size, unit in ((86400, "d"), (3600, "h"), (60, "min")):
        if delta >= size:
            return f"{int(delta // size)} {unit} ago"
    return DASH


@register.filter
def bar(value, scale=1):
    """A width for an SVG bar in a 0–100 viewBox: ``fraction|bar`` or ``percent|bar:100``."""
    if value is None:
        return "0"
    number = float(value) * 100 / float(scale)
    return f"{min(100.0, max(0.0, number)):.3f}"


# What Django's json_script escapes, done with three C-level replaces: chart data runs to
# hundreds of kilobytes, where str.translate with a mapping is slow.
_JSON_ESCAPES = (("&", "\\u0026"), ("<", "\\u003C"), (">", "\\u003E"))


@register.filter
def json_data(value, element_id):
    """Like ``json_script``: a <script type="application/json"> data block with <, > and &
    escaped, so agent-supplied strings cannot end it; compact, without NaN (apm.json_output)."""
    text = dumps(value)
    for char, escaped in _JSON_ESCAPES:
        text = text.replace(char, escaped)
    return mark_safe(f'<script id="{escape(element_id)}" type="application/json">{text}</script>')
