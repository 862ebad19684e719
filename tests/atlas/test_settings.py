"""Settings that the reliability of the stack depends on."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from django.conf import settings

ROOT = Path(__file__).resolve().parent.parent.parent


def test_celery_is_configured_for_reliability():
    assert settings.CELERY_TASK_ACKS_LATE is True
    assert settings.CELERY_TASK_REJECT_ON_WORKER_LOST is True
    assert settings.CELERY_WORKER_PREFETCH_MULTIPLIER == 1
    visibility = settings.CELERY_BROKER_TRANSPORT_OPTIONS["visibility_timeout"]
    assert settings.CELERY_TASK_SOFT_TIME_LIMIT < settings.CELERY_TASK_TIME_LIMIT < visibility


def test_celery_speaks_json_only():
    from atlas.celery import app

    assert app.conf.task_serializer == "json"
    assert app.conf.result_serializer == "json"
    assert list(app.conf.accept_content) == ["json"]
    assert {q.name for q in app.conf.task_queues} == {"cpu", "gpu"}


def test_base_settings_use_the_redis_channel_layer():
    from atlas.settings import base

    assert base.CHANNEL_LAYERS["default"]["BACKEND"] == "channels_redis.core.RedisChannelLayer"


def _manage(args: list[str], **env: str) -> subprocess.CompletedProcess:
    full_env = {**os.environ, **env}
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=full_env, capture_output=True, text=True
    )


def test_prod_settings_pass_the_deploy_check():
    result = _manage(
        ["check", "--deploy", "--fail-level", "WARNING"],
        DJANGO_SETTINGS_MODULE="atlas.settings.prod",
        DJANGO_SECRET_KEY="k" * 20 + "Xy7#pQ2!vL9@wR4$zT6^mN8&bC1*dF3(hJ5)" + "s" * 10,
        DJANGO_ALLOWED_HOSTS="atlas.example.org",
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_prod_settings_refuse_the_development_secret_key():
    result = _manage(["check"], DJANGO_SETTINGS_MODULE="atlas.settings.prod", DJANGO_SECRET_KEY="")
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY" in result.stderr
