"""sqlite3 (standard library): connections made through ``sqlite3.connect`` get a
Connection/Cursor subclass that times ``execute``, ``executemany`` and ``executescript``.

Connections opened by Django's backend are left alone: the ORM hook times those.
"""

import sqlite3 as _sqlite3
import sys

from pulse_agent.instrumentation import unwrap_method, wrap_method
from pulse_agent.instrumentation._dbapi import called_from_django, traced

LIBRARY = None  # standard library
SUPPORTED = (None, None)
_SYSTEM = "sqlite"


def _cursor_execute(self, sql, parameters=(), /):
    return _sqlite3.Cursor.execute(self, sql, parameters)


def _cursor_executemany(self, sql, seq, /):
    return _sqlite3.Cursor.executemany(self, sql, seq)


def _cursor_executescript(self, script, /):
    return _sqlite3.Cursor.executescript(self, script)


PulseCursor = type(
    "PulseCursor",
    (_sqlite3.Cursor,),
    {
        "execute": traced(_cursor_execute, _SYSTEM),
        "executemany": traced(_cursor_executemany, _SYSTEM),
        "executescript": traced(_cursor_executescript, _SYSTEM),
        "__module__": __name__,
    },
)


def _make_connection_class(base):
    def cursor(self, factory=PulseCursor):
        return base.cursor(self, factory)

    def execute(self, sql, parameters=(), /):
        return self.cursor().execute(sql, parameters)

    def executemany(self, sql, seq, /):
        return self.cursor().executemany(sql, seq)

    def executescript(self, script, /):
        return self.cursor().executescript(script)

    return type(
        "Pulse" + base.__name__,
        (base,),
        {
            "cursor": cursor,
            "execute": execute,
            "executemany": executemany,
            "executescript": executescript,
            "__module__": __name__,
        },
    )


_classes = {}


def _connect(original, patch):
    def connect(*args, **kwargs):
        if patch.passthrough or called_from_django():
            return original(*args, **kwargs)
        base = kwargs.get("factory")
        if base is None and len(args) >= 6:
            return original(*args, **kwargs)
        base = base or _sqlite3.Connection
        try:
            cls = _classes.get(base)
            if cls is None:
                cls = _classes[base] = _make_connection_class(base)
            kwargs["factory"] = cls
        except Exception:
            pass
        return original(*args, **kwargs)

    return connect


def _owners():
    dbapi2 = sys.modules.get("sqlite3.dbapi2")
    return (_sqlite3,) if dbapi2 is None else (_sqlite3, dbapi2)


def instrument():
    for owner in _owners():
        wrap_method(owner, "connect", _connect)


def uninstrument():
    for owner in _owners():
        unwrap_method(owner, "connect")
