"""The boards committed under results/ are what a fresh `make run` shows: complete, current, tuned.

If a change to compute/ or to a board's configuration makes these fail, the boards must be measured
again and republished (`results sweep`, `results report`, `results publish`; see the README)."""

from __future__ import annotations

import pytest

from atlas.results import boards, published, sweep
from atlas.results.aggregate import build

pytestmark = pytest.mark.django_db
BOARDS = sorted(boards.BOARDS)


@pytest.fixture(autouse=True)
def real_results(settings) -> None:
    settings.ATLAS_RESULTS_DIR = settings.BASE_DIR / "results"  # what the repository holds


@pytest.fixture
def loaded(media_root) -> None:  # noqa: ARG001 - artifacts are copied into the test's own folder
    published.load()


@pytest.mark.parametrize("dataset", BOARDS)
def test_every_model_of_every_board_has_all_its_seeds_under_the_current_code(loaded, dataset):
    board = build(dataset)
    assert [row.key for row in board.rows if not row.has_demo] == []
    incomplete = {row.key: row.missing_seeds for row in board.rows if not row.complete}
    assert incomplete == {}
    assert [row.key for row in board.rows if row.stale] == []


@pytest.mark.parametrize("dataset", BOARDS)
def test_every_board_model_was_tuned_with_the_same_declared_effort(dataset):
    payload = sweep.read(dataset)
    assert payload is not None, f"{sweep.sweep_path(dataset)} is missing"
    assert payload["protocol"]["budget_cpu_s"] == sweep.BUDGET_CPU_S
    assert payload["protocol"]["finals"] == sweep.finals_protocol()
    assert payload["protocol"]["judge"] == sweep.protocol(dataset)["judge"]
    assert (
        set(payload["entries"])
        == set(sweep.spaces(dataset))
        == {e.key for e in boards.BOARDS[dataset].entries}
    )
    for key, entry in payload["entries"].items():
        assert entry["space_digest"] == sweep.space_digest(dataset, key), key
        assert len(entry["configs"]) == sweep.CONFIGS, key
        for config in entry["configs"]:
            assert sorted(t["seed"] for t in config["trials"]) == list(sweep.VALIDATION_SEEDS), (
                key,
                config["index"],
            )
        finals = entry["finals"]
        assert finals["digest"] == sweep.finals_digest(dataset, key), key
        picked = sweep.finalists(entry["configs"], sweep.VALIDATION_SEEDS, sweep.FINALISTS)
        assert [c["index"] for c in finals["configs"]] == picked, key
        for config in finals["configs"]:
            assert sorted(t["seed"] for t in config["trials"]) == list(sweep.VALIDATION_SEEDS), key
            budget_cut = [t for t in config["trials"] if t["stop_reason"] == "cancelled"]
            assert all(t["cpu_s"] >= sweep.FINALS_BUDGET_CPU_S for t in budget_cut), key
        best = sweep.choose(finals["configs"])
        steps = best["score"]["median_steps"]
        assert entry["chosen"] == {**entry["chosen"], "index": best["index"], "steps": steps}


@pytest.mark.parametrize("dataset", BOARDS)
def test_the_published_board_runs_are_the_sweeps_choices_on_the_report_seeds(loaded, dataset):
    board = build(dataset)
    for row in board.rows:
        tuned = sweep.chosen(dataset, row.key)
        assert tuned is not None, row.key
        assert all(run.config[k] == v for run in row.runs for k, v in tuned.items()), row.key
        assert sorted(run.seed for run in row.runs) == list(sweep.REPORT_SEEDS)
