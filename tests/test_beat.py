"""Several beat processes may run: RedBeat's lock lets exactly one send, and another takes
over when the holder dies. Real `celery beat` processes on a Redis of the test's own."""

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import redis

from tests.servers import RedisServer, wait_until

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
LOCK_SECONDS = 6  # the holder ticks every 2 s


class Beat:
    """A `celery -A pulse beat` process whose output lines are kept."""

    def __init__(self, url):
        env = {**os.environ, "REDIS_URL": url, "QUEUE_REDIS_URL": url, "CACHE_REDIS_URL": url,
               "CELERY_BROKER_URL": url, "BEAT_LOCK_SECONDS": str(LOCK_SECONDS), "PYTHONUNBUFFERED": "1"}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "pulse", "beat", "--loglevel=DEBUG"],
            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )
        self.lines = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            self.lines.append(line)

    def said(self, text):
        return any(text in line for line in self.lines)

    def stop(self, sig=signal.SIGTERM):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(timeout=20)


@pytest.fixture
def redis_url(tmp_path):
    server = RedisServer(tmp_path, aof=False).start()
    yield server.url
    server.stop()


def test_one_beat_holds_the_lock_and_another_takes_over_when_it_dies(redis_url):
    url = redis_url
    first = Beat(url)
    second = None
    try:
        assert wait_until(lambda: first.said("beat: Acquired lock"), 60), "".join(first.lines)
        assert wait_until(lambda: first.said("beat: Extending lock"), 30), "".join(first.lines)
        second = Beat(url)
        assert wait_until(lambda: second.said("beat: Acquiring lock"), 60), "".join(second.lines)
        # Several of the holder's ticks later, the second is still waiting: it sends nothing.
        ticks = sum("beat: Extending lock" in line for line in first.lines)
        assert wait_until(lambda: sum("beat: Extending lock" in line for line in first.lines) >= ticks + 2, 30)
        assert not second.said("beat: Acquired lock")
        assert not second.said("Sending due task")
        schedule = redis.Redis.from_url(url).keys("pulse:beat:*")
        assert b"pulse:beat:lock" in schedule and len(schedule) > 2  # the lock and the entries

        first.stop(signal.SIGKILL)  # no release: the lock must expire
        assert wait_until(lambda: second.said("beat: Acquired lock"), LOCK_SECONDS * 4), "".join(second.lines)
    finally:
        first.stop(signal.SIGKILL)
        if second is not None:
            second.stop()
