"""Tenancy primitives: organisation-owned models and a manager that refuses to run unscoped.

Every tenant-owned row carries ``organization_id``. Queries go through
``Model.objects``, which filters by the organisation in the current scope (set once
per request from the URL, or per task with ``org_scope``), or by an explicit
``.for_org(org)``. Without either, it raises instead of returning every tenant's
rows. ``.unscoped()`` is the explicit, greppable escape hatch (admin, migrations,
cross-tenant fan-out in Celery beat).
"""

import contextlib
from contextvars import ContextVar

from django.db import models

_current_org = ContextVar("pulse_current_org", default=None)


class UnscopedQueryError(RuntimeError):
    pass


def current_org():
    return _current_org.get()


@contextlib.contextmanager
def org_scope(org):
    """Run the block with ``org`` as the scope of every OrgOwnedModel query."""
    token = _current_org.set(org)
    try:
        yield org
    finally:
        _current_org.reset(token)


class OrgScopedQuerySet(models.QuerySet):
    pass


class OrgScopedManager(models.Manager.from_queryset(OrgScopedQuerySet)):
    def get_queryset(self):
        # Related managers (``org.apps``, ``app.keys``) are already filtered through
        # their parent, which the caller reached through its organisation.
        if getattr(self, "core_filters", None) or hasattr(self, "instance"):
            return super().get_queryset()
        org = _current_org.get()
        if org is None:
            raise UnscopedQueryError(
                f"{self.model.__name__}.objects used without an organisation: "
                "use .for_org(org), run inside org_scope(org), or call .unscoped() on purpose"
            )
        return super().get_queryset().filter(organization=org)

    def for_org(self, org):
        return super().get_queryset().filter(organization=org)

    def unscoped(self):
        return super().get_queryset()


class OrgOwnedModel(models.Model):
    organization = models.ForeignKey("tenants.Organization", on_delete=models.CASCADE, related_name="+")

    objects = OrgScopedManager()

    class Meta:
        abstract = True
        # Cascades and Django internals use a plain manager; our code uses ``objects``.
        base_manager_name = None
