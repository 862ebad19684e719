"""The equal-effort sweep: the same declared effort for every board model, a choice that only
validation seeds decide, and a board that runs what the sweep chose."""

from __future__ import annotations

import json

import pytest

from atlas.results import boards, sweep
from atlas.runs import execution, recipes


def _models(dataset: str = "ring8") -> dict[str, sweep.Model]:
    out = {}
    for entry in boards.BOARDS[dataset].entries:
        recipe, base = boards.resolve_candidate(entry, dataset)
        out[entry.key] = sweep.Model(entry.key, recipe, base)
    return out


def _judgement(meets: bool, modes: int = 8, hq: float = 0.9, tv: float = 0.05) -> dict:
    return {
        "meets": meets,
        "diagnosis": "meets" if meets else "outliers",
        "modes_counted": modes,
        "num_modes": 8,
        "hq_fraction": hq,
        "hq_mode_tv": tv,
        "spread_ratio": 1.0,
    }


def _config(index: int, judgements: list[dict], seeds=(100, 101, 102)) -> dict:
    trials = [
        {"seed": s, "steps": 100 + index, "judgement": j} for s, j in zip(seeds, judgements, strict=False)
    ]
    return {"index": index, "params": {"lr": index}, "trials": trials, "score": sweep.score(trials)}


BOARDS = ("ring8", "grid25", "digits")


def test_every_board_model_has_a_search_space_and_the_same_number_of_configs():
    for dataset in BOARDS:
        models = _models(dataset)
        assert set(models) == set(sweep.spaces(dataset))
        counts = {key: len(sweep.draw_configs(dataset, key)) for key in models}
        assert set(counts.values()) == {sweep.CONFIGS} and sweep.CONFIGS >= 12


def test_every_drawn_config_is_a_valid_run_of_the_models_recipe():
    for dataset in BOARDS:
        for key, model in _models(dataset).items():
            for params in sweep.draw_configs(dataset, key):
                config = sweep.trial_config(model.recipe, model.base, params, dataset, 100)
                assert config.get("stop", "budget") == "budget" and config["steps"] == model.recipe.steps_max
                assert set(params) <= set(config)


def test_the_draw_is_reproducible_starts_with_the_defaults_and_differs_per_model():
    first = sweep.draw_configs("grid25", "gan")
    assert first == sweep.draw_configs("grid25", "gan")
    assert first[0] == {} and all(first[1:])
    assert len({json.dumps(c, sort_keys=True) for c in first}) == len(first)
    assert sweep.draw_configs("ring8", "gan") != first


def test_a_config_that_meets_the_bar_on_more_seeds_wins_whatever_its_mean_quality():
    strong_but_failing = _config(1, [_judgement(False, hq=0.99, tv=0.0)] * 3)
    meets_twice = _config(2, [_judgement(True, hq=0.6), _judgement(True, hq=0.6), _judgement(False, hq=0.1)])
    assert sweep.choose([strong_but_failing, meets_twice])["index"] == 2


def test_equal_scores_go_to_the_lower_index_and_incomplete_configs_are_never_chosen():
    a, b = _config(3, [_judgement(True)] * 3), _config(1, [_judgement(True)] * 3)
    assert sweep.choose([a, b])["index"] == 1
    incomplete = _config(0, [_judgement(True, hq=1.0, tv=0.0)] * 2)
    assert sweep.choose([incomplete, a])["index"] == 3
    assert sweep.choose([incomplete]) is None


def _image_config(index: int, distances: list[float | None]) -> dict:
    judged = [
        {"frechet_distance": d, "precision": 0.5, "recall": 0.5, "classes_covered": 1.0} for d in distances
    ]
    trials = [{"seed": 100 + i, "steps": 10, "judgement": j} for i, j in enumerate(judged)]
    return {"index": index, "params": {}, "trials": trials, "score": sweep.score(trials, "image")}


def test_on_digits_the_lowest_mean_frechet_distance_wins_and_a_diverged_trial_loses():
    close, far = _image_config(2, [1.0, 1.2, 1.1]), _image_config(0, [0.5, 0.6, 3.0])
    assert sweep.choose([far, close])["index"] == 2  # means 1.1 vs 1.37: not the best single seed
    diverged = _image_config(1, [0.1, None, 0.1])
    assert diverged["score"]["frechet_distance"] is None
    assert [c["index"] for c in sweep.ranked([diverged, far, close])] == [2, 0, 1]
    assert sweep.choose([_image_config(3, [1.0] * 3), _image_config(1, [1.0] * 3)])["index"] == 1


