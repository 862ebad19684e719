from django.apps import AppConfig


class ContentConfig(AppConfig):
    name = "atlas.content"
    label = "atlas_content"
