"""ETag / Last-Modified from the content version (or the runs), and 304s for conditional GETs."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from django.utils.http import http_date

from atlas.graph.models import ContentVersion
from atlas.runs.models import Run, RunStatus

URLS = [
    "/api/nodes/",
    "/api/nodes/ddpm/",
    "/api/edges/?kind=fixes",
    "/api/graph/?around=vae&depth=1",
    "/api/path/?from=vae&to=gan",
    "/api/lenses/",
    "/api/lenses/divergence/",
    "/api/papers/?year=2020",
    "/api/papers/ho2020ddpm/",
    "/api/guide/",
    "/api/guide/answer/?answers=0",
    "/api/results/",
    "/api/results/compare/?dataset=ring8",
]


@pytest.mark.parametrize("url", URLS)
def test_read_endpoints_carry_validators_and_answer_304(api, url):
    response = api.get(url)
    assert response.status_code == 200
    etag = response["ETag"]
    assert etag.startswith('"') and response["Cache-Control"] == "public, no-cache"
    again = api.get(url, HTTP_IF_NONE_MATCH=etag)
    assert again.status_code == 304 and again["ETag"] == etag and again.content == b""
    assert api.get(url, HTTP_IF_NONE_MATCH='"something-else"').status_code == 200


def test_last_modified_is_the_content_load_time(api):
    loaded_at = ContentVersion.objects.get(id=1).loaded_at
    response = api.get("/api/nodes/")
    assert response["Last-Modified"] == http_date(loaded_at.timestamp())
    later = http_date((loaded_at + timedelta(seconds=5)).timestamp())
    assert api.get("/api/nodes/", HTTP_IF_MODIFIED_SINCE=later).status_code == 304
    earlier = http_date((loaded_at - timedelta(days=1)).timestamp())
    assert api.get("/api/nodes/", HTTP_IF_MODIFIED_SINCE=earlier).status_code == 200


def test_the_etag_changes_with_the_content_version_the_query_and_the_format(api):
    etag = api.get("/api/papers/?year=2020")["ETag"]
    assert api.get("/api/papers/?year=2021")["ETag"] != etag
    assert api.get("/api/papers/?year=2020&format=bibtex")["ETag"] != etag
    assert api.get("/api/papers/?year=2020", HTTP_ACCEPT="application/x-bibtex")["ETag"] != etag
    ContentVersion.objects.filter(id=1).update(hash="0" * 64, loaded_at=timezone.now())
    assert api.get("/api/papers/?year=2020", HTTP_IF_NONE_MATCH=etag).status_code == 200


def test_results_validators_follow_the_succeeded_runs(api):
    etag = api.get("/api/results/")["ETag"]
    assert api.get("/api/results/", HTTP_IF_NONE_MATCH=etag).status_code == 304
    Run.objects.create(
        recipe="ddpm-2d",
        model="ddpm",
        family="diffusion",
        dataset="ring8",
        config={},
        seed=0,
        code_version="v",
        config_hash="h",
        status=RunStatus.SUCCEEDED,
        on_board=True,
        finished_at=timezone.now(),
    )
    response = api.get("/api/results/", HTTP_IF_NONE_MATCH=etag)
    assert response.status_code == 200 and response.json()["count"] == 1 and response["ETag"] != etag


def test_errors_and_the_browsable_api_carry_no_content_etag(api):
    assert api.get("/api/nodes/?kind=nope").status_code == 400
    html = api.get("/api/nodes/", HTTP_ACCEPT="text/html")
    assert html.status_code == 200 and html.get("Cache-Control") != "public, no-cache"


def test_a_repeated_get_is_served_from_the_answer_cache(api, django_assert_max_num_queries):
    from atlas.api.conditional import responses

    first = api.get("/api/nodes/ddpm/")
    assert responses.get(first["ETag"]) is not None
    with django_assert_max_num_queries(1):  # the content version only
        again = api.get("/api/nodes/ddpm/")
    assert again.status_code == 200 and again.content == first.content
    assert again["ETag"] == first["ETag"] and again["Content-Type"] == first["Content-Type"]
    bib = api.get("/api/papers/ho2020ddpm/?format=bibtex")
    assert (
        api.get("/api/papers/ho2020ddpm/?format=bibtex")["Content-Disposition"] == bib["Content-Disposition"]
    )


def test_the_answer_cache_skips_large_answers():
    from atlas.api.conditional import ResponseCache

    answers = ResponseCache(max_entry_bytes=10)
    answers.put("small", b"x", (("Content-Type", "application/json"),))
    answers.put("big", b"x" * 11, ())
    assert answers.get("small") == (b"x", (("Content-Type", "application/json"),))
    assert answers.get("big") is None


def test_an_unreachable_cache_is_a_miss_not_an_error(monkeypatch):
    from atlas.api import conditional

    def broken(*args, **kwargs):
        raise ConnectionError("redis is down")

    monkeypatch.setattr(conditional.cache, "get", broken)
    monkeypatch.setattr(conditional.cache, "set", broken)
    answers = conditional.ResponseCache()
    answers.put("k", b"x", ())
    assert answers.get("k") is None


def test_answers_are_kept_in_the_shared_django_cache(api):
    from django.core.cache import cache

    first = api.get("/api/nodes/?kind=family")
    assert cache.get("api-answer:" + first["ETag"]) is not None


def test_the_etags_cover_the_code_of_every_app_api():
    """A deploy that changes how any app's API answers changes every ETag: the code hashed into
    them includes each app's API views and serializers."""
    from atlas.api.conditional import ATLAS_DIR, REPRESENTATION_SOURCES

    shaping = sorted({*ATLAS_DIR.glob("*/api.py"), *ATLAS_DIR.glob("*/serializers.py")})
    assert shaping
    for path in shaping:
        relative = path.relative_to(ATLAS_DIR).as_posix()
        covered = relative in REPRESENTATION_SOURCES or relative.split("/")[0] in REPRESENTATION_SOURCES
        assert covered or relative.startswith(("results/", "runs/")), relative
