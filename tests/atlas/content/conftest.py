"""Content fixtures: a small valid tree, and broken variants of it laid over a copy.

`fixtures/valid/` passes `check(strict=False)`; each `fixtures/broken/<case>/` holds only the
files that differ from it (added or replaced), one case per error class.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from atlas.content.validate import check

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture
def content_dir(tmp_path: Path) -> Path:
    """A private copy of the valid fixture tree, named `content` like the real one."""
    target = tmp_path / "content"
    shutil.copytree(FIXTURES / "valid", target)
    return target


def overlay(content_dir: Path, case: str) -> Path:
    shutil.copytree(FIXTURES / "broken" / case, content_dir, dirs_exist_ok=True)
    return content_dir


def errors_of(content_dir: Path, *, strict: bool = False) -> list[str]:
    return [str(error) for error in check(content_dir, strict=strict).errors]


@pytest.fixture
def broken(content_dir: Path) -> Callable[[str], list[str]]:
    """`broken("unknown-key")`: the check's error lines for the valid tree with that case laid over it."""

    def run(case: str) -> list[str]:
        return errors_of(overlay(content_dir, case))

    return run
