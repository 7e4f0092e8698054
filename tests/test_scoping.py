import pytest

from tenants.models import App
from tenants.scoping import UnscopedQueryError, org_scope


def test_it_refuses_unscoped_queries(app):
    with pytest.raises(UnscopedQueryError):
        list(App.objects.all())


def test_it_filters_by_the_org_in_scope(app, org, outsider_org):
    App.objects.for_org(outsider_org).create(organization=outsider_org, name="Theirs")
    with org_scope(org):
        assert [a.name for a in App.objects.all()] == ["Shop (prod)"]
    with org_scope(outsider_org):
        assert [a.name for a in App.objects.all()] == ["Theirs"]
        assert not App.objects.filter(id=app.id).exists()


def test_related_managers_are_filtered_through_their_parent(app, org):
    assert list(org.apps.values_list("name", flat=True)) == ["Shop (prod)"]


def test_deleting_an_org_cascades(app, org):
    org.delete()
    assert App.objects.unscoped().count() == 0
