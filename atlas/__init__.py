"""Generative Atlas: the Django project.

The Celery app (atlas.celery) is imported by whatever uses it, not here: the worker finds it with
`celery -A atlas`, compute/tasks.py imports it so that its shared tasks bind to it, and the health
check imports it. Commands that need no broker (`manage.py content check`) never load Celery.
`atlas.celery_app` still works, loaded on first access.
"""

from __future__ import annotations

from typing import Any


def __getattr__(name: str) -> Any:
    if name == "celery_app":
        from atlas.celery import app

        return app
    raise AttributeError(f"module 'atlas' has no attribute {name!r}")


__all__ = ("celery_app",)
