import pytest

from tenants import actions
from tenants.models import App


def _create(client, name="Checkout", apdex_t="0.5"):
    return client.post("/o/acme/settings/apps/", {"name": name, "apdex_t": apdex_t})


def test_admins_create_apps_with_a_default_apdex_t(admin_client, org):
    page = admin_client.get("/o/acme/settings/apps/").content.decode()
    assert 'name="apdex_t"' in page and 'value="0.5"' in page
    assert _create(admin_client)["Location"] == "/o/acme/settings/apps/"
    app = App.objects.for_org(org).get()
    assert (app.name, app.apdex_t) == ("Checkout", 0.5)


def test_the_empty_org_landing_creates_the_first_app(owner_client, org):
    page = owner_client.get("/o/acme/").content.decode()
    assert "Add your first app" in page
    assert "pip install pulse-agent" in page
    assert "PULSE_ENDPOINT=http://127.0.0.1:8000" in page
    assert "pulse-agent run -- gunicorn myapp.wsgi" in page
    assert "pulse_agent.init()" in page
    response = owner_client.post("/o/acme/", {"name": "Shop", "apdex_t": "0.3"})
    app = App.objects.for_org(org).get()
    assert response["Location"] == f"/o/acme/settings/keys/?app={app.id}"


def test_viewers_see_the_landing_without_the_form(viewer_client, org):
    page = viewer_client.get("/o/acme/").content.decode()
    assert "Add your first app" in page
    assert 'name="apdex_t"' not in page


@pytest.mark.parametrize("name,apdex_t,error", [
    ("", "0.5", "This field is required."),
    ("Shop", "0", "Ensure this value is greater than or equal to 0.001."),
    ("Shop", "abc", "Enter a number."),
    ("Shop", "61", "Ensure this value is less than or equal to 60."),
])
def test_it_refuses_bad_app_input(owner_client, org, name, apdex_t, error):
    response = _create(owner_client, name, apdex_t)
    assert response.status_code == 200
    assert error in response.content.decode()
    assert not App.objects.for_org(org).exists()


def test_it_refuses_a_duplicate_name_in_any_case(owner_client, org, app):
    response = _create(owner_client, name="SHOP (PROD)")
    assert "There is already an app called" in response.content.decode()
    assert App.objects.for_org(org).count() == 1


def test_the_same_name_is_fine_in_another_org(owner_client, org, app, outsider_org):
    actions.create_app(outsider_org, "Shop (prod)")
    assert App.objects.for_org(outsider_org).count() == 1


def test_it_enforces_the_apps_per_org_limit(owner_client, org, settings):
    settings.APPS_PER_ORG_LIMIT = 2
    _create(owner_client, "one")
    _create(owner_client, "two")
    response = _create(owner_client, "three")
    assert "maximum of 2 apps" in response.content.decode()
    assert App.objects.for_org(org).count() == 2


def test_admins_rename_apps_and_change_apdex_t(admin_client, org, app):
    response = admin_client.post(f"/o/acme/settings/apps/{app.id}/", {"name": "Shop", "apdex_t": "1.2"})
    assert response.status_code == 302
    app.refresh_from_db()
    assert (app.name, app.apdex_t) == ("Shop", 1.2)


def test_renaming_onto_another_apps_name_is_refused(owner_client, org, app):
    other = actions.create_app(org, "Other")
    response = owner_client.post(f"/o/acme/settings/apps/{other.id}/", {"name": "shop (prod)", "apdex_t": "0.5"})
    assert "There is already an app called" in response.content.decode()


def test_deleting_needs_the_name_typed(owner_client, org, app):
    url = f"/o/acme/settings/apps/{app.id}/delete/"
    response = owner_client.post(url, {"confirm": "nope"})
    assert "That is not the app&#x27;s name." in response.content.decode()
    assert App.objects.for_org(org).exists()
    assert owner_client.post(url, {"confirm": "Shop (prod)"}).status_code == 302
    assert not App.objects.for_org(org).exists()


def test_members_cannot_manage_apps(member_client, org, app):
    assert _create(member_client).status_code == 403
    assert member_client.post(f"/o/acme/settings/apps/{app.id}/", {"name": "X", "apdex_t": "1"}).status_code == 403
    assert member_client.post(f"/o/acme/settings/apps/{app.id}/delete/", {"confirm": app.name}).status_code == 403
    assert App.objects.for_org(org).get().name == "Shop (prod)"


def test_app_names_are_escaped(owner_client, org):
    _create(owner_client, name="<img src=x onerror=alert(1)>")
    page = owner_client.get("/o/acme/settings/apps/").content.decode()
    assert "<img src=x" not in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page
