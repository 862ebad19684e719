"""The results board, mounted at /results/."""

from django.urls import path, re_path

from atlas.results import views

app_name = "results"
urlpatterns = [
    path("", views.index, name="index"),
    re_path(r"^(?P<dataset>[a-z0-9-]+)\.csv$", views.board_csv, name="csv"),
    re_path(r"^(?P<dataset>[a-z0-9-]+)\.json$", views.board_json, name="json"),
    re_path(r"^(?P<dataset>[a-z0-9-]+)/(?P<metric>[a-z0-9_]+)\.svg$", views.board_plot, name="plot"),
    re_path(r"^(?P<dataset>[a-z0-9-]+)/score/$", views.score_page, name="score"),
    re_path(r"^(?P<dataset>[a-z0-9-]+)/sweep/$", views.sweep_page, name="sweep"),
    re_path(r"^(?P<dataset>[a-z0-9-]+)/sweep\.json$", views.sweep_json, name="sweep-json"),
    re_path(r"^(?P<dataset>[a-z0-9-]+)/$", views.board_page, name="board"),
]
