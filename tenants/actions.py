"""Domain actions on organisations, members, invitations, apps, ingest keys and API tokens.

Views stay thin and call these. Each action is atomic, checks its own rules (last
owner, limits, who may grant which role) and raises ``ActionError`` with a message
fit to show the user. Objects of an organisation are always looked up through it.
"""

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import TypeVar

from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.text import slugify

from tenants import api_tokens, audit, keys, limits
from tenants.errors import ActionError
from tenants.mail_text import quoted
from tenants.models import (
    ApiToken,
    App,
    IngestKey,
    Invitation,
    Membership,
    Organization,
    PersonalToken,
    TokenScope,
    User,
)
from tenants.roles import Role, role_at_least

Id = uuid.UUID | str  # a primary key, as stored or from a URL or form

_SLUG_MAX = 50


# --- Organisations and sign-up ---------------------------------------------


def _free_slug(name: str) -> str:
    base = slugify(name)[:_SLUG_MAX].strip("-") or "org"
    if not Organization.objects.filter(slug=base).exists():
        return base
    for _ in range(20):
        candidate = f"{base[: _SLUG_MAX - 7]}-{secrets.token_hex(3)}"
        if not Organization.objects.filter(slug=candidate).exists():
            return candidate
    raise ActionError("Could not find a free address for this organisation; try another name.")


def create_organization(user: User, name: str) -> Organization:
    """A new organisation with ``user`` as its owner."""
    name = name.strip()
    if not name:
        raise ActionError("The organisation needs a name.")
    for _ in range(3):
        try:
            with transaction.atomic():
                org = Organization.objects.create(name=name, slug=_free_slug(name))
                Membership.objects.for_org(org).create(organization=org, user=user, role=Role.OWNER)
                return org
        except IntegrityError:
            continue  # another sign-up took the same slug between the check and the insert
    raise ActionError("Could not create the organisation; please try again.")


@transaction.atomic
def rename_organization(actor_membership: Membership, name: str) -> Organization:
    """A new display name; the slug (and so every URL and bookmark) stays as it is."""
    if not role_at_least(actor_membership.role, Role.ADMIN):
        raise ActionError("Only owners and admins rename the organisation.")
    name = (name or "").strip()
    if not name:
        raise ActionError("The organisation needs a name.")
    if len(name) > 100:
        raise ActionError("Organisation names are at most 100 characters.")
    org = Organization.objects.select_for_update().get(pk=actor_membership.organization_id)
    if org.name != name:
        audit.record(org, actor_membership.user, audit.Action.ORGANIZATION_RENAMED, name, {"from": org.name})
    org.name = name
    org.save(update_fields=["name"])
    return org


@transaction.atomic
def set_two_factor_required(actor_membership: Membership, required: bool) -> Organization:
    """Require (or stop requiring) a second factor of the members who sign in with a password."""
    if not role_at_least(actor_membership.role, Role.ADMIN):
        raise ActionError("Only owners and admins change the organisation's sign-in rules.")
    org = Organization.objects.select_for_update().get(pk=actor_membership.organization_id)
    if org.require_two_factor != required:
        org.require_two_factor = required
        org.save(update_fields=["require_two_factor"])
        action = audit.Action.TWO_FACTOR_REQUIRED if required else audit.Action.TWO_FACTOR_OPTIONAL
        audit.record(org, actor_membership.user, action, org.name)
    return org


@transaction.atomic
def delete_organization(actor_membership: Membership, confirm_name: str) -> Organization:
    """Delete the organisation with its apps, keys, members, alerts and telemetry."""
    if actor_membership.role != Role.OWNER:
        raise ActionError("Only owners can delete the organisation.")
    org = Organization.objects.select_for_update().get(pk=actor_membership.organization_id)
    if (confirm_name or "").strip() != org.name:
        raise ActionError("That is not the organisation's name.")
    org.delete()
    # This process forgets the deleted keys at once; others within INGEST_KEY_CACHE_SECONDS.
    transaction.on_commit(keys.clear_key_cache)
    return org


