"""What a single sign-on does to accounts and memberships, and the organisation's SSO settings.

A sign-in finds its user by the provider's issuer and subject. The first one creates the
account, and only from an address the provider says it verified; an address that already
has an account is not taken over: its owner logs in with the password and connects the
provider from there (a signed-in callback connects). Every sign-in with a verified address
joins the organisations that mapped its domain, through that provider, to a role.
"""

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from tenants import audit
from tenants.actions import ActionError, check_can_grant, create_user
from tenants.models import Membership, Organization, SsoDomain, SsoIdentity, User, email_domain
from tenants.roles import Role, role_at_least
from tenants.sso.providers import Claims

# Roles a domain may grant: an owner is always chosen by name.
DOMAIN_ROLES = [Role.ADMIN, Role.MEMBER, Role.VIEWER]


def _identity(claims: Claims) -> SsoIdentity | None:
    return (
        SsoIdentity.objects.select_related("user")
        .filter(issuer=claims.issuer, subject=claims.subject)
        .first()
    )


def _record(identity: SsoIdentity, claims: Claims) -> None:
    identity.email = claims.email
    identity.email_verified = claims.email_verified
    identity.last_login_at = timezone.now()
    identity.save(update_fields=["email", "email_verified", "last_login_at"])


@transaction.atomic
def sign_in(claims: Claims) -> tuple[User, list[Organization]]:
    """The user ``claims`` sign in as, created at the first sign-in; with the organisations
    joined by domain on the way."""
    identity = _identity(claims)
    if identity is None:
        if not claims.email or not claims.email_verified:
            raise ActionError(
                f"{claims.provider.label} did not confirm that your e-mail address is verified, "
                "so Pulse cannot create an account from it."
            )
        if User.objects.filter(email__iexact=claims.email).exists():
            raise ActionError(
                f"An account with {claims.email} exists already. Log in with its password, then connect "
                f"{claims.provider.label} in your organisation's single sign-on settings."
            )
        user = create_user(claims.email, None, claims.name)  # no password: it signs in by SSO
        identity = SsoIdentity.objects.create(user=user, issuer=claims.issuer, subject=claims.subject)
    user = identity.user
    if not user.is_active:
        raise ActionError("This account is deactivated.")
    _record(identity, claims)
    return user, join_by_domain(user, claims)


@transaction.atomic
def connect(user: User, claims: Claims) -> tuple[SsoIdentity, list[Organization]]:
    """Connect the provider's account in ``claims`` to the signed-in ``user``."""
    identity = _identity(claims)
    if identity is not None and identity.user_id != user.pk:
        raise ActionError(f"This {claims.provider.label} account is connected to another Pulse account.")
    if identity is None:
        try:
            with transaction.atomic():
                identity = SsoIdentity.objects.create(user=user, issuer=claims.issuer, subject=claims.subject)
        except IntegrityError:
            raise ActionError(f"This {claims.provider.label} account was just connected elsewhere; try again.")
    _record(identity, claims)
    return identity, join_by_domain(user, claims)


def join_by_domain(user: User, claims: Claims) -> list[Organization]:
    """Memberships from the SSO domains matching the verified address in ``claims``; an
    existing membership keeps its role."""
    if not claims.email_verified or not claims.email:
        return []
    joined = []
    rules = SsoDomain.objects.unscoped().filter(domain=email_domain(claims.email), issuer=claims.issuer)
    for rule in rules.select_related("organization"):
        _, created = Membership.objects.for_org(rule.organization).get_or_create(
            organization=rule.organization, user=user, defaults={"role": rule.role}
        )
        if created:
            joined.append(rule.organization)
            audit.record(rule.organization, user, audit.Action.SSO_DOMAIN_JOINED, user.email,
                         {"domain": rule.domain, "role": rule.role})
    return joined


# --- The organisation's settings ---------------------------------------------


def _check_admin(actor: Membership) -> None:
    if not role_at_least(actor.role, Role.ADMIN):
        raise ActionError("Only owners and admins change single sign-on settings.")


@transaction.atomic
def set_required(actor: Membership, required: bool) -> Organization:
    _check_admin(actor)
    org = Organization.objects.select_for_update().get(pk=actor.organization_id)
    org.sso_required = required
    org.save(update_fields=["sso_required"])
    audit.record(org, actor.user, audit.Action.SSO_REQUIRED if required else audit.Action.SSO_OPTIONAL, org.name)
    return org


def provable_identities(user: User) -> list[SsoIdentity]:
    """The user's identities whose verified address proves its domain (public ones never do)."""
    identities = SsoIdentity.objects.filter(user=user, email_verified=True).exclude(email="")
    return [i for i in identities.order_by("email") if i.email_domain not in settings.SSO_PUBLIC_EMAIL_DOMAINS]


@transaction.atomic
def add_domain(actor: Membership, identity_id: str, role: str) -> SsoDomain:
    """Map the domain of the actor's own verified address at a provider to ``role``: people
    who sign in through that provider with an address there join the organisation."""
    _check_admin(actor)
    if role not in DOMAIN_ROLES:
        raise ActionError("A domain grants the admin, member or viewer role.")
    check_can_grant(actor, role)
    identity = next((i for i in provable_identities(actor.user) if str(i.pk) == str(identity_id)), None)
    if identity is None:
        raise ActionError("Choose the domain of one of your own verified single sign-on addresses.")
    org = actor.organization
    try:
        with transaction.atomic():
            domain = SsoDomain.objects.for_org(org).create(
                organization=org, domain=identity.email_domain, issuer=identity.issuer, role=role, added_by=actor.user
            )
    except IntegrityError:
        raise ActionError(f"{identity.email_domain} is mapped already.")
    audit.record(org, actor.user, audit.Action.SSO_DOMAIN_ADDED, domain.domain, {"issuer": domain.issuer, "role": role})
    return domain


@transaction.atomic
def remove_domain(actor: Membership, domain_id: str) -> SsoDomain:
    _check_admin(actor)
    domain = SsoDomain.objects.for_org(actor.organization).get(pk=domain_id)
    audit.record(actor.organization, actor.user, audit.Action.SSO_DOMAIN_REMOVED, domain.domain, {"issuer": domain.issuer})
    domain.delete()
    return domain
