"""Runtime metrics of the instance sample, read from the real interpreter: garbage
collection, threads, event-loop lag and Django's database connections."""

import asyncio
import gc
import threading
import time

from pulse_agent.runtime import LoopLag, RuntimeSampler
from conftest import run_app
from test_django import postgres_database  # noqa: F401 (fixture)


class Cycle:
    def __init__(self):
        self.me = self


def test_a_collection_shows_in_the_counts_and_the_time():
    sampler = RuntimeSampler()
    try:
        sampler.sample(60.0)
        for _ in range(3):
            for _ in range(10_000):
                Cycle()
            gc.collect()
        s = sampler.sample(60.0)
        assert len(s["gc_collections"]) == len(gc.get_stats())
        assert s["gc_collections"][-1] >= 3  # full collections, oldest generation
        assert s["gc_time"] > 0
        again = sampler.sample(60.0)
        assert again["gc_collections"][-1] == 0  # counted since the previous sample only
    finally:
        sampler.close()
    assert sampler.gc._callback not in gc.callbacks


def test_a_sample_covers_its_period_only_after_idle_harvests():
    from pulse_agent import config
    from pulse_agent.agent import Agent

    agent = Agent(config.load(environ={"PULSE_APP_NAME": "idle"}))
    try:
        agent.last_sent = time.time()  # an idle harvest soon after a send builds nothing ...
        gc.collect()
        assert agent.build_payload() is None
        inst = agent.build_payload(force=True)["instance"]
        # ... and the collection before it is not put into the next, shorter period
        assert inst["gc_collections"][-1] == 0
        assert inst["gc_time"] <= inst["period"]
    finally:
        agent.runtime.close()


def test_a_thread_started_shows_in_the_count():
    sampler = RuntimeSampler()
    stop = threading.Event()
    try:
        before = sampler.sample(60.0)["threads"]
        t = threading.Thread(target=stop.wait)
        t.start()
        assert sampler.sample(60.0)["threads"] == before + 1
        stop.set()
        t.join()
        assert sampler.sample(60.0)["threads"] == before
    finally:
        stop.set()
        sampler.close()


def test_a_blocked_loop_shows_lag_and_an_idle_one_little():
    lag = LoopLag()

    async def main():
        lag.watch(asyncio.get_running_loop())
        await asyncio.sleep(0.6)
        idle = lag.take()
        time.sleep(0.5)  # blocks the loop: the probe due meanwhile runs late
        await asyncio.sleep(0.4)
        return idle, lag.take()

    assert lag.take() is None  # nothing watched yet
    idle, blocked = asyncio.run(main())
    assert 0.0 <= idle < 0.25
    assert blocked >= 0.25
    assert lag.take() is None  # the loop is closed


def test_the_first_asgi_request_starts_the_probe(sink):
    result, _ = run_app("runtime_driver.py", sink.url, "asgi")
    assert result["requests"] == 3
    assert sink.wait_for(lambda s: any((p.get("instance") or {}).get("loop_lag", 0) >= 0.25 for p in s.payloads))
    samples = [p["instance"] for p in sink.payloads if p.get("instance")]
    assert all(i["pid"] == result["pid"] for i in samples)
    assert max(i["threads"] for i in samples) >= result["threads_started"] + 3  # main, harvest, send
    assert sum(i["gc_collections"][-1] for i in samples) >= 3
    assert sum(i["gc_time"] for i in samples) > 0
    assert sink.problems == []


def test_django_connections_are_counted_per_alias(sink, tmp_path):
    result, _ = run_app("runtime_driver.py", sink.url, "django", DJSHOP_DB=str(tmp_path / "shop.sqlite3"))
    assert sink.wait_for(lambda s: any(p.get("instance", {}) and p["instance"].get("db_pools") for p in s.payloads))
    pools = [p["instance"]["db_pools"] for p in sink.payloads if p.get("instance") and p["instance"].get("db_pools")]
    # the driver holds ``open_threads`` threads with a query each on the default alias
    assert max(pl[0]["open"] for pl in pools if pl[0]["name"] == "django:default") == result["open_threads"]
    assert sink.problems == []



def test_a_django_psycopg_pool_reports_its_own_statistics(sink, postgres_database):  # noqa: F811
    result, _ = run_app("runtime_driver.py", sink.url, "django", DJSHOP_PG=postgres_database, DJSHOP_PG_POOL="1")
    assert sink.wait_for(lambda s: any(p.get("instance", {}) and p["instance"].get("db_pools") for p in s.payloads))
    pools = [pl[0] for p in sink.payloads if p.get("instance") and (pl := p["instance"].get("db_pools"))]
    assert {p["name"] for p in pools} == {"django:default"}
    busy = max(pools, key=lambda p: p["in_use"])
    assert busy["in_use"] == result["open_threads"] and busy["max"] == 4
    assert result["open_threads"] <= busy["open"] <= 4
    assert sink.problems == []
