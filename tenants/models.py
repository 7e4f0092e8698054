import uuid

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.contrib.auth.models import PermissionsMixin
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone

from tenants.roles import Role
from tenants.scoping import OrgOwnedModel


class UserManager(BaseUserManager):
    use_in_migrations = True

    def _create(self, email, password, **extra):
        if not email:
            raise ValueError("email is required")
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email, password=None, **extra):
        extra.setdefault("is_staff", False)
        extra.setdefault("is_superuser", False)
        return self._create(email, password, **extra)

    def create_superuser(self, email, password=None, **extra):
        extra.update(is_staff=True, is_superuser=True)
        return self._create(email, password, **extra)

    def get_by_natural_key(self, email):
        return self.get(email__iexact=email)


class User(AbstractBaseUser, PermissionsMixin):
    # Stored lower-cased; the functional constraint guards rows written around save().
    email = models.EmailField(max_length=254, unique=True)
    name = models.CharField(max_length=150, blank=True)
    is_staff = models.BooleanField(default=False)
    is_active = models.BooleanField(default=True)
    # False only for a self sign-up until the link mailed to the address is confirmed
    # (tenants/verification.py); invitations, operators and older accounts start verified.
    email_verified = models.BooleanField(default=True)
    date_joined = models.DateTimeField(default=timezone.now)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS = []

    class Meta:
        constraints = [models.UniqueConstraint(Lower("email"), name="user_email_ci_unique")]

    def __str__(self):
        return self.email

    def save(self, *args, **kwargs):
        self.email = self.email.strip().lower()
        super().save(*args, **kwargs)


class Organization(models.Model):
    name = models.CharField(max_length=100)
    slug = models.SlugField(max_length=60, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    # Members who signed in with a password must have a second factor to open its pages
    # (tenants/access.py); single sign-on leaves the second factor to the provider.
    require_two_factor = models.BooleanField(default=False)

    # Members other than owners reach its pages only from a single sign-on session
    # (tenants/sso/policy.py); owners keep their password as the way back in.
    sso_required = models.BooleanField(default=False)

    def __str__(self):
        return self.name


class Membership(OrgOwnedModel):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=10, choices=Role.choices)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["organization", "user"], name="membership_unique")]


class Invitation(OrgOwnedModel):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="invitations")
    email = models.EmailField(max_length=254)
    role = models.CharField(max_length=10, choices=Role.choices)
    # Only a hash of the emailed token is stored; the token is single-use.
    token_hash = models.CharField(max_length=64, unique=True)
    invited_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)


class App(OrgOwnedModel):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="apps")
    name = models.CharField(max_length=255)
    apdex_t = models.FloatField(default=0.5)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["organization", "name"], name="app_name_unique_per_org")]
        ordering = ["name"]

    def __str__(self):
        return self.name


class MachineSecret(OrgOwnedModel):
    """What ingest keys and API tokens share (tenants/secret_tokens.py): the secret itself is
    shown once and never stored, only its SHA-256 (a field of each model) and its prefix."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    label = models.CharField(max_length=100)
    # The first characters of the secret, shown in lists so people can tell secrets apart.
    prefix = models.CharField(max_length=20)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        abstract = True
        ordering = ["-created_at"]

    @property
    def is_active(self):
        return self.revoked_at is None


class IngestKey(MachineSecret):
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="ingest_keys")
    # A key bound to an app sends data for that app only and cannot create apps (so a key
    # leaked from one app writes nowhere else); unbound keys serve the whole organisation.
    app = models.ForeignKey(App, on_delete=models.CASCADE, null=True, blank=True, related_name="ingest_keys")
    key_hash = models.CharField(max_length=64, unique=True)

    class Meta(MachineSecret.Meta):
        pass


class TokenScope(models.TextChoices):
    READ = "read", "Read"
    WRITE = "write", "Read and write"


class ApiToken(MachineSecret):
    """An organisation's token for machine clients of its data (a Prometheus scrape now, the
    query API later): prefixed, stored hashed, scoped, revocable, with its last use."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="api_tokens")
    scope = models.CharField(max_length=10, choices=TokenScope.choices, default=TokenScope.READ)
    token_hash = models.CharField(max_length=64, unique=True)

    class Meta(MachineSecret.Meta):
        pass


class PersonalToken(models.Model):
    """A user's own token for scripts (tenants/api_tokens.py): it acts as the user, with the
    user's role in each organisation at the moment of each request, so it belongs to no
    organisation and a removed member's token stops reaching that organisation at once."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="personal_tokens")
    label = models.CharField(max_length=100)
    prefix = models.CharField(max_length=20)
    scope = models.CharField(max_length=10, choices=TokenScope.choices, default=TokenScope.READ)
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    @property
    def is_active(self):
        return self.revoked_at is None


class TwoFactor(models.Model):
    """A user's TOTP authenticator (tenants/two_factor.py); in use once confirmed with a code."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="two_factor")
    secret = models.CharField(max_length=64)  # base32, as the authenticator app holds it
    confirmed_at = models.DateTimeField(null=True, blank=True)
    # The newest time step a code was accepted for: that code, and older ones, never work again.
    last_step = models.BigIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)


class RecoveryCode(models.Model):
    """One single-use code for when the authenticator is lost; only its hash is stored."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="recovery_codes")
    code_hash = models.CharField(max_length=64)
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "code_hash"], name="recovery_code_unique")]


class AuditEntry(OrgOwnedModel):
    """Who did what in an organisation, when and from where (written by tenants/audit.py)."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="audit_entries")
    # The e-mail is kept as well, so the entry still names the actor after the account is gone.
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    actor_email = models.CharField(max_length=254, blank=True)
    action = models.CharField(max_length=40)
    target = models.CharField(max_length=255, blank=True)
    details = models.JSONField(default=dict, blank=True)
    address = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["organization", "-created_at"], name="audit_org_newest"),
            models.Index(fields=["organization", "action", "-created_at"], name="audit_org_action"),
        ]

    @property
    def details_text(self):
        """The details as one line for people: "from: member; to: admin"."""

        def shown(value):
            return ", ".join(map(str, value)) if isinstance(value, list) else str(value)

        return "; ".join(f"{key}: {shown(value)}" for key, value in self.details.items() if value not in (None, ""))


def email_domain(email):
    """The domain of an address, lower-cased; "" when there is none."""
    return email.rpartition("@")[2].lower() if "@" in email else ""


class SsoIdentity(models.Model):
    """A user's account at an OpenID provider. The issuer and subject find the user at the
    next sign-in, never the e-mail, which the provider may let its users change."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="sso_identities")
    issuer = models.CharField(max_length=255)
    subject = models.CharField(max_length=255)
    # As the provider said at the last sign-in.
    email = models.EmailField(max_length=254, blank=True)
    email_verified = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)
    last_login_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["issuer", "subject"], name="sso_identity_unique")]

    @property
    def email_domain(self):
        return email_domain(self.email)


class SsoDomain(OrgOwnedModel):
    """People who sign in through ``issuer`` with a verified address at ``domain`` join the
    organisation with ``role``. An admin adds only the domain of their own verified address
    at that provider (tenants/sso/actions.py)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="sso_domains")
    domain = models.CharField(max_length=253)
    issuer = models.CharField(max_length=255)
    role = models.CharField(max_length=10, choices=Role.choices)
    added_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization", "domain", "issuer"], name="sso_domain_unique_per_org")
        ]
        indexes = [models.Index(fields=["domain", "issuer"], name="sso_domain_lookup")]
        ordering = ["domain"]
