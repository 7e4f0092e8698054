import pytest
from django.test import Client

from tenants import actions
from tenants.models import Membership, SsoDomain, SsoIdentity, User
from tenants.roles import Role


@pytest.fixture
def staff_client(db):
    user = User.objects.create_superuser(email="ops@example.com", password="x" * 12)
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def rows(org, owner, app, outsider_org):
    actor = Membership.objects.for_org(org).get(user=owner)
    return {
        "user": owner,
        "organization": outsider_org,
        "membership": actor,
        "invitation": actions.invite(actor, "dana@example.com", Role.MEMBER).invitation,
        "app": app,
        "ingestkey": actions.create_ingest_key(org, "k", owner).key,
        "ssoidentity": SsoIdentity.objects.create(user=owner, issuer="https://id.example.com", subject="s-1"),
        "ssodomain": SsoDomain.objects.for_org(outsider_org).create(
            organization=outsider_org, domain="other.example", issuer="https://id.example.com", role=Role.MEMBER
        ),
    }


@pytest.mark.parametrize(
    "model", ["user", "organization", "membership", "invitation", "app", "ingestkey", "ssoidentity", "ssodomain"]
)
def test_the_admin_lists_and_opens_rows_of_every_org(staff_client, rows, model):
    row = rows[model]
    listing = staff_client.get(f"/admin/tenants/{model}/")
    assert listing.status_code == 200
    assert f"/admin/tenants/{model}/{row.pk}/change/" in listing.content.decode()
    assert staff_client.get(f"/admin/tenants/{model}/{row.pk}/change/").status_code == 200


def test_customers_cannot_open_the_admin(owner_client):
    assert owner_client.get("/admin/tenants/app/").status_code == 302
