"""Storing experiment results: figures through the storage backend, one row per experiment, refresh."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from atlas.experiments import services
from atlas.experiments.models import ExperimentRecord
from tests.atlas.experiments.conftest import PNG, Toy, render_panel

pytestmark = pytest.mark.django_db


def test_it_stores_tables_figures_verdict_and_code_version():
    record = services.run_and_store("mode-collapse", "smoke", log=lambda _: None)
    assert record.verdict == "reproduced" and "3.0 of 25" in record.verdict_text
    assert record.tables[0]["rows"][1] == ["fix", None]  # NaN is stored as null
    assert record.code_version and record.scale == "smoke"
    path = record.figures[0]["path"]
    assert (services.default_storage.open(path).read()) == PNG


def test_a_refresh_replaces_the_row_and_its_figures():
    services.run_and_store("mode-collapse", "smoke", log=lambda _: None)
    Toy.modes = 24.0
    try:
        record = services.run_and_store("mode-collapse", "smoke", log=lambda _: None)
    finally:
        Toy.modes = 3.0
    assert ExperimentRecord.objects.count() == 1 and record.measurements["modes"] == 24.0


def test_a_failing_experiment_keeps_the_previous_record_and_the_command_fails():
    call_command("experiments", "run", "--only", "mode-collapse", "--scale", "smoke")
    with pytest.raises(CommandError, match="energy-explosion"):
        call_command("experiments", "run", "--scale", "smoke")
    assert list(ExperimentRecord.objects.values_list("slug", flat=True)) == ["mode-collapse"]


def test_it_rejects_an_unknown_slug():
    with pytest.raises(CommandError, match="unknown experiment"):
        call_command("experiments", "run", "--only", "nope")


def test_the_panel_shows_the_verdict_and_a_runnable_preset():
    services.run_and_store("mode-collapse", "smoke", log=lambda _: None)

    html = render_panel("mode-collapse")
    assert "REPRODUCED" in html and "3.0 of 25" in html
    assert 'data-recipe="gan-2d"' in html and "Reproduce: GAN on 2-D data" in html
    assert '<option value="minimax" selected>' in html and '<option value="grid25" selected>' in html


def test_the_panel_shows_the_claim_the_prediction_the_control_and_both_outcomes():
    services.run_and_store("mode-collapse", "smoke", log=lambda _: None)

    html = render_panel("mode-collapse")
    for text in (
        "The minimax GAN collapses.",
        "judge_2d calls its samples collapse on every seed.",
        "collapse on 3 of 3 seeds",
        "Exact mixture samples judged by the same rule.",
        "exact samples -&gt; meets",
        "Rejected by the verdict rule",
    ):
        assert text in html, text


def test_the_panel_says_when_the_control_was_not_rejected():
    services.run_and_store("mode-collapse", "smoke", log=lambda _: None)
    record = ExperimentRecord.objects.get(slug="mode-collapse")
    record.evidence = {**record.evidence, "control_rejected": False}
    record.save()

    assert "Not rejected" in render_panel("mode-collapse")