def create_user(email: str, password: str | None, name: str = "", email_verified: bool = True) -> User:
    email = email.strip().lower()
    try:
        with transaction.atomic():
            return User.objects.create_user(
                email=email, password=password, name=name.strip(), email_verified=email_verified
            )
    except IntegrityError:
        raise ActionError("An account with this email address already exists.")


@transaction.atomic
def sign_up(email: str, password: str, org_name: str, name: str = "") -> tuple[User, Organization]:
    """Create a user, unverified until the mailed link is confirmed, and their first
    organisation; returns (user, org)."""
    user = create_user(email, password, name, email_verified=False)
    org = create_organization(user, org_name)
    return user, org


# --- Invitations ------------------------------------------------------------


def _hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class SentInvitation:
    invitation: Invitation
    token: str
    url: str


def check_can_grant(actor_membership: Membership, role: str) -> None:
    if not role_at_least(actor_membership.role, Role.ADMIN):
        raise ActionError("Only owners and admins manage members.")
    if not role_at_least(actor_membership.role, role):
        raise ActionError(f"Only owners can grant the {Role(role).label.lower()} role.")


@transaction.atomic
def invite(actor_membership: Membership, email: str, role: str) -> SentInvitation:
    """Invite ``email`` to the actor's organisation and e-mail a single-use link."""
    org = actor_membership.organization
    email = email.strip().lower()
    check_can_grant(actor_membership, role)
    if Membership.objects.for_org(org).filter(user__email__iexact=email).exists():
        raise ActionError(f"{email} is already a member of {org.name}.")
    # A new invitation replaces any pending one for the same address.
    Invitation.objects.for_org(org).filter(email__iexact=email, accepted_at__isnull=True).delete()
    limits.require_room(limits.PENDING_INVITATIONS, org.pk, _pending_invitations(org))
    token = secrets.token_urlsafe(32)
    invitation = Invitation.objects.for_org(org).create(
        organization=org,
        email=email,
        role=role,
        token_hash=_hash_token(token),
        invited_by=actor_membership.user,
        expires_at=timezone.now() + timedelta(days=settings.INVITATION_TTL_DAYS),
    )
    audit.record(org, actor_membership.user, audit.Action.INVITATION_SENT, email, {"role": role})
    url = settings.PUBLIC_URL + reverse("invitation_accept", args=[token])
    # The name was chosen by whoever made the organisation: quoted as theirs, never as Pulse's words.
    context = {"org_name": quoted(org.name), "inviter": actor_membership.user, "role": Role(role).label,
               "url": url, "days": settings.INVITATION_TTL_DAYS}
    # Sent after commit so a rolled-back invitation never produces a working-looking e-mail.
    transaction.on_commit(
        lambda: send_mail(
            subject=f"Invitation to {quoted(org.name, limit=40)} on Pulse",
            message=render_to_string("tenants/email/invitation.txt", context),
            from_email=None,
            recipient_list=[email],
        )
    )
    return SentInvitation(invitation, token, url)


def _pending_invitations(org: Organization):  # type: ignore[no-untyped-def]
    return Invitation.objects.for_org(org).filter(accepted_at__isnull=True, expires_at__gt=timezone.now())


def find_invitation(token: object) -> Invitation | None:
    """The pending, unexpired invitation for ``token``, or None (used, expired or unknown)."""
    if not isinstance(token, str) or not token or len(token) > 100:
        return None
    return (
        Invitation.objects.unscoped()
        .select_related("organization", "invited_by")
        .filter(token_hash=_hash_token(token), accepted_at__isnull=True, expires_at__gt=timezone.now())
        .first()
    )


def invitation_is_for(invitation: Invitation, user: User) -> bool:
    """An invitation is for the address it was sent to, not for whoever holds the link."""
    return user.email.strip().lower() == invitation.email.strip().lower()


