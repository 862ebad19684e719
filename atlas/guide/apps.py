from django.apps import AppConfig


class GuideConfig(AppConfig):
    name = "atlas.guide"
    label = "atlas_guide"
