"""Slack-compatible incoming webhook (Slack, Mattermost, Rocket.Chat accept this shape)."""

import json
from datetime import timedelta

from django.core.exceptions import ValidationError

from alerts import ssrf
from alerts.channels.http import post_json

MAX_RETRY_AGE = timedelta(hours=24)
_COLORS = {"critical": "#d93025", "warning": "#f29900", "resolved": "#188038", "test": "#1a73e8"}


def clean_config(data):
    try:
        return {"url": ssrf.validate_url((data.get("url") or "").strip())}
    except ssrf.UnsafeURLError as exc:
        raise ValidationError(str(exc))


def _escape(text):
    # Slack's mrkdwn treats &, < and > as markup; agent-supplied names must not inject links.
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def body(message):
    color = _COLORS["resolved"] if message.state == "resolved" else _COLORS.get(message.severity, "#1a73e8")
    if message.state == "test":
        color = _COLORS["test"]
    return {
        "text": _escape(message.summary),
        "attachments": [
            {
                "color": color,
                "title": _escape(message.title),
                "title_link": message.url,
                "fields": [
                    {"title": "App", "value": _escape(message.app), "short": True},
                    {"title": "Severity", "value": message.severity, "short": True},
                ],
            }
        ],
    }


def send(channel, message):
    return post_json(channel.config["url"], json.dumps(body(message)).encode())
