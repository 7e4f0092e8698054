"""The optional second factor of password accounts: TOTP (RFC 6238) codes from an
authenticator app, with single-use recovery codes for when the phone is lost.

Enrolment: the account page shows a new secret (QR code and text) kept in the session,
and the secret is stored once a code from it is confirmed. A code is accepted for the
current 30-second step or a neighbour (clocks drift), and the newest accepted step is
stored, so a code cannot be replayed, not even within its own window. Recovery codes are
shown once and stored as hashes; each works once.

Login (tenants/views.py) asks for a code after the password when the account has a
confirmed authenticator; until then the session is not signed in. The session records
how it was signed in under ``AUTH_METHOD_KEY``: organisations that require a second
factor (tenants/access.py) let in sessions signed in by single sign-on, whose provider
owns the second factor, and password sessions of enrolled accounts.
"""

import hmac
import secrets

import pyotp
import segno
from django.conf import settings
from django.db import transaction
from django.utils.crypto import salted_hmac
from django.utils import timezone

from tenants import audit
from tenants.actions import ActionError
from tenants.models import RecoveryCode, TwoFactor, User

# The session key naming how the session was signed in: "password", "password+totp",
# "password+recovery_code", or "sso" (set by the single sign-on views).
AUTH_METHOD_KEY = "pulse_auth_method"
SSO = "sso"
RECOVERY_CODES = 10
_STEP_TOLERANCE = 1  # steps either side of now that are accepted

CODE_REFUSED = "That code is not right, or was used already. Enter the current code from your app."


def new_secret() -> str:
    return pyotp.random_base32()


def provisioning_uri(user: User, secret: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=user.email, issuer_name=settings.TWO_FACTOR_ISSUER)


def qr_svg(uri: str) -> str:
    """The otpauth URI as an inline SVG QR code (no script, no external image)."""
    return segno.make(uri, error="m").svg_inline(scale=5, omitsize=True, svgclass="qr-code")


def is_enrolled(user: User) -> bool:
    return TwoFactor.objects.filter(user=user, confirmed_at__isnull=False).exists()


def satisfied(user: User, session) -> bool:
    """Whether ``user``'s ``session`` meets an organisation's two-factor requirement."""
    return session.get(AUTH_METHOD_KEY) == SSO or is_enrolled(user)


def _digits(code: str) -> str:
    return "".join(code.split())


def _matching_step(secret: str, code: str) -> int | None:
    totp = pyotp.TOTP(secret)
    now = totp.timecode(timezone.now())
    for step in range(now - _STEP_TOLERANCE, now + _STEP_TOLERANCE + 1):
        if hmac.compare_digest(totp.generate_otp(step), code):
            return step
    return None


def _hash_recovery(code: str) -> str:
    # Keyed with SECRET_KEY: a copy of the database alone does not let anyone try codes offline.
    normalised = "".join(code.split()).replace("-", "").lower()
    return salted_hmac("pulse.recovery_code", normalised, algorithm="sha256").hexdigest()


def _new_recovery_codes(user: User) -> list[str]:
    RecoveryCode.objects.filter(user=user).delete()
    codes = [f"{secrets.token_hex(3)}-{secrets.token_hex(3)}" for _ in range(RECOVERY_CODES)]
    RecoveryCode.objects.bulk_create(RecoveryCode(user=user, code_hash=_hash_recovery(code)) for code in codes)
    return codes


@transaction.atomic
def enrol(user: User, password: str, secret: str, code: str) -> list[str]:
    """Turn the second factor on with the password (a borrowed session alone must not lock
    the owner out), the secret shown to the user and a code from it; returns the recovery
    codes, to be shown once."""
    User.objects.select_for_update().filter(pk=user.pk).first()  # one enrolment at a time
    if is_enrolled(user):
        raise ActionError("Two-factor authentication is already on.")
    if not user.check_password(password or ""):
        raise ActionError("That is not your password.")
    step = _matching_step(secret, _digits(code)) if secret else None
    if step is None:
        raise ActionError(CODE_REFUSED)
    TwoFactor.objects.update_or_create(
        user=user, defaults={"secret": secret, "confirmed_at": timezone.now(), "last_step": step}
    )
    audit.record_for_member(user, audit.Action.TWO_FACTOR_ENROLLED, user.email)
    return _new_recovery_codes(user)


@transaction.atomic
def verify(user: User, code: str) -> str | None:
    """Check a code of an enrolled user: "totp" or "recovery_code" for the kind accepted
    (and now spent), None when refused."""
    device = TwoFactor.objects.select_for_update().filter(user=user, confirmed_at__isnull=False).first()
    code = _digits(code or "")
    if device is None or not code:
        return None
    if code.isdigit():
        step = _matching_step(device.secret, code)
        if step is None or (device.last_step is not None and step <= device.last_step):
            return None
        device.last_step = step
        device.save(update_fields=["last_step"])
        return "totp"
    spent = RecoveryCode.objects.filter(user=user, code_hash=_hash_recovery(code), used_at__isnull=True).update(
        used_at=timezone.now()
    )
    return "recovery_code" if spent else None


@transaction.atomic
def renew_recovery_codes(user: User, code: str) -> list[str]:
    """New recovery codes for a current code from the app; the old ones stop working."""
    if verify(user, code) != "totp":
        raise ActionError(CODE_REFUSED)
    return _new_recovery_codes(user)


def recovery_codes_left(user: User) -> int:
    return RecoveryCode.objects.filter(user=user, used_at__isnull=True).count()


@transaction.atomic
def disable(user: User, password: str, code: str) -> None:
    """Turn the second factor off; it takes the password and a current (or recovery) code."""
    if not user.check_password(password or "") or verify(user, code) is None:
        raise ActionError("The password or the code is not right.")
    turn_off_for(user)


@transaction.atomic
def turn_off_for(user: User, operator: User | None = None) -> None:
    """Remove the second factor; with ``operator``, an operator did it in the admin for
    someone who lost both the phone and the recovery codes."""
    if not TwoFactor.objects.filter(user=user).delete()[0]:
        return
    RecoveryCode.objects.filter(user=user).delete()
    details = {"by_operator": operator.email} if operator else {}
    audit.record_for_member(user, audit.Action.TWO_FACTOR_DISABLED, user.email, details)
