"""The audit log of an organisation: who did what, when and from where.

``record`` is the one way an entry is written; the domain actions call it inside their
own transaction, so an action that rolls back leaves no entry. The client address is
taken from the request being served (``AuditAddressMiddleware`` keeps it for the
request; tenants/client_address.py decides it); work done outside a request (tasks,
commands) records no address.

Sign-ins belong to a person, not to an organisation: they are written to every
organisation the account is a member of at that moment, so each organisation's admins
see the sign-ins (and failed attempts) of their members. Attempts for an address with
no account, and attempts refused by the throttle before the password was checked, are
recorded nowhere: they belong to no organisation, and the throttle bounds the rest.
"""

from contextvars import ContextVar
from typing import Any

from django.db import models

from tenants.client_address import client_address
from tenants.models import AuditEntry, Membership, Organization, User


class Action(models.TextChoices):
    LOGIN_SUCCEEDED = "login.succeeded", "Signed in"
    LOGIN_FAILED = "login.failed", "Sign-in failed"
    ROLE_CHANGED = "member.role_changed", "Role changed"
    MEMBER_REMOVED = "member.removed", "Member removed"
    MEMBER_LEFT = "member.left", "Member left"
    INVITATION_SENT = "invitation.sent", "Invitation sent"
    INVITATION_REVOKED = "invitation.revoked", "Invitation cancelled"
    INVITATION_ACCEPTED = "invitation.accepted", "Invitation accepted"
    KEY_CREATED = "key.created", "Ingest key created"
    KEY_REVOKED = "key.revoked", "Ingest key revoked"
    TOKEN_CREATED = "token.created", "API token created"
    TOKEN_REVOKED = "token.revoked", "API token revoked"
    CHANNEL_CREATED = "channel.created", "Channel created"
    CHANNEL_CHANGED = "channel.changed", "Channel changed"
    CHANNEL_DELETED = "channel.deleted", "Channel deleted"
    CHANNEL_SECRET_ROTATED = "channel.secret_rotated", "Webhook secret rotated"
    CONDITION_CREATED = "condition.created", "Condition created"
    CONDITION_CHANGED = "condition.changed", "Condition changed"
    CONDITION_DELETED = "condition.deleted", "Condition deleted"
    SLO_CREATED = "slo.created", "SLO created"
    SLO_CHANGED = "slo.changed", "SLO changed"
    SLO_DELETED = "slo.deleted", "SLO deleted"
    TWO_FACTOR_ENROLLED = "two_factor.enrolled", "Two-factor turned on"
    TWO_FACTOR_DISABLED = "two_factor.disabled", "Two-factor turned off"
    TWO_FACTOR_REQUIRED = "two_factor.required", "Two-factor required"
    TWO_FACTOR_OPTIONAL = "two_factor.optional", "Two-factor no longer required"
    SSO_REQUIRED = "sso.required", "Single sign-on required"
    SSO_OPTIONAL = "sso.optional", "Single sign-on no longer required"
    SSO_DOMAIN_ADDED = "sso.domain_added", "Single sign-on domain added"
    SSO_DOMAIN_REMOVED = "sso.domain_removed", "Single sign-on domain removed"
    SSO_DOMAIN_JOINED = "sso.domain_joined", "Joined by single sign-on domain"
    ORGANIZATION_RENAMED = "organization.renamed", "Organisation renamed"
    APP_CREATED = "app.created", "App created"
    APP_CHANGED = "app.changed", "App changed"
    APP_DELETED = "app.deleted", "App deleted"


_address: ContextVar[str] = ContextVar("pulse_audit_address", default="")


class AuditAddressMiddleware:
    """Keeps the client address of the request being served for the entries it writes."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        token = _address.set(client_address(request))
        try:
            return self.get_response(request)
        finally:
            _address.reset(token)


def record(
    org: Organization | int,
    actor: User | None,
    action: Any,  # an Action (mypy, without Django's plugin, types its members as tuples)
    target: str = "",
    details: dict | None = None,
) -> AuditEntry:
    """Write one entry to ``org``'s log (an Organization or its id)."""
    org_id = org if isinstance(org, int) else org.pk
    return AuditEntry.objects.for_org(org_id).create(
        organization_id=org_id,
        actor=actor if actor is not None and actor.pk else None,
        actor_email=getattr(actor, "email", "") or "",
        action=Action(action),
        target=target[:255],
        details=details or {},
        address=_address.get()[:64],
    )


def record_for_member(user: User, action: Any, target: str = "", details: dict | None = None) -> None:
    """One entry in each organisation ``user`` is a member of (sign-ins, the user's own second factor)."""
    org_ids = Membership.objects.unscoped().filter(user=user).values_list("organization_id", flat=True)
    for org_id in org_ids:
        record(org_id, user, action, target, details)
