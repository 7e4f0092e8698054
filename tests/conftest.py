"""Shared fixtures: the personas every tenancy test uses.

``org`` has an owner, an admin, a member and a viewer; ``outsider`` owns another
organisation and must get nothing of ``org``'s.
"""

import pytest
from django.test import Client

from tenants.models import App, Membership, Organization, User
from tenants.roles import Role

PASSWORD = "correct horse battery staple"


def make_user(email):
    return User.objects.create_user(email=email, password=PASSWORD)


def make_org(name, slug, owner):
    org = Organization.objects.create(name=name, slug=slug)
    Membership.objects.for_org(org).create(organization=org, user=owner, role=Role.OWNER)
    return org


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup):
    """pytest-django's test database, plus: the live publisher thread stops before it is dropped.

    A batch ingested by the last tests would otherwise be flushed after the drop, and the
    thread would log that the test database does not exist.
    """
    yield
    from apm import live

    live.shutdown(timeout=10)


@pytest.fixture
def owner(db):
    return make_user("alice@example.com")


@pytest.fixture
def org(owner):
    return make_org("Acme", "acme", owner)


def _member(org, email, role):
    user = make_user(email)
    Membership.objects.for_org(org).create(organization=org, user=user, role=role)
    return user


@pytest.fixture
def admin(org):
    return _member(org, "adam@example.com", Role.ADMIN)


@pytest.fixture
def member(org):
    return _member(org, "bob@example.com", Role.MEMBER)


@pytest.fixture
def viewer(org):
    return _member(org, "vera@example.com", Role.VIEWER)


@pytest.fixture
def outsider(db):
    user = make_user("charlie@example.com")
    make_org("Other Co", "other-co", user)
    return user


@pytest.fixture
def outsider_org(outsider):
    return Organization.objects.get(slug="other-co")


@pytest.fixture
def app(org):
    return App.objects.for_org(org).create(organization=org, name="Shop (prod)")


def client_for(user):
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def owner_client(owner):
    return client_for(owner)


@pytest.fixture
def admin_client(admin):
    return client_for(admin)


@pytest.fixture
def member_client(member):
    return client_for(member)


@pytest.fixture
def viewer_client(viewer):
    return client_for(viewer)


@pytest.fixture
def outsider_client(outsider):
    return client_for(outsider)
