"""Forms of the alerting pages. Choices of apps and channels are limited to the organisation."""

from datetime import timedelta

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone

from apm import queries

from alerts.channels import transport
from alerts.models import (
    SLO,
    ChannelKind,
    Comparison,
    Condition,
    Metric,
    NotificationChannel,
    SLOIndicator,
)
from tenants.models import App

MUTE_DURATIONS = [
    (30, "30 minutes"),
    (60, "1 hour"),
    (120, "2 hours"),
    (240, "4 hours"),
    (480, "8 hours"),
    (1440, "1 day"),
    (10080, "1 week"),
]


def _app_field():
    # Declared explicitly: the model's default manager refuses to run without an organisation.
    return forms.ModelChoiceField(queryset=App.objects.unscoped().none())


def _channels_field(label):
    return forms.ModelMultipleChoiceField(
        queryset=NotificationChannel.objects.unscoped().none(), required=False, label=label
    )


class _OrgForm:
    def _limit(self, org):
        if "app" in self.fields:
            self.fields["app"].queryset = App.objects.for_org(org)
        for name in ("warning_channels", "critical_channels"):
            if name in self.fields:
                self.fields[name].queryset = NotificationChannel.objects.for_org(org)
                self.fields[name].widget = forms.CheckboxSelectMultiple(choices=self.fields[name].choices)


class ConditionForm(_OrgForm, forms.ModelForm):
    app = _app_field()
    warning_channels = _channels_field("Notify on warning")
    critical_channels = _channels_field("Notify on critical")

    class Meta:
        model = Condition
        fields = [
            "app",
            "transaction",
            "name",
            "metric",
            "comparison",
            "warning_threshold",
            "critical_threshold",
            "window_minutes",
            "mode",
            "warning_channels",
            "critical_channels",
            "enabled",
        ]
        labels = {
            "transaction": "Transaction (optional)",
            "window_minutes": "Window (minutes)",
            "mode": "Breach",
            "warning_channels": "Notify on warning",
            "critical_channels": "Notify on critical",
        }
        help_texts = {
            "transaction": "Leave empty for the whole app.",
            "warning_threshold": "Response times in ms, error rate and CPU in %, memory in MB, Apdex 0–1.",
            "mode": "\u201cfor at least\u201d: every minute of the window breaches; "
            "\u201cat least once in\u201d: one minute does.",
        }

    def __init__(self, *args, org, **kwargs):
        super().__init__(*args, **kwargs)
        self._limit(org)
        self.fields["window_minutes"].widget.attrs.update(min=1, max=60)
        self.fields["transaction"].widget.attrs.update(list="transaction-names", autocomplete="off")
        self.org = org

    def transaction_names(self, limit=500):
        """Names the transaction field suggests (every app's; the evaluator matches by app and name)."""
        return queries.transaction_names(self.org, limit)

    def clean_transaction(self):
        return (self.cleaned_data.get("transaction") or "").strip()

    def clean(self):
        data = super().clean()
        metric = data.get("metric")
        warning, critical = data.get("warning_threshold"), data.get("critical_threshold")
        if metric == Metric.NO_DATA:
            # Silence is always critical; thresholds do not apply.
            data["warning_threshold"] = data["critical_threshold"] = None
            return data
        if warning is None and critical is None:
            raise ValidationError("Set a warning threshold, a critical threshold, or both.")
        for name, value in (("warning_threshold", warning), ("critical_threshold", critical)):
            if value is not None and value < 0:
                self.add_error(name, "Thresholds cannot be negative.")
            if metric == Metric.APDEX and value is not None and value > 1:
                self.add_error(name, "Apdex lies between 0 and 1.")
        if warning is not None and critical is not None:
            above = data.get("comparison") == Comparison.ABOVE
            if (above and warning >= critical) or (not above and warning <= critical):
                side = "below" if above else "above"
                self.add_error("warning_threshold", f"The warning threshold must be {side} the critical one.")
        return data


