"""Shop pages with the usual mix of time: Python, database queries, a template, an outgoing call.

The traffic generator (deploy/demo/traffic.py) asks for trouble with query parameters:
``slow=1`` makes a request take seconds, ``fail=1`` makes it raise.
"""

import random
import time
import urllib.request

from django.conf import settings
from django.db import connection
from django.http import Http404
from django.shortcuts import render

_ready = False


def _db():
    """A cursor on the shop's one table, created and filled on first use (no migrations for a demo)."""
    global _ready
    if not _ready:
        with connection.cursor() as cur:
            cur.execute("CREATE TABLE IF NOT EXISTS item (id INTEGER PRIMARY KEY, name TEXT, price REAL)")
            cur.executemany(
                "INSERT OR IGNORE INTO item (id, name, price) VALUES (%s, %s, %s)",
                [(i, f"Item {i}", round(random.uniform(2, 200), 2)) for i in range(1, 201)],
            )
        _ready = True
    return connection.cursor()


def _heavy_query(cur, rows):
    # A query that makes the database work for a while (tens of milliseconds), like a report would.
    cur.execute(
        "WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < %s) SELECT sum(x) FROM n", [rows]
    )
    cur.fetchone()


def _trouble(request):
    if request.GET.get("fail"):
        raise RuntimeError("payment provider refused the card (demo error)")
    if request.GET.get("slow"):
        time.sleep(random.uniform(1.2, 3.0))


def home(request):
    with _db() as cur:
        cur.execute("SELECT id, name, price FROM item ORDER BY price DESC LIMIT 12")
        items = cur.fetchall()
    time.sleep(random.uniform(0.005, 0.02))
    return render(request, "demoshop/home.html", {"items": items})


def item(request, item_id):
    _trouble(request)
    with _db() as cur:
        cur.execute("SELECT id, name, price FROM item WHERE id = %s", [item_id])
        row = cur.fetchone()
        cur.execute("SELECT id, name FROM item WHERE id > %s ORDER BY id LIMIT 4", [item_id])
        related = cur.fetchall()
        _heavy_query(cur, random.randint(20_000, 80_000))  # "recommendations"
    if row is None:
        raise Http404("no such item")
    time.sleep(random.uniform(0.005, 0.02))
    return render(request, "demoshop/item.html", {"item": row, "related": related})


def search(request):
    _trouble(request)
    with _db() as cur:
        cur.execute("SELECT id, name, price FROM item WHERE name LIKE %s LIMIT 20", [f"%{request.GET.get('q', '')}%"])
        items = cur.fetchall()
    try:
        # A call to another service: shows up as "external" time.
        urllib.request.urlopen(settings.DEMO_UPSTREAM, timeout=2).read()
    except OSError:
        pass
    return render(request, "demoshop/home.html", {"items": items})


def checkout(request):
    _trouble(request)
    with _db() as cur:
        for _ in range(random.randint(3, 8)):
            cur.execute("SELECT price FROM item WHERE id = %s", [random.randint(1, 200)])
            cur.fetchone()
        _heavy_query(cur, random.randint(50_000, 150_000))  # "stock check"
    time.sleep(random.uniform(0.05, 0.15))  # "talking to the payment provider"
    return render(request, "demoshop/home.html", {"items": []})
