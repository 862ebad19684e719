"""The results board: aggregation over seeds, rankings and their disagreement, downloads, queries."""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import math
import xml.etree.ElementTree as ET

import pytest
from scipy import stats

from atlas.results import aggregate, boards
from atlas.runs import recipes
from atlas.runs.models import RunStatus
from tests.atlas.results.conftest import make_run, planned

pytestmark = pytest.mark.django_db


def sw(value: float, **more) -> dict:
    """2-D metrics with the sliced Wasserstein distance set (and anything else given)."""
    return {"sliced_wasserstein": value, **more}


def test_the_standard_boards_cover_the_required_datasets_and_every_family():
    assert {"ring8", "grid25", "digits"} <= set(boards.BOARDS)
    for spec in boards.BOARDS.values():
        assert {e.family for e in spec.entries} == set(boards.FAMILY_ORDER)
        assert len({e.key for e in spec.entries}) == len(spec.entries)
        flows = [e.key for e in spec.entries if e.family == "flow"]
        assert flows == ["realnvp", "flow-matching"]


def test_every_model_of_a_board_is_scored_on_the_same_number_of_samples():
    # sample-based distances (Fréchet, MMD, precision/recall) shift with the sample count
    for spec in boards.BOARDS.values():
        counts = {p.key: p.recipe.eval_samples for p in boards.plan(spec, [0]) if p.recipe}
        assert len(set(counts.values())) == 1, (spec.dataset, counts)


def test_plans_use_the_recipes_and_seeds_0_to_n_and_match_request_run_hashes():
    from atlas.runs import services

    plan, runs = planned("ring8", "gan")
    assert plan.recipe.slug == "gan-2d" and [r.seed for r in runs] == [0, 1, 2]
    raw = {
        **plan.recipe.reference,
        "dataset": "ring8",
        "seed": 1,
        "variant": "non-saturating",
        "stop": "budget",
    }
    config, errors = plan.recipe.validate(raw)
    assert not errors and runs[1].config == config  # board runs train their whole budget
    assert runs[1].config_hash == services.canonical_hash("gan-2d", config, boards.code_version())


def test_a_board_trains_the_recipes_reference_configuration_not_the_fast_demo_defaults():
    recipe = recipes.get("made-digits")
    assert recipe.validate({})[0]["steps"] < recipe.reference["steps"]  # the demo trains fewer steps
    [made] = [p for p in boards.plan(boards.BOARDS["digits"], [0]) if p.key == "autoregressive"]
    assert made.runs[0].config["steps"] == recipe.reference["steps"]


def test_mean_and_sample_std_over_the_succeeded_seeds():
    plan, runs = planned("ring8", "vae")
    for run, value in zip(runs, (1.0, 2.0, 3.0), strict=True):
        make_run(
            plan,
            run,
            metrics=sw(value, likelihood={"value": 2.5 + run.seed, "kind": "bound", "unit": "nats"}),
        )
    board = aggregate.build("ring8")
    row = next(r for r in board.rows if r.key == "vae")
    cell = row.cells["sliced_wasserstein"]
    assert cell.stat.n == 3 and cell.stat.mean == pytest.approx(2.0) and cell.stat.std == pytest.approx(1.0)
    assert cell.text == "2 ± 1"
    assert row.cells["nll"].stat.mean == pytest.approx(3.5)
    assert row.likelihood_kind == "bound" and row.likelihood_unit == "nats"
    assert row.seeds == [0, 1, 2] and row.missing_seeds == [] and not row.stale
    assert row.devices == "cpu" and row.code_versions == [boards.code_version()]
    assert row.cells["wall_time_s"].stat.mean == pytest.approx(10.0)


def test_failed_active_other_config_and_other_version_runs_are_not_aggregated():
    plan, runs = planned("ring8", "gan")
    make_run(plan, runs[0], metrics=sw(1.0))
    make_run(plan, runs[1], metrics=sw(3.0))
    make_run(plan, runs[2], metrics=sw(100.0), status=RunStatus.FAILED)
    make_run(plan, runs[2], metrics=sw(200.0), status=RunStatus.TIMED_OUT)
    make_run(plan, runs[2], status=RunStatus.QUEUED)
    make_run(plan, runs[0], metrics=sw(500.0), version="0ld0ld0ld0ld0ld0")  # same config, older code
    other, other_runs = planned("ring8", "gan", seeds=6)
    make_run(other, other_runs[5], metrics=sw(900.0))  # seed 5 is not on a 3-seed board
    row = next(r for r in aggregate.build("ring8").rows if r.key == "gan")
    cell = row.cells["sliced_wasserstein"]
    assert [s for s, _, _ in cell.stat.values] == [0, 1]
    assert cell.stat.mean == pytest.approx(2.0) and cell.stat.std == pytest.approx(math.sqrt(2))
    assert (row.failed, row.timed_out, row.active) == (1, 1, 1)
    assert row.missing_seeds == [2] and not row.stale


