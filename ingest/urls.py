from django.urls import path

from ingest import views

urlpatterns = [
    path("ingest", views.ingest, name="ingest"),
    path("schema", views.schema, name="ingest-schema"),
]
