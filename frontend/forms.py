"""Forms of the monitoring pages (GET forms: they compute, never change anything)."""

from django import forms

from frontend.capacity import CPU_TARGET_DEFAULT, CPU_TARGET_MAX, CPU_TARGET_MIN


class WhatIfForm(forms.Form):
    target_tps = forms.FloatField(
        label="Target throughput (transactions per second)", min_value=0.01, max_value=10_000_000
    )
    cpu_target = forms.FloatField(
        label="Keep CPU per instance under (%)",
        min_value=CPU_TARGET_MIN,
        max_value=CPU_TARGET_MAX,
        initial=CPU_TARGET_DEFAULT,
        required=False,
    )

    def clean_cpu_target(self):
        value = self.cleaned_data.get("cpu_target")
        return CPU_TARGET_DEFAULT if value is None else value
