"""Websocket routes; consumers live in frontend/consumers.py."""

websocket_urlpatterns = []