def test_one_seed_has_no_std():
    plan, runs = planned("ring8", "diffusion")
    make_run(plan, runs[0], metrics=sw(0.25))
    cell = next(r for r in aggregate.build("ring8").rows if r.key == "diffusion").cells["sliced_wasserstein"]
    assert cell.stat.std is None and cell.text == "0.25"


def test_an_entry_without_current_runs_falls_back_to_the_newest_older_version_marked_stale():
    plan, runs = planned("ring8", "ebm")
    make_run(plan, runs[0], metrics=sw(5.0), version="aaaaaaaaaaaaaaaa", minutes_ago=60)
    make_run(plan, runs[0], metrics=sw(1.0), version="bbbbbbbbbbbbbbbb", minutes_ago=5)
    make_run(plan, runs[1], metrics=sw(3.0), version="bbbbbbbbbbbbbbbb", minutes_ago=4)
    row = next(r for r in aggregate.build("ring8").rows if r.key == "ebm")
    assert row.stale and row.code_versions == ["bbbbbbbbbbbbbbbb"]
    assert row.cells["sliced_wasserstein"].stat.mean == pytest.approx(2.0)
    # one current run replaces the stale ones
    make_run(plan, runs[2], metrics=sw(7.0))
    row = next(r for r in aggregate.build("ring8").rows if r.key == "ebm")
    assert not row.stale and row.cells["sliced_wasserstein"].stat.mean == pytest.approx(7.0)


def test_a_family_without_a_recipe_shows_no_demo_yet(monkeypatch):
    spec = boards.BoardSpec(
        "ring8",
        "Ring",
        "points2d",
        "",
        (
            boards.Entry("vae", "vae", "VAE", (boards.Candidate("vae-2d"),)),
            boards.Entry("ghost", "flow", "Ghost flow", (boards.Candidate("no-such-recipe"),)),
            boards.Entry(
                "text", "autoregressive", "Wrong data", (boards.Candidate("char-transformer-text"),)
            ),
        ),
    )
    monkeypatch.setitem(boards.BOARDS, "ring8", spec)
    rows = {r.key: r for r in aggregate.build("ring8").rows}
    assert rows["vae"].has_demo and not rows["ghost"].has_demo and not rows["text"].has_demo
    assert rows["ghost"].plan.runs == ()


def _three_way(dataset: str = "ring8") -> None:
    """vae / gan / diffusion with opposite orders under sliced W and recall, equal under MMD²."""
    values = {"vae": (1.0, 0.9, 0.1), "gan": (2.0, 0.5, 0.1), "diffusion": (3.0, 0.1, 0.1)}
    for key, (w, recall, mmd) in values.items():
        plan, runs = planned(dataset, key)
        for run in runs:
            make_run(plan, run, metrics=sw(w + 0.01 * run.seed, prdc={"recall": recall}, mmd2=mmd))


def test_rankings_ties_and_how_they_disagree():
    _three_way()
    board = aggregate.build("ring8")
    rank = {
        r.key: (r.cells["sliced_wasserstein"].rank, r.cells["recall"].rank, r.cells["mmd2"].rank)
        for r in board.filled
    }
    assert rank == {"vae": (1, 1, 1), "gan": (2, 2, 1), "diffusion": (3, 3, 1)}
    assert [r.key for r in board.ranking("sliced_wasserstein")][:3] == ["vae", "gan", "diffusion"]
    assert [r.key for r in board.ranking("recall")][:3] == ["vae", "gan", "diffusion"]  # higher is better
    # rows without a value come last, in board order
    assert all(not r.runs for r in board.ranking("sliced_wasserstein")[3:])
    pair = {(a.a.key, a.b.key): a for a in board.agreements}
    assert pair[("sliced_wasserstein", "recall")].tau == pytest.approx(1.0)
    assert pair[("sliced_wasserstein", "mmd2")].tau == pytest.approx(0.0)  # a constant ranking
    gan = next(r for r in board.rows if r.key == "gan")
    assert gan.favoured == ["mmd2"] and set(gan.disfavoured) == {"sliced_wasserstein", "recall"}
    vae = next(r for r in board.rows if r.key == "vae")
    assert vae.consistent and vae.favoured == []


