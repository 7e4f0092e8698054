from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/v1/", include("ingest.urls")),
    path("o/<slug:org_slug>/api/", include("apm.api_urls")),
    path("", include("tenants.urls")),
    path("", include("frontend.urls")),
]
