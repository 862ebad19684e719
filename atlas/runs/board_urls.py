"""The results board, mounted at /results/."""

from django.urls import path, re_path

from atlas.results import views as results_views
from atlas.runs import board_views

app_name = "results"
urlpatterns = [
    path("", board_views.index, name="index"),
    re_path(r"^(?P<dataset>[a-z0-9-]+)\.csv$", board_views.board_csv, name="csv"),
    re_path(r"^(?P<dataset>[a-z0-9-]+)\.json$", board_views.board_json, name="json"),
    re_path(r"^(?P<dataset>[a-z0-9-]+)/(?P<metric>[a-z0-9_]+)\.svg$", board_views.board_plot, name="plot"),
    re_path(r"^(?P<dataset>[a-z0-9-]+)/score/$", results_views.score_page, name="score"),
    re_path(r"^(?P<dataset>[a-z0-9-]+)/sweep/$", results_views.sweep_page, name="sweep"),
    re_path(r"^(?P<dataset>[a-z0-9-]+)/sweep\.json$", results_views.sweep_json, name="sweep-json"),
    re_path(r"^(?P<dataset>[a-z0-9-]+)/$", board_views.board_page, name="board"),
]