@transaction.atomic
def accept_invitation(token: str, user: User) -> Membership:
    """Join the invitation's organisation; the token works once. Returns the membership."""
    invitation = find_invitation(token)
    if invitation is None:
        raise ActionError("This invitation link is invalid, has expired or was already used.")
    if not invitation_is_for(invitation, user):
        raise ActionError(
            f"This invitation is for {invitation.email}; you are logged in as {user.email}. "
            "Log out and accept it as that address, or ask for a new invitation."
        )
    # Lock the row so two concurrent clicks cannot both accept it.
    invitation = Invitation.objects.unscoped().select_for_update().get(pk=invitation.pk)
    if invitation.accepted_at is not None:
        raise ActionError("This invitation link is invalid, has expired or was already used.")
    org = invitation.organization
    if not user.email_verified:
        # The invitation was mailed to this address: following it proves the address.
        user.email_verified = True
        user.save(update_fields=["email_verified"])
    invitation.accepted_at = timezone.now()
    invitation.save(update_fields=["accepted_at"])
    membership, _ = Membership.objects.for_org(org).get_or_create(
        organization=org, user=user, defaults={"role": invitation.role}
    )
    audit.record(org, user, audit.Action.INVITATION_ACCEPTED, user.email, {"role": membership.role})
    return membership


def _revoke_invitations_sent_by(org: Organization, user: User) -> None:
    # Sent on the authority of a role the user no longer has here.
    Invitation.objects.for_org(org).filter(invited_by=user, accepted_at__isnull=True).delete()


def revoke_invitation(actor_membership: Membership, invitation_id: Id) -> bool:
    org = actor_membership.organization
    if not role_at_least(actor_membership.role, Role.ADMIN):
        raise ActionError("Only owners and admins manage members.")
    invitation = Invitation.objects.for_org(org).filter(id=invitation_id, accepted_at__isnull=True).first()
    if invitation is None:
        return False
    invitation.delete()
    audit.record(org, actor_membership.user, audit.Action.INVITATION_REVOKED, invitation.email)
    return True


# --- Members ----------------------------------------------------------------


def _other_owners(org: Organization, membership: Membership) -> bool:
    return Membership.objects.for_org(org).filter(role=Role.OWNER).exclude(pk=membership.pk).exists()


def _lock_owners(org: Organization) -> None:
    # Serialises owner changes in one organisation, so two admins cannot remove the
    # last two owners at the same time.
    list(Membership.objects.for_org(org).select_for_update().filter(role=Role.OWNER).values_list("pk", flat=True))


@transaction.atomic
def change_role(actor_membership: Membership, membership_id: Id, role: str) -> Membership:
    org = actor_membership.organization
    role = Role(role)
    check_can_grant(actor_membership, role)
    _lock_owners(org)
    target = Membership.objects.for_org(org).select_related("user").get(pk=membership_id)
    if not role_at_least(actor_membership.role, target.role):
        raise ActionError("Only owners can change an owner's role.")
    if target.role == Role.OWNER and role != Role.OWNER and not _other_owners(org, target):
        raise ActionError("An organisation needs at least one owner: make someone else an owner first.")
    audit.record(
        org, actor_membership.user, audit.Action.ROLE_CHANGED, target.user.email, {"from": target.role, "to": role}
    )
    target.role = role
    target.save(update_fields=["role"])
    if not role_at_least(role, Role.ADMIN):
        _revoke_invitations_sent_by(org, target.user)
    return target


@transaction.atomic
def remove_member(actor_membership: Membership, membership_id: Id) -> Membership:
    org = actor_membership.organization
    _lock_owners(org)
    target = Membership.objects.for_org(org).select_related("user").get(pk=membership_id)
    leaving = target.pk == actor_membership.pk
    if not leaving:
        if not role_at_least(actor_membership.role, Role.ADMIN):
            raise ActionError("Only owners and admins manage members.")
        if not role_at_least(actor_membership.role, target.role):
            raise ActionError("Only owners can remove an owner.")
    if target.role == Role.OWNER and not _other_owners(org, target):
        raise ActionError("An organisation needs at least one owner: make someone else an owner first.")
    target.delete()
    _revoke_invitations_sent_by(org, target.user)
    action = audit.Action.MEMBER_LEFT if leaving else audit.Action.MEMBER_REMOVED
    audit.record(org, actor_membership.user, action, target.user.email, {"role": target.role})
    return target


