"""Websocket routes of every app, in one list."""

from django.urls import path

from atlas.core.consumers import ProbeConsumer

websocket_urlpatterns = [
    path("ws/probe/<str:token>/", ProbeConsumer.as_asgi()),
]