def test_the_digits_sweep_is_judged_by_the_boards_digit_metrics_and_the_2d_protocol_is_unchanged():
    assert sweep.kind_of("digits") == "image" and sweep.kind_of("grid25") == "points2d"
    assert "image_sample_metrics" in sweep.protocol("digits")["judge"]
    assert "judge_2d" in sweep.protocol("ring8")["judge"]
    # the published 2-D sweeps were drawn under this digest: a digits change must not move it
    assert sweep.space_digest("ring8", "gan") == "41932addd8139813"
    assert sweep.space_digest("digits", "gan") != sweep.space_digest("ring8", "gan")


def test_processes_sweeping_different_models_of_one_board_keep_each_others_entries(tmp_path, settings):
    settings.ATLAS_RESULTS_DIR = tmp_path
    path = sweep.sweep_path("digits")
    first = {
        "dataset": "digits",
        "protocol": {},
        "entries": {"vae": {"configs": [1]}, "gan": {"configs": []}},
    }
    second = {
        "dataset": "digits",
        "protocol": {},
        "entries": {"vae": {"configs": []}, "gan": {"configs": [2]}},
    }
    sweep._write(path, first, ["vae"])
    sweep._write(path, second, ["gan"])  # its stale copy of "vae" is not written over the first's
    assert json.loads(path.read_text())["entries"] == {"vae": {"configs": [1]}, "gan": {"configs": [2]}}


def test_a_smoke_sweep_of_a_digits_model_chooses_by_its_frechet_distance(tmp_path, settings):
    settings.ATLAS_RESULTS_DIR = tmp_path
    model = _models("digits")["vae"]
    payload = sweep.run("digits", [model], **SMOKE, log=lambda _: None)
    entry = payload["entries"]["vae"]
    trial = entry["configs"][0]["trials"][0]
    assert set(trial["judgement"]) == set(sweep.IMAGE_JUDGED)
    assert trial["judgement"]["frechet_distance"] > 0
    assert entry["chosen"]["index"] == sweep.choose(entry["configs"], (100,))["index"]
    assert entry["chosen"]["steps"] == entry["finals"]["configs"][0]["trials"][0]["steps"]


def test_quality_is_zero_without_modes_and_one_for_perfect_samples():
    assert sweep.quality(_judgement(False, modes=0, hq=0.9)) == 0.0
    assert sweep.quality(_judgement(True, modes=8, hq=1.0, tv=0.0)) == 1.0


SMOKE = {"configs": 2, "seeds": (100,), "budget_s": 0.2, "finalists": 1, "finals_budget_s": 0.4}


def _smoke(model: sweep.Model, **changes) -> dict:
    """A sweep of ``model`` on ring8 at the smoke scale (``SMOKE``, with ``changes``), silent."""
    return sweep.run("ring8", [model], **{**SMOKE, **changes}, log=lambda _: None)


def test_a_smoke_sweep_writes_every_trial_chooses_in_the_finals_and_resumes_without_redoing(
    tmp_path, settings
):
    settings.ATLAS_RESULTS_DIR = tmp_path
    model = _models("ring8")["autoregressive"]
    payload = _smoke(model)
    entry = payload["entries"]["autoregressive"]
    assert [len(c["trials"]) for c in entry["configs"]] == [1, 1]
    (final,) = entry["finals"]["configs"]
    assert final["index"] == sweep.choose(entry["configs"], (100,))["index"]
    assert final["trials"][0]["cpu_s"] >= 0.4 > entry["configs"][0]["trials"][0]["cpu_s"] >= 0.2
    assert entry["chosen"]["index"] == final["index"]
    assert entry["chosen"]["steps"] == final["trials"][0]["steps"]  # the finals' steps, not the screen's
    on_disk = json.loads(sweep.sweep_path("ring8").read_text())
    assert on_disk["entries"]["autoregressive"]["chosen"] == entry["chosen"]
    trial = entry["configs"][0]["trials"][0]
    assert set(trial["judgement"]) >= {"meets", "diagnosis", "modes_counted"}
    again = sweep.run("ring8", [model], **SMOKE, log=pytest.fail)
    assert again["entries"]["autoregressive"]["configs"] == entry["configs"]
    assert again["entries"]["autoregressive"]["finals"] == entry["finals"]


def _canned_trial(quality_at: dict[tuple[float, float], float]):
    """A stand-in for run_trial: the HQ share each (lr, budget) pair scores, no training."""

    def trial(recipe, config, budget_s):
        hq = quality_at[(config["lr"], budget_s)]
        return {
            "seed": config["seed"],
            "steps": int(budget_s * 100),
            "cpu_s": budget_s,
            "wall_s": budget_s,
            "stop_reason": "cancelled",
            "judgement": _judgement(False, hq=hq),
        }

    return trial


