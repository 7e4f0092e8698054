"""Typed readers for configuration from environment variables.

Each helper fails loudly on a value it cannot parse, so a typo in production
configuration stops the process at start-up instead of silently using a default.
Any variable may instead be given as ``NAME_FILE`` pointing at a file holding the
value (Docker and Kubernetes secrets).
"""

import ipaddress
import os

from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def envstr(name, default=None):
    file_path = os.environ.get(f"{name}_FILE")
    if file_path:
        try:
            with open(file_path, encoding="utf-8") as f:
                return f.read().strip()
        except OSError as exc:
            raise ImproperlyConfigured(f"{name}_FILE={file_path!r} cannot be read: {exc}")
    return os.environ.get(name, default)


def envbool(name, default):
    raw = envstr(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name}={raw!r} is not a boolean (use true or false)")


def envchoice(name, default, choices):
    value = (envstr(name) or default).strip().lower()
    if value not in choices:
        raise ImproperlyConfigured(f"{name}={value!r} must be one of {', '.join(choices)}")
    return value


def envint(name, default, minimum=None):
    raw = envstr(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={raw!r} is not an integer")
    if minimum is not None and value < minimum:
        raise ImproperlyConfigured(f"{name}={value} must be at least {minimum}")
    return value


def envfloat(name, default, minimum=None):
    raw = envstr(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={raw!r} is not a number")
    if value != value or (minimum is not None and value < minimum):
        raise ImproperlyConfigured(f"{name}={raw!r} must be a number of at least {minimum}")
    return value


def envlist(name, default=()):
    raw = envstr(name)
    if raw is None:
        return list(default)
    return [item.strip() for item in raw.split(",") if item.strip()]


def envnetworks(name):
    """A comma-separated list of IP networks (CIDRs; a bare address is a network of one)."""
    networks = []
    for item in envlist(name):
        try:
            networks.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            raise ImproperlyConfigured(f"{name}: {item!r} is not an IP network (e.g. 10.0.0.0/8)")
    return networks


def envports(name, default):
    """A comma-separated list of TCP ports as a frozenset, or None for "*" (any port)."""
    items = envlist(name, [str(p) for p in default])
    if items == ["*"]:
        return None
    ports = set()
    for item in items:
        if not item.isdigit() or not 0 < int(item) < 65536:
            raise ImproperlyConfigured(f"{name}: {item!r} is not a port (or use * for any)")
        ports.add(int(item))
    return frozenset(ports)
