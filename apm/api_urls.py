"""Tenant-scoped JSON endpoints of the query layer, under /o/<org_slug>/api/."""

urlpatterns = []
