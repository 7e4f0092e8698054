"""Servers a test starts for itself, on a free loopback port, when it must flush, stop or
share nothing with the machine's own."""

import contextlib
import socket
import subprocess
import time

import redis


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _answers(url):
    try:
        return redis.Redis.from_url(url, socket_connect_timeout=0.5).ping()
    except redis.RedisError:
        return False


@contextlib.contextmanager
def redis_server(directory, *options):
    """A redis-server of its own in ``directory`` (nothing saved unless ``options`` say so);
    yields its URL."""
    port = free_port()
    server = subprocess.Popen(
        ["redis-server", "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly", "no",
         "--dir", str(directory), *options],
        stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
    )
    url = f"redis://127.0.0.1:{port}/0"
    try:
        deadline = time.monotonic() + 20
        while not _answers(url):
            assert time.monotonic() < deadline, "redis-server did not start"
            time.sleep(0.05)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=15)


@contextlib.contextmanager
def web_server(log_path, **env):
    """`uvicorn pulse.asgi:application` on the test database and Redis, with ``env`` on top;
    yields its base URL once it answers."""
    import os
    import sys
    import urllib.request
    from pathlib import Path

    from django.conf import settings

    db = settings.DATABASES["default"]
    full_env = dict(
        os.environ,
        DATABASE_URL=f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}",
        REDIS_URL=settings.REDIS_URL,
        DEBUG="true",
        PYTHONUNBUFFERED="1",
        **env,
    )
    port = free_port()
    with open(log_path, "wb") as log:
        web = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "pulse.asgi:application", "--host", "127.0.0.1", "--port", str(port),
             "--no-access-log"],
            cwd=Path(__file__).resolve().parents[1], env=full_env, stdout=log, stderr=subprocess.STDOUT,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 60
            while True:
                if web.poll() is not None:
                    raise RuntimeError("web exited:\n" + Path(log_path).read_text()[-3000:])
                try:
                    urllib.request.urlopen(base + "/healthz/live", timeout=5).close()
                    break
                except OSError:
                    assert time.monotonic() < deadline, "web did not start"
                    time.sleep(0.2)
            yield base
        finally:
            web.terminate()
            web.wait(timeout=30)
