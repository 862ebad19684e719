"""ETag / Last-Modified for the read endpoints, 304s before any work is done, and rendered
answers kept in the Django cache under the same ETag.

The validators come from what the response is built of, not from its bytes:
- content endpoints (nodes, edges, graph, path, lenses, papers, guide): the loaded content's
  `ContentVersion` (hash + loaded_at), which changes exactly when `manage.py content load`
  changes something;
- results: the number, newest id and newest finish time of the succeeded runs;
- both: a hash of the source of the code that shapes the answers (`representation_version`), so
  a deploy that changes a serializer also changes every ETag.
The ETag also covers the path, the query string and the media type chosen (JSON and BibTeX are
different representations). A conditional GET/HEAD whose If-None-Match (or, without one,
If-Modified-Since) matches is answered 304 right after content negotiation, before the view
queries anything. The browsable HTML view depends on the user, so it gets no validators.

Because the ETag names the exact bytes, a 200 answer can be kept under it and served again
without running the view: `ResponseCache` keeps answers of at most `MAX_ENTRY_BYTES` in the
site's one cache (the Django cache: Redis in production, so every web process shares it; its
eviction policy bounds the memory whatever URLs clients make up). A content load or a finished run
changes the ETags; stale entries are then never asked for again and expire.
"""

from __future__ import annotations

import functools
import hashlib
import os
from datetime import datetime
from pathlib import Path

from django.core.cache import cache
from django.http import HttpResponse
from django.utils.cache import get_conditional_response, patch_vary_headers
from django.utils.http import http_date
from rest_framework.renderers import BrowsableAPIRenderer

from atlas.graph.models import ContentVersion

CACHE_CONTROL = "public, no-cache"  # may be stored, but revalidated (cheaply, with a 304) every time
ATLAS_DIR = Path(__file__).resolve().parent.parent
# The code that decides what the read API answers for given data.
REPRESENTATION_SOURCES = (
    "api",
    "graph/api.py",
    "graph/serializers.py",
    "graph/services.py",
    "graph/views.py",  # the kind labels of `include=map`
    "guide/api.py",
    "guide/serializers.py",
    "guide/services.py",
    "papers/api.py",
    "papers/serializers.py",
    "runs/recipes.py",
    "results",  # boards, aggregation and the /api/results/ queries and serializers
    "papers/bibtex.py",
    "content/schema.py",
)
# ATLAS_API_ANSWER_CACHE=0 turns the answer cache off (bench/api.py measures both).
ANSWER_CACHE = os.environ.get("ATLAS_API_ANSWER_CACHE", "1") not in ("", "0")
ANSWER_TTL_S = 24 * 3600
MAX_ENTRY_BYTES = 512 * 1024
KEPT_HEADERS = ("Content-Type", "Content-Disposition")


@functools.cache
def representation_version() -> str:
    digest = hashlib.sha256()
    for name in REPRESENTATION_SOURCES:
        root = ATLAS_DIR / name
        for path in sorted(root.rglob("*.py")) if root.is_dir() else [root]:
            if path.exists():
                digest.update(path.relative_to(ATLAS_DIR).as_posix().encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


def content_version() -> tuple[str, datetime | None]:
    row = ContentVersion.objects.filter(id=1).values_list("hash", "loaded_at").first()
    if row is None:
        return "", None
    digest, loaded_at = row
    return f"{digest}:{loaded_at.isoformat()}", loaded_at


class ResponseCache:
    """Rendered answers in the Django cache (Redis in production, shared by every web process;
    local memory in tests), keyed by ETag. The ETag already names the content and code version,
    so keys never go stale: an outdated one is simply never asked for again and expires. The cache
    is an accelerator, never a dependency: if it cannot be reached the view runs as if it missed."""

    prefix = "api-answer:"

    def __init__(self, enabled: bool = ANSWER_CACHE, max_entry_bytes: int = MAX_ENTRY_BYTES) -> None:
        self.enabled, self.max_entry_bytes = enabled, max_entry_bytes

    def get(self, key: str) -> tuple[bytes, tuple[tuple[str, str], ...]] | None:
        if not self.enabled:
            return None
        try:
            entry = cache.get(self.prefix + key)
        except Exception:  # noqa: BLE001 - an unreachable cache is a miss, not an error
            return None
        return (entry[0], tuple(tuple(pair) for pair in entry[1])) if entry else None

    def put(self, key: str, body: bytes, headers: tuple[tuple[str, str], ...]) -> None:
        if not self.enabled or len(body) > self.max_entry_bytes:
            return
        try:
            cache.set(self.prefix + key, (body, headers), timeout=ANSWER_TTL_S)
        except Exception:  # noqa: BLE001 - the answer was served; keeping it is best effort
            return

    def clear(self) -> None:
        cache.clear()


responses = ResponseCache()


class Decided(Exception):
    """Raised from `initial` when the answer is known before the view runs: 304 (the client's
    copy is current), 412 (If-Match / If-Unmodified-Since failed) or a cached 200."""

    def __init__(self, response) -> None:
        super().__init__(response.status_code)
        self.response = response


class ConditionalMixin:
    """For DRF views: validators from `get_version()`, set on 200s, checked before the handler."""

    _etag: str | None = None
    _last_modified: datetime | None = None

    def get_version(self) -> tuple[str, datetime | None]:
        return content_version()

    def initial(self, request, *args, **kwargs) -> None:
        super().initial(request, *args, **kwargs)  # authentication, throttles, content negotiation
        self._etag, self._last_modified = None, None
        if request.method not in ("GET", "HEAD") or isinstance(
            request.accepted_renderer, BrowsableAPIRenderer
        ):
            return
        version, last_modified = self.get_version()
        query = sorted(request.query_params.lists())
        key = repr((version, representation_version(), request.path, query, request.accepted_media_type))
        self._etag = '"' + hashlib.sha256(key.encode()).hexdigest()[:40] + '"'
        self._last_modified = last_modified
        timestamp = int(last_modified.timestamp()) if last_modified else None
        decided = get_conditional_response(request._request, etag=self._etag, last_modified=timestamp)
        if decided is not None:
            raise Decided(decided)
        cached = responses.get(self._etag)
        if cached is not None:
            body, headers = cached
            response = HttpResponse(body)
            for name, value in headers:
                response[name] = value
            raise Decided(response)

    def handle_exception(self, exc):
        if isinstance(exc, Decided):
            response = exc.response
            if response.status_code in (200, 304):
                self._set_validators(response)
            return response
        return super().handle_exception(exc)

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        if response.status_code == 200 and self._etag and not response.has_header("ETag"):
            self._set_validators(response)
            if hasattr(response, "add_post_render_callback"):  # a DRF Response, rendered later
                response.add_post_render_callback(functools.partial(_keep, self._etag))
        return response

    def _set_validators(self, response) -> None:
        response["ETag"] = self._etag
        if self._last_modified is not None:
            response["Last-Modified"] = http_date(self._last_modified.timestamp())
        response["Cache-Control"] = CACHE_CONTROL
        patch_vary_headers(response, ["Accept"])


def _keep(etag: str, response) -> None:
    headers = tuple((name, response[name]) for name in KEPT_HEADERS if response.has_header(name))
    responses.put(etag, response.content, headers)
