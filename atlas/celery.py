"""Celery configured from Django settings (every CELERY_* setting), JSON only."""

import os

from celery import Celery
from kombu import Queue

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "atlas.settings.dev")

app = Celery("atlas")
app.config_from_object("django.conf:settings", namespace="CELERY")
# Two queues: CPU runs go to `cpu`; runs that need CUDA wait on `gpu` for a worker that has it.
app.conf.task_queues = (Queue("cpu"), Queue("gpu"))
# Every installed app's tasks.py (atlas.runs.tasks); settings may add modules (CELERY_IMPORTS).
app.autodiscover_tasks()
