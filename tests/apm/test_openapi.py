"""The OpenAPI document: valid, complete, and true to what the API answers."""

import re

import jsonschema
import pytest
from django.urls import URLPattern, get_resolver, reverse
from openapi_spec_validator import validate

from apm import api_docs
from apm.models import ErrorGroup, Transaction
from tenants.models import TokenScope
from tests.frontend.seed import seed_app
from tests.tokens import org_token, personal_token

_PARAM = re.compile(r"<(?:[^>:]+:)?([^>]+)>")


def documented_paths():
    return set(api_docs.document()["paths"])


def routed_api_paths():
    """Every route of the query API and of /api/v1/, written as the document writes paths."""
    out = set()
    for top in get_resolver().url_patterns:
        prefix = str(top.pattern)
        if not (prefix.startswith("api/v1/") or prefix.startswith("o/<slug:org_slug>/api/")):
            continue
        for pattern in getattr(top, "url_patterns", [top]):
            assert isinstance(pattern, URLPattern)
            route = prefix + (str(pattern.pattern) if pattern is not top else "")
            out.add("/" + _PARAM.sub(lambda m: "{%s}" % ("org" if m.group(1) == "org_slug" else m.group(1)), route))
    return out


def answer_schema(path, method, code):
    op = api_docs.document()["paths"][path][method]
    response = api_docs.resolve(op["responses"][str(code)])
    # The components beside the schema, so that its "#/components/..." references resolve.
    return {**response["content"]["application/json"]["schema"], "components": api_docs.document()["components"]}


def check(response, path, method="get", code=200):
    assert response.status_code == code, response.content
    jsonschema.validate(response.json(), answer_schema(path, method, code))


def test_it_is_a_valid_openapi_31_document():
    validate(api_docs.document())
    assert api_docs.document()["openapi"] == "3.1.0"


def test_every_api_route_is_documented_and_nothing_else():
    assert routed_api_paths() == documented_paths()


@pytest.fixture
def seeded(org, app):
    return seed_app(org, app, minutes=30)


def test_the_query_apis_answers_match_the_document(client, owner_client, org, owner, app, seeded):
    base = f"/o/{org.slug}/api/apps/{app.id}"
    txn = Transaction.objects.for_org(org).get(app=app, name=seeded["transactions"][0])
    group = ErrorGroup.objects.for_org(org).get(app=app)
    check(owner_client.get(f"/o/{org.slug}/api/apps"), "/o/{org}/api/apps")
    # A token of either kind is answered like the session.
    for raw in (org_token(org, TokenScope.READ, owner), personal_token(owner, TokenScope.READ)):
        check(client.get(f"/o/{org.slug}/api/apps", HTTP_AUTHORIZATION=f"Bearer {raw}"), "/o/{org}/api/apps")
    revoked = client.get(f"/o/{org.slug}/api/apps", HTTP_AUTHORIZATION="Bearer pulse_pt_revoked")
    check(revoked, "/o/{org}/api/apps", code=401)
    calls = {
        "timeseries": "/timeseries?range=1h",
        "transactions": "/transactions?range=1h&sort=p95",
        "transactions/{txn_id}": f"/transactions/{txn.id}?range=1h",
        "errors": "/errors?range=1h",
        "errors/{group_id}": f"/errors/{group.id}?range=1h",
        "traces": "/traces?range=1h",
        "traces/{trace_id}": f"/traces/{seeded['trace_ids'][0]}",
        "events": "/events?range=1h",
        "instances": "/instances?range=1h",
        "deployments": "/deployments",
    }
    for documented, actual in calls.items():
        check(owner_client.get(base + actual), "/o/{org}/api/apps/{app_id}/" + documented)
    bad = owner_client.get(base + "/transactions?sort=nonsense")
    check(bad, "/o/{org}/api/apps/{app_id}/transactions", code=400)


def test_the_deployment_answers_match_the_document(client, org, owner, app, ingest_key):
    path = "/api/v1/deployments"
    ok = client.post(path, {"app": app.name, "version": "1"}, content_type="application/json",
                     HTTP_AUTHORIZATION=f"Bearer {ingest_key}")
    check(ok, path, "post", 201)
    by_token = client.post(path, {"app": app.name, "version": "2"}, content_type="application/json",
                           HTTP_AUTHORIZATION=f"Bearer {org_token(org, TokenScope.WRITE, owner)}")
    check(by_token, path, "post", 201)
    check(client.post(path, {"app": app.name, "version": "3"}, content_type="application/json",
                      HTTP_AUTHORIZATION=f"Bearer {org_token(org, TokenScope.READ, owner)}"), path, "post", 403)
    check(client.post(path, {"app": app.name}, content_type="application/json",
                      HTTP_AUTHORIZATION=f"Bearer {ingest_key}"), path, "post", 400)
    check(client.post(path, {}, content_type="application/json"), path, "post", 401)


def test_the_alerts_apis_answers_match_the_document(client, org, owner, app, settings):
    auth = {"HTTP_AUTHORIZATION": f"Bearer {org_token(org, TokenScope.WRITE, owner)}"}
    base = "/o/{org}/api/alerts/"

    def call(method, path, body=None):
        kwargs = {**auth, **({"data": body, "content_type": "application/json"} if body is not None else {})}
        return getattr(client, method)(base.replace("{org}", org.slug) + path, **kwargs)

    bodies = {
        "channels": {"name": "Ops", "kind": "email", "addresses": ["ops@example.com"]},
        "conditions": {"name": "Slow", "app": str(app.id), "metric": "p95", "critical_threshold": 800},
        "slos": {"name": "Errors", "app": str(app.id), "indicator": "errors", "objective": 99.5},
    }
    for plural, id_name in (("channels", "channel_id"), ("conditions", "condition_id"), ("slos", "slo_id")):
        created = call("post", plural, bodies[plural])
        check(created, base + plural, "post", 201)
        item = f"{base}{plural}/{{{id_name}}}"
        check(call("get", plural), base + plural)
        check(call("get", f"{plural}/{created.json()['id']}"), item)
        check(call("patch", f"{plural}/{created.json()['id']}", {"name": "Renamed"}), item, "patch")
        check(call("put", f"{plural}/{created.json()['id']}", {"name": ""}), item, "put", 400)
        check(call("post", plural, {"nonsense": 1}), base + plural, "post", 400)
    settings.SLOS_PER_ORG_LIMIT = 1
    check(call("post", "slos", bodies["slos"]), base + "slos", "post", 409)
    check(client.get(f"/o/{org.slug}/api/alerts/slos", HTTP_AUTHORIZATION="Bearer pulse_at_nope"),
          base + "slos", "get", 401)
    read_only = {"HTTP_AUTHORIZATION": f"Bearer {org_token(org, TokenScope.READ, owner)}"}
    check(client.post(f"/o/{org.slug}/api/alerts/slos", bodies["slos"], content_type="application/json", **read_only),
          base + "slos", "post", 403)


def test_it_is_served_and_readable_without_signing_in(client, db):
    served = client.get(reverse("openapi"))
    assert served.status_code == 200 and served.json() == api_docs.document()
    page = client.get(reverse("api_reference"))
    assert page.status_code == 200
    html = page.content.decode()
    for op in api_docs.operations():
        assert f'id="{op["operationId"]}"' in html
    assert "<code>/o/{org}/api/apps/{app_id}/timeseries</code>" in html
