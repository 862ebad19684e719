"""Every reference resolves: edges, papers, [[links]], families; slugs and papers are unique."""

from __future__ import annotations


def test_it_rejects_a_duplicate_slug_in_two_folders(broken):
    assert broken("duplicate-slug") == [
        "content/essays/ddpm.md:0: duplicate slug 'ddpm' (also content/methods/ddpm.md)",
        "content/methods/ddpm.md:0: duplicate slug 'ddpm' (also content/essays/ddpm.md)",
    ]


def test_it_rejects_a_dangling_edge(broken):
    assert broken("dangling-edge") == [
        "content/methods/ddpm.md:7: 'edges[1].to': unknown node 'no-such-node'"
    ]


def test_it_rejects_a_dangling_paper(broken):
    assert broken("dangling-paper") == [
        "content/methods/ddpm.md:5: 'papers[1]': unknown paper 'nobody2099missing'"
    ]


def test_it_rejects_a_dangling_link_in_a_markdown_body(broken):
    assert broken("dangling-link") == ["content/methods/ddpm.md:9: unknown link target [[no-such-node]]"]


def test_it_rejects_a_dangling_link_in_a_markdown_field(broken):
    assert broken("dangling-link-in-field") == [
        "content/methods/ddpm.md:3: unknown link target [[difusion]] (in 'summary')"
    ]


def test_it_rejects_a_family_reference_to_a_node_that_is_not_a_family(broken):
    assert broken("not-a-family") == ["content/methods/ddpm.md:4: 'families[1]': 'wgan' is not a family"]


def test_it_rejects_duplicate_paper_titles_and_arxiv_ids(broken):
    assert broken("duplicate-paper") == [
        "content/papers/ho2020ddpm.yaml:1: duplicate paper title: same as content/papers/ho2020again.yaml",
        "content/papers/ho2020ddpm.yaml:8: duplicate paper arXiv id: same as content/papers/ho2020again.yaml",
    ]


def test_it_does_not_repeat_errors_for_references_to_an_unreadable_file(broken):
    # ddpm.md is referenced from many files; only its own error is reported.
    assert broken("no-front-matter") == [
        "content/methods/ddpm.md:1: a Markdown record must start with a '---' line (YAML front matter)"
    ]
