"""`content check` needs neither Celery nor torch; the site and the workers still get Celery."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from django.conf import settings

FIXTURE = Path(__file__).parent / "fixtures" / "valid"


def imported_modules(*args: str) -> tuple[int, set[str]]:
    """Exit status and the top-level names of every module `python -X importtime manage.py ARGS`
    imported (importtime lists each one on stderr)."""
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "atlas.settings.dev"}
    process = subprocess.run(
        [sys.executable, "-X", "importtime", "manage.py", *args],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    names = {
        line.rsplit("|", 1)[1].strip()
        for line in process.stderr.splitlines()
        if line.startswith("import time:")
    }
    return process.returncode, names


def test_it_checks_content_without_importing_celery_or_torch():
    status, modules = imported_modules("content", "check", "--lenient", "--dir", str(FIXTURE))
    assert status == 0
    assert "atlas.content.lint" in modules  # the listing works: the check's own modules are in it
    top_level = {name.split(".")[0] for name in modules}
    assert not top_level & {"celery", "kombu", "torch"}


def test_it_still_finds_the_celery_app_for_the_workers():
    from celery.app.utils import find_app

    import atlas
    from atlas.celery import app

    assert find_app("atlas") is app  # what `celery -A atlas worker` resolves
    assert atlas.celery_app is app


def test_it_binds_the_shared_tasks_to_the_project_app_in_a_fresh_process():
    """The worker runs atlas.runs.tasks; its shared tasks must use atlas's broker, not Celery's
    default app (which the removed eager import in atlas/__init__.py used to prevent)."""
    code = (
        "import django; django.setup(); from atlas.runs.tasks import execute_run; "
        "print(execute_run.app.main, execute_run.app.conf.task_default_queue)"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "atlas.settings.dev", "OMP_NUM_THREADS": "1"}
    process = subprocess.run(
        [sys.executable, "-c", code],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert process.stdout.split() == ["atlas", "cpu"], process.stderr[-2000:]
