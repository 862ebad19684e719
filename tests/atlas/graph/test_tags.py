"""Template helpers: family colours from one place, facet tags as words, figure captions."""

from __future__ import annotations

from atlas.graph import families
from atlas.graph.templatetags import atlas_tags


def test_families_css_defines_every_family_s_colours_for_both_themes():
    css = atlas_tags.families_css()
    for family in families.ORDER:
        colours = families.COLOURS[family]
        assert f"--{family}: {colours.accent};" in css and f"--{family}-fill: {colours.fill};" in css
        assert f"--{family}: {colours.dark_accent};" in css
    assert "prefers-color-scheme: dark" in css


def test_facet_tags_read_as_words():
    assert atlas_tags.facet_words("forward-kl") == "forward KL"
    assert atlas_tags.facet_words("jensen-shannon") == "Jensen–Shannon"
    assert atlas_tags.facet_words("mode-seeking") == "mode seeking"


def test_a_figure_gets_a_sentence_not_its_file_name():
    assert atlas_tags.figure_caption("kl_curve", "Posterior collapse") == "KL divergence over training"
    caption = atlas_tags.figure_caption("diffusion_as_ebm", "Score-based diffusion as EBMs")
    assert caption.startswith("Score-based diffusion as EBMs") and "_" not in caption
