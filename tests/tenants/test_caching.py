"""The bounded per-process TTL cache behind ingest's key and app caches (tenants.caching)."""

import threading

from tenants.caching import TTLCache


class Clock:
    """A hand-moved monotonic clock."""

    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def test_an_entry_expires_its_ttl_after_it_was_stored():
    clock = Clock()
    cache = TTLCache(10, 5.0, timer=clock)
    cache.set("k", None)  # a cached "no" is an answer too
    marker = object()
    clock.now += 4.9
    assert cache.get("k", marker) is None
    clock.now += 0.1
    assert cache.get("k", marker) is marker


def test_the_ttl_is_read_when_an_entry_is_stored():
    clock, ttl = Clock(), [5.0]
    cache = TTLCache(10, lambda: ttl[0], timer=clock)
    cache.set("old", 1)
    ttl[0] = 1.0
    cache.set("new", 2)
    clock.now += 2
    assert (cache.get("old"), cache.get("new")) == (1, None)


def test_a_zero_ttl_keeps_nothing():
    cache = TTLCache(10, 0.0, timer=Clock())
    cache.set("k", 1)
    assert cache.get("k") is None and len(cache) == 0


def test_a_full_cache_drops_its_least_recently_used_entries_not_all():
    clock = Clock()
    cache = TTLCache(3, 60.0, timer=clock)
    for key in "abc":
        cache.set(key, key.upper())
    assert cache.get("a") == "A"  # "b" is now the least recently used
    cache.set("d", "D")
    assert len(cache) == 3
    assert [cache.get(k) for k in "abcd"] == ["A", None, "C", "D"]


def test_clear_forgets_everything():
    cache = TTLCache(3, 60.0, timer=Clock())
    cache.set("a", 1)
    cache.clear()
    assert cache.get("a") is None and len(cache) == 0


def test_threads_share_it_safely_within_its_bound():
    cache = TTLCache(100, 60.0)

    def work(offset):
        for i in range(2000):
            cache.set((offset, i), i)
            cache.get((offset, i - 1))

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(cache) == 100
