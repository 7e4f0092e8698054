"""psycopg 3: ``Cursor``/``AsyncCursor`` ``execute`` and ``executemany`` (covers
``Connection.execute``, client-side and server-side cursors, and Django's backend)."""

from pulse_agent.instrumentation import unwrap_method, wrap_method
from pulse_agent.instrumentation._dbapi import traced, traced_async

LIBRARY = "psycopg"
SUPPORTED = ("3.0", "4.0")
_SYSTEM = "postgresql"


def _targets():
    import psycopg

    return (
        (psycopg.Cursor, traced),
        (psycopg.AsyncCursor, traced_async),
        (psycopg.ServerCursor, traced),
        (psycopg.AsyncServerCursor, traced_async),
    )


def instrument():
    for cls, maker in _targets():
        for attr in ("execute", "executemany"):
            if attr in cls.__dict__:
                wrap_method(cls, attr, lambda orig, patch, m=maker: m(orig, _SYSTEM, patch))


def uninstrument():
    for cls, _maker in _targets():
        for attr in ("execute", "executemany"):
            unwrap_method(cls, attr)
