from django.apps import AppConfig


class PapersConfig(AppConfig):
    name = "atlas.papers"
    label = "atlas_papers"
