"""Published experiment records: committed files that a fresh site loads, never over newer local ones."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from atlas.experiments import published, services
from atlas.experiments.models import ExperimentRecord
from tests.atlas.experiments.conftest import PNG, render_panel

pytestmark = pytest.mark.django_db


@pytest.fixture
def results_dir(settings, tmp_path):
    settings.ATLAS_RESULTS_DIR = tmp_path / "results"
    return settings.ATLAS_RESULTS_DIR / "experiments"


def stored_and_published(results_dir) -> ExperimentRecord:
    call_command("experiments", "run", "--only", "mode-collapse", "--scale", "smoke", "--publish")
    return ExperimentRecord.objects.get(slug="mode-collapse")


def test_it_publishes_the_record_and_its_figures_as_files(results_dir):
    record = stored_and_published(results_dir)
    payload = json.loads((results_dir / "mode-collapse" / "record.json").read_text())
    assert payload["verdict"] == "reproduced" and payload["code_version"] == record.code_version
    assert payload["figures"] == [{"name": "samples", "file": "samples.png"}]
    assert (results_dir / "mode-collapse" / "samples.png").read_bytes() == PNG


def test_a_fresh_database_loads_the_published_record_with_its_figures(results_dir):
    record = stored_and_published(results_dir)
    ExperimentRecord.objects.all().delete()
    call_command("experiments", "load")
    loaded = ExperimentRecord.objects.get(slug="mode-collapse")
    assert loaded.verdict_text == record.verdict_text and loaded.produced_at == record.produced_at
    assert services.default_storage.open(loaded.figures[0]["path"]).read() == PNG


def test_loading_twice_changes_nothing(results_dir):
    stored_and_published(results_dir)
    ExperimentRecord.objects.all().delete()
    first = published.load()
    second = published.load()
    assert (first.loaded, second.loaded, second.kept) == (["mode-collapse"], [], ["mode-collapse"])


def test_a_newer_local_measurement_is_kept(results_dir):
    stored_and_published(results_dir)
    ExperimentRecord.objects.update(
        verdict_text="measured here later",
        produced_at=ExperimentRecord.objects.get().produced_at + timedelta(1),
    )
    assert published.load().kept == ["mode-collapse"]
    assert ExperimentRecord.objects.get().verdict_text == "measured here later"


def test_an_older_local_record_is_replaced_by_the_published_one(results_dir):
    record = stored_and_published(results_dir)
    ExperimentRecord.objects.update(verdict_text="old", produced_at=record.produced_at - timedelta(1))
    assert published.load().loaded == ["mode-collapse"]
    assert ExperimentRecord.objects.get().verdict_text == record.verdict_text


def test_it_rejects_a_malformed_file_naming_it_and_writes_nothing(results_dir):
    stored_and_published(results_dir)
    ExperimentRecord.objects.all().delete()
    bad = results_dir / "energy-explosion" / "record.json"
    bad.parent.mkdir()
    bad.write_text('{"slug": "energy-explosion",\n "verdict": }')
    with pytest.raises(CommandError, match=r"energy-explosion/record.json:2: not valid JSON"):
        call_command("experiments", "load")
    assert ExperimentRecord.objects.count() == 0  # the good file was not half-loaded either


def test_it_rejects_a_record_without_its_figure_file(results_dir):
    stored_and_published(results_dir)
    (results_dir / "mode-collapse" / "samples.png").unlink()
    with pytest.raises(CommandError, match="figure .* has no file beside it"):
        call_command("experiments", "load")


def test_it_rejects_a_record_whose_slug_is_not_its_folder(results_dir):
    stored_and_published(results_dir)
    (results_dir / "mode-collapse").rename(results_dir / "memorisation")
    with pytest.raises(CommandError, match="does not match its folder"):
        call_command("experiments", "load")


def test_it_refuses_to_publish_what_was_never_measured(results_dir):
    with pytest.raises(CommandError, match="no stored record to publish for: energy-explosion"):
        call_command("experiments", "publish", "--only", "energy-explosion")


def test_the_panel_says_when_the_code_has_changed_since_the_measurement(results_dir):
    stored_and_published(results_dir)
    ExperimentRecord.objects.update(code_version="0123456789abcdef")

    html = render_panel("mode-collapse")
    assert "0123456789abcdef" in html and "compute/ has changed since" in html


def test_a_partial_verdict_reads_as_words(results_dir):
    stored_and_published(results_dir)
    ExperimentRecord.objects.update(verdict="partly-reproduced")

    html = render_panel("mode-collapse")
    assert "<strong>PARTLY REPRODUCED</strong>" in html


def test_the_published_record_keeps_the_prediction_and_the_control(results_dir):
    stored_and_published(results_dir)
    payload = json.loads((results_dir / "mode-collapse" / "record.json").read_text())
    assert payload["evidence"]["control_rejected"] is True
    ExperimentRecord.objects.all().delete()
    call_command("experiments", "load")
    loaded = ExperimentRecord.objects.get(slug="mode-collapse")
    assert loaded.evidence["prediction"] == "judge_2d calls its samples collapse on every seed."


def test_it_loads_a_record_published_before_records_had_evidence(results_dir):
    stored_and_published(results_dir)
    path = results_dir / "mode-collapse" / "record.json"
    payload = json.loads(path.read_text())
    del payload["evidence"]
    path.write_text(json.dumps(payload))
    ExperimentRecord.objects.all().delete()
    call_command("experiments", "load")
    loaded = ExperimentRecord.objects.get(slug="mode-collapse")
    assert loaded.evidence == {} and not loaded.has_evidence
    assert "predates negative controls" in render_panel("mode-collapse")


def test_it_rejects_evidence_that_is_not_an_object(results_dir):
    stored_and_published(results_dir)
    path = results_dir / "mode-collapse" / "record.json"
    payload = json.loads(path.read_text())
    payload["evidence"] = "trust me"
    path.write_text(json.dumps(payload))
    with pytest.raises(CommandError, match="evidence must be a JSON dict"):
        call_command("experiments", "load")


def test_a_changed_verdict_says_what_it_was_and_why():
    """The real published records: a verdict that changed at the last republication says so."""
    published.load()
    record = ExperimentRecord.objects.get(slug="mode-collapse")
    assert record.previous_verdict_label == "partly reproduced"
    html = render_panel(record.slug)
    assert "Verdict changed" in html and record.evidence["revision"]["why"][:40] in html
    unchanged = ExperimentRecord.objects.get(slug="schedule-mismatch")
    assert "Verdict changed" not in render_panel(unchanged.slug)
