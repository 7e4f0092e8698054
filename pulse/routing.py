"""Websocket routes; consumers live in frontend/consumers.py."""

from django.urls import path

from frontend.consumers import LiveAppConsumer

websocket_urlpatterns = [
    path("ws/o/<slug:org_slug>/apps/<uuid:app_id>/live/", LiveAppConsumer.as_asgi()),
]
