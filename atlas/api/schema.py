"""The OpenAPI schema class of the site.

Reads are anonymous: a token changes nothing for them, so the docs show no lock on them. Only
writes (starting or cancelling a run) list the optional session/token schemes, because an
operator's token is who the per-client cap counts.
"""

from __future__ import annotations

from drf_spectacular.openapi import AutoSchema

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class AtlasAutoSchema(AutoSchema):
    def get_auth(self) -> list[dict[str, list[str]]]:
        if self.method.upper() in SAFE_METHODS:
            return []
        return super().get_auth()


# Operations whose body is required: a raw JSON-Schema request (POST /api/runs/ is one variant per
# recipe) does not tell drf-spectacular so, and a client must not be told it may send nothing.
BODY_REQUIRED = (("/api/runs/", "post"), ("/api/results/score/", "post"))


def require_request_bodies(result: dict, generator, request, public) -> dict:
    """A drf-spectacular postprocessing hook (settings: POSTPROCESSING_HOOKS)."""
    for path, method in BODY_REQUIRED:
        body = result.get("paths", {}).get(path, {}).get(method, {}).get("requestBody")
        if body is not None:
            body["required"] = True
    return result


# Query parameters that name a node: the schema lists the loaded content's slugs, so a client (and
# schemathesis) knows which values exist instead of learning it from 400s.
NODE_PARAMETERS = {
    "/api/edges/": ("node", "source", "target"),
    "/api/graph/": ("around",),
    "/api/path/": ("from", "to"),
    "/api/papers/": ("node",),
}


def enumerate_node_slugs(result: dict, generator, request, public) -> dict:
    """A drf-spectacular postprocessing hook. Without a database (schema files generated offline,
    test collection) the parameters keep their slug pattern only."""
    slugs = _node_slugs()
    if not slugs:
        return result
    for path, names in NODE_PARAMETERS.items():
        for parameter in result.get("paths", {}).get(path, {}).get("get", {}).get("parameters", []):
            if parameter.get("in") == "query" and parameter.get("name") in names:
                parameter["schema"] = {**parameter["schema"], "enum": slugs}
    return result


def _node_slugs() -> list[str]:
    from atlas.graph.models import Node

    try:
        return sorted(Node.objects.values_list("slug", flat=True))
    except Exception:  # noqa: BLE001 - no database here: the slug pattern alone documents the parameter
        return []
