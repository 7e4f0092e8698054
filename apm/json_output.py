"""JSON for browsers and API clients, written one way everywhere: API answers, page data
blocks and live messages.

Python's ``json`` writes ``NaN`` and ``Infinity`` for floats that are not finite; they are
not JSON, and ``JSON.parse`` then rejects the whole document (every chart of a page). A
float stored as NaN or infinite (Postgres accepts both) comes out here as ``null``: a gap
in a chart, "no value" in the API.
"""

from typing import Any

import msgspec
from django.http import HttpResponse

# msgspec writes non-finite floats as null; datetimes, UUIDs and Decimals as strings.
_encode = msgspec.json.Encoder().encode


def dumps(value: Any) -> str:
    """Compact JSON text of ``value``, never with NaN or Infinity."""
    return _encode(value).decode()


def json_response(value: Any, status: int = 200) -> HttpResponse:
    """An ``application/json`` answer of ``value`` (as ``dumps`` writes it)."""
    return HttpResponse(_encode(value), status=status, content_type="application/json")
