"""Alert definitions (conditions, channels, SLOs) as JSON, for alerts as code (docs/api.md).

A definition is written with the names of its form's fields (alerts/forms.py validates it,
as on the pages) and read back in the same names, so what a GET returns can be edited and
sent back. A request body is laid over a base: the model's defaults to create or replace
(PUT), the stored definition to change some fields (PATCH).

Secrets are never read back: a channel's URL (Slack's and others carry tokens) and
PagerDuty routing key are write-only, summarised by ``target``; a webhook's signing secret
is shown by its first characters only.
"""

from dataclasses import dataclass
from typing import Any

from django import forms

from alerts.forms import ChannelForm, ConditionForm, SLOForm
from alerts.models import SLO, ChannelKind, Condition, NotificationChannel
from tenants import limits

SHOWN_SECRET = 4  # characters of a webhook's signing secret a GET shows


class BadBody(ValueError):
    def __init__(self, message: str, field: str = "body") -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class Kind:
    """One kind of definition: its model, form, limit, fields and read-only fields."""

    noun: str
    model: type
    form: type[forms.ModelForm]
    limit: limits.Limit
    fields: tuple[str, ...]  # written and read
    read_only: tuple[str, ...]  # read only; ignored when sent back
    reevaluate: bool  # a changed definition is judged afresh

    def make_form(self, data: dict, instance, org) -> forms.ModelForm:
        if self.form is ChannelForm:
            return ChannelForm(data, instance=instance)
        return self.form(data, instance=instance, org=org)


_RELATED = ("warning_channels", "critical_channels")

CONDITIONS = Kind(
    "condition", Condition, ConditionForm, limits.ALERT_CONDITIONS,
    ("name", "app", "transaction", "metric", "comparison", "warning_threshold", "critical_threshold",
     "window_minutes", "mode", *_RELATED, "enabled"),
    ("id", "created_at", "muted_until"),
    reevaluate=True,
)
SLOS = Kind(
    "SLO", SLO, SLOForm, limits.SLOS,
    ("name", "app", "indicator", "latency_threshold_ms", "objective", "period_days", *_RELATED, "alerts_enabled"),
    ("id", "created_at", "muted_until"),
    reevaluate=True,
)
CHANNELS = Kind(
    "channel", NotificationChannel, ChannelForm, limits.NOTIFICATION_CHANNELS,
    ("name", "kind", "url", "routing_key", "members", "addresses"),
    ("id", "created_at", "target", "secret_hint"),
    reevaluate=False,
)


def _seconds(when) -> float | None:
    return when.timestamp() if when is not None else None


def _stored(kind: Kind, obj) -> dict[str, Any]:
    """Every written field of ``obj`` as stored (secrets included: never sent out as is)."""
    if kind is CHANNELS:
        config = obj.config or {}
        return {"name": obj.name, "kind": obj.kind, **{k: config.get(k) for k in ("url", "routing_key", "members")},
                "addresses": list(config.get("addresses", []))}
    out = {name: getattr(obj, name) for name in kind.fields if name not in ("app", *_RELATED)}
    out["app"] = str(obj.app_id) if obj.app_id else None
    for name in _RELATED:
        out[name] = sorted(str(pk) for pk in getattr(obj, name).values_list("pk", flat=True)) if obj.pk else []
    return out


def shown(kind: Kind, obj) -> dict[str, Any]:
    """``obj`` as an API answer."""
    out: dict[str, Any] = {"id": str(obj.pk), **_stored(kind, obj), "created_at": _seconds(obj.created_at)}
    if kind is CHANNELS:
        del out["url"], out["routing_key"]
        if obj.kind != ChannelKind.EMAIL:
            del out["members"], out["addresses"]
        out["target"] = obj.target_summary
        if obj.kind == ChannelKind.WEBHOOK:
            out["secret_hint"] = obj.secret[:SHOWN_SECRET] + "…"
    else:
        out["muted_until"] = _seconds(obj.muted_until)
    return out


def form_data(kind: Kind, body: Any, instance=None) -> dict[str, Any]:
    """The form data of ``body`` laid over ``instance`` (PATCH) or the model's defaults
    (create, PUT). Raises BadBody naming a field the kind does not have or a value of the
    wrong shape."""
    if not isinstance(body, dict):
        raise BadBody("the body must be a JSON object")
    unknown = sorted(set(body) - set(kind.fields) - set(kind.read_only))
    if unknown:
        raise BadBody(f"unknown field {unknown[0]!r}; the fields are " + ", ".join(kind.fields), unknown[0])
    data = _stored(kind, instance if instance is not None else kind.model())
    for name in kind.fields:
        if name in body:
            data[name] = _checked(name, body[name])
    if isinstance(data.get("addresses"), list):
        data["addresses"] = "\n".join(data["addresses"])
    # An absent key is an empty field to a form; a bool is what a checkbox gives.
    return {name: value for name, value in data.items() if value is not None}


def _checked(name: str, value: Any) -> Any:
    if name in (*_RELATED, "addresses"):
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return value
        if name == "addresses" and isinstance(value, str):
            return [value]
        raise BadBody(f"{name} must be a list of strings", name)
    if value is not None and not isinstance(value, (str, int, float, bool)):
        raise BadBody(f"{name} must be a string, a number, a boolean or null", name)
    return value


def form_errors(form: forms.Form) -> dict[str, Any]:
    """A 400 body naming every field at fault (``definition`` for what concerns several)."""
    fields = {("definition" if name == "__all__" else name): list(messages) for name, messages in form.errors.items()}
    first = next(iter(fields))
    return {"error": {"code": "invalid", "message": f"{first}: {fields[first][0]}", "field": first, "fields": fields}}
