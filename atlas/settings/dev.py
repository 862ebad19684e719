"""Laptop settings: what `make run` uses. SQLite under .atlas/, a local Redis started by the stack."""

from atlas.settings.base import *  # noqa: F403
from atlas.settings.env import env_bool

DEBUG = env_bool("DJANGO_DEBUG", True)
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG
# No web tier in front of `make run`: the site serves run artifacts (MEDIA_URL) itself.
ATLAS_SERVE_MEDIA = env_bool("ATLAS_SERVE_MEDIA", True)
