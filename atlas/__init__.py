"""Generative Atlas: the Django project. Importing the package loads the Celery app."""

from atlas.celery import app as celery_app

__all__ = ("celery_app",)
