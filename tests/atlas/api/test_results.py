"""/api/results/: best and latest per recipe and dataset; cross-family comparison on one dataset."""

from __future__ import annotations

import itertools
from datetime import timedelta

import pytest
from django.utils import timezone

from atlas.runs.models import Run, RunStatus
from tests.atlas.api.conftest import get_json, walk
from tests.atlas.results import conftest as board_helpers

_counter = itertools.count()
NOW = timezone.now()


def make_run(
    recipe="ddpm-2d",
    family="diffusion",
    dataset="ring8",
    status=RunStatus.SUCCEEDED,
    minutes=0,
    on_board=True,
    **metrics,
):
    n = next(_counter)
    return Run.objects.create(
        recipe=recipe,
        model=recipe.split("-")[0],
        family=family,
        dataset=dataset,
        config={"dataset": dataset, "seed": n},
        seed=n,
        code_version=f"v{n % 2}",
        config_hash=f"hash-{n}",
        status=status,
        on_board=on_board,
        metrics=metrics,
        result={"wall_time_s": 1.0 + n},
        finished_at=NOW + timedelta(minutes=minutes),
    )


def test_best_and_latest_per_recipe_and_dataset(api):
    good = make_run(sliced_wasserstein=0.05, minutes=1)
    latest = make_run(sliced_wasserstein=0.30, minutes=5)
    make_run(sliced_wasserstein=0.01, minutes=9, status=RunStatus.FAILED)  # only succeeded runs count
    make_run(recipe="gan-2d", family="gan", sliced_wasserstein=0.2, minutes=2)
    make_run(recipe="ddpm-2d", dataset="moons", sliced_wasserstein=0.4)
    groups = walk(api, "/api/results/")
    assert [(g["recipe"], g["dataset"]) for g in groups] == [
        ("ddpm-2d", "moons"),
        ("ddpm-2d", "ring8"),
        ("gan-2d", "ring8"),
    ]
    ring = groups[1]
    assert ring["runs"] == 2 and ring["metric"] == "sliced_wasserstein"
    assert ring["best"]["id"] == str(good.public_id)
    assert ring["best"]["score"] == {"metric": "sliced_wasserstein", "value": 0.05, "better": "lower"}
    assert ring["latest"]["id"] == str(latest.public_id)
    assert ring["best"]["url"] == f"/api/runs/{good.public_id}/"
    assert ring["code_versions"] == sorted({good.code_version, latest.code_version})


def test_a_higher_is_better_metric_and_filters(api):
    low = make_run(hq_fraction=0.5, sliced_wasserstein=0.01)
    high = make_run(hq_fraction=0.9, sliced_wasserstein=0.2)
    make_run(recipe="gan-2d", family="gan", hq_fraction=1.0)
    [group] = walk(api, "/api/results/?recipe=ddpm-2d&metric=hq_fraction")
    assert group["best"]["id"] == str(high.public_id) and group["metric"] == "hq_fraction"
    [group] = walk(api, "/api/results/?family=diffusion&dataset=ring8")
    assert group["best"]["id"] == str(low.public_id)  # auto: sliced Wasserstein on 2-D sets


def test_runs_without_the_metric_rank_last(api):
    missing = make_run(minutes=10)
    scored = make_run(sliced_wasserstein=0.9)
    [group] = walk(api, "/api/results/")
    assert group["best"]["id"] == str(scored.public_id)
    assert group["latest"]["id"] == str(missing.public_id) and group["latest"]["score"]["value"] is None


def test_the_cross_family_comparison_off_the_boards_ranks_each_familys_best_run(api):
    make_run(recipe="ddpm-2d", family="diffusion", dataset="moons", sliced_wasserstein=0.05)
    best_diffusion = make_run(recipe="ddim-2d", family="diffusion", dataset="moons", sliced_wasserstein=0.04)
    gan = make_run(recipe="gan-2d", family="gan", dataset="moons", sliced_wasserstein=0.5)
    vae = make_run(recipe="vae-2d", family="vae", dataset="moons", sliced_wasserstein=0.1)
    make_run(recipe="vae-2d", family="vae", dataset="ring8", sliced_wasserstein=0.0001)
    body = get_json(api, "/api/results/compare/?dataset=moons")
    assert body["dataset"] == "moons" and body["metric"] == "sliced_wasserstein" and body["better"] == "lower"
    assert body["ranked_from"] == "runs"
    assert [(e["rank"], e["family"]) for e in body["entries"]] == [(1, "diffusion"), (2, "vae"), (3, "gan")]
    assert [e["best"]["id"] for e in body["entries"]] == [
        str(r.public_id) for r in (best_diffusion, vae, gan)
    ]
    assert body["entries"][0]["runs"] == 2 and body["entries"][0]["row"] is None
    assert body["missing_families"] == ["flow", "ebm", "autoregressive"]


