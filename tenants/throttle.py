"""Login throttling: failure counters per account and per client address, in the Redis cache.

The account counter is keyed by the address typed in, whether or not such an account
exists, so throttling reveals nothing about which accounts exist. Windows are fixed:
they start at the first failure and last LOGIN_FAILURE_WINDOW seconds.
"""

import hashlib

from django.conf import settings
from django.core.cache import cache


def client_address(request):
    if settings.SECURE_PROXY_SSL_HEADER is not None:
        # Behind our own proxy, the last X-Forwarded-For entry is the one it appended;
        # anything before it came from the client and can be forged.
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
        last = forwarded.split(",")[-1].strip()
        if last:
            return last
    return request.META.get("REMOTE_ADDR", "") or "unknown"


def _keys(email, address):
    account = hashlib.sha256(email.strip().lower().encode("utf-8")).hexdigest()
    return f"login-fail:acct:{account}", f"login-fail:ip:{address}"


def is_throttled(email, address):
    account_key, ip_key = _keys(email, address)
    counts = cache.get_many([account_key, ip_key])
    return (
        counts.get(account_key, 0) >= settings.LOGIN_FAILURE_LIMIT
        or counts.get(ip_key, 0) >= settings.LOGIN_FAILURE_IP_LIMIT
    )


def _bump(key):
    # add() starts the window; incr() is atomic in Redis across processes.
    cache.add(key, 0, timeout=settings.LOGIN_FAILURE_WINDOW)
    try:
        return cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, timeout=settings.LOGIN_FAILURE_WINDOW)
        return 1


def record_failure(email, address):
    for key in _keys(email, address):
        _bump(key)


def allow_reset_email(email, address):
    """Counts a password-reset request; False once an address or a client asks too often.

    Stops a reset form from being used to flood someone's inbox. The caller shows the
    same "check your email" page either way, so this reveals nothing about accounts.
    """
    account = hashlib.sha256(email.strip().lower().encode("utf-8")).hexdigest()
    per_account = _bump(f"reset:acct:{account}")
    per_client = _bump(f"reset:ip:{address}")
    return per_account <= settings.LOGIN_FAILURE_LIMIT and per_client <= settings.LOGIN_FAILURE_IP_LIMIT


def record_success(email):
    # The address counter stays: one good login must not reset a spray over many accounts.
    account_key, _ = _keys(email, "")
    cache.delete(account_key)
