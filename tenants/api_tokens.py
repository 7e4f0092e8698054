"""API tokens: their form and the look-up behind ``Authorization: Bearer``.

Two kinds, each ``prefix`` + 40 base62 characters (tenants/secret_tokens.py), stored as
its SHA-256, with a scope: ``read`` reads, ``write`` also changes.

- An organisation token (``pulse_at_``) belongs to one organisation; a write token may
  do what an admin may.
- A personal token (``pulse_pt_``) acts as its user, with the user's role in the
  organisation asked for (tenants/access.py), read at each request.

Each look-up goes to the database (one indexed row, far from the hot path of ingest), so
a revoked token is refused from the next request on.
"""

from dataclasses import dataclass

from tenants.models import ApiToken, Organization, PersonalToken, TokenScope, User
from tenants.secret_tokens import LastUsedMarks, SecretFormat, hash_secret

API_TOKEN = SecretFormat("pulse_at_")
PERSONAL_TOKEN = SecretFormat("pulse_pt_")

_last_used = LastUsedMarks(ApiToken)
_personal_last_used = LastUsedMarks(PersonalToken)


def scope_allows(granted: str, needed: str) -> bool:
    """Write includes read."""
    return granted == TokenScope.WRITE or needed == TokenScope.READ


def _described(kind: str, row: ApiToken | PersonalToken) -> str:
    """How the audit log names the token a change came through."""
    return f"{kind} “{row.label}” ({row.prefix}…)"


@dataclass(frozen=True)
class ResolvedToken:
    token_id: object
    organization: Organization
    scope: str
    described: str

    def allows(self, scope: str) -> bool:
        return scope_allows(self.scope, scope)


@dataclass(frozen=True)
class ResolvedPersonalToken:
    token_id: object
    user: User
    scope: str
    described: str

    def allows(self, scope: str) -> bool:
        return scope_allows(self.scope, scope)


def resolve_api_token(raw: str | None) -> ResolvedToken | None:
    """The live organisation token presented, with its organisation; None when malformed,
    unknown or revoked."""
    if not API_TOKEN.looks_like(raw):
        return None
    row = (
        ApiToken.objects.unscoped()
        .select_related("organization")
        .filter(token_hash=hash_secret(raw), revoked_at__isnull=True)
        .first()
    )
    if row is None:
        return None
    _last_used.touch(row.pk)
    return ResolvedToken(row.pk, row.organization, row.scope, _described("API token", row))


def resolve_personal_token(raw: str | None) -> ResolvedPersonalToken | None:
    """The live personal token presented, with its user; None when malformed, unknown,
    revoked, or its user can no longer sign in."""
    if not PERSONAL_TOKEN.looks_like(raw):
        return None
    row = (
        PersonalToken.objects.select_related("user")
        .filter(token_hash=hash_secret(raw), revoked_at__isnull=True, user__is_active=True)
        .first()
    )
    if row is None:
        return None
    _personal_last_used.touch(row.pk)
    return ResolvedPersonalToken(row.pk, row.user, row.scope, _described("personal token", row))


def resolve_token(raw: str | None) -> ResolvedToken | ResolvedPersonalToken | None:
    """Either kind, told apart by its prefix."""
    if PERSONAL_TOKEN.looks_like(raw):
        return resolve_personal_token(raw)
    return resolve_api_token(raw)
