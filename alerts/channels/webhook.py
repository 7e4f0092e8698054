"""Signed JSON webhook: see docs/webhooks.md for the body and how to verify it."""

import hashlib
import hmac
import json
import time
from datetime import timedelta

from django.core.exceptions import ValidationError
from django.utils import timezone

from alerts import ssrf
from alerts.channels.http import post_json

MAX_RETRY_AGE = timedelta(hours=24)
SIGNATURE_HEADER = "X-Pulse-Signature"
TIMESTAMP_HEADER = "X-Pulse-Timestamp"


def clean_config(data):
    url = (data.get("url") or "").strip()
    try:
        return {"url": ssrf.validate_url(url)}
    except ssrf.UnsafeURLError as exc:
        raise ValidationError(str(exc))


def sign(secret, timestamp, body):
    """Hex HMAC-SHA256 of ``b"<timestamp>." + body`` with the channel's secret."""
    signed = str(timestamp).encode() + b"." + body
    return hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def send(channel, message):
    body = json.dumps(message.payload(), separators=(",", ":"), sort_keys=True).encode()
    timestamp = int(time.time())
    # During a rotation's overlap both secrets sign: "v1=<new>, v1=<previous>".
    secrets = channel.signing_secrets(timezone.now())
    headers = {
        TIMESTAMP_HEADER: str(timestamp),
        SIGNATURE_HEADER: ", ".join("v1=" + sign(secret, timestamp, body) for secret in secrets),
        "X-Pulse-Event": message.event,
        "X-Pulse-Delivery": message.delivery_id,
    }
    return post_json(channel.config["url"], body, headers)
