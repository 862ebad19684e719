from django.apps import AppConfig


class RunsConfig(AppConfig):
    name = "atlas.runs"
    label = "atlas_runs"
