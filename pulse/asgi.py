"""ASGI entry point: Django for HTTP, Channels for websockets."""

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pulse.settings")

from django.core.asgi import get_asgi_application  # noqa: E402

django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402

from pulse.routing import websocket_urlpatterns  # noqa: E402
from ingest.asgi import wrap as with_ingest_fast_path  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": with_ingest_fast_path(django_asgi_app),
        "websocket": AllowedHostsOriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns))),
    }
)
