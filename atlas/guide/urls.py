"""The decision-guide wizard, mounted at /guide/."""

from django.urls import path

from atlas.guide import views

app_name = "guide"
urlpatterns = [path("", views.wizard_page, name="wizard")]
