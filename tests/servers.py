"""PostgreSQL and Redis servers of a test's or a bench's own, to stop, restart and kill.

The machine's shared servers are never restarted (other tests run against them); a test
that needs an outage starts one of these on a free port, in a temporary directory, and
restarts that. PostgreSQL comes from the Debian packages' binaries
(/usr/lib/postgresql/<version>/bin); ``missing()`` names what is not installed, for a skip.
"""

import glob
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import psycopg
import redis

_PG_BINS = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(p.split("/")[-2]))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(predicate, timeout=30.0, every=0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(every)
    return False


def stop_group(proc, timeout=20):
    """Stop a process started with ``start_new_session=True`` and all its children (uvicorn's
    and Celery's workers): SIGTERM, then SIGKILL after ``timeout`` seconds."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def missing():
    """The programs these servers need that this machine lacks, for a skip reason ('' if none)."""
    lacking = [] if shutil.which("redis-server") else ["redis-server"]
    if not _PG_BINS:
        lacking.append("PostgreSQL server binaries (/usr/lib/postgresql/*/bin/initdb, pg_ctl)")
    return ", ".join(lacking)


class RedisServer:
    """redis-server on a free port; ``aof`` keeps every write on disk (appendfsync always),
    as the queue role's Redis does in deploy/, so a restart loses nothing."""

    def __init__(self, directory, aof=True, eviction="noeviction"):
        self.dir = Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        persistence = ["--appendonly", "yes", "--appendfsync", "always"] if aof else ["--appendonly", "no"]
        self.cmd = ["redis-server", "--bind", "127.0.0.1", "--port", str(self.port), "--save", "", "--dir",
                    str(self.dir), "--maxmemory-policy", eviction, *persistence]
        self.proc = None

    def answers(self):
        try:
            return redis.Redis.from_url(self.url, socket_connect_timeout=0.5, retry=None).ping()
        except redis.RedisError:
            return False

    def start(self):
        log = open(self.dir / "redis.log", "ab")
        self.proc = subprocess.Popen(self.cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        if not wait_until(self.answers, 20):
            raise RuntimeError(f"redis-server did not start: {(self.dir / 'redis.log').read_text()[-2000:]}")
        return self

    def stop(self, sig=signal.SIGTERM):
        """Stop it (SIGTERM: a clean shutdown; SIGKILL: a crash, the AOF still holds every write)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(timeout=30)
        self.proc = None

    def restart(self, sig=signal.SIGTERM):
        self.stop(sig)
        return self.start()


class PostgresServer:
    """A PostgreSQL cluster initdb'd into a temporary directory on a free port, trusting
    local connections; run as the ``postgres`` user when this process is root (initdb
    refuses root), so the directory is made where that user can reach it."""

    def __init__(self):
        self.dir = Path(tempfile.mkdtemp(prefix="pulse-pg-"))
        self.data = self.dir / "pgdata"
        self.port = free_port()
        self.bin = Path(_PG_BINS[-1])
        self.started = False

    def url(self, dbname="postgres"):
        return f"postgres://postgres@127.0.0.1:{self.port}/{dbname}"

    def _run(self, *args):
        cmd = [str(self.bin / args[0]), *args[1:]]
        if os.geteuid() == 0:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        subprocess.run(cmd, check=True, capture_output=True, cwd="/")

    def init(self):
        if os.geteuid() == 0:
            shutil.chown(self.dir, "postgres")
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "--no-sync", "-E", "UTF8")
        return self

    def answers(self):
        try:
            with psycopg.connect(self.url(), connect_timeout=1):
                return True
        except psycopg.Error:
            return False

    def start(self):
        opts = f"-p {self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories='' -c fsync=off"
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.dir / "postgres.log"), "-o", opts, "-w", "start")
        self.started = True
        if not wait_until(self.answers, 30):
            raise RuntimeError("PostgreSQL did not start")
        return self

    def stop(self, mode="fast"):
        """Stop it: ``fast`` ends every session as an operator's restart does; ``immediate`` is a crash."""
        if self.started:
            self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop")
            self.started = False

    def restart(self, mode="fast"):
        self.stop(mode)
        return self.start()

    def create_database(self, name):
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def remove(self):
        self.stop("immediate")
        shutil.rmtree(self.dir, ignore_errors=True)


class WebServer:
    """`uvicorn pulse.asgi:application` on the test database and Redis, with ``env`` on top;
    ``start()`` returns once it answers, with ``url`` set."""

    def __init__(self, log_path, **env):
        from django.conf import settings

        db = settings.DATABASES["default"]
        self.env = dict(
            os.environ,
            DATABASE_URL=f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}",
            REDIS_URL=settings.REDIS_URL,
            DEBUG="true",
            PYTHONUNBUFFERED="1",
            **env,
        )
        self.log_path = Path(log_path)
        self.url = f"http://127.0.0.1:{free_port()}"
        self.proc = None

    def answers(self):
        try:
            urllib.request.urlopen(self.url + "/healthz/live", timeout=5).close()
            return True
        except OSError:
            return False

    def start(self):
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "uvicorn", "pulse.asgi:application", "--host", "127.0.0.1",
                 "--port", self.url.rsplit(":", 1)[1], "--no-access-log"],
                cwd=Path(__file__).resolve().parents[1], env=self.env, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        if not wait_until(lambda: self.proc.poll() is not None or self.answers(), 60) or self.proc.poll() is not None:
            raise RuntimeError("web did not start:\n" + self.log_path.read_text()[-3000:])
        return self

    def stop(self):
        if self.proc is not None:
            stop_group(self.proc)
