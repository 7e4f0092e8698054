"""ASGI entry point: Django for HTTP, Channels for websockets; what a process serves depends
on its PULSE_ROLE (ingest nodes: the ingest fast path and the ingest APIs, no websockets;
UI nodes: no ingest)."""

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pulse.settings")

from django.conf import settings  # noqa: E402
from django.core.asgi import get_asgi_application  # noqa: E402

django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402

from pulse.routing import websocket_urlpatterns  # noqa: E402
from ingest.asgi import wrap as with_ingest_fast_path  # noqa: E402

protocols = {"http": django_asgi_app if settings.PULSE_ROLE == "ui" else with_ingest_fast_path(django_asgi_app)}
if settings.PULSE_ROLE != "ingest":
    protocols["websocket"] = AllowedHostsOriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns)))
application = ProtocolTypeRouter(protocols)