def _board_runs() -> dict[str, list[Run]]:
    """ring8 board runs: three complete rows, RealNVP with one seed (the best value, unranked)."""
    values = {"vae": (0.3, 0.9), "gan": (0.1, 0.2), "diffusion": (0.2, 0.5), "realnvp": (0.01, 1.0)}
    made: dict[str, list[Run]] = {}
    for key, (w, recall) in values.items():
        plan, planned_runs = board_helpers.planned("ring8", key)
        seeds = planned_runs[:1] if key == "realnvp" else planned_runs
        made[key] = [
            board_helpers.make_run(
                plan, run, metrics={"sliced_wasserstein": w + 0.01 * run.seed, "prdc": {"recall": recall}}
            )
            for run in seeds
        ]
    return made


@pytest.mark.parametrize("metric", ["sliced_wasserstein", "recall"])
def test_the_comparison_on_a_board_dataset_is_the_boards_ranking(api, metric):
    made = _board_runs()
    # a better run outside the board's configurations never enters the ranking
    make_run(recipe="ddim-2d", family="diffusion", sliced_wasserstein=0.0001, prdc={"recall": 1.0})
    board = get_json(api, "/results/ring8.json")
    body = get_json(api, f"/api/results/compare/?dataset=ring8&metric={metric}")
    assert body["ranked_from"] == "board" and body["metric"] == metric
    keys = [e["row"]["key"] for e in body["entries"]]
    assert (
        keys
        == board["rankings"][metric]
        == (["gan", "diffusion", "vae"] if metric == "sliced_wasserstein" else ["vae", "diffusion", "gan"])
    )
    rows = {row["key"]: row for row in board["rows"]}
    for entry in body["entries"]:
        cell = rows[entry["row"]["key"]]["metrics"][metric]
        assert (entry["rank"], entry["row"]["mean"], entry["row"]["std"]) == (
            cell["rank"],
            cell["mean"],
            cell["std"],
        )
        assert entry["runs"] == 3 and entry["row"]["seeds"] == [0, 1, 2]
        assert entry["best"]["id"] in {str(run.public_id) for run in made[entry["row"]["key"]]}
    assert body["missing_families"] == ["flow", "ebm", "autoregressive"]  # RealNVP lacks two seeds


def test_an_empty_comparison(api):
    body = get_json(api, "/api/results/compare/?dataset=digits&metric=frechet_distance")
    assert body == {
        "dataset": "digits",
        "metric": "frechet_distance",
        "better": "lower",
        "entries": [],
        "missing_families": ["vae", "gan", "diffusion", "flow", "ebm", "autoregressive"],
        "ranked_from": "board",
    }


@pytest.mark.parametrize(
    ("url", "fields"),
    [
        ("/api/results/?recipe=no-such-recipe", {"recipe"}),
        ("/api/results/?dataset=mnist", {"dataset"}),
        ("/api/results/?metric=accuracy", {"metric"}),
        ("/api/results/?status=failed", {"status"}),
        ("/api/results/compare/", {"dataset"}),
        ("/api/results/compare/?dataset=ring8&page=2", {"page"}),
        ("/api/results/compare/?dataset=ring8&metric=NaN", {"metric"}),
    ],
)
def test_bad_parameters_are_400s_naming_them(api, url, fields):
    assert set(get_json(api, url, status=400)) == fields


def test_a_visitors_run_is_not_a_result_until_promoted(api):
    make_run(recipe="gan-2d", family="gan", sliced_wasserstein=0.01, on_board=False)
    assert walk(api, "/api/results/") == []
    assert get_json(api, "/api/results/compare/?dataset=ring8")["entries"] == []
    Run.objects.update(on_board=True)  # what the admin's "promote" action does
    assert [g["recipe"] for g in walk(api, "/api/results/")] == ["gan-2d"]
