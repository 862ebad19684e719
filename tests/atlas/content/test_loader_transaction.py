"""A failing load leaves the database exactly as it was; removed records disappear."""

from __future__ import annotations

from pathlib import Path

import pytest

from atlas.content import loader
from atlas.content.errors import ContentError
from atlas.content.loader import load
from atlas.graph.models import ContentVersion, Edge, LensValue, Node, NodePaper
from atlas.papers.models import Paper
from tests.atlas.content.conftest import overlay

pytestmark = pytest.mark.django_db


def snapshot() -> dict[str, list[tuple]]:
    return {
        model.__name__: sorted(model.objects.values_list(), key=repr)
        for model in (Paper, Node, Edge, NodePaper, LensValue, LensValue.papers.through, ContentVersion)
    }


def test_a_failing_file_leaves_the_database_untouched(content_dir: Path):
    load(content_dir, strict=False)
    before = snapshot()
    path = content_dir / "methods" / "ddpm.md"
    path.write_text(path.read_text().replace("title: DDPM", "title: DDPM v2"))  # a valid change...
    overlay(content_dir, "dangling-paper")  # ...and a broken file
    with pytest.raises(ContentError) as failure:
        load(content_dir, strict=False)
    assert [str(e) for e in failure.value.errors] == [
        "content/methods/ddpm.md:5: 'papers[1]': unknown paper 'nobody2099missing'"
    ]
    assert snapshot() == before


def test_an_error_while_writing_rolls_everything_back(content_dir: Path, monkeypatch: pytest.MonkeyPatch):
    load(content_dir, strict=False)
    before = snapshot()
    (content_dir / "methods" / "wgan.md").unlink()
    path = content_dir / "failure-modes" / "mode-collapse.md"
    path.write_text(path.read_text().replace("node: wgan", "node: ddpm"))

    def explode(tree):
        raise RuntimeError("disk full")

    monkeypatch.setattr(loader, "_sync_version", explode)
    with pytest.raises(RuntimeError):
        load(content_dir, strict=False)
    assert snapshot() == before


def test_records_removed_from_content_disappear(content_dir: Path):
    load(content_dir, strict=False)
    (content_dir / "methods" / "wgan.md").unlink()
    (content_dir / "papers" / "arjovsky2017wgan.yaml").unlink()
    path = content_dir / "failure-modes" / "mode-collapse.md"
    path.write_text(path.read_text().replace("node: wgan", "node: ddpm"))
    path = content_dir / "lenses" / "divergence.md"
    path.write_text(path.read_text().replace("papers: [arjovsky2017wgan]", "papers: []"))

    report = load(content_dir, strict=False)
    assert not Node.objects.filter(slug="wgan").exists()
    assert not Paper.objects.filter(key="arjovsky2017wgan").exists()
    assert report.counts["nodes"].deleted == 1
    assert report.counts["papers"].deleted == 1
    assert report.counts["edges"].deleted == 2  # wgan → gan (variant_of), wgan → mode-collapse (fixes)
    assert report.counts["edges"].created == 1  # ddpm → mode-collapse (fixes)
    assert report.counts["citations"].deleted == 1
    assert report.counts["lens value papers"].deleted == 1
    assert not Edge.objects.filter(source__slug="wgan").exists()
