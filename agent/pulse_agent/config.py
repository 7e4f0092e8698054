"""Every setting of the agent, in one place.

Sources, later wins: built-in defaults, an optional INI file (``PULSE_CONFIG_FILE``,
section ``[pulse]``, keys as below without the ``PULSE_`` prefix, lower case), the
environment, then keyword arguments to ``pulse_agent.init()``. A bad value never
stops the host app: the default is used and the problem is listed in
``Settings.problems`` (which ``pulse-agent check`` prints).
"""

import configparser
import os
import re
import socket
import sys

# name -> (type, default, help)
SETTINGS = {
    "enabled": (bool, True, "turn the agent off entirely with false"),
    "ingest_key": (str, "", "the app's ingest key (pulse_ik_...), required to send data"),
    "endpoint": (str, "http://127.0.0.1:8000", "base URL of the Pulse server"),
    "app_name": (str, "", "application name as shown in Pulse (default: derived from the app)"),
    "harvest_interval": (float, 2.0, "seconds between two payloads (0.1-60)"),
    "live": (bool, True, "send sampled events every 0.5 s while the server says someone watches live"),
    "apdex_t": (float, 0.5, "initial Apdex T in seconds; the server's value replaces it"),
    "timeout": (float, 10.0, "HTTP timeout in seconds for one post to the server"),
    "shutdown_timeout": (float, 3.0, "at most this many seconds spent flushing at exit"),
    "max_buffer_bytes": (int, 8 * 1024 * 1024, "unsent compressed payloads kept at most"),
    "max_events": (int, 300, "transaction events kept per harvest (reservoir)"),
    "max_errors": (int, 50, "error events kept per harvest"),
    "max_traces": (int, 10, "slow traces kept per harvest"),
    "max_spans": (int, 500, "spans kept per trace"),
    "max_metric_names": (int, 1000, "distinct transaction names per harvest; more go to 'Other'"),
    "max_operations": (int, 200, "distinct database/external operations per harvest; more go to '(other)'"),
    "trace_samples_per_minute": (int, 5, "sampled traces per minute (one per name) besides slow ones"),
    "record_sql": (str, "obfuscated", "obfuscated, raw or off"),
    "disabled_instrumentation": (str, "", "comma-separated instrumentation modules to skip"),
    "log_level": (str, "warning", "agent log level: debug, info, warning, error"),
    "host": (str, "", "host name reported (default: this machine's)"),
}

_BOUNDS = {
    "harvest_interval": (0.1, 60.0),
    "apdex_t": (0.001, 60.0),
    "timeout": (0.1, 120.0),
    "shutdown_timeout": (0.0, 60.0),
    "max_buffer_bytes": (64 * 1024, 1 << 30),
    "max_events": (0, 2000),
    "max_errors": (0, 100),
    "max_traces": (0, 20),
    "max_spans": (1, 500),
    "max_metric_names": (10, 1999),
    "max_operations": (10, 1000),
    "trace_samples_per_minute": (0, 60),
}
_CHOICES = {
    "record_sql": ("obfuscated", "raw", "off"),
    "log_level": ("debug", "info", "warning", "error"),
}
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}
KEY_RE = re.compile(r"^pulse_ik_[0-9A-Za-z]{40}$")


def env_name(name):
    return "PULSE_" + name.upper()


class Settings:
    __slots__ = tuple(SETTINGS) + ("problems", "sources")

    def __init__(self):
        for name, (_typ, default, _help) in SETTINGS.items():
            setattr(self, name, default)
        self.problems = []
        self.sources = {}

    def as_dict(self):
        return {name: getattr(self, name) for name in SETTINGS}

    def set(self, name, raw, source):
        typ, default, _help = SETTINGS[name]
        try:
            value = _convert(name, typ, raw)
        except ValueError as exc:
            self.problems.append("%s (from %s): %s; using %r" % (name, source, exc, default))
            return
        setattr(self, name, value)
        self.sources[name] = source

    @property
    def disabled_set(self):
        return {x.strip() for x in self.disabled_instrumentation.split(",") if x.strip()}


def _convert(name, typ, raw):
    if typ is bool:
        if isinstance(raw, bool):
            return raw
        text = str(raw).strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
        raise ValueError("expected true or false, got %r" % raw)
    if typ in (int, float):
        try:
            value = typ(raw)
        except (TypeError, ValueError):
            raise ValueError("expected a number, got %r" % raw) from None
        if value != value:
            raise ValueError("not a number")
        lo, hi = _BOUNDS.get(name, (None, None))
        if lo is not None and not lo <= value <= hi:
            raise ValueError("must be between %s and %s, got %r" % (lo, hi, raw))
        return value
    value = str(raw).strip()
    if name in _CHOICES and value.lower() not in _CHOICES[name]:
        raise ValueError("must be one of %s, got %r" % (", ".join(_CHOICES[name]), raw))
    if name in _CHOICES:
        value = value.lower()
    if name == "endpoint":
        if not re.match(r"^https?://[^/\s]+", value):
            raise ValueError("must be an http:// or https:// URL, got %r" % raw)
        value = value.rstrip("/")
    if name == "app_name" and len(value) > 255:
        raise ValueError("longer than 255 characters")
    return value


def load(overrides=None, environ=None):
    """Build Settings from defaults, config file, environment and overrides."""
    environ = os.environ if environ is None else environ
    s = Settings()
    path = environ.get("PULSE_CONFIG_FILE")
    if path:
        parser = configparser.ConfigParser(interpolation=None)
        try:
            with open(path, encoding="utf-8") as fh:
                parser.read_file(fh)
        except (OSError, configparser.Error) as exc:
            s.problems.append("config file %s: %s" % (path, exc))
        else:
            if parser.has_section("pulse"):
                for key, raw in parser.items("pulse"):
                    if key in SETTINGS:
                        s.set(key, raw, path)
                    else:
                        s.problems.append("config file %s: unknown setting %r" % (path, key))
            else:
                s.problems.append("config file %s: no [pulse] section" % path)
    for name in SETTINGS:
        raw = environ.get(env_name(name))
        if raw is not None:
            s.set(name, raw, env_name(name))
    for name, raw in (overrides or {}).items():
        if name not in SETTINGS:
            s.problems.append("init(): unknown setting %r" % name)
            continue
        s.set(name, raw, "init()")
    if not s.app_name:
        s.app_name = default_app_name(environ)
    if not s.host:
        s.host = socket.gethostname()[:255] or "unknown"
    return s


def default_app_name(environ):
    dsm = environ.get("DJANGO_SETTINGS_MODULE")
    if dsm:
        return dsm.split(".")[0]
    argv0 = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else ""
    if argv0.endswith(".py"):
        argv0 = argv0[:-3]
    return (argv0 or "Python Application")[:255]


def key_problem(key):
    """Why an ingest key can't be right, or None."""
    if not key:
        return "PULSE_INGEST_KEY is not set"
    if not KEY_RE.match(key):
        return "PULSE_INGEST_KEY does not look like an ingest key (pulse_ik_ + 40 letters/digits)"
    return None