LAST_OWNER_CANNOT_LEAVE = (
    "You are the only owner of {org}, so you cannot leave it. Make another member an owner "
    "first, or delete the organisation."
)


def is_sole_owner(membership: Membership) -> bool:
    return membership.role == Role.OWNER and not _other_owners(membership.organization, membership)


@transaction.atomic
def leave_organization(membership: Membership) -> Membership:
    """Any member may leave; the last owner may not (the organisation would have nobody to run it)."""
    org = membership.organization
    _lock_owners(org)
    membership = Membership.objects.for_org(org).get(pk=membership.pk)
    if is_sole_owner(membership):
        raise ActionError(LAST_OWNER_CANNOT_LEAVE.format(org=org.name))
    membership.delete()
    _revoke_invitations_sent_by(org, membership.user)
    audit.record(org, membership.user, audit.Action.MEMBER_LEFT, membership.user.email, {"role": membership.role})
    return membership


# --- Apps -------------------------------------------------------------------


def _clean_app(name: str | None, apdex_t: float | str | None) -> tuple[str, float]:
    name = (name or "").strip()
    if not name:
        raise ActionError("The app needs a name.")
    if len(name) > 255:
        raise ActionError("App names are at most 255 characters.")
    if apdex_t is None or not (0 < float(apdex_t) <= 60):
        raise ActionError("Apdex T must be between 0 and 60 seconds.")
    return name, float(apdex_t)


def require_app_room(org_id: int) -> None:
    """Raise limits.LimitReached when the organisation may not have one more app; app creators
    (the settings page, ingest's first data) wait for each other on the organisation's row."""
    limits.require_room(limits.APPS, org_id, App.objects.for_org(org_id))


@transaction.atomic
def create_app(org: Organization, name: str, apdex_t: float | str = 0.5, actor: User | None = None) -> App:
    name, apdex_t = _clean_app(name, apdex_t)
    require_app_room(org.pk)
    if App.objects.for_org(org).filter(name__iexact=name).exists():
        raise ActionError(f"There is already an app called {name!r}.")
    try:
        with transaction.atomic():
            app = App.objects.for_org(org).create(organization=org, name=name, apdex_t=apdex_t)
    except IntegrityError:
        raise ActionError(f"There is already an app called {name!r}.")
    audit.record(org, actor, audit.Action.APP_CREATED, name, {"apdex_t": apdex_t})
    return app


@transaction.atomic
def update_app(org: Organization, app_id: Id, name: str, apdex_t: float | str, actor: User | None = None) -> App:
    name, apdex_t = _clean_app(name, apdex_t)
    app = App.objects.for_org(org).select_for_update().get(pk=app_id)
    before = {"name": app.name, "apdex_t": app.apdex_t}
    if App.objects.for_org(org).filter(name__iexact=name).exclude(pk=app.pk).exists():
        raise ActionError(f"There is already an app called {name!r}.")
    app.name, app.apdex_t = name, apdex_t
    try:
        with transaction.atomic():
            app.save(update_fields=["name", "apdex_t"])
    except IntegrityError:
        raise ActionError(f"There is already an app called {name!r}.")
    changed = {field: {"from": old, "to": getattr(app, field)} for field, old in before.items() if old != getattr(app, field)}
    if changed:
        audit.record(org, actor, audit.Action.APP_CHANGED, name, changed)
    return app


@transaction.atomic
def delete_app(org: Organization, app_id: Id, actor: User | None = None) -> App:
    app = App.objects.for_org(org).get(pk=app_id)
    app.delete()
    audit.record(org, actor, audit.Action.APP_DELETED, app.name)
    return app


# --- Ingest keys ------------------------------------------------------------


@dataclass(frozen=True)
class CreatedKey:
    key: IngestKey
    raw: str  # shown to the user once; never stored


