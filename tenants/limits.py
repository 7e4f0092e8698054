"""What one organisation, or one app, may have: each limit a setting, refused in the same words
everywhere (a form error, a JSON 409 naming the limit, ingest's 403).

Organisation-wide counts are checked with the organisation's row locked until the creating
transaction ends, so two requests cannot both take the last place. The per-app limits of data
that arrives through ingest (transaction names, error groups) fold the excess into one row
instead of refusing it; apm/rollup/ counts them under a lock of the app.
"""

from dataclasses import dataclass

from django.conf import settings
from django.db.models import QuerySet
from django.http import JsonResponse

from tenants.access import wants_json
from tenants.errors import ActionError
from tenants.models import Organization

LIMIT_STATUS = 409  # the request is valid; what the organisation already has is in the way


@dataclass(frozen=True)
class Limit:
    code: str  # named in JSON refusals
    setting: str  # the Django setting, read from the environment variable of the same name
    noun: str  # what is counted, plural
    scope: str = "organisation"

    @property
    def most(self) -> int:
        return int(getattr(settings, self.setting))

    def message(self) -> str:
        return f"This {self.scope} already has the maximum of {self.most} {self.noun} ({self.setting})."


APPS = Limit("apps", "APPS_PER_ORG_LIMIT", "apps")
INGEST_KEYS = Limit("ingest_keys", "INGEST_KEYS_PER_ORG_LIMIT", "active ingest keys")
PENDING_INVITATIONS = Limit("pending_invitations", "PENDING_INVITATIONS_PER_ORG_LIMIT", "pending invitations")
ALERT_CONDITIONS = Limit("alert_conditions", "ALERT_CONDITIONS_PER_ORG_LIMIT", "alert conditions")
NOTIFICATION_CHANNELS = Limit("notification_channels", "NOTIFICATION_CHANNELS_PER_ORG_LIMIT", "notification channels")
SLOS = Limit("slos", "SLOS_PER_ORG_LIMIT", "SLOs")
TRANSACTION_NAMES = Limit("transaction_names", "TRANSACTIONS_PER_APP_LIMIT", "transaction names", scope="app")
ERROR_GROUPS = Limit("error_groups", "ERROR_GROUPS_PER_APP_LIMIT", "error groups", scope="app")
OPERATIONS = Limit("operations", "OPERATIONS_PER_APP_LIMIT", "database and external operations", scope="app")

EVERY_LIMIT = (APPS, INGEST_KEYS, PENDING_INVITATIONS, ALERT_CONDITIONS, NOTIFICATION_CHANNELS, SLOS,
               TRANSACTION_NAMES, ERROR_GROUPS, OPERATIONS)


class LimitReached(ActionError):
    """One more would go over ``limit``."""

    def __init__(self, limit: Limit):
        self.limit = limit
        super().__init__(limit.message())


def lock_organization(org_id: int) -> None:
    """Lock the organisation's row until the transaction ends: whatever creates something
    counted against an organisation's limit waits here for the others."""
    Organization.objects.select_for_update().filter(pk=org_id).first()


def require_room(limit: Limit, org_id: int, existing: QuerySet) -> None:
    """Raise LimitReached when ``existing`` (the organisation's counted objects) has no room for
    one more. Locks the organisation first: call it inside the transaction that creates."""
    lock_organization(org_id)
    if existing.count() >= limit.most:
        raise LimitReached(limit)


def json_refusal(request, exc: Exception) -> JsonResponse | None:  # type: ignore[no-untyped-def]
    """For a client asking for JSON, the 409 naming the limit that refused it; None for a
    browser (its form shows the message) or another refusal."""
    if not isinstance(exc, LimitReached) or not wants_json(request):
        return None
    return limit_refusal(exc)


def limit_refusal(exc: LimitReached) -> JsonResponse:
    """The 409 naming the limit that refused a request (every answer of a JSON-only API)."""
    limit = exc.limit
    body = {"code": "limit_reached", "limit": limit.code, "setting": limit.setting, "most": limit.most,
            "message": str(exc)}
    return JsonResponse({"error": body}, status=LIMIT_STATUS)


def lock_app(cursor, limit: Limit, app_id: object) -> None:  # type: ignore[no-untyped-def]
    """Hold ``limit``'s count of one app until the transaction ends. An advisory lock, not the
    app's row: the rows that reference the app take a share lock on it all the time."""
    cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s), hashtext(%s))", [limit.code, str(app_id)])
