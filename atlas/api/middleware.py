"""Errors on API paths are JSON, whatever raised them.

DRF renders its own exceptions as JSON, but some errors never reach a DRF view: an unknown path
under /api/ (Django's 404 page), a body over DATA_UPLOAD_MAX_MEMORY_SIZE (Django's
RequestDataTooBig, a SuspiciousOperation shown as an HTML 400), a server error. An API client
expects `{"detail": ...}` and, for an oversized body, 413 Payload Too Large.
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse, JsonResponse

API_PREFIX = "/api/"
_REASONS = {
    400: "Bad request.",
    403: "Forbidden.",
    404: "Not found.",
    405: "Method not allowed.",
    413: "Request body too large.",
    500: "Server error.",
}


def is_api(request: HttpRequest) -> bool:
    return request.path.startswith(API_PREFIX)


def too_large() -> JsonResponse:
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    return JsonResponse({"detail": f"Request body too large: at most {limit} bytes."}, status=413)


class ApiErrorsMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if is_api(request) and _declared_length(request) > settings.DATA_UPLOAD_MAX_MEMORY_SIZE:
            return too_large()  # refused before anything reads the body
        response = self.get_response(request)
        if is_api(request) and response.status_code >= 400 and _is_html(response):
            status = response.status_code
            return JsonResponse({"detail": _REASONS.get(status, response.reason_phrase)}, status=status)
        return response

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if is_api(request) and isinstance(exception, RequestDataTooBig):
            return too_large()  # a chunked body without Content-Length, caught while it was read
        return None


def _declared_length(request: HttpRequest) -> int:
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return 0


def _is_html(response: HttpResponse) -> bool:
    """Django's own HTML error pages; DRF's browsable API pages (asked for by a browser) stay."""
    drf_rendered = getattr(response, "accepted_renderer", None) is not None
    return not drf_rendered and response.get("Content-Type", "").startswith("text/html")
