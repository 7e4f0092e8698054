"""An app's deployments: markers for its charts, and the hour before against the hour after."""

import time
from typing import Any

from apm.models import Deployment
from apm.queries.base import AppRef, Instant, OrgRef, app_id, org_id, to_dt, to_unix
from apm.queries.series import window_stats

# Markers on one chart: more than this many in a range would hide the lines under them.
MAX_MARKERS = 200
COMPARED_SECONDS = 3600


def _shape(d: Deployment) -> dict[str, Any]:
    return {
        "id": str(d.id),
        "t": d.time.timestamp(),
        "version": d.version,
        "commit": d.commit,
        "description": d.description,
        "user": d.user,
    }


def deployments_between(org: OrgRef, app: AppRef, since: Instant, until: Instant) -> list[dict[str, Any]]:
    """The app's deployments in [since, until), oldest first (at most MAX_MARKERS, the latest)."""
    found = (
        Deployment.objects.for_org(org_id(org))
        .filter(app_id=app_id(app), time__gte=to_dt(to_unix(since)), time__lt=to_dt(to_unix(until)))
        .order_by("-time")[:MAX_MARKERS]
    )
    return [_shape(d) for d in reversed(found)]


def deployment_impacts(org: OrgRef, app: AppRef, limit: int = 20, offset: int = 0) -> dict[str, Any]:
    """The app's latest deployments, newest first, each with the web ``stats`` of the hour
    before it and of the hour after it (``after`` is partial while that hour runs), and
    whether there are older ones. The work is bounded by ``limit``, not by how many exist."""
    last_whole_minute = time.time() // 60 * 60
    found = list(
        Deployment.objects.for_org(org_id(org)).filter(app_id=app_id(app)).order_by("-time")[offset : offset + limit + 1]
    )
    out = []
    for d in found[:limit]:
        minute = d.time.timestamp() // 60 * 60  # rollups are per minute: its minute counts as after
        out.append(
            {
                **_shape(d),
                "before": window_stats(org, app, minute - COMPARED_SECONDS, minute),
                # A recent deployment's hour after is still running: rates over what has passed.
                "after": window_stats(
                    org, app, minute, min(minute + COMPARED_SECONDS, max(minute + 60, last_whole_minute))
                ),
            }
        )
    return {"deployments": out, "more": len(found) > limit}
