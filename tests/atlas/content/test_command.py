"""`manage.py content check|load`."""

from __future__ import annotations

from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from tests.atlas.content.conftest import overlay


def run(*args: str) -> str:
    out = StringIO()
    call_command("content", *args, stdout=out)
    return out.getvalue()


def test_check_prints_ok_for_valid_content(content_dir: Path):
    lines = run("check", "--lenient", "--dir", str(content_dir)).splitlines()
    assert [line for line in lines if line.startswith("content OK")][0].startswith(
        "content OK: 22 files (20 nodes, 2 papers)"
    )


def test_check_prints_one_error_per_line_and_fails(content_dir: Path):
    overlay(content_dir, "dangling-edge")
    out = StringIO()
    with pytest.raises(CommandError, match="1 content error") as failure:
        call_command("content", "check", "--lenient", "--dir", str(content_dir), stdout=out)
    assert failure.value.returncode == 1
    assert out.getvalue() == "content/methods/ddpm.md:7: 'edges[1].to': unknown node 'no-such-node'\n"


def test_check_is_strict_by_default(content_dir: Path):
    with pytest.raises(CommandError, match="7 content error"):
        run("check", "--dir", str(content_dir))


@pytest.mark.django_db
def test_load_prints_the_counts_and_a_second_load_prints_no_change(content_dir: Path):
    first = run("load", "--lenient", "--dir", str(content_dir))
    assert "nodes              20 created, 0 updated, 0 deleted, 0 unchanged" in first
    second = run("load", "--lenient", "--dir", str(content_dir))
    assert ": 0 created, 0 updated, 0 deleted, " in second.splitlines()[-1]
