"""BibTeX for one paper and for any filtered list, by Accept header or ?format=bibtex, parsed back."""

from __future__ import annotations

import bibtexparser
from bibtexparser.bparser import BibTexParser

from atlas.papers.models import Paper
from tests.atlas.api.conftest import walk


def parse(text: str) -> list[dict]:
    parser = BibTexParser(common_strings=True)
    return bibtexparser.loads(text, parser=parser).entries


def unbrace(value: str) -> str:
    return value.replace("{", "").replace("}", "")


def test_one_paper_by_query_parameter(api):
    response = api.get("/api/papers/ho2020ddpm/?format=bibtex")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/x-bibtex; charset=utf-8"
    assert 'filename="ho2020ddpm.bib"' in response["Content-Disposition"]
    [entry] = parse(response.content.decode())
    assert entry["ID"] == "ho2020ddpm" and entry["ENTRYTYPE"] == "inproceedings"
    assert unbrace(entry["title"]) == "Denoising Diffusion Probabilistic Models"
    assert entry["author"] == "Ho, Jonathan and Jain, Ajay and Abbeel, Pieter"
    assert entry["year"] == "2020" and entry["eprint"] == "2006.11239"


def test_one_paper_by_accept_header(api):
    response = api.get("/api/papers/ho2020ddpm/", HTTP_ACCEPT="application/x-bibtex")
    assert response.status_code == 200 and response["Content-Type"].startswith("application/x-bibtex")
    assert [e["ID"] for e in parse(response.content.decode())] == ["ho2020ddpm"]
    assert response["Vary"] and "Accept" in response["Vary"]


def test_a_filtered_list_is_one_bib_file_of_every_match_in_list_order(api):
    keys = [p["key"] for p in walk(api, "/api/papers/?year_min=2020&ordering=-year")]
    assert len(keys) > 50  # more than one JSON page
    response = api.get("/api/papers/?year_min=2020&ordering=-year", HTTP_ACCEPT="application/x-bibtex")
    assert response.status_code == 200
    entries = parse(response.content.decode())
    assert [e["ID"] for e in entries] == keys
    years = {p.key: p.year for p in Paper.objects.all()}
    assert all(int(e["year"]) == years[e["ID"]] for e in entries)


def test_a_page_of_bibtex_when_asked(api):
    response = api.get("/api/papers/?format=bibtex&page=2&page_size=10")
    keys = sorted(Paper.objects.values_list("key", flat=True))[10:20]
    assert [e["ID"] for e in parse(response.content.decode())] == keys


def test_every_paper_round_trips(api):
    entries = parse(api.get("/api/papers/?format=bibtex").content.decode())
    assert len(entries) == Paper.objects.count()
    by_key = {p.key: p for p in Paper.objects.all()}
    for entry in entries:
        paper = by_key[entry["ID"]]
        assert int(entry["year"]) == paper.year
        assert len(entry["author"].split(" and ")) == len(paper.authors)
        assert entry.get("eprint", "") == paper.arxiv


def test_errors_stay_json_when_bibtex_was_asked_for(api):
    response = api.get("/api/papers/?format=bibtex&year=abc")
    assert response.status_code == 400 and response["Content-Type"] == "application/json"
    assert set(response.json()) == {"year"}
    missing = api.get("/api/papers/nope/", HTTP_ACCEPT="application/x-bibtex")
    assert missing.status_code == 404 and missing.json()["detail"]


def test_other_endpoints_do_not_speak_bibtex(api):
    response = api.get("/api/nodes/?format=bibtex")
    assert response.status_code == 400 and set(response.json()) == {"format"}
