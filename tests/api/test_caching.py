"""Strong ETags, 304 on If-None-Match, and the cache lifetime of each kind of response."""

from __future__ import annotations

import hashlib

import pytest

from attest.statements import REGISTRY_STREAM
from tests.api.conftest import Api, P

IMMUTABLE = "public, max-age=31536000, immutable"


@pytest.mark.parametrize(
    ("url", "cache"),
    [
        ("/v1/entries/0", IMMUTABLE),
        ("/v1/log/proof/inclusion?index=1&size=5", IMMUTABLE),
        ("/v1/log/proof/consistency?from=2&to=5", IMMUTABLE),
        ("/v1/log/entries?start=0&end=5", IMMUTABLE),
        (f"/v1/streams/{P}/entries?limit=2", IMMUTABLE),  # a full page
        (f"/v1/streams/{P}/entries", "no-cache"),  # the head page grows
        ("/v1/log/entries?start=0&end=100", "no-cache"),  # reaches past the log's end
        ("/v1/log/checkpoint", "public, max-age=5"),
        (f"/v1/streams/{P}", "no-cache"),
        (f"/v1/streams/{P}/state?at=2026-11-25T00:00:00Z", "no-cache"),
        ("/v1/scorecard?at=2026-11-25T00:00:00Z", "no-cache"),
        ("/v1/parties", "no-cache"),
    ],
)
def test_cache_lifetimes_and_strong_etags(story_api: Api, url: str, cache: str) -> None:
    http = story_api.http
    r = http.get(url)
    assert r.status_code == 200, r.text
    assert r.headers["cache-control"] == cache
    etag = r.headers["etag"]
    assert etag.startswith('"')  # strong, not W/"..."
    assert etag == '"' + hashlib.sha256(r.content).hexdigest()[:32] + '"'
    again = http.get(url, headers={"if-none-match": etag})
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["etag"] == etag
    assert http.get(url, headers={"if-none-match": 'W/"x", ' + etag}).status_code == 304
    assert http.get(url, headers={"if-none-match": '"other"'}).status_code == 200


def test_etag_changes_when_a_mutable_view_changes(story_api: Api) -> None:
    http = story_api.http
    url = f"/v1/streams/{REGISTRY_STREAM}"
    etag = http.get(url).headers["etag"]
    story_api.submit(
        "accreditation.suspend",
        REGISTRY_STREAM,
        "online-safety-board",
        {"party": "safecheck-labs", "reason": "An undeclared conflict of interest."},
    )
    assert http.get(url, headers={"if-none-match": etag}).status_code == 200


def test_errors_and_writes_are_not_cached(story_api: Api) -> None:
    r = story_api.http.get("/v1/entries/999")
    assert r.headers["cache-control"] == "no-store"
    assert "etag" not in r.headers


def test_public_reads_are_open_to_other_origins(story_api: Api) -> None:
    r = story_api.http.get("/v1/log/checkpoint", headers={"origin": "https://example.org"})
    assert r.headers["access-control-allow-origin"] == "*"
    assert "etag" in r.headers["access-control-expose-headers"].lower()


def test_the_openapi_document_is_served_but_no_cdn_pages(story_api: Api) -> None:
    # FastAPI's /docs and /redoc load their scripts from a CDN: nothing served depends on one.
    spec = story_api.http.get("/openapi.json")
    assert spec.status_code == 200
    assert "/v1/entries" in spec.json()["paths"]
    for page in ("/docs", "/redoc"):
        r = story_api.http.get(page)
        assert r.status_code == 404
        assert r.headers["content-type"].startswith("application/problem+json")
