"""One vocabulary across endpoints: either spelling of a kind, either name of an edge's ends."""

from __future__ import annotations

from tests.atlas.api.conftest import get_json, walk


def test_it_accepts_a_hyphenated_edge_kind(api):
    underscored = walk(api, "/api/edges/?kind=variant_of")
    assert underscored and walk(api, "/api/edges/?kind=variant-of") == underscored


def test_it_accepts_an_underscored_node_kind(api):
    assert walk(api, "/api/nodes/?kind=failure_mode") == walk(api, "/api/nodes/?kind=failure-mode")


def test_it_accepts_from_and_to_on_edges(api):
    assert walk(api, "/api/edges/?from=ddim") == walk(api, "/api/edges/?source=ddim")


def test_it_accepts_source_and_target_on_paths(api):
    by_source = get_json(api, "/api/path/?source=ddim&target=gan")
    assert by_source == get_json(api, "/api/path/?from=ddim&to=gan")


def test_it_rejects_one_parameter_given_under_both_names(api):
    body = get_json(api, "/api/edges/?from=ddim&source=ddpm", status=400)
    assert "Give this parameter once" in str(body)


def test_the_root_links_the_docs_and_the_schema(api):
    root = get_json(api, "/api/")
    assert root["docs"].endswith("/api/docs/") and root["schema"].endswith("/api/schema/")


def test_the_schema_puts_no_lock_on_reads(api):
    schema = get_json(api, "/api/schema/?format=json")
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            if method == "get":
                assert not operation.get("security"), path
    assert schema["paths"]["/api/runs/"]["post"]["security"]
