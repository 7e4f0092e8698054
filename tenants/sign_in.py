"""Finishing a sign-in: the session between the password and the second step, the
session's sign-in method (``two_factor.AUTH_METHOD_KEY``), and the audit entries.

Between the two steps the session holds only who passed the password and when; it is
not signed in, and the pending step expires after TWO_FACTOR_LOGIN_SECONDS.
"""

import time

from django.conf import settings
from django.contrib.auth import login

from tenants import audit
from tenants.models import User
from tenants.two_factor import AUTH_METHOD_KEY

_PENDING = "pulse_2fa_pending"


def await_second_step(request, user: User, next_url: str) -> None:
    request.session.cycle_key()  # a session id seen before the password does not carry on
    request.session[_PENDING] = {"user": user.pk, "backend": user.backend, "next": next_url, "at": time.time()}


def pending(request) -> tuple[User, str] | None:
    """(user, next URL) of the sign-in waiting for its second step, or None."""
    state = request.session.get(_PENDING)
    if not state or time.time() - state["at"] > settings.TWO_FACTOR_LOGIN_SECONDS:
        request.session.pop(_PENDING, None)
        return None
    user = User.objects.filter(pk=state["user"], is_active=True).first()
    if user is None:
        return None
    user.backend = state["backend"]
    return user, state["next"]


def complete(request, user: User, method: str, backend: str | None = None) -> None:
    """Sign the session in, note how, and write the sign-in to the user's organisations."""
    request.session.pop(_PENDING, None)
    login(request, user, backend=backend)
    request.session[AUTH_METHOD_KEY] = method
    audit.record_for_member(user, audit.Action.LOGIN_SUCCEEDED, user.email, {"method": method})


def failed(email: str, step: str) -> None:
    """A refused password or code for an existing account, in its organisations' logs."""
    user = User.objects.filter(email__iexact=email.strip()).first()
    if user is not None:
        audit.record_for_member(user, audit.Action.LOGIN_FAILED, user.email, {"step": step})
