"""Throttles of the account pages: login attempts, sign-ups and reset mails, in the Redis cache.

Every login attempt is counted before the password is checked, with an atomic Redis INCR, so
requests sent in parallel each see their own count and together get no more guesses
than the limit. An attempt over any of three limits is refused unchecked:

- LOGIN_FAILURE_LIMIT for one account from one client address: the lock an attacker
  triggers by guessing is theirs, not the account owner's at her own address;
- LOGIN_FAILURE_IP_LIMIT for one client address over all accounts (password spraying);
- LOGIN_FAILURE_ACCOUNT_LIMIT for one account over all addresses, higher, so only
  guesses from many addresses at once lock an account everywhere.

A successful login gives its own attempt back and clears its account-and-address count.
The second step of a login (a two-factor code) has counters of its own, with the same
limits: a six-digit code must not get more guesses than a password.
Account counters are keyed by the address typed in, whether or not such an account
exists, so throttling reveals nothing about which accounts exist. Windows are fixed:
they start at the first attempt and last LOGIN_FAILURE_WINDOW seconds.
"""

import hashlib

from django.conf import settings
from django.contrib import auth
from django.core.cache import cache

from tenants.client_address import client_address


LOGIN_THROTTLED = "Too many failed login attempts. Please try again later."


class LoginThrottled(Exception):
    """Too many attempts in the window; the password was not checked."""


def _account(email):
    return hashlib.sha256(email.strip().lower().encode("utf-8")).hexdigest()


def _keys(kind, email, address):
    """(key, limit) of each counter an attempt of ``kind`` by ``email`` from ``address`` counts in.

    In this order: an attempt stops counting at the first limit it is over, so guesses
    from one address, refused for that address, never add up to the account-wide lock.
    """
    account = _account(email)
    return [
        (f"{kind}:pair:{account}:{address}", settings.LOGIN_FAILURE_LIMIT),
        (f"{kind}:ip:{address}", settings.LOGIN_FAILURE_IP_LIMIT),
        (f"{kind}:acct:{account}", settings.LOGIN_FAILURE_ACCOUNT_LIMIT),
    ]


def _bump(key):
    # add() starts the window; incr() is atomic in Redis across processes.
    cache.add(key, 0, timeout=settings.LOGIN_FAILURE_WINDOW)
    try:
        return cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, timeout=settings.LOGIN_FAILURE_WINDOW)
        return 1


def _give_back(key):
    try:
        cache.decr(key)
    except ValueError:  # the window ended meanwhile
        pass


def _guarded(counters, check):
    """``check()`` once every counter took the attempt; its result. A true result gives the
    attempt back."""
    for key, limit in counters:
        if _bump(key) > limit:
            raise LoginThrottled(LOGIN_THROTTLED)
    result = check()
    if result:
        (pair_key, _), *others = counters
        cache.delete(pair_key)
        for key, _ in others:
            _give_back(key)
    return result


def authenticate(request, email, password):
    """Django's authenticate behind the throttle: the user, or None for wrong credentials.

    Raises LoginThrottled, without checking the password, once an attempt is over a limit.
    Django's backend hashes a dummy password for unknown e-mails, so unknown and wrong
    cost the same.
    """
    counters = _keys("login", email, client_address(request))
    return _guarded(counters, lambda: auth.authenticate(request, email=email, password=password))


def check_second_factor(request, user, check):
    """``check()`` (a two-factor code's verification) behind the throttle of the second step:
    its result, or LoginThrottled without calling it."""
    return _guarded(_keys("login2", user.email, client_address(request)), check)


def _allow_mail(kind, email, address, per_email, per_address):
    per_account = _bump(f"{kind}:acct:{_account(email)}")
    per_client = _bump(f"{kind}:ip:{address}")
    return per_account <= per_email and per_client <= per_address


def allow_reset_email(email, address):
    """Counts a password-reset request; False once an address or a client asks too often.

    Stops a reset form from being used to flood someone's inbox. The caller shows the
    same "check your email" page either way, so this reveals nothing about accounts.
    """
    return _allow_mail("reset", email, address, settings.LOGIN_FAILURE_LIMIT, settings.LOGIN_FAILURE_IP_LIMIT)


def allow_signup(email, address):
    """Counts a sign-up (or a resend of its mail); False once an address or a client asks too
    often. Counted before looking the address up, so the refusal says nothing about accounts."""
    return _allow_mail("signup", email, address, settings.SIGNUP_EMAIL_LIMIT, settings.SIGNUP_IP_LIMIT)