@transaction.atomic
def create_ingest_key(org: Organization, label: str, created_by: User | None, app: App | None = None) -> CreatedKey:
    """A new key; bound to ``app`` (of ``org``) when given, else for all the organisation's apps."""
    if app is not None and app.organization_id != org.pk:
        raise ActionError("That app is not in this organisation.")
    label = _clean_label(label, "key")
    limits.require_room(limits.INGEST_KEYS, org.pk, IngestKey.objects.for_org(org).filter(revoked_at__isnull=True))
    issued = keys.INGEST_KEY.issue()
    key = IngestKey.objects.for_org(org).create(
        organization=org, label=label, app=app, prefix=issued.shown, key_hash=issued.digest, created_by=created_by
    )
    audit.record(org, created_by, audit.Action.KEY_CREATED, _key_target(key), {"app": app.name if app else None})
    return CreatedKey(key, issued.raw)


S = TypeVar("S", IngestKey, ApiToken)


def _revoke(model: type[S], org: Organization, secret_id: Id) -> tuple[S, bool]:
    """(the secret, whether this call revoked it); revoking twice changes nothing."""
    secret = model.objects.for_org(org).select_for_update().get(pk=secret_id)
    if secret.revoked_at is not None:
        return secret, False
    secret.revoked_at = timezone.now()
    secret.save(update_fields=["revoked_at"])
    return secret, True


def _key_target(key: IngestKey) -> str:
    return f"{key.label} ({key.prefix}…)"


@transaction.atomic
def revoke_ingest_key(org: Organization, key_id: Id, actor: User | None = None) -> IngestKey:
    key, revoked = _revoke(IngestKey, org, key_id)
    if revoked:
        audit.record(org, actor, audit.Action.KEY_REVOKED, _key_target(key))
        # This process stops accepting it at once; others within INGEST_KEY_CACHE_SECONDS.
        transaction.on_commit(keys.clear_key_cache)
    return key


# --- API tokens -------------------------------------------------------------


@dataclass(frozen=True)
class CreatedToken:
    token: ApiToken | PersonalToken
    raw: str  # shown to the user once; never stored


def _clean_label(label: str, what: str) -> str:
    label = (label or "").strip()
    if not label:
        raise ActionError(f"The {what} needs a label, e.g. what or where it is for.")
    if len(label) > 100:
        raise ActionError("Labels are at most 100 characters.")
    return label


def _check_scope(scope: str) -> None:
    if scope not in TokenScope.values:
        raise ActionError("Choose read or write for the token's scope.")


@transaction.atomic
def create_api_token(org: Organization, label: str, scope: str, created_by: User | None) -> CreatedToken:
    """A new organisation API token with ``scope`` (read, or write which includes read)."""
    label = _clean_label(label, "token")
    _check_scope(scope)
    issued = api_tokens.API_TOKEN.issue()
    token = ApiToken.objects.for_org(org).create(
        organization=org, label=label, scope=scope, prefix=issued.shown, token_hash=issued.digest, created_by=created_by
    )
    audit.record(org, created_by, audit.Action.TOKEN_CREATED, _token_target(token), {"scope": scope})
    return CreatedToken(token, issued.raw)


def _token_target(token: ApiToken) -> str:
    return f"{token.label} ({token.prefix}…)"


@transaction.atomic
def revoke_api_token(org: Organization, token_id: Id, actor: User | None = None) -> ApiToken:
    """Refused from the next request on: look-ups are not cached."""
    token, revoked = _revoke(ApiToken, org, token_id)
    if revoked:
        audit.record(org, actor, audit.Action.TOKEN_REVOKED, _token_target(token))
    return token


# --- personal API tokens ----------------------------------------------------


def create_personal_token(user: User, label: str, scope: str) -> CreatedToken:
    """A new token acting as ``user``, in each organisation with the user's role there.
    It belongs to no organisation, so no organisation's audit log records it."""
    label = _clean_label(label, "token")
    _check_scope(scope)
    issued = api_tokens.PERSONAL_TOKEN.issue()
    token = PersonalToken.objects.create(
        user=user, label=label, scope=scope, prefix=issued.shown, token_hash=issued.digest
    )
    return CreatedToken(token, issued.raw)


def revoke_personal_token(user: User, token_id: Id) -> PersonalToken:
    """Refused from the next request on; another user's token id is not found (PersonalToken.DoesNotExist)."""
    token = PersonalToken.objects.get(pk=token_id, user=user)
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
    return token
