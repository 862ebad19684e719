from django.apps import AppConfig


class ExperimentsConfig(AppConfig):
    name = "atlas.experiments"
    label = "atlas_experiments"
