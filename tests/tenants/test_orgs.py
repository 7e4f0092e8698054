from django.urls import reverse

from tenants.models import Membership, Organization
from tenants.roles import Role


def test_a_user_creates_another_org_and_owns_it(owner_client, owner, org):
    response = owner_client.post("/organizations/new/", {"name": "Side Project"})
    side = Organization.objects.get(name="Side Project")
    assert response["Location"] == f"/o/{side.slug}/"
    assert Membership.objects.for_org(side).get(user=owner).role == Role.OWNER


def test_the_org_name_is_required(owner_client, org):
    response = owner_client.post("/organizations/new/", {"name": "  "})
    assert "This field is required." in response.content.decode()


def test_the_switcher_lists_only_the_users_orgs(owner_client, owner, org, outsider_org):
    Organization.objects.create(name="Unrelated", slug="unrelated")
    owner_client.post("/organizations/new/", {"name": "Side Project"})
    page = owner_client.get("/o/acme/settings/apps/").content.decode()
    assert 'class="org-switcher"' in page
    assert "Side Project" in page and "Acme" in page
    assert "Other Co" not in page and "Unrelated" not in page


def test_home_returns_to_the_last_org_visited(owner_client, org):
    owner_client.post("/organizations/new/", {"name": "Side Project"})
    owner_client.get("/o/acme/settings/apps/")
    assert owner_client.get("/")["Location"] == "/o/acme/"
    side = Organization.objects.get(name="Side Project")
    owner_client.get(f"/o/{side.slug}/")
    assert owner_client.get("/")["Location"] == f"/o/{side.slug}/"


def test_a_user_without_orgs_is_asked_to_create_one(client, db):
    from tests.conftest import client_for, make_user

    lonely = client_for(make_user("lonely@example.com"))
    assert lonely.get("/")["Location"] == reverse("org_create")


def test_the_navigation_links_apps_alerts_and_settings(viewer_client, org):
    page = viewer_client.get("/o/acme/settings/members/").content.decode()
    for href in ('href="/o/acme/apps/"', 'href="/o/acme/alerts/"', 'href="/o/acme/settings/"'):
        assert href in page


def test_pages_connect_only_to_their_own_site(owner_client, org, settings):
    policy = owner_client.get("/o/acme/settings/keys/")["Content-Security-Policy"]
    [connect] = [d.strip() for d in policy.split(";") if d.strip().startswith("connect-src")]
    assert connect == "connect-src 'self' ws://testserver"
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    secure = owner_client.get("/o/acme/settings/keys/", HTTP_X_FORWARDED_PROTO="https", HTTP_HOST="testserver")
    policy = secure["Content-Security-Policy"]
    assert "connect-src 'self' wss://testserver;" in policy


def test_pages_load_no_inline_script(owner_client, org):
    response = owner_client.get("/o/acme/settings/keys/")
    assert "script-src 'self'" in response["Content-Security-Policy"]
    body = response.content.decode()
    assert "<script>" not in body and "onclick=" not in body and " style=" not in body
