"""ASGI entry point: HTTP goes to Django, websockets to Channels consumers (origin-checked)."""

import gc
import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "atlas.settings.dev")
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402
from django.conf import settings  # noqa: E402
from django.utils.module_loading import import_string  # noqa: E402

# The routes are a setting so that a test stack can add its probe socket without production code.
websocket_urlpatterns = import_string(settings.ATLAS_WEBSOCKET_ROUTES)

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": AllowedHostsOriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns))),
    }
)

# Everything imported so far lives as long as the process: keep it out of the garbage collector's
# generations, which otherwise rescans it on every collection (about 30 % of a request's time).
gc.freeze()
