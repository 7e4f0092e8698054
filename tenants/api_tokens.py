"""Organisation API tokens: the form of a token and the look-up behind ``Authorization: Bearer``.

A token is ``pulse_at_`` + 40 base62 characters (tenants/secret_tokens.py), stored as its
SHA-256, with a scope: ``read`` reads the organisation's data, ``write`` also changes it.
Each look-up goes to the database (one indexed row, far from the hot path of ingest), so
a revoked token is refused from the next request on.
"""

from dataclasses import dataclass

from tenants.models import ApiToken, Organization, TokenScope
from tenants.secret_tokens import LastUsedMarks, SecretFormat, hash_secret

API_TOKEN = SecretFormat("pulse_at_")

_last_used = LastUsedMarks(ApiToken)


@dataclass(frozen=True)
class ResolvedToken:
    token_id: object
    organization: Organization
    scope: str

    def allows(self, scope: str) -> bool:
        return self.scope == TokenScope.WRITE or scope == TokenScope.READ


def resolve_api_token(raw: str | None) -> ResolvedToken | None:
    """The live token presented, with its organisation; None when malformed, unknown or revoked."""
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
    return ResolvedToken(row.pk, row.organization, row.scope)
