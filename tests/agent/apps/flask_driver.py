"""Flask sample app under the agent, driven through its real WSGI entry point
(Werkzeug's test client calls ``app(environ, start_response)``)."""

import json
import os
import sqlite3
import sys
import tempfile
import time

import flask
import psycopg
import psycopg2
import redis
import requests
import urllib3

app = flask.Flask(__name__, template_folder=os.path.join(os.path.dirname(__file__), "templates"))
DB = os.path.join(tempfile.mkdtemp(), "flask.sqlite3")
PG = "host=127.0.0.1 user=postgres dbname=postgres"
ORIGINAL = LookupError("the original")


def setup_db():
    con = sqlite3.connect(DB)
    con.execute("CREATE TABLE IF NOT EXISTS item (id INTEGER PRIMARY KEY, name TEXT, price INTEGER)")
    con.execute("DELETE FROM item")
    con.executemany("INSERT INTO item (name, price) VALUES (?, ?)", [("a", 10), ("b", 20), ("c", 30)])
    con.commit()
    con.close()


@app.route("/")
def index():
    return "ok"


@app.route("/items/<int:item_id>")
def item(item_id):
    con = sqlite3.connect(DB)
    cur = con.cursor()
    # comments where frameworks and sqlcommenter put routes and users
    cur.execute("/* user='alice@example.com' */ SELECT name FROM item WHERE id = ?", (item_id,))
    name = cur.fetchone()[0]
    prices = [r[0] for r in con.execute(
        "SELECT price FROM item WHERE price > 15 ORDER BY price "
        "/*route='%2Fitems%2F%3Cint%3Aitem_id%3E',user_id=4711*/ -- alice@example.com"
    )]
    con.close()
    return flask.render_template("item.html", name=name, prices=prices)


@app.route("/pg")
def pg():
    with psycopg.connect(PG) as conn:
        conn.execute("SELECT %s::int + 1", (41,)).fetchone()
        with conn.cursor() as cur:
            cur.execute("SELECT 'secret-literal' AS x WHERE 1 = %s", (1,))
            cur.fetchall()
    conn2 = psycopg2.connect(PG)
    try:
        cur = conn2.cursor()
        cur.execute("SELECT count(*) FROM pg_class WHERE relname = %s", ("pg_type",))
        cur.fetchone()
    finally:
        conn2.close()
    return "pg"


@app.route("/redis")
def redis_view():
    r = redis.Redis(host="127.0.0.1", port=6379, db=15)
    r.set("pulse-agent-test", "v")
    r.get("pulse-agent-test")
    with r.pipeline() as p:
        p.incr("pulse-agent-counter").expire("pulse-agent-counter", 60)
        p.execute()
    r.close()
    return "redis"


@app.route("/call")
def call():
    base = os.environ["DOWNSTREAM"]
    requests.get(base + "/downstream?q=secret")
    http = urllib3.PoolManager()
    http.request("GET", base + "/downstream?via=urllib3")
    return "called"


@app.route("/boom")
def boom():
    raise KeyError("missing thing")


@app.route("/original")
def original():
    raise ORIGINAL


def main():
    setup_db()
    scenario = sys.argv[1] if len(sys.argv) > 1 else "basic"
    out = {}
    client = app.test_client()
    if scenario == "basic":
        out["index"] = [client.get("/").status_code for _ in range(4)][-1]
        out["item"] = client.get("/items/2").status_code
        out["item_body"] = client.get("/items/1").get_data(as_text=True)
        out["pg"] = client.get("/pg").status_code
        out["redis"] = client.get("/redis").status_code
        out["call"] = client.get("/call", headers={"traceparent": "00-" + "ab" * 16 + "-" + "cd" * 8 + "-01"}).status_code
        out["boom"] = client.get("/boom").status_code
        out["404"] = client.get("/does-not-exist/42").status_code
    elif scenario == "propagate":
        app.config["PROPAGATE_EXCEPTIONS"] = True
        try:
            client.get("/original")
        except LookupError as exc:
            out["same_object"] = exc is ORIGINAL
            tb = exc.__traceback__
            while tb.tb_next is not None:
                tb = tb.tb_next
            out["raised_in"] = tb.tb_frame.f_code.co_name
            out["message"] = str(exc)
    elif scenario == "hook_faults":
        # Break the agent's own machinery on purpose: the app must not notice.
        from pulse_agent import aggregator, transaction

        def broken(*a, **k):
            raise RuntimeError("agent bug (injected)")

        transaction.Transaction.leave = broken
        transaction.Transaction.enter = broken
        transaction.Transaction.add_function_span = broken
        aggregator.Harvest.fold = broken  # harvest thread
        statuses = []
        for i in range(3):
            if i == 2:
                time.sleep(0.5)  # let the harvest thread try (and fail) to fold first
                transaction.hand_off = broken  # end of every request
            statuses.append(client.get("/items/1").status_code)
            statuses.append(client.get("/call").status_code)
            statuses.append(client.get("/boom").status_code)
            statuses.append(client.get("/pg").status_code)
        out["statuses"] = statuses
        app.config["PROPAGATE_EXCEPTIONS"] = True
        try:
            client.get("/original")
        except LookupError as exc:
            out["same_object"] = exc is ORIGINAL
    print(json.dumps(out))


if __name__ == "__main__":
    main()
