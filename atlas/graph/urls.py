"""Pages of the map."""

from django.urls import path

from atlas.graph import views

app_name = "graph"
urlpatterns = [
    path("", views.home, name="home"),
]
