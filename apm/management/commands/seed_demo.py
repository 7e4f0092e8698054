"""Create (or refresh) the demo organisation that `make demo` reports into, and print its login.

Idempotent: the user, organisation, membership and app are created once; each run issues a
fresh ingest key (written to --key-file for the demo app's agent) and revokes the previous
demo keys, since a key's secret is never stored and cannot be shown again.
"""

import os

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from tenants import actions
from tenants.models import App, IngestKey, Membership, Organization, User
from tenants.roles import Role

DEMO_EMAIL = "demo@pulse.example"
DEMO_PASSWORD = "pulse-demo-password"
DEMO_ORG_NAME = "Pulse Demo"
DEMO_ORG_SLUG = "demo"
DEMO_APP = "Demo shop"
KEY_LABEL = "make demo"


class Command(BaseCommand):
    help = "Create the demo user, organisation, app and a fresh ingest key; print the login."

    def add_arguments(self, parser):
        parser.add_argument("--key-file", help="write the new ingest key to this file (mode 600)")
        parser.add_argument("--url", default=settings.PUBLIC_URL, help="where the demo is served, for the message")

    def handle(self, *args, key_file=None, url=None, **options):
        with transaction.atomic():
            user = User.objects.filter(email=DEMO_EMAIL).first()
            if user is None:
                user = User.objects.create_user(email=DEMO_EMAIL, password=DEMO_PASSWORD, name="Demo")
            elif not user.check_password(DEMO_PASSWORD):
                user.set_password(DEMO_PASSWORD)
                user.save(update_fields=["password"])
            org, _ = Organization.objects.get_or_create(slug=DEMO_ORG_SLUG, defaults={"name": DEMO_ORG_NAME})
            Membership.objects.for_org(org).get_or_create(organization=org, user=user, defaults={"role": Role.OWNER})
            app, _ = App.objects.for_org(org).get_or_create(organization=org, name=DEMO_APP)
            IngestKey.objects.for_org(org).filter(label=KEY_LABEL, revoked_at__isnull=True).update(
                revoked_at=timezone.now()
            )
            created = actions.create_ingest_key(org, KEY_LABEL, user)
        if key_file:
            fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(created.raw + "\n")
        base = (url or settings.PUBLIC_URL).rstrip("/")
        self.stdout.write(
            "\n".join(
                [
                    "",
                    "=" * 64,
                    f"  Pulse demo: {base}/login/",
                    f"  e-mail:    {DEMO_EMAIL}",
                    f"  password:  {DEMO_PASSWORD}",
                    f"  live view: {base}/o/{org.slug}/apps/{app.id}/live/",
                    "=" * 64,
                    "",
                ]
            )
        )
