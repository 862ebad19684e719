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
