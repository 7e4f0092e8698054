"""The Django project: settings, URL and websocket routing, ASGI/WSGI entry points, the
Celery app and health probes. It sits on top of the domain apps and nothing imports it
but the entry points."""

from pulse.celery import app as celery_app

__all__ = ["celery_app"]