def test_reversed_rankings_are_reported_as_the_most_opposed_pair():
    values = {"vae": (1.0, 0.1), "gan": (2.0, 0.5), "diffusion": (3.0, 0.9)}
    for key, (w, recall) in values.items():
        plan, runs = planned("ring8", key)
        for run in runs:
            make_run(plan, run, metrics=sw(w, prdc={"recall": recall}))
    board = aggregate.build("ring8")
    worst = board.most_disagreeing
    assert (worst.a.key, worst.b.key, worst.n) == ("sliced_wasserstein", "recall", 3)
    assert worst.tau == pytest.approx(-1.0)
    assert board.distinct_leaders == 2
    vae = next(r for r in board.rows if r.key == "vae")
    assert vae.favoured == ["sliced_wasserstein"] and vae.disfavoured == ["recall"]


@pytest.mark.parametrize(
    ("x", "y", "tau"),
    [
        ([1, 2, 3, 4], [1, 2, 3, 4], 1.0),
        ([1, 2, 3, 4], [4, 3, 2, 1], -1.0),
        ([1, 2, 3], [1, 1, 1], 0.0),
        ([1, 2, 3, 4], [1, 3, 2, 4], 2 / 3),
        ([1, 1, 2, 3], [1, 2, 3, 4], 5 / math.sqrt(5 * 6)),
    ],
)
def test_kendall_tau(x, y, tau):
    assert aggregate.kendall_tau(x, y) == pytest.approx(tau)
    reference = stats.kendalltau(x, y).statistic  # τ-b; NaN when a list is constant (we say 0)
    assert aggregate.kendall_tau(x, y) == pytest.approx(0.0 if math.isnan(reference) else reference)


def test_csv_and_json_downloads_parse_and_agree(client):
    _three_way()
    response = client.get("/results/ring8.csv")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert [r["key"] for r in rows] == [e.key for e in boards.BOARDS["ring8"].entries]
    gan = next(r for r in rows if r["key"] == "gan")
    assert float(gan["sliced_wasserstein_mean"]) == pytest.approx(2.01)
    assert float(gan["sliced_wasserstein_std"]) == pytest.approx(0.01)
    assert gan["sliced_wasserstein_n"] == "3" and gan["sliced_wasserstein_rank"] == "2"
    assert gan["code_versions"] == boards.code_version() and gan["last_produced"]

    body = json.loads(client.get("/results/ring8.json").content)
    assert body["dataset"] == "ring8" and body["seeds"] == [0, 1, 2]
    assert body["code_version"] == boards.code_version()
    jgan = next(r for r in body["rows"] if r["key"] == "gan")
    assert jgan["metrics"]["sliced_wasserstein"]["mean"] == pytest.approx(2.01)
    assert [v["seed"] for v in jgan["metrics"]["sliced_wasserstein"]["values"]] == [0, 1, 2]
    assert body["rankings"]["sliced_wasserstein"] == ["vae", "gan", "diffusion"]
    assert jgan["produced"]["last"] and jgan["favoured_by"] == ["mmd2"]
    download = client.get("/results/ring8.json?download=1")
    assert "attachment" in download["Content-Disposition"]


def test_plots_are_svg_rendered_on_the_server(client):
    _three_way()
    for metric in ("sliced_wasserstein", "recall", "nll", "nfe", "ranks"):
        response = client.get(f"/results/ring8/{metric}.svg")
        assert response.status_code == 200 and response["Content-Type"].startswith("image/svg+xml")
        root = ET.fromstring(response.content)
        assert root.tag.endswith("svg") and root.find("{http://www.w3.org/2000/svg}title") is not None
    bars = client.get("/results/ring8/sliced_wasserstein.svg").content.decode()
    assert "1. VAE" in bars and ("no demo yet" in bars or "no runs yet" in bars)
    assert "attachment" in client.get("/results/ring8/recall.svg?download=1")["Content-Disposition"]


