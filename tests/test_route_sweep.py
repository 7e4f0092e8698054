"""A sweep over every URL pattern under an organisation: found from the resolver, so new
routes are covered without editing this file — except PARAMS below.

For each route taking ``org_slug``:
- an outsider (member of another organisation) gets 404 whatever the method: the
  membership is checked before the method, so not even a 405 tells them the route exists;
- the owner of the organisation in the URL, asking for another organisation's objects in
  the path, gets exactly what ids that exist nowhere get (ids are looked up through the
  organisation), and a 404 for at least one method the route takes;
- an anonymous GET is sent to log in (JSON routes under /api/ may answer 401/403 instead),
  and an anonymous POST changes nothing;
- a viewer can read (no 403/404/5xx on GET) but not write (POST gets 403, or 405 where the
  route has no POST at all) — except on SELF_SERVICE routes, which concern only the viewer,
  and routes whose ``@org_view`` reads at a higher role (a viewer's GET gets 403).

A route with a path parameter this file doesn't know fails with a message: add a factory
for it to PARAMS.
"""

import re
import uuid
from functools import cached_property

import pytest
from django.conf import settings
from django.urls import URLPattern, URLResolver, get_resolver, resolve, reverse

from tenants import actions
from tenants.models import App, Membership, SsoDomain, User
from tenants.roles import Role
from tests.alerts import factories as alert_factories
from tests.frontend import factories as apm_factories

_PARAM_RE = re.compile(r"<(?:(?P<converter>[^>:]+):)?(?P<name>[^>]+)>")


class OrgObjects:
    """Objects of one organisation, created on first use, for filling path parameters."""

    def __init__(self, org, user):
        self.org = org
        self.user = user

    @cached_property
    def app(self):
        return App.objects.for_org(self.org).create(organization=self.org, name=f"Sweep {self.org.slug}")

    @cached_property
    def ingest_key(self):
        return actions.create_ingest_key(self.org, "sweep", self.user).key

    @cached_property
    def api_token(self):
        return actions.create_api_token(self.org, "sweep", "read", self.user).token

    @cached_property
    def other_membership(self):
        user = User.objects.create_user(email=f"sweep-member@{self.org.slug}.example.com", password=None)
        return Membership.objects.for_org(self.org).create(organization=self.org, user=user, role=Role.MEMBER)

    @cached_property
    def sso_domain(self):
        return SsoDomain.objects.for_org(self.org).create(
            organization=self.org, domain=f"{self.org.slug}.example.com", issuer="https://id.example.com", role=Role.MEMBER
        )

    @cached_property
    def invitation(self):
        owner = Membership.objects.for_org(self.org).get(user=self.user)
        return actions.invite(owner, f"sweep-invitee@{self.org.slug}.example.com", Role.MEMBER).invitation


# Path parameter name -> the value to put in the URL, given an OrgObjects.
# New route with a new parameter? Add it here (and a cached_property above if it needs an object).
PARAMS = {
    "app_id": lambda o: o.app.id,
    "key_id": lambda o: o.ingest_key.id,
    "token_id": lambda o: o.api_token.id,
    "membership_id": lambda o: o.other_membership.id,
    "invitation_id": lambda o: o.invitation.id,
    "domain_id": lambda o: o.sso_domain.id,
    # alerts/urls.py
    "condition_id": lambda o: alert_factories.condition(o.org, o.app).id,
    "channel_id": lambda o: alert_factories.channel(o.org).id,
    "incident_id": lambda o: alert_factories.incident(o.org, o.app).id,
    "slo_id": lambda o: alert_factories.slo(o.org, o.app).id,
    "mute_id": lambda o: alert_factories.mute(o.org, o.app).id,
    # frontend/urls.py and apm/api_urls.py
    "txn_id": lambda o: apm_factories.transaction(o.org, o.app).id,
    "trace_id": lambda o: apm_factories.trace_id(o.org, o.app),
    "group_id": lambda o: apm_factories.error_group(o.org, o.app).id,
}


# Routes any member may POST to, viewers included, because they act on the member alone.
SELF_SERVICE = {"o/<slug:org_slug>/settings/organization/leave/"}

METHODS = ("get", "head", "post", "put", "patch", "delete", "options", "trace")


def _missing_value(converter):
    """A value for a path parameter that names no object at all."""
    if converter == "uuid":
        return str(uuid.uuid4())
    if converter == "int":
        return "2147483000"
    return "f" * 32  # str parameters hold hex ids (trace ids) or UUIDs


def _walk(patterns, prefix=""):
    for entry in patterns:
        if isinstance(entry, URLResolver):
            yield from _walk(entry.url_patterns, prefix + str(entry.pattern))
        elif isinstance(entry, URLPattern):
            yield prefix + str(entry.pattern), entry