class ChannelForm(forms.ModelForm):
    url = forms.URLField(required=False, max_length=2000, assume_scheme="https", label="URL")
    routing_key = forms.CharField(required=False, max_length=64, label="Routing key (PagerDuty)")
    members = forms.BooleanField(required=False, label="E-mail every member of the organisation")
    addresses = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        label="E-mail addresses",
        help_text="Comma or line separated.",
    )

    class Meta:
        model = NotificationChannel
        fields = ["name", "kind"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        config = self.instance.config if self.instance.pk else {}
        self.fields["url"].help_text = (
            "Webhook, Slack-compatible or PagerDuty-compatible endpoint (PagerDuty defaults to its Events v2 URL)."
        )
        for name in ("url", "routing_key", "members"):
            self.fields[name].initial = config.get(name)
        self.fields["addresses"].initial = "\n".join(config.get("addresses", []))

    def clean(self):
        data = super().clean()
        kind = data.get("kind")
        if kind not in ChannelKind.values:
            return data
        raw = {k: data.get(k) for k in ("url", "routing_key", "members", "addresses")}
        try:
            self.instance.config = transport(kind).clean_config(raw)
        except ValidationError as exc:
            self.add_error({"email": "addresses", "pagerduty": None}.get(kind, "url"), exc)
        return data


class SLOForm(_OrgForm, forms.ModelForm):
    app = _app_field()
    warning_channels = _channels_field("Notify on slow burn (6 h / 30 min at 6\u00d7)")
    critical_channels = _channels_field("Notify on fast burn (1 h / 5 min at 14.4\u00d7)")

    class Meta:
        model = SLO
        fields = [
            "app",
            "name",
            "indicator",
            "latency_threshold_ms",
            "objective",
            "period_days",
            "warning_channels",
            "critical_channels",
            "alerts_enabled",
        ]
        labels = {
            "latency_threshold_ms": "Latency threshold (ms)",
            "objective": "Objective (%)",
            "period_days": "Rolling period",
            "warning_channels": "Notify on slow burn (6 h / 30 min at 6\u00d7)",
            "critical_channels": "Notify on fast burn (1 h / 5 min at 14.4\u00d7)",
            "alerts_enabled": "Burn-rate alerts",
        }

    def __init__(self, *args, org, **kwargs):
        super().__init__(*args, **kwargs)
        self._limit(org)
        self.fields["objective"].widget.attrs.update(step="0.001", min=50, max=99.999)

    def clean(self):
        data = super().clean()
        if data.get("indicator") == SLOIndicator.LATENCY:
            threshold = data.get("latency_threshold_ms")
            if threshold is None or threshold <= 0:
                self.add_error("latency_threshold_ms", "A latency SLO needs a threshold above 0 ms.")
        else:
            data["latency_threshold_ms"] = None
        return data


class MuteForm(forms.Form):
    app = forms.ModelChoiceField(queryset=App.objects.unscoped().none())
    minutes = forms.TypedChoiceField(choices=MUTE_DURATIONS, coerce=int, initial=60, label="For")
    reason = forms.CharField(required=False, max_length=200)

    def __init__(self, *args, org, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["app"].queryset = App.objects.for_org(org)

    def window(self):
        start = timezone.now()
        return start, start + timedelta(minutes=self.cleaned_data["minutes"])


class ConditionMuteForm(forms.Form):
    minutes = forms.TypedChoiceField(choices=MUTE_DURATIONS + [(0, "Unmute")], coerce=int, initial=60, label="Mute for")


class IncidentFilterForm(forms.Form):
    state = forms.ChoiceField(
        required=False,
        choices=[("", "Any state"), ("open", "Open"), ("acknowledged", "Acknowledged"), ("resolved", "Resolved")],
    )
    severity = forms.ChoiceField(required=False, choices=[("", "Any severity"), ("warning", "Warning"), ("critical", "Critical")])
    app = forms.ModelChoiceField(required=False, queryset=App.objects.unscoped().none(), empty_label="Any app")
    days = forms.TypedChoiceField(
        required=False, coerce=int, empty_value=7, choices=[(1, "Last day"), (7, "Last 7 days"), (30, "Last 30 days"), (90, "Last 90 days")]
    )

    def __init__(self, *args, org, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["app"].queryset = App.objects.for_org(org)
