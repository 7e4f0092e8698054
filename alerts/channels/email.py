"""E-mail to the organisation's members and/or listed addresses."""

from datetime import timedelta

from django.core.exceptions import ValidationError
from django.core.mail import EmailMessage, get_connection
from django.core.validators import validate_email

from alerts.channels import DeliveryError
from tenants.models import Membership

MAX_RETRY_AGE = timedelta(hours=6)
MAX_ADDRESSES = 20


def clean_config(data):
    members = bool(data.get("members"))
    raw = data.get("addresses") or []
    if isinstance(raw, str):
        raw = raw.replace(";", ",").replace("\n", ",").split(",")
    addresses = []
    for address in (a.strip().lower() for a in raw):
        if not address:
            continue
        try:
            validate_email(address)
        except ValidationError:
            raise ValidationError(f"{address!r} is not an e-mail address.")
        if address not in addresses:
            addresses.append(address)
    if len(addresses) > MAX_ADDRESSES:
        raise ValidationError(f"At most {MAX_ADDRESSES} addresses.")
    if not members and not addresses:
        raise ValidationError("Send to the members, to addresses, or both.")
    return {"members": members, "addresses": addresses}


def recipients(channel):
    found = list(channel.config.get("addresses", []))
    if channel.config.get("members"):
        emails = Membership.objects.for_org(channel.organization_id).filter(user__is_active=True)
        found += [e for e in emails.values_list("user__email", flat=True) if e not in found]
    return found


def send(channel, message):
    to = recipients(channel)
    if not to:
        raise DeliveryError("no recipients", retryable=False)
    text = f"{message.summary}\n\nApp: {message.app}\nSeverity: {message.severity}\n\n{message.url}\n"
    subject = " ".join(f"[Pulse] {message.summary}".split())[:200]  # no header injection
    # One message per recipient, so outside addresses never see the members' (or each other's).
    mails = [EmailMessage(subject, text, None, [address]) for address in to]
    try:
        with get_connection() as connection:
            connection.send_messages(mails)
    except Exception as exc:  # SMTP and socket errors: the next attempt may succeed
        raise DeliveryError(f"{type(exc).__name__}: {exc}"[:400])
    return None
