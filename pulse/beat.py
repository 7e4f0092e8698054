"""Beat's scheduler: RedBeat (the schedule in the queue role's Redis, behind a lock, so beats
may run side by side and one sends), made to ride out a Redis outage instead of exiting.

RedBeat takes the lock once, at start-up, and a tick that cannot reach Redis or finds the
lock gone raises out of beat. Here such a tick logs and comes back shortly: a lock that
survived (Redis restarted from its AOF) is extended as before; a lock that was lost (expired,
or a Redis that lost everything) is taken again when free, and the schedule's entries are
written again, since such a Redis lost them too.
"""

import logging

import redis
from redbeat import RedBeatScheduler
from redbeat.schedulers import LUA_EXTEND_TO_SCRIPT, get_redis
from redis.exceptions import LockError

log = logging.getLogger("pulse.beat")

RETRY_SECONDS = 2.0


class LeaderScheduler(RedBeatScheduler):
    def tick(self, *args, **kwargs):
        try:
            if self.lock is None and not self._take_lock():
                return self.max_interval  # another beat sends; wait for its lock to be free
            return super().tick(*args, **kwargs)
        except LockError as exc:
            log.warning("beat: lost the lock (%s); taking it again when it is free", exc)
            self.lock = None
        except redis.RedisError as exc:
            log.warning("beat: Redis does not answer (%s); retrying", exc)
        return min(self.max_interval, RETRY_SECONDS)

    def _take_lock(self):
        client = get_redis(self.app)
        lock = client.lock(self.lock_key, timeout=self.lock_timeout, sleep=self.max_interval)
        # RedBeat's extension sets the lock's time to live rather than adding to it.
        lock.lua_extend = client.register_script(LUA_EXTEND_TO_SCRIPT)
        if not lock.acquire(blocking=False):
            return False
        self.lock = lock
        log.info("beat: Acquired lock")
        self.setup_schedule()
        return True
