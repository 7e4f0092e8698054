"""Live sockets per user, capped across every web process (LIVE_SOCKETS_PER_USER).

Each open socket holds a slot: a member of the user's Redis sorted set, scored with the
time it lapses. A socket renews its slot while open and gives it back when it closes; a
process that dies without giving its slots back loses them when they lapse. Taking a
slot adds it first and counts after, in one MULTI, so sockets opened at the same moment
are never more than the cap together.
"""

import time

from django.conf import settings

from contract.redis_client import client

SLOT_SECONDS = 60  # a slot lapses this long after its last renewal


def _key(user_id):
    return f"pulse:ws:slots:{user_id}"


def take(user_id, socket_id):
    """Hold a slot for ``socket_id``; False (and nothing held) when the user has all of them."""
    key, now = _key(user_id), time.time()
    pipe = client(settings.CACHE_REDIS_URL).pipeline(transaction=True)
    pipe.zremrangebyscore(key, "-inf", now)
    pipe.zadd(key, {socket_id: now + SLOT_SECONDS})
    pipe.expire(key, SLOT_SECONDS)
    pipe.zrank(key, socket_id)
    # Ranked by lapse time, the newest socket ranks last: it is the one refused, even when
    # several sockets count at once.
    ours = pipe.execute()[-1]
    if ours < settings.LIVE_SOCKETS_PER_USER:
        return True
    release(user_id, socket_id)
    return False


def renew(user_id, socket_id):
    key = _key(user_id)
    pipe = client(settings.CACHE_REDIS_URL).pipeline(transaction=True)
    pipe.zadd(key, {socket_id: time.time() + SLOT_SECONDS}, xx=True)
    pipe.expire(key, SLOT_SECONDS)
    pipe.execute()


def release(user_id, socket_id):
    client(settings.CACHE_REDIS_URL).zrem(_key(user_id), socket_id)
