"""Rules that must hold when two requests race, checked with real concurrent transactions."""

import pytest

from tenants import actions
from tenants.models import App, Membership
from tenants.roles import Role
from tests.concurrency import run_together

pytestmark = pytest.mark.django_db(transaction=True)


def test_concurrent_creates_never_exceed_the_app_limit(org, settings):
    settings.APPS_PER_ORG_LIMIT = 1
    results = run_together(lambda: actions.create_app(org, "one"), lambda: actions.create_app(org, "two"))
    assert sum(isinstance(r, App) for r in results) == 1
    assert sum(isinstance(r, actions.ActionError) for r in results) == 1
    assert App.objects.for_org(org).count() == 1


def test_two_owners_demoting_each_other_leave_one_owner(org, owner, admin):
    Membership.objects.for_org(org).filter(user=admin).update(role=Role.OWNER)
    mine = Membership.objects.for_org(org).get(user=owner)
    theirs = Membership.objects.for_org(org).get(user=admin)
    run_together(
        lambda: actions.change_role(mine, mine.id, Role.ADMIN),
        lambda: actions.change_role(theirs, theirs.id, Role.ADMIN),
    )
    assert Membership.objects.for_org(org).filter(role=Role.OWNER).count() == 1


def test_an_invitation_accepted_twice_at_once_joins_once(org, owner):
    from tests.conftest import make_user

    dana = make_user("dana@example.com")  # e.g. two tabs, or a double click
    sent = actions.invite(Membership.objects.for_org(org).get(user=owner), "dana@example.com", Role.VIEWER)
    results = run_together(
        lambda: actions.accept_invitation(sent.token, dana),
        lambda: actions.accept_invitation(sent.token, dana),
    )
    assert sum(isinstance(r, actions.ActionError) for r in results) == 1
    assert sum(isinstance(r, Membership) for r in results) == 1
    assert Membership.objects.for_org(org).filter(user=dana).count() == 1


def test_two_owners_leaving_at_once_leave_one_owner(org, owner, admin):
    Membership.objects.for_org(org).filter(user=admin).update(role=Role.OWNER)
    mine = Membership.objects.for_org(org).get(user=owner)
    theirs = Membership.objects.for_org(org).get(user=admin)
    results = run_together(lambda: actions.leave_organization(mine), lambda: actions.leave_organization(theirs))
    assert sum(isinstance(r, actions.ActionError) for r in results) == 1
    assert Membership.objects.for_org(org).filter(role=Role.OWNER).count() == 1
