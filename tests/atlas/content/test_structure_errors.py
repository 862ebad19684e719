"""Record structure: lens coverage, the guide tree, pipeline flows, fixed counts."""

from __future__ import annotations

from pathlib import Path

from tests.atlas.content.conftest import errors_of


def test_it_rejects_a_lens_that_misses_a_family(broken):
    assert broken("lens-missing-family") == [
        "content/lenses/divergence.md:5: 'values' must cover all six families; missing: ebm"
    ]


def test_it_rejects_an_unreachable_guide_leaf(broken):
    assert broken("guide-unreachable-leaf") == [
        "content/guide/decision-guide.yaml:14: guide leaf 'orphan' is not reachable from the root"
    ]


def test_it_rejects_a_cycle_in_the_guide(broken):
    assert broken("guide-cycle") == [
        "content/guide/decision-guide.yaml:4: the guide has a cycle: goal → likelihood → goal"
    ]


def test_it_rejects_a_guide_leaf_recommending_a_missing_node(broken):
    assert broken("guide-leaf-missing-node") == [
        "content/guide/decision-guide.yaml:12: 'leaves[0].recommends[1]': unknown node 'imagen-9000'"
    ]


def test_it_rejects_a_pipeline_flow_to_an_unknown_component(broken):
    assert broken("pipeline-bad-flow") == [
        "content/pipelines/image-pipeline.md:8: flow to 'decoder' is not a component id of this pipeline"
    ]


def test_it_checks_the_fixed_counts_only_in_strict_mode(content_dir: Path):
    assert errors_of(content_dir, strict=False) == []
    assert errors_of(content_dir, strict=True) == [
        "content/confusions:0: expected 10 confusion record(s), found 1",
        "content/failure-modes:0: expected 13 failure-mode record(s), found 1",
        "content/lenses:0: expected 3 lens record(s), found 1",
        "content/open-problems:0: expected 8 open-problem record(s), found 1",
        "content/pipelines:0: expected 3 pipeline record(s), found 1",
        "content/trends:0: expected 5 trend record(s), found 1",
        "content/unifications:0: expected 8 unification record(s), found 1",
    ]


def test_it_rejects_a_missing_family_in_strict_mode(content_dir: Path):
    (content_dir / "families" / "ebm.md").unlink()
    for path in content_dir.rglob("*.md"):  # the lens must still cover ebm: keep only the count error
        path.write_text(path.read_text().replace("[[ebm]]", "ebm"))
    errors = errors_of(content_dir, strict=True)
    assert "content/families:0: missing family record families/ebm.md" in errors
    assert "content/families:0: expected 6 family record(s), found 5" in errors


def test_it_rejects_a_seventh_family(content_dir: Path):
    (content_dir / "families" / "vq.md").write_text((content_dir / "families" / "vae.md").read_text())
    assert errors_of(content_dir) == [
        "content/families/vq.md:0: 'vq' is not one of the six families "
        "(vae, gan, diffusion, flow, ebm, autoregressive)"
    ]


def test_it_rejects_two_records_with_the_same_number(content_dir: Path):
    path = content_dir / "unifications" / "copy.md"
    path.write_text((content_dir / "unifications" / "diffusion-flow.md").read_text())
    errors = errors_of(content_dir)
    assert errors == [
        "content/unifications/copy.md:4: unification number 1 is also used by "
        "content/unifications/diffusion-flow.md",
        "content/unifications/diffusion-flow.md:4: unification number 1 is also used by "
        "content/unifications/copy.md",
    ]
