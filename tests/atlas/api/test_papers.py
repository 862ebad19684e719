"""/api/papers/: filters by year, node, author and text; one paper."""

from __future__ import annotations

import pytest

from atlas.papers.models import Paper
from tests.atlas.api.conftest import get_json, walk


def test_it_lists_every_paper_once_in_key_order(api):
    keys = [p["key"] for p in walk(api, "/api/papers/?page_size=37")]
    assert keys == sorted(Paper.objects.values_list("key", flat=True))


def test_it_filters_by_year_and_range(api):
    assert {p["year"] for p in walk(api, "/api/papers/?year=2020")} == {2020}
    ranged = walk(api, "/api/papers/?year_min=2019&year_max=2021&ordering=-year")
    assert ranged and all(2019 <= p["year"] <= 2021 for p in ranged)
    years = [p["year"] for p in ranged]
    assert years == sorted(years, reverse=True)
    assert Paper.objects.filter(year__range=(2019, 2021)).count() == len(ranged)


def test_it_filters_by_citing_node(api):
    cited = walk(api, "/api/papers/?node=ddpm")
    assert {p["key"] for p in cited} == set(
        Paper.objects.filter(citations__node__slug="ddpm").values_list("key", flat=True)
    )
    assert all("ddpm" in p["cited_by"] for p in cited)


def test_it_filters_by_author_ignoring_case_and_accents(api):
    found = walk(api, "/api/papers/?author=HO,%20JONATHAN")
    assert "ho2020ddpm" in {p["key"] for p in found}
    assert all(any("ho, jonathan" in a.lower() for a in p["authors"]) for p in found)
    accented = Paper.objects.exclude(authors=[]).first()
    assert walk(api, f"/api/papers/?author={accented.authors[0].split(',')[0]}")


def test_text_search_covers_title_and_venue(api):
    found = {p["key"] for p in walk(api, "/api/papers/?q=denoising%20diffusion")}
    assert "ho2020ddpm" in found
    assert walk(api, "/api/papers/?q=neurips&year=2020")


def test_one_paper(api):
    body = get_json(api, "/api/papers/ho2020ddpm/")
    assert body["key"] == "ho2020ddpm" and body["year"] == 2020 and body["arxiv"] == "2006.11239"
    assert body["link"] == "https://arxiv.org/abs/2006.11239" and "ddpm" in body["cited_by"]
    assert api.get("/api/papers/no-such-paper/").status_code == 404


@pytest.mark.parametrize(
    ("query", "fields"),
    [
        ("year=NaN", {"year"}),
        ("year=2020.0", {"year"}),
        ("year=true", {"year"}),
        ("year=99999999999999999999", {"year"}),
        ("year=-inf", {"year"}),
        ("year_min=2022&year_max=2020", {"year_max"}),
        ("node=no-such-node", {"node"}),
        ("author=", {"author"}),
        ("ordering=citations", {"ordering"}),
        ("venue=NeurIPS", {"venue"}),
        ("year=2020&year=2021", {"year"}),
        ("format=xml", {"format"}),
    ],
)
def test_bad_parameters_are_400s_naming_them(api, query, fields):
    assert set(get_json(api, f"/api/papers/?{query}", status=400)) == fields
