"""POST /api/results/score/: a researcher's samples scored by the board's metrics and placed on it."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch
from rest_framework.test import APIClient

from atlas.results import api as score_api
from atlas.results import scoring
from atlas.runs.models import Run
from compute import datasets

pytestmark = pytest.mark.django_db


def npy(array: np.ndarray) -> io.BytesIO:
    buffer = io.BytesIO()
    np.save(buffer, array)
    buffer.seek(0)
    buffer.name = "samples.npy"
    return buffer


def post(dataset: str, upload: io.BytesIO):
    return APIClient().post(
        "/api/results/score/", {"dataset": dataset, "samples": upload}, format="multipart"
    )


def exact(dataset: str, n: int = 1000) -> np.ndarray:
    return datasets.load(dataset).sample(n, torch.Generator().manual_seed(7)).numpy()


def test_it_scores_exact_samples_as_meeting_the_bar():
    response = post("grid25", npy(exact("grid25")))
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["stored"] is False and body["n_samples"] == 1000
    assert body["metrics"]["judgement"]["meets"] is True
    assert {p["metric"] for p in body["placements"]} >= {"mmd2", "hq_fraction", "modes_captured"}
    assert all(p["rank"] == 1 and p["of"] == 1 for p in body["placements"])  # an empty board


def test_it_judges_collapsed_samples_as_failing():
    samples = exact("ring8")
    samples = samples[np.linalg.norm(samples - samples[0], axis=1) < 0.5]  # one mode only
    samples = np.repeat(samples, 1 + 200 // len(samples), axis=0)[:200]
    body = post("ring8", npy(samples)).json()
    assert body["metrics"]["judgement"]["meets"] is False


def test_it_stores_nothing():
    post("ring8", npy(exact("ring8")))
    assert Run.objects.count() == 0


def test_it_accepts_digits_in_any_of_the_three_shapes():
    digits = np.random.default_rng(0).random((200, 8, 8)).astype(np.float32)
    response = post("digits", npy(digits))
    assert response.status_code == 200, response.content
    assert "frechet_distance" in response.json()["metrics"]


@pytest.mark.parametrize(
    ("array", "message"),
    [
        (np.full((200, 2), np.nan), "NaN"),
        (np.zeros((200, 3)), "Shape (n, 2)"),
        (np.zeros((10, 2)), "Between"),
        (np.array(["a"] * 200), "Numbers are needed"),
    ],
)
def test_it_rejects_bad_arrays_with_a_field_message(array, message):
    response = post("ring8", npy(array))
    assert response.status_code == 400
    assert any(message in m for m in response.json()["samples"])


def test_it_rejects_a_file_that_is_not_npy():
    upload = io.BytesIO(b"x,y\n1,2\n")
    upload.name = "samples.csv"
    response = post("ring8", upload)
    assert response.status_code == 400
    assert "Not a .npy file" in response.json()["samples"][0]


def test_it_rejects_a_pickled_array():
    upload = io.BytesIO()
    np.save(upload, np.array([{"a": 1}] * 200, dtype=object), allow_pickle=True)
    upload.seek(0)
    upload.name = "samples.npy"
    response = post("ring8", upload)
    assert response.status_code == 400


def test_it_rejects_an_unknown_dataset_listing_the_valid_ones():
    response = post("moons", npy(exact("ring8")))
    assert response.status_code == 400
    assert "ring8" in str(response.json()["dataset"])


def test_it_rejects_pixels_outside_the_unit_interval():
    response = post("digits", npy(np.full((200, 64), 2.0)))
    assert response.status_code == 400
    assert "[0, 1]" in response.json()["samples"][0]


def test_it_rate_limits_uploads(monkeypatch):
    from django.core.cache import cache

    cache.clear()
    throttle = score_api.ScoreView.throttle_classes[0]
    monkeypatch.setattr(throttle, "THROTTLE_RATES", {**throttle.THROTTLE_RATES, "score": "2/min"})
    codes = [post("ring8", npy(np.zeros((10, 2)))).status_code for _ in range(3)]
    assert codes == [400, 400, 429]


def test_it_places_an_upload_among_complete_rows_only(monkeypatch):
    from atlas.results import aggregate

    board = aggregate.build("ring8")
    metric = board.metric("hq_fraction")
    complete, partial = board.rows[0], board.rows[1]
    for row, seeds in ((complete, [0, 1, 2]), (partial, [0])):
        row.runs = [object()] * len(seeds)
        row.cells["hq_fraction"] = aggregate.Cell(metric, aggregate.Stat([(s, 0.9, "x") for s in seeds]))
    monkeypatch.setattr(
        aggregate.Row, "missing_seeds", property(lambda row: [] if row is complete else [1, 2])
    )
    placements = {p.metric.key: p for p in scoring.place(board, {"hq_fraction": 0.95})}
    assert (placements["hq_fraction"].rank, placements["hq_fraction"].of) == (1, 2)


def test_the_board_page_form_scores_an_upload(client):
    response = client.post("/results/ring8/score/", {"samples": npy(exact("ring8"))})
    assert response.status_code == 200
    assert "Meets the verdict-grade bar" in response.content.decode()


def test_the_board_page_form_shows_the_error_of_a_bad_file(client):
    response = client.post("/results/ring8/score/", {"samples": npy(np.zeros((200, 3)))})
    assert response.status_code == 400
    assert "Shape (n, 2)" in response.content.decode()


def test_the_board_links_its_score_page(client):
    assert "/results/grid25/score/" in client.get("/results/grid25/").content.decode()
