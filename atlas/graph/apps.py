from django.apps import AppConfig


class GraphConfig(AppConfig):
    name = "atlas.graph"
    label = "atlas_graph"
