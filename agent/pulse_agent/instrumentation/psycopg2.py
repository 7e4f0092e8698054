"""psycopg2: ``psycopg2.connect`` hands out connections whose cursors time
``execute``, ``executemany`` and ``callproc``. A ``cursor_factory`` of the app's own
(e.g. ``RealDictCursor``) is kept: a timed subclass of it is used instead."""

from pulse_agent.instrumentation import unwrap_method, wrap_method
from pulse_agent.instrumentation._dbapi import called_from_django, traced

LIBRARY = "psycopg2"
SUPPORTED = ("2.8", "3.0")
_SYSTEM = "postgresql"



def library_version():
    import psycopg2

    return psycopg2.__version__.split()[0]


_cursor_classes = {}
_connection_classes = {}


def _cursor_class(base):
    cls = _cursor_classes.get(base)
    if cls is None:
        attrs = {"__module__": __name__}
        for name in ("execute", "executemany", "callproc"):
            orig = getattr(base, name)
            attrs[name] = traced(lambda self, *a, _o=orig, **k: _o(self, *a, **k), _SYSTEM)
        cls = _cursor_classes[base] = type("Pulse" + base.__name__, (base,), attrs)
    return cls


def _connection_class(base):
    cls = _connection_classes.get(base)
    if cls is None:

        def cursor(self, *args, **kwargs):
            factory = kwargs.get("cursor_factory") or self.cursor_factory
            if factory is None:
                import psycopg2.extensions

                factory = psycopg2.extensions.cursor
            if isinstance(factory, type) and not factory.__name__.startswith("Pulse"):
                kwargs["cursor_factory"] = _cursor_class(factory)
            return base.cursor(self, *args, **kwargs)

        cls = _connection_classes[base] = type(
            "Pulse" + base.__name__, (base,), {"cursor": cursor, "__module__": __name__}
        )
    return cls


def _connect(original, patch):
    def connect(dsn=None, connection_factory=None, cursor_factory=None, **kwargs):
        if not patch.passthrough and not called_from_django():
            try:
                import psycopg2.extensions

                connection_factory = _connection_class(connection_factory or psycopg2.extensions.connection)
            except Exception:
                pass
        return original(dsn, connection_factory=connection_factory, cursor_factory=cursor_factory, **kwargs)

    return connect


def instrument():
    import psycopg2

    wrap_method(psycopg2, "connect", _connect)


def uninstrument():
    import psycopg2

    unwrap_method(psycopg2, "connect")
