"""Notification transports, one module per channel kind.

Each module provides ``clean_config(data) -> dict`` (raises ``ValidationError`` with a
message for the form), ``send(channel, message)`` (raises ``DeliveryError``) and
``MAX_RETRY_AGE`` (how long a failing delivery keeps being retried).
"""

from importlib import import_module

from alerts.models import ChannelKind


class DeliveryError(Exception):
    """A delivery attempt failed; ``retryable`` says whether trying again can help."""

    def __init__(self, message, retryable=True, status=None):
        super().__init__(message)
        self.retryable = retryable
        self.status = status


def transport(kind):
    if kind not in ChannelKind.values:
        raise ValueError(f"unknown channel kind {kind!r}")
    return import_module(f"alerts.channels.{kind}")
