"""Make PostgreSQL and Redis reachable for `make run` / `make test`, and create the database.

Uses DATABASE_URL and every Redis URL set (REDIS_URL, and QUEUE_REDIS_URL,
CACHE_REDIS_URL, CELERY_BROKER_URL when they point elsewhere), localhost otherwise. When a local server is
missing and we are root on Debian, it is installed with apt and started; otherwise
we stop with a message that says exactly what to do.
"""

import os
import shutil
import subprocess
import sys
import time
from urllib.parse import urlparse

import psycopg
import redis
from psycopg import sql

DATABASE_URL = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/pulse")
REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
# Each Redis role defaults to REDIS_URL (pulse/settings.py); each one set apart is checked too.
REDIS_ROLES = ("REDIS_URL", "QUEUE_REDIS_URL", "CACHE_REDIS_URL", "CELERY_BROKER_URL")
LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1", ""}


def say(msg):
    print(f"[setup] {msg}", flush=True)


def fail(msg):
    print(f"[setup] ERROR: {msg}", file=sys.stderr, flush=True)
    sys.exit(1)


def can_apt():
    return os.geteuid() == 0 and shutil.which("apt-get") is not None


def apt_install(*packages):
    say(f"installing {' '.join(packages)} with apt-get")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
    subprocess.run(["apt-get", "install", "-y", "-qq", *packages], check=True, env=env)


def wait_for(check, what, seconds=30):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.5)
    return False


# --- PostgreSQL -------------------------------------------------------------

def pg_admin_conninfo():
    url = urlparse(DATABASE_URL)
    return url, dict(
        host=url.hostname or "127.0.0.1",
        port=url.port or 5432,
        user=url.username or "postgres",
        password=url.password or None,
        dbname="postgres",
        connect_timeout=3,
    )


def pg_reachable():
    _, info = pg_admin_conninfo()
    try:
        with psycopg.connect(**info):
            return True
    except psycopg.OperationalError:
        return False


def start_local_postgres():
    clusters = subprocess.run(["pg_lsclusters", "-h"], capture_output=True, text=True).stdout.split()
    if len(clusters) >= 2:
        version, name = clusters[0], clusters[1]
        subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", version, name, "start"], check=False)
        return version, name
    return None


def trust_localhost(version, name):
    # Only on a server this script installed itself: a fresh Debian cluster wants a
    # password over TCP, and a local development database is reached without one.
    hba = f"/etc/postgresql/{version}/{name}/pg_hba.conf"
    with open(hba, encoding="utf-8") as f:
        current = f.read()
    line = "host all all 127.0.0.1/32 trust\nhost all all ::1/128 trust\n"
    if line not in current:
        with open(hba, "w", encoding="utf-8") as f:
            f.write(line + current)
        subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", version, name, "reload"], check=False)


def ensure_postgres():
    url, _ = pg_admin_conninfo()
    if pg_reachable():
        return
    if (url.hostname or "") not in LOCAL_HOSTS:
        fail(f"PostgreSQL at {url.hostname}:{url.port or 5432} is not reachable. Start it, or set DATABASE_URL.")
    if shutil.which("pg_ctlcluster") and start_local_postgres() and wait_for(pg_reachable, "postgres", 20):
        say("started the local PostgreSQL cluster")
        return
    if not can_apt():
        fail(
            "PostgreSQL is not reachable on localhost:5432. Install and start it "
            "(Debian: `sudo apt-get install postgresql`), or set DATABASE_URL=postgres://user:pass@host:5432/pulse."
        )
    apt_install("postgresql")
    cluster = start_local_postgres()
    if cluster:
        trust_localhost(*cluster)
    if not wait_for(pg_reachable, "postgres", 30):
        fail("PostgreSQL was installed but does not accept connections on localhost:5432; see /var/log/postgresql/.")
    say("PostgreSQL installed and running")


def ensure_database():
    url, info = pg_admin_conninfo()
    dbname = (url.path or "/pulse").lstrip("/") or "pulse"
    with psycopg.connect(**info, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [dbname]).fetchone()
        if not exists:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(dbname)))
            say(f"created database {dbname}")


# --- Redis ------------------------------------------------------------------

def redis_urls():
    """Each distinct Redis URL configured, with the settings that name it."""
    urls = {}
    for name in REDIS_ROLES:
        urls.setdefault(os.environ.get(name) or REDIS_URL, []).append(name)
    return urls


def redis_reachable(url):
    try:
        return redis.Redis.from_url(url, socket_connect_timeout=2, retry=None).ping()
    except redis.RedisError:
        return False


def start_local_redis(url):
    subprocess.run(
        ["redis-server", "--daemonize", "yes", "--bind", "127.0.0.1", "-::1", "--port", str(urlparse(url).port or 6379),
         "--save", "", "--appendonly", "no"],
        check=False,
    )


def ensure_redis(url, names):
    parsed = urlparse(url)
    where = f"{parsed.hostname}:{parsed.port or 6379}"
    if redis_reachable(url):
        return
    if (parsed.hostname or "") not in LOCAL_HOSTS:
        fail(f"Redis at {where} ({', '.join(names)}) is not reachable. Start it, or set {names[0]}.")
    if shutil.which("redis-server"):
        start_local_redis(url)
        if wait_for(lambda: redis_reachable(url), "redis", 10):
            say(f"started a local Redis server on {where}")
            return
    if not can_apt():
        fail(f"Redis is not reachable on {where} ({', '.join(names)}). Install and start it "
             f"(Debian: `sudo apt-get install redis-server`), or set {names[0]}.")
    apt_install("redis-server")
    start_local_redis(url)
    if not wait_for(lambda: redis_reachable(url), "redis", 15):
        fail(f"Redis was installed but does not answer on {where}.")
    say("Redis installed and running")


if __name__ == "__main__":
    ensure_postgres()
    ensure_database()
    for url, names in redis_urls().items():
        ensure_redis(url, names)
    say("PostgreSQL and Redis are reachable")