def test_chart_labels_are_escaped(client, monkeypatch):
    """Labels reach the SVG through autoescaping templates: markup in a label stays text."""
    label = 'VAE <script>alert("x")</script> & co'
    spec = boards.BOARDS["ring8"]
    entries = tuple(dataclasses.replace(e, label=label) if e.key == "vae" else e for e in spec.entries)
    monkeypatch.setitem(boards.BOARDS, "ring8", dataclasses.replace(spec, entries=entries))
    _three_way()
    for name in ("sliced_wasserstein", "ranks"):
        content = client.get(f"/results/ring8/{name}.svg").content.decode()
        assert "<script" not in content and "&lt;script&gt;" in content
        texts = [el.text for el in ET.fromstring(content).iter("{http://www.w3.org/2000/svg}text")]
        assert (f"1. {label}" if name != "ranks" else label) in texts


def test_board_page_sorts_by_each_metric_and_names_what_favours_whom(client):
    _three_way()
    page = client.get("/results/ring8/?sort=recall").content.decode()
    assert page.index('data-key="vae"') < page.index('data-key="gan"') < page.index('data-key="diffusion"')
    assert "Sorted by Recall" in page
    assert "is favoured by" in page and "/node/evaluation-crisis/" in page
    assert 'href="?sort=sliced_wasserstein"' in page and 'href="?sort=nll"' in page
    assert "no demo yet" in page or "no succeeded runs yet" in page
    assert "/results/ring8.csv" in page and "/results/ring8.json" in page


def test_empty_boards_render(client):
    for dataset in boards.BOARDS:
        response = client.get(f"/results/{dataset}/")
        assert response.status_code == 200 and b"No results yet" in response.content
        assert client.get(f"/results/{dataset}.csv").status_code == 200
        assert client.get(f"/results/{dataset}/ranks.svg").status_code == 200
    assert client.get("/results/").status_code == 200


@pytest.mark.parametrize(
    ("url", "status"),
    [
        ("/results/nope/", 404),
        ("/results/nope.csv", 404),
        ("/results/nope.json", 404),
        ("/results/ring8/nope.svg", 404),
        ("/results/digits/sliced_wasserstein.svg", 404),  # not a digits metric
        ("/results/ring8/?sort=%3Cscript%3E", 400),
    ],
)
def test_bad_urls_are_4xx_not_500(client, url, status):
    response = client.get(url)
    assert response.status_code == status
    assert b"<script>" not in response.content


def test_queries_are_bounded(client, django_assert_max_num_queries):
    _three_way()
    plan, runs = planned("ring8", "ebm")
    make_run(plan, runs[0], metrics=sw(1.0), version="cccccccccccccccc")  # forces the stale query
    with django_assert_max_num_queries(2):
        aggregate.build("ring8")
    with django_assert_max_num_queries(2):
        assert client.get("/results/ring8/?sort=mmd2").status_code == 200
    with django_assert_max_num_queries(2 * len(boards.BOARDS)):
        assert client.get("/results/").status_code == 200
    with django_assert_max_num_queries(2):
        assert client.get("/results/ring8.csv").status_code == 200
    with django_assert_max_num_queries(2):
        assert client.get("/results/ring8/ranks.svg").status_code == 200


def test_a_visitors_demo_run_never_enters_the_board():
    plan, runs = planned("ring8", "realnvp")
    make_run(plan, runs[0], metrics={"hq_fraction": 0.9}, on_board=False)
    row = next(r for r in aggregate.build("ring8").rows if r.key == "realnvp")
    assert row.runs == []


def test_a_row_missing_seeds_is_shown_but_not_ranked():
    full_plan, full_runs = planned("ring8", "diffusion")
    part_plan, part_runs = planned("ring8", "gan")
    for run in full_runs:
        make_run(full_plan, run, metrics={"hq_fraction": 0.5})
    make_run(part_plan, part_runs[0], metrics={"hq_fraction": 0.99})
    rows = {r.key: r for r in aggregate.build("ring8").rows}
    assert rows["diffusion"].cells["hq_fraction"].rank == 1
    assert rows["gan"].cells["hq_fraction"].stat.mean == 0.99
    assert rows["gan"].cells["hq_fraction"].rank is None and not rows["gan"].complete


def test_results_refresh_enlists_a_reused_identical_run():
    plan, runs = planned("ring8", "realnvp")
    visitor = make_run(plan, runs[0], metrics={"hq_fraction": 0.9}, on_board=False)
    boards.enlist(visitor)
    visitor.refresh_from_db()
    assert visitor.on_board
