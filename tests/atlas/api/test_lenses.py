"""/api/lenses/: the comparison tables as data."""

from __future__ import annotations

from atlas.content.schema import FAMILIES
from atlas.graph.models import LensValue, Node
from tests.atlas.api.conftest import get_json, walk


def test_every_lens_and_axis_is_a_table_with_a_row_per_family(api):
    tables = walk(api, "/api/lenses/")
    assert len(tables) == Node.objects.filter(kind__in=["lens", "axis"]).count()
    assert [t["kind"] for t in tables] == sorted(t["kind"] for t in tables)  # axes, then lenses
    for table in tables:
        main = [row["family"] for row in table["rows"] if row["variant"] is None]
        assert main == list(FAMILIES)
        assert len(table["rows"]) == LensValue.objects.filter(lens__slug=table["slug"]).count()


def test_it_filters_by_kind_and_facet(api):
    lenses = walk(api, "/api/lenses/?kind=lens")
    assert len(lenses) == 3 and {t["kind"] for t in lenses} == {"lens"}
    tagged = walk(api, "/api/lenses/?facet=forward-kl")
    assert tagged and all(any("forward-kl" in row["facets"] for row in t["rows"]) for t in tagged)


def test_one_table_keeps_only_one_family_on_request(api):
    table = get_json(api, "/api/lenses/divergence/?family=gan")
    assert table["slug"] == "divergence" and table["rows"]
    assert {row["family"] for row in table["rows"]} == {"gan"}
    assert table["rows"][0]["variant"] is None
    full = get_json(api, "/api/lenses/divergence/")
    assert len(full["rows"]) > len(table["rows"])


def test_a_node_that_is_no_lens_is_404(api):
    assert api.get("/api/lenses/ddpm/").status_code == 404
    assert set(get_json(api, "/api/lenses/divergence/?family=cnn", status=400)) == {"family"}
