"""Deployments: what a release is recorded with, and the rules for recording one.

A deployment names its app as the agent does; the app is created if it has not reported
yet (a pipeline may record a release before the app's first request), within the same
app limit. Each app may record DEPLOYMENTS_PER_APP_PER_HOUR, so a looping pipeline cannot
fill the table or the charts.
"""

import re
import time
from datetime import UTC, datetime, timedelta
from typing import Annotated

import msgspec
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from apm.models import Deployment
from tenants import actions, limits
from tenants.models import App, Organization

# How far from now a recorded time may be: a late CI step, not a rewrite of history.
MAX_AGE = timedelta(days=7)
MAX_AHEAD = timedelta(minutes=5)


class DeploymentIn(msgspec.Struct):
    app: Annotated[str, msgspec.Meta(min_length=1, max_length=255)]
    version: Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
    commit: Annotated[str, msgspec.Meta(max_length=64)] = ""
    description: Annotated[str, msgspec.Meta(max_length=1000)] = ""
    user: Annotated[str, msgspec.Meta(max_length=100)] = ""
    time: float | None = None  # unix seconds; now when absent


_decoder = msgspec.json.Decoder(DeploymentIn)
# msgspec names the field as "... - at `$.commit`" or "... required field `version`".
_FIELD_IN_MESSAGE = re.compile(r"(?:at `\$\.|field `)(\w+)`")


class BadDeployment(ValueError):
    def __init__(self, message: str, field: str = "body") -> None:
        super().__init__(message)
        self.field = field


class WrongApp(Exception):
    """The caller's key is bound to another app."""


class TooManyDeployments(Exception):
    def __init__(self, retry_after: int) -> None:
        super().__init__(f"this app has recorded {settings.DEPLOYMENTS_PER_APP_PER_HOUR} deployments in the last hour")
        self.retry_after = retry_after


def decode(body: bytes) -> DeploymentIn:
    """The deployment in a JSON body, or BadDeployment naming what is wrong."""
    try:
        data = _decoder.decode(body)
    except msgspec.ValidationError as exc:
        message = str(exc)
        named = _FIELD_IN_MESSAGE.search(message)
        raise BadDeployment(message, named.group(1) if named else "body") from None
    except msgspec.DecodeError as exc:
        raise BadDeployment(f"body is not valid JSON: {exc}") from None
    for field in ("app", "version", "commit", "description", "user"):
        if "\x00" in getattr(data, field):
            raise BadDeployment("strings must not contain NUL characters", field)
    if not data.app.strip() or not data.version.strip():
        raise BadDeployment("app and version must not be blank", "version" if data.app.strip() else "app")
    return data


def _when(data: DeploymentIn) -> datetime:
    now = timezone.now()
    if data.time is None:
        return now
    if not (now - MAX_AGE).timestamp() <= data.time <= (now + MAX_AHEAD).timestamp():
        raise BadDeployment("time must be unix seconds within the last 7 days", "time")
    return datetime.fromtimestamp(data.time, tz=UTC)


@transaction.atomic
def record_deployment(org: Organization, data: DeploymentIn, bound_app_id: object = None) -> Deployment:
    """Record ``data`` for ``org``; ``bound_app_id``: the only app the caller's key may name.

    Raises BadDeployment, TooManyDeployments, limits.LimitReached (the app limit) or
    WrongApp.
    """
    when = _when(data)
    name = data.app.strip()
    limits.lock_organization(org.pk)  # the hourly count and a new app hold under concurrency
    app = App.objects.for_org(org).filter(name__iexact=name).first()
    if bound_app_id is not None and (app is None or app.pk != bound_app_id):
        raise WrongApp()
    if app is None:
        app = actions.create_app(org, name)
    hour_ago = timezone.now() - timedelta(hours=1)
    recent = list(
        Deployment.objects.for_org(org).filter(app=app, created_at__gte=hour_ago).order_by("created_at")
        .values_list("created_at", flat=True)[: settings.DEPLOYMENTS_PER_APP_PER_HOUR]
    )
    if len(recent) >= settings.DEPLOYMENTS_PER_APP_PER_HOUR:
        raise TooManyDeployments(max(1, int(recent[0].timestamp() + 3600 - time.time()) + 1))
    return Deployment.objects.for_org(org).create(
        organization=org,
        app=app,
        time=when,
        version=data.version.strip(),
        commit=data.commit.strip(),
        description=data.description.strip(),
        user=data.user.strip(),
    )
