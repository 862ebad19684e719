"""Markdown rendering: wiki links, tables, footnotes, headings, code."""

from __future__ import annotations

from atlas.content.render import Renderer, pygments_css

TITLES = {"ddpm": "Denoising Diffusion Probabilistic Models", "gan": "GANs"}


def test_wiki_links_use_the_node_title_or_the_label():
    html, issues = Renderer(TITLES).inline("[[ddpm]] and [[gan|adversarial nets]]", 1)
    assert issues == []
    assert html == (
        '<a class="wikilink" href="/node/ddpm/" rel="noopener noreferrer">'
        "Denoising Diffusion Probabilistic Models</a> and "
        '<a class="wikilink" href="/node/gan/" rel="noopener noreferrer">adversarial nets</a>'
    )


def test_wiki_link_labels_are_escaped():
    html, _ = Renderer(TITLES).inline("[[gan|<b>bold</b>]]", 1)
    assert "&lt;b&gt;bold&lt;/b&gt;" in html


def test_links_inside_code_are_not_links():
    html, issues = Renderer(TITLES).block("`[[nowhere]]`\n\n```\n[[nowhere]]\n```\n", 1)
    assert issues == []
    assert "[[nowhere]]" in html


def test_unknown_links_are_reported_on_their_own_line():
    _, issues = Renderer(TITLES).block("line one\nline two [[nope]]\n\nthird [[gan]] [[nada]]", 20)
    assert issues == [(21, "unknown link target [[nope]]"), (23, "unknown link target [[nada]]")]


def test_table_alignment_becomes_a_class_not_a_style():
    html, _ = Renderer({}).block("| a | b |\n|:--|--:|\n| 1 | 2 |\n", 1)
    assert '<th class="align-left">a</th>' in html
    assert '<td class="align-right">2</td>' in html
    assert "style" not in html


def test_headings_get_prefixed_anchors_and_footnotes_render():
    html, _ = Renderer({}).block("## Core idea\n\nText.[^1]\n\n[^1]: A note.\n", 1)
    assert '<h2 id="sec-core-idea">Core idea</h2>' in html
    assert '<section class="footnotes">' in html


def test_pygments_css_is_class_based():
    css = pygments_css()
    assert ".highlight .k" in css