def test_the_finals_retrain_the_best_screened_configs_longer_and_their_winner_is_chosen(
    tmp_path, settings, monkeypatch
):
    settings.ATLAS_RESULTS_DIR = tmp_path
    model = _models("ring8")["autoregressive"]
    lrs = [
        sweep.trial_config(model.recipe, model.base, p, "ring8", 0)["lr"]
        for p in sweep.draw_configs("ring8", "autoregressive", 3)
    ]
    # the screen ranks config 0 > 1 > 2; with the long budget config 1 overtakes config 0
    quality_at = {
        (lrs[0], 1.0): 0.9,
        (lrs[1], 1.0): 0.8,
        (lrs[2], 1.0): 0.1,
        (lrs[0], 5.0): 0.91,
        (lrs[1], 5.0): 0.99,
    }
    monkeypatch.setattr(sweep, "run_trial", _canned_trial(quality_at))
    payload = _smoke(model, configs=3, seeds=(100, 101), budget_s=1.0, finalists=2, finals_budget_s=5.0)
    entry = payload["entries"]["autoregressive"]
    assert [c["index"] for c in entry["finals"]["configs"]] == [0, 1]
    assert sweep.choose(entry["configs"], (100, 101))["index"] == 0  # the screen alone would pick 0
    assert entry["chosen"]["index"] == 1 and entry["chosen"]["steps"] == 500


def test_no_config_reaches_the_finals_before_every_config_is_screened():
    screened = [_config(i, [_judgement(True, hq=0.5 + i / 10)] * 3) for i in range(3)]
    assert sweep.finalists(screened, (100, 101, 102), 2) == [2, 1]
    unfinished = screened + [_config(3, [_judgement(True)] * 2)]
    assert sweep.finalists(unfinished, (100, 101, 102), 2) == []


def _write_sweep(tmp_path, dataset: str, key: str, chosen: dict, digest: str | None = None) -> None:
    path = tmp_path / "boards" / dataset / sweep.SWEEP_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    entry = {
        "recipe": "x",
        "space_digest": digest or sweep.space_digest(dataset, key),
        "configs": [_config(chosen["index"], [_judgement(True)] * 3)],
        "finals": {
            "digest": sweep.finals_digest(dataset, key),
            "configs": [_config(chosen["index"], [_judgement(True)] * 3)],
        },
        "chosen": chosen,
    }
    path.write_text(
        json.dumps({"dataset": dataset, "protocol": sweep.protocol(dataset), "entries": {key: entry}})
    )


def test_the_board_runs_the_configuration_the_sweep_chose(tmp_path, settings):
    settings.ATLAS_RESULTS_DIR = tmp_path
    _write_sweep(tmp_path, "grid25", "autoregressive", {"index": 4, "params": {"bins": 256}, "steps": 1234})
    plans = {p.key: p for p in boards.plan(boards.BOARDS["grid25"], [0])}
    assert plans["autoregressive"].runs[0].config["bins"] == 256
    assert plans["autoregressive"].runs[0].config["steps"] == 1234
    gan = recipes.get("gan-2d")  # without a sweep: the recipe's reference configuration
    raw = {**gan.reference, "variant": "non-saturating", "stop": "budget", "dataset": "grid25", "seed": 0}
    assert plans["gan"].runs[0].config == gan.validate(raw)[0]


def test_a_choice_made_under_another_protocol_or_space_is_ignored(tmp_path, settings):
    settings.ATLAS_RESULTS_DIR = tmp_path
    chosen = {"index": 4, "params": {"bins": 256}, "steps": 1234}
    _write_sweep(tmp_path, "grid25", "autoregressive", chosen, digest="0" * 16)
    assert sweep.chosen("grid25", "autoregressive") is None
    plan = {p.key: p for p in boards.plan(boards.BOARDS["grid25"], [0])}["autoregressive"]
    assert plan.runs[0].config["bins"] == recipes.get("ar-grid-2d").validate({})[0]["bins"]


def test_a_choice_made_before_the_finals_or_under_other_finals_is_ignored(tmp_path, settings):
    settings.ATLAS_RESULTS_DIR = tmp_path
    chosen = {"index": 4, "params": {"bins": 256}, "steps": 1234}
    _write_sweep(tmp_path, "grid25", "autoregressive", chosen)
    assert sweep.chosen("grid25", "autoregressive")["bins"] == 256
    path = sweep.sweep_path("grid25")
    payload = json.loads(path.read_text())
    payload["entries"]["autoregressive"]["finals"]["digest"] = sweep.finals_digest(
        "grid25", "autoregressive", budget_s=sweep.FINALS_BUDGET_CPU_S / 2
    )
    path.write_text(json.dumps(payload))
    assert sweep.chosen("grid25", "autoregressive") is None
    del payload["entries"]["autoregressive"]["finals"]
    path.write_text(json.dumps(payload))
    assert sweep.chosen("grid25", "autoregressive") is None


