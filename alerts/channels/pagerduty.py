"""PagerDuty Events API v2 (or a compatible receiver): trigger and resolve by dedup key."""

import json
from datetime import timedelta

from django.core.exceptions import ValidationError

from alerts import ssrf
from alerts.channels.http import post_json

MAX_RETRY_AGE = timedelta(hours=24)
DEFAULT_URL = "https://events.pagerduty.com/v2/enqueue"


def clean_config(data):
    key = (data.get("routing_key") or "").strip()
    if not key or len(key) > 64 or not key.isalnum():
        raise ValidationError("Enter the integration's routing key (up to 64 letters and digits).")
    url = (data.get("url") or "").strip() or DEFAULT_URL
    try:
        url = ssrf.validate_url(url)
    except ssrf.UnsafeURLError as exc:
        raise ValidationError(str(exc))
    return {"routing_key": key, "url": url}


def body(routing_key, message):
    if message.state == "test":
        action, dedup = "trigger", f"pulse-test-{message.delivery_id}"
    else:
        action = "resolve" if message.event == "incident.resolved" else "trigger"
        dedup = f"pulse-incident-{message.incident_id}"
    event = {"routing_key": routing_key, "event_action": action, "dedup_key": dedup}
    if action == "trigger":
        event["payload"] = {
            "summary": message.summary[:1024],
            "source": message.app or "pulse",
            "severity": "critical" if message.severity == "critical" else "warning",
            "timestamp": message.at,
            "component": message.app or None,
            "custom_details": {"value": message.value, "threshold": message.threshold, "unit": message.unit},
        }
        event["links"] = [{"href": message.url, "text": "Open in Pulse"}]
    return event


def send(channel, message):
    return post_json(channel.config["url"], json.dumps(body(channel.config["routing_key"], message)).encode())
