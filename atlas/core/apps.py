from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "atlas.core"
    label = "atlas_core"