def test_a_malformed_sweep_file_names_itself(tmp_path, settings):
    settings.ATLAS_RESULTS_DIR = tmp_path
    path = tmp_path / "boards" / "ring8" / sweep.SWEEP_FILE
    path.parent.mkdir(parents=True)
    path.write_text('{"dataset": "ring8",\n "entries": [}')
    with pytest.raises(ValueError, match=r"sweep\.json:2"):
        sweep.read("ring8")
    assert sweep.chosen("ring8", "gan") is None  # the board falls back to the recipe's defaults


@pytest.mark.django_db
def test_the_sweep_page_shows_every_configuration_and_marks_the_choice(client, tmp_path, settings):
    settings.ATLAS_RESULTS_DIR = tmp_path
    _write_sweep(tmp_path, "ring8", "gan", {"index": 0, "params": {}, "steps": 900})
    page = client.get("/results/ring8/sweep/")
    assert page.status_code == 200
    html = page.content.decode()
    assert 'id="sweep-gan"' in html and "chosen configuration" in html and "the recipe's defaults" in html
    assert "finals-table" in html and "→ finals" in html
    assert client.get("/results/ring8/sweep.json").json()["entries"]["gan"]["chosen"]["steps"] == 900
    assert client.get("/results/grid25/sweep/").status_code == 404
    assert client.get("/results/nope/sweep/").status_code == 404


def test_the_choice_spells_out_the_defaults_it_was_validated_with(tmp_path, settings):
    settings.ATLAS_RESULTS_DIR = tmp_path
    model = _models("ring8")["autoregressive"]
    entry = _smoke(model, configs=1)["entries"]
    resolved = entry["autoregressive"]["chosen"]["resolved"]
    defaults = model.recipe.validate({})[0]
    assert (
        resolved["bins"] == defaults["bins"]
        and resolved["lr"] == defaults["lr"]
        and resolved["stop"] == "budget"
    )
    assert not set(resolved) & set(sweep.TRIAL_ONLY)


def test_the_board_runs_the_validated_values_not_todays_recipe_defaults(tmp_path, settings):
    settings.ATLAS_RESULTS_DIR = tmp_path
    chosen = {"index": 0, "params": {}, "resolved": {"bins": 128, "stop": "budget"}, "steps": 77}
    _write_sweep(tmp_path, "ring8", "autoregressive", chosen)
    run = {p.key: p for p in boards.plan(boards.BOARDS["ring8"], [0])}["autoregressive"].runs[0]
    assert run.config["bins"] == 128 != recipes.get("ar-grid-2d").validate({})[0]["bins"]
    assert run.config["steps"] == 77


def test_resuming_after_a_recipe_default_changed_is_refused(tmp_path, settings, monkeypatch):
    settings.ATLAS_RESULTS_DIR = tmp_path
    model = _models("ring8")["autoregressive"]
    _smoke(model, configs=1)
    moved = sweep.Model(model.key, model.recipe, {**model.base, "bins": 64})
    with pytest.raises(ValueError, match="start the sweep of this model again"):
        _smoke(moved, configs=1, seeds=(100, 101))


def test_a_board_run_has_room_to_train_what_its_finals_reached_before_its_wall_cap():
    # The finals measure CPU time on an idle thread; a worker adds previews and heartbeats, and a
    # board run at 60 s of wall time timed out at 13,300 of its 16,500 DDPM steps, and one at a 90-s
    # cap finished at 89.6 s (measured, two reports running at once).
    for dataset in BOARDS:
        for model in _models(dataset).values():
            assert execution.wall_cap(model.recipe) >= 1.75 * sweep.FINALS_BUDGET_CPU_S, model.recipe.slug


@pytest.mark.django_db
def test_the_digits_sweep_page_shows_each_configurations_frechet_distance(client, tmp_path, settings):
    settings.ATLAS_RESULTS_DIR = tmp_path
    path = sweep.sweep_path("digits")
    path.parent.mkdir(parents=True)
    finalist = _image_config(5, [0.8125, 0.9, 1.0])
    entry = {
        "recipe": "made-digits",
        "space_digest": sweep.space_digest("digits", "autoregressive"),
        "configs": [_image_config(i, [3.0 + i] * 3) for i in range(5)] + [finalist],
        "finals": {"digest": sweep.finals_digest("digits", "autoregressive"), "configs": [finalist]},
        "chosen": {"index": 5, "params": {}, "steps": 321},
    }
    payload = {
        "dataset": "digits",
        "protocol": sweep.protocol("digits"),
        "entries": {"autoregressive": entry},
    }
    path.write_text(json.dumps(payload))
    html = client.get("/results/digits/sweep/").content.decode()
    assert "Fréchet distance" in html and "Seeds at the bar" not in html
    assert "0.81 (10)" in html and "image_sample_metrics" in html  # a trial's own distance, the judge
    board = client.get("/results/digits/").content.decode()
    assert 'id="tuning-heading"' in board and "Fréchet distance in the digit feature space" in board
