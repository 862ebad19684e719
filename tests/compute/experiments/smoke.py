"""What the failure-mode and unification suites share: one SMOKE run per experiment per session, and
the check that every content node of a kind has its experiment."""

from __future__ import annotations

from pathlib import Path

from compute import experiments
from compute.experiments.base import SMOKE, ExperimentResult

CONTENT = Path(__file__).resolve().parents[3] / "content"

_results: dict[str, ExperimentResult] = {}


def smoke(slug: str) -> ExperimentResult:
    """The experiment's SMOKE result, run once per test session."""
    if slug not in _results:
        _results[slug] = experiments.get(slug).run(SMOKE)
    return _results[slug]


def assert_one_experiment_per_node(folder: str, kind: str, slugs: list[str]) -> None:
    """content/<folder>/*.md and the registered experiments of ``kind`` are the same set of slugs."""
    assert sorted(p.stem for p in (CONTENT / folder).glob("*.md")) == slugs
    for slug in slugs:
        exp = experiments.get(slug)
        assert exp.slug == slug and exp.kind == kind and exp.title
