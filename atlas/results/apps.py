from django.apps import AppConfig


class ResultsConfig(AppConfig):
    name = "atlas.results"
    label = "atlas_results"
    verbose_name = "Results"
