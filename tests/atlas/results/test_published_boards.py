"""results publish|load: board runs kept in the repository, loaded into a fresh database."""

from __future__ import annotations

import json

import pytest
from django.core.files.base import ContentFile

from atlas.results import aggregate, published
from atlas.runs.models import Run
from tests.atlas.results.conftest import make_run, planned

pytestmark = pytest.mark.django_db


@pytest.fixture
def published_board(tmp_path):
    plan, runs = planned("ring8", "diffusion")
    for run in runs:
        row = make_run(plan, run, metrics={"hq_fraction": 0.9 + run.seed / 100})
        row.samples_png.save("samples.png", ContentFile(b"\x89PNG fake"), save=True)
    published.publish("ring8", tmp_path)
    Run.objects.all().delete()
    return tmp_path


def test_it_loads_published_runs_into_an_empty_database(published_board):
    report = published.load(published_board)
    assert (report.loaded, report.kept) == (3, 0)
    row = next(r for r in aggregate.build("ring8").rows if r.key == "diffusion")
    assert row.complete and row.cells["hq_fraction"].stat.mean == pytest.approx(0.91)
    assert all(run.on_board for run in Run.objects.all())
    assert Run.objects.first().samples_png.read() == b"\x89PNG fake"


def test_a_second_load_changes_nothing(published_board):
    published.load(published_board)
    assert published.load(published_board) == published.LoadReport(0, 3)
    assert Run.objects.count() == 3


def test_it_keeps_an_identical_local_run(published_board):
    plan, runs = planned("ring8", "diffusion")
    local = make_run(plan, runs[0], metrics={"hq_fraction": 0.5})
    report = published.load(published_board)
    assert (report.loaded, report.kept) == (2, 1)
    local.refresh_from_db()
    assert local.metrics == {"hq_fraction": 0.5}


def test_it_names_the_file_and_line_of_bad_json(published_board):
    path = published_board / "ring8" / "runs.json"
    path.write_text('{"dataset": "ring8",\n "runs": [}')
    with pytest.raises(published.PublishedError, match=r"runs\.json:2: not valid JSON"):
        published.load(published_board)


def test_it_rejects_a_run_whose_artifact_is_missing_and_writes_nothing(published_board):
    for png in (published_board / "ring8").glob("*.png"):
        png.unlink()
    with pytest.raises(published.PublishedError, match="has no file beside it"):
        published.load(published_board)
    assert Run.objects.count() == 0


def test_it_rejects_a_run_of_another_board(published_board):
    path = published_board / "ring8" / "runs.json"
    payload = json.loads(path.read_text())
    payload["runs"][0]["dataset"] = "grid25"
    path.write_text(json.dumps(payload))
    with pytest.raises(published.PublishedError, match="is not this board's"):
        published.load(published_board)