def org_routes():
    seen = set()
    for route, entry in _walk(get_resolver().url_patterns):
        if "org_slug" in route and route not in seen:
            seen.add(route)
            yield route


ROUTES = sorted(org_routes())


def build_url(route, org, objects):
    """The concrete URL for ``route``: org_slug from ``org``, other parameters from ``objects``
    (``None``: values that name no object)."""
    if route.startswith("^") or "(?P<" in route:
        pytest.fail(f"{route!r} is a regular-expression route; use path() converters so the sweep can fill it")

    def fill(match):
        name = match.group("name")
        if name == "org_slug":
            return org.slug
        if objects is None:
            return _missing_value(match.group("converter"))
        if name not in PARAMS:
            pytest.fail(
                f"Route {route!r} takes a path parameter {name!r} the route sweep doesn't know. "
                f"Add a factory for {name!r} to PARAMS in tests/test_route_sweep.py."
            )
        return str(PARAMS[name](objects))

    url = "/" + _PARAM_RE.sub(fill, route)
    resolve(url)  # the filled URL must reach the route it came from
    return url


def _has_object_params(route):
    return any(m.group("name") != "org_slug" for m in _PARAM_RE.finditer(route))


def _is_api(route):
    return "/api/" in "/" + route


@pytest.fixture(autouse=True)
def fast_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def test_the_sweep_finds_the_organisation_routes():
    assert "o/<slug:org_slug>/settings/keys/" in ROUTES
    assert "o/<slug:org_slug>/settings/apps/<uuid:app_id>/" in ROUTES


def test_it_fails_a_route_with_a_parameter_it_does_not_know(org, owner):
    with pytest.raises(pytest.fail.Exception, match="Add a factory for 'widget_id' to PARAMS"):
        build_url("o/<slug:org_slug>/widgets/<uuid:widget_id>/", org, OrgObjects(org, owner))


@pytest.mark.parametrize("route", ROUTES)
def test_it_answers_404_to_outsiders_whatever_the_method(route, org, owner, outsider_client):
    url = build_url(route, org, OrgObjects(org, owner))
    for method in METHODS:
        status = getattr(outsider_client, method)(url).status_code
        assert status == 404, f"{method.upper()} {url}: {status}"


@pytest.mark.parametrize("route", [r for r in ROUTES if _has_object_params(r)])
def test_another_orgs_objects_are_answered_like_missing_ones(route, org, owner_client, outsider, outsider_org):
    # The owner of ``org`` asks, under ``org``'s slug, for objects of ``outsider_org``.
    foreign = build_url(route, org, OrgObjects(outsider_org, outsider))
    missing = build_url(route, org, None)
    answers = {}
    for method in ("get", "post", "put", "delete"):
        status = getattr(owner_client, method)(foreign).status_code
        assert status == getattr(owner_client, method)(missing).status_code, f"{method.upper()} {foreign}: {status}"
        answers[method] = status
    # A method the route takes reaches the lookup; others may answer 405 before it, the same
    # 405 for any id, which says nothing about the object.
    assert 404 in answers.values(), f"{foreign}: {answers}"
    assert set(answers.values()) <= {404, 405}, f"{foreign}: {answers}"


@pytest.mark.parametrize("route", ROUTES)
def test_it_sends_anonymous_visitors_to_log_in(route, org, owner, client):
    url = build_url(route, org, OrgObjects(org, owner))
    login = reverse(settings.LOGIN_URL)
    for method in (client.get, client.post):
        response = method(url)
        if _is_api(route) and response.status_code in (401, 403):
            continue
        assert response.status_code == 302, f"{method.__name__.upper()} {url}: {response.status_code}"
        assert response["Location"].startswith(login), f"{url} redirects to {response['Location']}"


@pytest.mark.parametrize("route", ROUTES)
def test_viewers_can_read_but_not_write(route, org, owner, viewer_client):
    url = build_url(route, org, OrgObjects(org, owner))
    read = viewer_client.get(url)
    if getattr(resolve(url).func, "org_view", {}).get("read_role", Role.VIEWER) != Role.VIEWER:
        assert read.status_code == 403, f"GET {url}: {read.status_code}"
    else:
        assert read.status_code not in (403, 404) and read.status_code < 500, f"GET {url}: {read.status_code}"
    write = viewer_client.post(url)
    if route in SELF_SERVICE:
        assert write.status_code == 302, f"POST {url}: {write.status_code}"
    else:
        assert write.status_code in (403, 405), f"POST {url}: {write.status_code}"
