"""FastAPI (on Starlette) under the agent, driven through its real ASGI entry point,
with psycopg 3 async, redis.asyncio, Jinja2 async rendering and httpx (async and sync);
HTTP_CLIENT=httpx2 makes every call with httpx2 instead (httpx is then never imported)."""

import asyncio
import importlib
import json
import os
import sys

import jinja2
import psycopg
import redis.asyncio as aioredis
from fastapi import FastAPI

httpx = importlib.import_module(os.environ.get("HTTP_CLIENT", "httpx"))
app = FastAPI()
PG = "host=127.0.0.1 user=postgres dbname=postgres"
env = jinja2.Environment(loader=jinja2.DictLoader({"hello.txt": "hello {{ name }}"}), enable_async=True)


@app.get("/")
async def index():
    return {"ok": True}


@app.get("/items/{item_id}")
async def read_item(item_id: int):
    async with await psycopg.AsyncConnection.connect(PG) as conn:
        cur = await conn.execute("SELECT %s::int * 2, 'hidden'", (item_id,))
        doubled, _ = await cur.fetchone()
    r = aioredis.Redis(host="127.0.0.1", port=6379, db=15)
    await r.set("pulse-agent-async", "1")
    await r.get("pulse-agent-async")
    await r.aclose()
    text = await env.get_template("hello.txt").render_async(name=item_id)
    return {"doubled": doubled, "text": text}


@app.get("/call")
async def call():
    base = os.environ["DOWNSTREAM"]
    async with httpx.AsyncClient() as client:
        await asyncio.gather(client.get(base + "/downstream?a=1"), client.get(base + "/downstream?b=2"))
    return {"called": 2}


@app.get("/sync-call")
def sync_call():  # runs in a worker thread: the context must follow
    with httpx.Client() as client:
        client.get(os.environ["DOWNSTREAM"] + "/downstream?sync=1")
    return {"called": 1}


@app.get("/boom")
async def boom():
    raise RuntimeError("async boom")


async def main():
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    out = {}
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        for _ in range(3):
            out["index"] = (await client.get("/")).status_code
        resp = await client.get("/items/21", headers={"traceparent": "00-" + "12" * 16 + "-" + "34" * 8 + "-01"})
        out["items"] = resp.json()
        out["call"] = (await client.get("/call")).status_code
        out["sync_call"] = (await client.get("/sync-call")).status_code
        out["boom"] = (await client.get("/boom")).status_code
        out["missing"] = (await client.get("/nope")).status_code
    from pulse_agent.instrumentation import applied

    out["client"] = httpx.__name__
    out["clients"] = sorted(name for name in ("httpx", "httpx2") if name in sys.modules and name in applied)
    print(json.dumps(out))


if __name__ == "__main__":
    asyncio.run(main())
