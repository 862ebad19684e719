"""Unit-test settings: fast hashing, in-memory channel layer and cache, tasks never leave the process.

Integration tests start the real stack (Redis, Celery worker, ASGI server) as subprocesses that use
the dev settings; only unit tests run against these in-process substitutes.
"""

from atlas.settings.base import *  # noqa: F403
from atlas.settings.base import DATA_DIR, STATIC_ROOT

DEBUG = False
SECRET_KEY = "test-secret-key-not-used-anywhere-else-0123456789"
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
MEDIA_ROOT = DATA_DIR / "test-media"
CELERY_TASK_ALWAYS_EAGER = False
WHITENOISE_USE_FINDERS = True
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # WhiteNoise warns about a missing directory otherwise
