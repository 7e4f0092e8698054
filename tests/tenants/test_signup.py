import pytest
from django.urls import reverse

from tenants.models import Membership, Organization, User
from tenants.roles import Role
from tests.conftest import PASSWORD


def _signup(client, email="new@example.com", password=PASSWORD, organization="Globex"):
    return client.post(reverse("signup"), {"email": email, "password": password, "organization": organization})


def test_it_shows_the_landing_page_to_anonymous_visitors(client, db):
    response = client.get("/")
    assert response.status_code == 200
    assert reverse("signup") in response.content.decode()


def test_it_signs_up_an_owner_of_a_new_org(client, db):
    response = _signup(client, email="New@Example.com")
    org = Organization.objects.get(name="Globex")
    assert response.status_code == 302
    assert response["Location"] == reverse("org_home", args=[org.slug])
    user = User.objects.get(email="new@example.com")
    assert Membership.objects.for_org(org).get(user=user).role == Role.OWNER
    page = client.get(response["Location"])
    assert "Add your first app" in page.content.decode()


def test_it_gives_each_org_a_unique_slug(client, db):
    _signup(client, email="a@example.com")
    client.post(reverse("logout"))
    _signup(client, email="b@example.com")
    slugs = sorted(Organization.objects.values_list("slug", flat=True))
    assert len(slugs) == 2 and len(set(slugs)) == 2
    assert slugs[0] == "globex" and slugs[1].startswith("globex-")


def test_it_refuses_a_duplicate_email_in_another_case(client, owner):
    response = _signup(client, email="ALICE@example.com")
    assert response.status_code == 200
    assert "already exists" in response.content.decode()
    assert User.objects.filter(email__iexact="alice@example.com").count() == 1


@pytest.mark.parametrize("password", ["short", "password123", "1234567890123", "new@example.com"])
def test_it_refuses_weak_passwords(client, db, password):
    response = _signup(client, password=password)
    assert response.status_code == 200
    assert not User.objects.exists()
    assert not Organization.objects.exists()
    assert 'class="field has-error"' in response.content.decode()


def test_it_requires_an_org_name_and_valid_email(client, db):
    response = _signup(client, email="not-an-email", organization="")
    body = response.content.decode()
    assert "Enter a valid email address." in body
    assert "This field is required." in body
    assert not User.objects.exists()


def test_it_escapes_the_org_name(client, db):
    response = _signup(client, organization="<script>alert(1)</script>")
    page = client.get(response["Location"]).content.decode()
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_it_sends_signed_in_users_home_to_their_org(owner_client, org):
    response = owner_client.get("/")
    assert response["Location"] == reverse("org_home", args=["acme"])


def test_it_enforces_csrf_on_signup(db):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    response = _signup(client)
    assert response.status_code == 403
    assert not User.objects.exists()
