"""Any query string on any query endpoint: a 200, or a 400 naming the parameter, never a 5xx."""

import pytest
from hypothesis import HealthCheck, given, settings as hsettings, strategies as st

ENDPOINTS = ["timeseries", "transactions", "errors", "traces", "events", "instances"]
PARAMS = ["range", "from", "to", "type", "transaction", "sort", "limit", "q", "minutes"]

values = st.one_of(
    st.text(max_size=12),
    st.integers(min_value=-(10**12), max_value=10**14).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(str),
    st.sampled_from(["1h", "0m", "9999d", "30m", "web", "background", "p95", "", "1e309", "nan", "-1"]),
)


@pytest.mark.django_db
@hsettings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
@given(endpoint=st.sampled_from(ENDPOINTS), params=st.dictionaries(st.sampled_from(PARAMS), values, max_size=4))
def test_it_never_fails_on_odd_parameters(owner_client, org, app, endpoint, params):
    r = owner_client.get(f"/o/{org.slug}/api/apps/{app.pk}/{endpoint}", params)
    assert r.status_code in (200, 400, 404), (r.status_code, params, r.content[:300])
    if r.status_code == 400:
        err = r.json()["error"]
        assert err["field"] in PARAMS and err["message"]
