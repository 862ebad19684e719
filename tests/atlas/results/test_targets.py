"""The board's targets are judged from the runs' verdict-grade judgements and can be missed."""

from __future__ import annotations

import pytest

from atlas.results import aggregate, boards, targets
from tests.atlas.results.conftest import make_run, planned

pytestmark = pytest.mark.django_db


def _judged(modes: int, hq: float) -> dict:
    return {"judgement": {"modes_counted": modes, "num_modes": 8, "hq_fraction": hq, "meets": True}}


def _checks(dataset: str = "ring8") -> dict[str, targets.TargetCheck]:
    return {t.key: t for t in targets.check(aggregate.build(dataset))}


def test_every_2d_board_model_has_a_target():
    for dataset in ("ring8", "grid25"):
        assert set(targets.TARGETS[dataset]) == {e.key for e in boards.BOARDS[dataset].entries}


def test_a_row_at_its_target_on_every_seed_meets_it():
    plan, runs = planned("ring8", "diffusion")
    for run in runs:
        make_run(plan, run, metrics=_judged(8, 0.98))
    check = _checks()["diffusion"]
    assert check.met and check.verdict == "met" and check.modes == 8 and check.hq == pytest.approx(0.98)


def test_a_row_below_its_hq_target_misses_it_even_with_every_mode():
    plan, runs = planned("ring8", "gan")
    for run in runs:
        make_run(plan, run, metrics=_judged(8, 0.94))  # the GAN's ring target is 95 %
    assert _checks()["gan"].verdict == "missed"


def test_one_seed_short_of_the_modes_pulls_the_mean_below_the_target():
    plan, runs = planned("ring8", "vae")
    for run, modes in zip(runs, (8, 8, 7), strict=True):
        make_run(plan, run, metrics=_judged(modes, 0.9))
    check = _checks()["vae"]
    assert check.modes == pytest.approx(23 / 3) and check.verdict == "missed"


def test_rows_without_every_seed_are_incomplete_or_not_measured():
    plan, runs = planned("ring8", "ebm")
    make_run(plan, runs[0], metrics=_judged(8, 0.99))
    checks = _checks()
    assert checks["ebm"].verdict == "incomplete" and not checks["ebm"].met
    assert checks["realnvp"].verdict == "not measured"


def test_the_board_page_and_json_show_the_targets(client):
    plan, runs = planned("ring8", "diffusion")
    for run in runs:
        make_run(plan, run, metrics=_judged(8, 0.98))
    html = client.get("/results/ring8/").content.decode()
    assert "Targets after equal-effort tuning" in html and 'verdict-met">met<' in html
    rows = {t["model"]: t for t in client.get("/results/ring8.json").json()["targets"]}
    assert rows["diffusion"]["verdict"] == "met" and rows["gan"]["verdict"] == "not measured"
