"""Schemathesis, run as an API user would run it (its CLI), against a live stack holding the real
content: no check fails and no warning is raised (`warnings.fail-on`). A warning such as
"schema validation mismatch" (most generated requests rejected) means the schema does not say what
the API accepts.

The stack runs without the run throttle and caps, which would otherwise answer most generated
POSTs with 429 (the caps have tests of their own). POST /api/results/score/ is left out: what a
.npy upload must hold (its header, dtype and shape) is beyond what OpenAPI can state, so generated
files are rejected by design (tests/atlas/results/test_score_your_own.py covers it).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from tests.stack import start_stack

pytestmark = pytest.mark.slow
CONFIG = "[warnings]\nfail-on = true\n"
# An existing run for the operations that need one: schemathesis' stateful phase reaches them only
# when its deterministic draw happens to link a POST /api/runs/ to them, which depends on the
# schema's shape (adding recipe parameters once moved it off the cancel link: "missing test data").
RUN_DATA = """
[[operations]]
include-name = "POST /api/runs/{{public_id}}/cancel/"
parameters = {{ "path.public_id" = "{public_id}" }}
"""
# BibTeX answers are text: schemathesis validates them against `type: string` once it can read them.
HOOKS = """
import schemathesis


@schemathesis.deserializer("application/x-bibtex")
def bibtex(ctx, response):
    return response.content.decode("utf-8")
"""
NO_CAPS = {
    "ATLAS_RUNS_THROTTLE": "100000/min",
    "ATLAS_RUNS_MAX_ACTIVE": "100000",
    "ATLAS_RUNS_MAX_PER_CLIENT": "100000",
}


@pytest.fixture(scope="module")
def open_stack(tmp_path_factory: pytest.TempPathFactory):
    stack = start_stack(tmp_path_factory.mktemp("stack"), env=NO_CAPS)
    try:
        yield stack
    finally:
        stack.stop()


def test_schemathesis_finds_no_failure_and_no_warning_on_a_live_stack(open_stack, tmp_path: Path):
    st = shutil.which("st", path=str(Path(sys.executable).parent))
    assert st, "schemathesis' CLI is installed with the development requirements"
    (tmp_path / "schemathesis.toml").write_text(CONFIG + RUN_DATA.format(public_id=_a_run(open_stack.url)))
    (tmp_path / "atlas_st_hooks.py").write_text(HOOKS)
    env = {**os.environ, "PYTHONPATH": str(tmp_path), "SCHEMATHESIS_HOOKS": "atlas_st_hooks"}
    command = [
        st,
        "--config-file",
        str(tmp_path / "schemathesis.toml"),
        "run",
        f"{open_stack.url}/api/schema/?format=json",
        "--max-examples",
        "6",
        "--generation-deterministic",
        "--exclude-path",
        "/api/results/score/",
        # Three rules span parameters, which OpenAPI cannot state (depth only with around, year_min
        # <= year_max, a guide answer that fits its question): their 400s are checked in-process by
        # tests/atlas/api/test_schemathesis.py, which allows exactly those.
        "--exclude-checks",
        "positive_data_acceptance",
    ]
    process = subprocess.run(command, capture_output=True, text=True, timeout=900, cwd=tmp_path, env=env)
    output = process.stdout + process.stderr
    assert process.returncode == 0, output[-5000:]


def _a_run(url: str) -> str:
    """The public id of a run created on the stack, as any API user creates one."""
    body = json.dumps({"recipe": "ddpm-2d", "config": {"dataset": "ring8"}}).encode()
    request = urllib.request.Request(
        f"{url}/api/runs/", data=body, headers={"Content-Type": "application/json"}, method="POST"
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response)["id"]
