"""Django's database connections, for the runtime metrics: each connection Django opens,
in any thread, is remembered (weakly) from its ``connection_created`` signal, so the
harvest thread can count the open ones per alias (pulse_agent/runtime.py). Hooked when
Django's backends load, before any connection exists."""

from pulse_agent.runtime import django_connections

LIBRARY = "django"
SUPPORTED = ("3.2", "6.1")

_UID = "pulse_agent.django_connections"


def instrument():
    from django.db.backends.signals import connection_created

    connection_created.connect(django_connections.add, weak=False, dispatch_uid=_UID)


def uninstrument():
    from django.db.backends.signals import connection_created

    connection_created.disconnect(django_connections.add, dispatch_uid=_UID)
