"""Loading: everything lands in the tables, and loading the same content again changes nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from atlas.content.loader import content_loaded, load
from atlas.graph.models import ContentVersion, Edge, LensValue, Node, NodePaper
from atlas.papers.models import Paper

pytestmark = pytest.mark.django_db


def test_it_loads_every_record_and_derived_row(content_dir: Path):
    report = load(content_dir, strict=False)
    assert report.counts["nodes"].created == Node.objects.count() == 20
    assert report.counts["papers"].created == Paper.objects.count() == 2
    assert LensValue.objects.count() == 7  # six families + one variant
    assert NodePaper.objects.filter(node__slug="diffusion", paper__key="ho2020ddpm").exists()
    assert ContentVersion.current_hash() == report.hash


def test_it_derives_typed_edges_from_fields(content_dir: Path):
    load(content_dir, strict=False)
    edges = set(Edge.objects.values_list("source__slug", "target__slug", "kind", "origin"))
    assert {
        ("diffusion", "flow", "lineage", "edges"),
        ("ddpm", "diffusion", "variant_of", "parent"),
        ("diffusion-flow", "diffusion", "unifies", "connects"),
        ("gan", "mode-collapse", "suffers_from", "affects"),
        ("wgan", "mode-collapse", "fixes", "fixes"),
        ("why-cfg-works", "diffusion", "related", "related"),
        ("vae", "image-pipeline", "component_of", "components"),
        ("decision-guide", "ddpm", "recommends", "guide"),
    } <= edges
    component = Edge.objects.get(source__slug="vae", target__slug="image-pipeline")
    assert component.text == "VAE encoder; VAE decoder"
    assert Edge.objects.get(source__slug="diffusion", target__slug="flow").style == "dotted"


def test_it_stores_rendered_html_for_bodies_and_fields(content_dir: Path):
    load(content_dir, strict=False)
    diffusion = Node.objects.get(slug="diffusion")
    assert diffusion.equation_html.startswith('<div class="math-display"><math display="block">')
    assert '<a class="wikilink" href="/node/ddpm/"' in diffusion.body_html
    assert "<math" in diffusion.data["trains_via_html"]
    assert diffusion.families == ["diffusion"]
    guide = Node.objects.get(kind="guide")
    assert guide.data["root"] == "goal"
    assert "<math" in guide.data["leaves"][0]["why_html"]
    unification = Node.objects.get(slug="diffusion-flow")
    assert unification.families == ["diffusion", "flow"]
    assert unification.data["assumptions_html"] == ["The path is Gaussian."]


def test_the_second_load_changes_nothing(content_dir: Path, django_assert_max_num_queries):
    first = load(content_dir, strict=False)
    assert first.changed
    version = ContentVersion.objects.get()
    with django_assert_max_num_queries(15):
        second = load(content_dir, strict=False)
    assert not second.changed
    assert second.total.unchanged == first.total.created
    assert ContentVersion.objects.get().loaded_at == version.loaded_at


def test_an_edited_record_is_updated_in_place(content_dir: Path):
    load(content_dir, strict=False)
    node_id = Node.objects.get(slug="ddpm").id
    path = content_dir / "methods" / "ddpm.md"
    path.write_text(path.read_text().replace("summary: Denoising", "summary: The denoising"))
    report = load(content_dir, strict=False)
    assert report.counts["nodes"].updated == 1
    assert report.counts["nodes"].created == report.counts["nodes"].deleted == 0
    assert Node.objects.get(slug="ddpm").id == node_id
    assert Node.objects.get(slug="ddpm").summary.startswith("The denoising")
    assert report.counts["content version"].updated == 1


def test_a_new_title_updates_the_links_that_show_it(content_dir: Path):
    load(content_dir, strict=False)
    path = content_dir / "methods" / "ddpm.md"
    path.write_text(path.read_text().replace("title: DDPM", "title: DDPM (Ho et al.)"))
    load(content_dir, strict=False)
    assert 'href="/node/ddpm/" rel="noopener noreferrer">DDPM (Ho et al.)</a>' in (
        Node.objects.get(slug="wgan").body_html + Node.objects.get(slug="gan").body_html
    )


def test_it_signals_a_load_that_changed_something(content_dir: Path, django_capture_on_commit_callbacks):
    received = []

    def receiver(sender, report, **kwargs):
        received.append(report.changed)

    content_loaded.connect(receiver)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            load(content_dir, strict=False)
        with django_capture_on_commit_callbacks(execute=True):
            load(content_dir, strict=False)
    finally:
        content_loaded.disconnect(receiver)
    assert received == [True]
