"""`manage.py seed_demo` (used by `make demo`) is idempotent and hands out a working key."""

from django.core.management import call_command

from apm.management.commands import seed_demo
from tenants.keys import clear_key_cache, resolve_ingest_key
from tenants.models import App, IngestKey, Membership, Organization, User


def test_it_creates_the_demo_once_and_rotates_its_key(db, tmp_path, capsys):
    key_file = tmp_path / "key"
    call_command("seed_demo", key_file=str(key_file))
    first = key_file.read_text().strip()
    call_command("seed_demo", key_file=str(key_file))
    second = key_file.read_text().strip()

    org = Organization.objects.get(slug=seed_demo.DEMO_ORG_SLUG)
    user = User.objects.get(email=seed_demo.DEMO_EMAIL)
    assert user.check_password(seed_demo.DEMO_PASSWORD)
    assert Membership.objects.for_org(org).filter(user=user, role="owner").count() == 1
    assert App.objects.for_org(org).filter(name=seed_demo.DEMO_APP).count() == 1
    assert IngestKey.objects.for_org(org).filter(revoked_at__isnull=True).count() == 1
    clear_key_cache()
    assert resolve_ingest_key(first) is None
    assert resolve_ingest_key(second).organization_id == org.id
    out = capsys.readouterr().out
    assert seed_demo.DEMO_EMAIL in out and seed_demo.DEMO_PASSWORD in out
    assert oct(key_file.stat().st_mode & 0o777) == "0o600"
