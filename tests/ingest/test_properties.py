"""Property-based bad input against POST /api/v1/ingest: never a 5xx, every 4xx explains
itself, and nothing of a refused payload is queued or stored."""

import copy
import gzip
import json
import math

import pytest
import redis
from django.conf import settings
from hypothesis import HealthCheck, given, settings as hsettings, strategies as st

from tests.ingest import payloads as P
from tests.ingest.conftest import drain

BASE = P.simple(n=4)
BASE["traces"] = [P.trace("shop.views.checkout", BASE["sent_at"] - 5, 0.3)]
BASE["errors"] = [P.error("ValueError", "bad 1", BASE["sent_at"] - 2)]
BASE["instance"] = P.instance(BASE["sent_at"] - 1)

nasty_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from([-1, -0.0, 1e308, 86401, 2**63, 10**30, 0]),
    st.text(max_size=40),
    st.sampled_from(["x" * 5000, "\u0000", "\ud7ff\ue000", "' OR 1=1 --", "<script>"]),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=3),
)


def paths(obj, prefix=()):
    """Every (path) of a container position in the JSON value."""
    out = []
    if isinstance(obj, dict):
        for k, v in obj.items():
            out.append(prefix + (k,))
            out += paths(v, prefix + (k,))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            out.append(prefix + (i,))
            out += paths(v, prefix + (i,))
    return out


ALL_PATHS = paths(BASE)


def set_path(obj, path, value):
    for p in path[:-1]:
        obj = obj[p]
    obj[path[-1]] = value


def encode(obj):
    # json.dumps writes NaN/Infinity, which the server must refuse like any bad JSON.
    return json.dumps(obj, allow_nan=True).encode()


def check(response, stored_before):
    assert response.status_code < 500, response.content
    body = response.json()
    if response.status_code == 202:
        return True
    err = body["error"]
    assert err["code"] and err["message"]
    if response.status_code == 400:
        assert err["field"]
    r = redis.Redis.from_url(settings.REDIS_URL)
    assert r.xlen(settings.INGEST_STREAM) == stored_before
    return False


@pytest.fixture
def poster(client, ingest_key):
    def post(raw, encoding="gzip"):
        r = redis.Redis.from_url(settings.REDIS_URL)
        before = r.xlen(settings.INGEST_STREAM)
        kw = {"HTTP_AUTHORIZATION": f"Bearer {ingest_key}"}
        if encoding:
            kw["HTTP_CONTENT_ENCODING"] = encoding
        resp = client.post("/api/v1/ingest", raw, content_type="application/json", **kw)
        return resp, before

    return post


_hs = hsettings(max_examples=120, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)


@pytest.mark.django_db
@_hs
@given(data=st.data())
def test_it_never_fails_on_mutated_payloads(poster, consumer, data):
    p = copy.deepcopy(BASE)
    for _ in range(data.draw(st.integers(1, 3))):
        path = data.draw(st.sampled_from(ALL_PATHS))
        try:
            set_path(p, path, data.draw(nasty_scalars))
        except (KeyError, IndexError, TypeError):
            pass
    resp, before = poster(gzip.compress(encode(p)))
    if check(resp, before):
        # Accepted means it will be counted: the worker must apply it, not dead-letter it.
        assert drain(consumer) == 1
        r = redis.Redis.from_url(settings.REDIS_URL)
        assert r.xlen(f"{settings.INGEST_STREAM}:dead") == 0


@pytest.mark.django_db
@_hs
@given(value=st.floats(allow_nan=True, allow_infinity=True), field=st.sampled_from(
    ["sum", "min", "max", "minute", "count"]))
def test_it_refuses_nan_infinite_and_out_of_range_numbers(poster, value, field):
    p = copy.deepcopy(BASE)
    p["metrics"][0][field] = value
    resp, before = poster(gzip.compress(encode(p)))
    if math.isnan(value) or math.isinf(value) or value < 0:
        assert resp.status_code == 400
    check(resp, before)


@pytest.mark.django_db
@_hs
@given(raw=st.binary(max_size=2000), encoding=st.sampled_from(["gzip", "identity", None]))
def test_it_never_fails_on_random_bytes(poster, raw, encoding):
    resp, before = poster(raw, encoding)
    assert not check(resp, before)


@pytest.mark.django_db
@_hs
@given(raw=st.binary(max_size=300), cut=st.integers(0, 200))
def test_it_never_fails_on_corrupted_gzip(poster, raw, cut):
    good = bytearray(gzip.compress(encode(BASE)))
    pos = cut % len(good)
    good[pos : pos + len(raw)] = raw
    resp, before = poster(bytes(good))
    check(resp, before)


@pytest.mark.django_db
@_hs
@given(value=st.recursive(
    nasty_scalars, lambda kids: st.lists(kids, max_size=4) | st.dictionaries(st.text(max_size=8), kids, max_size=4),
    max_leaves=20))
def test_it_never_fails_on_arbitrary_json(poster, value):
    resp, before = poster(gzip.compress(encode(value)))
    assert not check(resp, before)
