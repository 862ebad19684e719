"""BibTeX: entry types from the fields, escaping, arXiv/doi/url, parseable output."""

from __future__ import annotations

from dataclasses import dataclass, field

import bibtexparser
import pytest

from atlas.papers.bibtex import bibtex_for, entry_type, escape, paper_to_bibtex


@dataclass
class P:
    key: str = "ho2020ddpm"
    title: str = "Denoising Diffusion Probabilistic Models"
    authors: list[str] = field(default_factory=lambda: ["Ho, Jonathan", "Jain, Ajay", "others"])
    year: int = 2020
    venue: str = ""
    arxiv: str = ""
    doi: str = ""
    url: str = ""
    note: str = ""


@pytest.mark.parametrize(
    ("venue", "kind"),
    [
        ("NeurIPS 2020", "inproceedings"),
        ("ICLR 2025 (Oral)", "inproceedings"),
        ("NeurIPS 2021 Workshop on Deep Generative Models", "inproceedings"),
        ("JMLR", "article"),
        ("Nature Communications", "article"),
        ("IEEE TPAMI", "article"),
        ("Technical report", "misc"),
        ("Blog post", "misc"),
        ("Model card", "misc"),
        ("", "misc"),
    ],
)
def test_the_entry_type_follows_the_venue(venue: str, kind: str):
    assert entry_type(P(venue=venue)) == kind


def test_a_conference_paper_with_arxiv_and_doi():
    text = paper_to_bibtex(P(venue="NeurIPS 2020", arxiv="2006.11239", doi="10.5555/3495724.3496298"))
    assert text == (
        "@inproceedings{ho2020ddpm,\n"
        "  title = {{Denoising Diffusion Probabilistic Models}},\n"
        "  author = {Ho, Jonathan and Jain, Ajay and others},\n"
        "  booktitle = {NeurIPS 2020},\n"
        "  year = {2020},\n"
        "  eprint = {2006.11239},\n"
        "  archivePrefix = {arXiv},\n"
        "  doi = {10.5555/3495724.3496298}\n"
        "}\n"
    )


def test_special_characters_are_escaped_and_braces_stay_balanced():
    assert escape("50% of {x}_1 & $y$ #1 ~ ^ \\") == (
        r"50\% of \textbraceleft{}x\textbraceright{}\_1 \& \$y\$ \#1 \textasciitilde{} "
        r"\textasciicircum{} \textbackslash{}"
    )
    text = paper_to_bibtex(P(title="A } title with { unbalanced } braces", note="100% {sure"))
    assert text.count("{") == text.count("}")


def test_the_output_parses_back_with_bibtexparser():
    papers = [
        P(venue="ICML 2017", url="https://proceedings.mlr.press/v70/arjovsky17a.html"),
        P(
            key="openai2024card",
            title="GPT-4o System Card",
            authors=["OpenAI"],
            venue="Model card",
            year=2024,
        ),
        P(
            key="kingma2014vae",
            title="Auto-Encoding Variational Bayes",
            arxiv="1312.6114",
            authors=["Kingma, D. P."],
        ),
    ]
    entries = {e["ID"]: e for e in bibtexparser.loads(bibtex_for(papers)).entries}
    assert entries["ho2020ddpm"]["ENTRYTYPE"] == "inproceedings"
    assert entries["ho2020ddpm"]["url"] == "https://proceedings.mlr.press/v70/arjovsky17a.html"
    assert entries["openai2024card"]["howpublished"] == "Model card"
    assert entries["kingma2014vae"]["ENTRYTYPE"] == "misc"
    assert entries["kingma2014vae"]["eprint"] == "1312.6114"
    assert entries["kingma2014vae"]["archiveprefix"] == "arXiv"


@pytest.mark.django_db
def test_the_model_method_uses_the_same_generator():
    from atlas.papers.models import Paper

    paper = Paper.objects.create(
        key="x2020y", title="T", authors=["A, B"], year=2020, source_path="papers/x.yaml"
    )
    assert paper.bibtex() == paper_to_bibtex(paper)
    assert paper.bibtex().startswith("@misc{x2020y,")
