"""/api/path/: explained shortest paths between two nodes."""

from __future__ import annotations

import pytest

from tests.atlas.api.conftest import get_json


def test_it_explains_each_hop(api):
    body = get_json(api, "/api/path/?from=ddim&to=vae")
    assert body["source"]["slug"] == "ddim" and body["target"]["slug"] == "vae"
    assert 1 <= len(body["paths"]) <= 3
    assert len({tuple(p["nodes"]) for p in body["paths"]}) == len(body["paths"])  # distinct routes
    for path in body["paths"]:
        assert path["nodes"][0] == "ddim" and path["nodes"][-1] == "vae"
        assert len(path["hops"]) == path["length"] == len(path["nodes"]) - 1
        for hop, (a, b) in zip(
            path["hops"], zip(path["nodes"], path["nodes"][1:], strict=False), strict=True
        ):
            assert (hop["from"], hop["to"]) == (a, b)
            assert hop["text"] and hop["direction"] in {"forward", "backward"}


def test_k_bounds_the_number_of_paths(api):
    assert len(get_json(api, "/api/path/?from=ddim&to=vae&k=1")["paths"]) == 1


def test_a_node_to_itself_is_one_empty_path(api):
    body = get_json(api, "/api/path/?from=vae&to=vae")
    assert body["paths"] == [{"length": 0, "nodes": ["vae"], "hops": []}]


@pytest.mark.parametrize(
    ("query", "fields"),
    [
        ("to=vae", {"from"}),
        ("from=vae", {"to"}),
        ("from=nope-1&to=nope-2", {"from", "to"}),
        ("from=vae&to=gan&k=0", {"k"}),
        ("from=vae&to=gan&k=11", {"k"}),
        ("from=vae&to=gan&k=x", {"k"}),
        ("from=vae&to=gan&via=ebm", {"via"}),
        ("from=vae&from=gan&to=ebm", {"from"}),
    ],
)
def test_bad_parameters_are_400s_naming_them(api, query, fields):
    assert set(get_json(api, f"/api/path/?{query}", status=400)) == fields
