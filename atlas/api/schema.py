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
