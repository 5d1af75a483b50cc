"""Strong ETags, 304 on If-None-Match, and the cache lifetime of each kind of response."""

from __future__ import annotations

import dataclasses
import hashlib
import time
from typing import Any

import pytest
from fastapi.testclient import TestClient
from starlette.requests import Request

from api import create_app
from api.params import latest, still_latest
from attest.cosignature import CosignerSigner, cosign
from attest.statements import REGISTRY_STREAM
from keys import PrivateKey
from ledger import Ledger
from tests.api.conftest import Api, P, Story
from tests.attest.examples import AUTHORITY, example_party_register_body
from tests.conftest import reading_meanwhile, within_a_minute

WITNESS = CosignerSigner("witness.example/w1", PrivateKey.from_seed(bytes(range(32))))

IMMUTABLE = "public, max-age=31536000, immutable"
LATEST = "public, max-age=5, stale-while-revalidate=30"
BOUND = "bound"  # a "latest" response: the ETag is bound to the checkpoint, not the body's hash
FIXED_BOUND = "fixed-bound"  # immutable, the ETag bound to the checkpoint of that size


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
        ("/v1/log/checkpoint", LATEST),
        (f"/v1/streams/{P}", BOUND),
        (f"/v1/streams/{P}/state", BOUND),
        (f"/v1/streams/{P}/state?at=2026-11-25T00:00:00Z", BOUND),
        (f"/v1/streams/{P}/state?size=5", IMMUTABLE),  # judged at the log time of the cut
        ("/v1/scorecard", BOUND),
        ("/v1/scorecard?at=2026-11-25T00:00:00Z", BOUND),
        ("/v1/scorecard?size=5&at=2026-11-25T00:00:00Z", IMMUTABLE),
        ("/v1/scorecard?size=5", BOUND),  # judged now
        (f"/v1/streams/{P}/bundle", BOUND),
        (f"/v1/streams/{P}/bundle?size=5", FIXED_BOUND),  # no witness policy: nothing to add
        ("/", BOUND),
        (f"/providers/{P}", BOUND),
        (f"/providers/{P}?as_of=2026-11-20", BOUND),
        ("/log", BOUND),
        ("/v1/parties", "no-cache"),
    ],
)
@within_a_minute
def test_cache_lifetimes_and_strong_etags(story_api: Api, url: str, cache: str) -> None:
    http = story_api.http
    r = http.get(url)
    assert r.status_code == 200, r.text
    etag = r.headers["etag"]
    assert etag.startswith('"')  # strong, not W/"..."
    body_hash = '"' + hashlib.sha256(r.content).hexdigest()[:32] + '"'
    if cache in (BOUND, FIXED_BOUND):
        assert r.headers["cache-control"] == (LATEST if cache == BOUND else IMMUTABLE)
        assert etag != body_hash  # bound to the checkpoint: known before rendering
        same = http.get(url)
        assert (same.headers["etag"], same.content) == (etag, r.content)
    else:
        assert r.headers["cache-control"] == cache
        assert etag == body_hash
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


@pytest.mark.parametrize(
    "url", [f"/v1/streams/{P}", f"/v1/streams/{P}/bundle", "/v1/scorecard", "/", f"/providers/{P}"]
)
def test_a_bound_etag_changes_when_the_log_grows(story_api: Api, url: str) -> None:
    http = story_api.http
    before = http.get(url)
    etag = before.headers["etag"]
    assert http.get(url, headers={"if-none-match": etag}).status_code == 304
    story_api.submit(
        "accreditation.suspend",
        REGISTRY_STREAM,
        "online-safety-board",
        {"party": "safecheck-labs", "reason": "An undeclared conflict of interest."},
    )
    after = http.get(url, headers={"if-none-match": etag})
    assert after.status_code == 200
    assert after.headers["etag"] != etag


@within_a_minute
def test_a_304_of_a_bound_response_renders_nothing(
    story_api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The checkpoint-bound tag is compared before the view or the bundle is built."""
    http = story_api.http
    urls = ["/v1/scorecard", f"/v1/streams/{P}/bundle", "/", f"/providers/{P}"]
    tags = {u: http.get(u).headers["etag"] for u in urls}
    views = http.app.state.ledger.views  # type: ignore[union-attr]
    calls: list[str] = []

    def spy(name: str) -> Any:
        real = getattr(views, name)

        def counted(*args: Any, **kwargs: Any) -> Any:
            calls.append(name)
            return real(*args, **kwargs)

        return counted

    for name in ("scorecard", "replay", "parties"):
        monkeypatch.setattr(views, name, spy(name))
    monkeypatch.setattr("api.routers.streams.export_bundle", spy_bundle := _Spy())
    for u in urls:
        assert http.get(u, headers={"if-none-match": tags[u]}).status_code == 304, u
    assert calls == []
    assert spy_bundle.calls == 0
    assert http.get("/v1/scorecard").status_code == 200  # the spies do see a full answer
    assert calls


class _Spy:
    calls = 0

    def __call__(self, *args: Any, **kwargs: Any) -> bytes:
        self.calls += 1
        raise AssertionError("the bundle was built for a 304")


def _request(path: str) -> Request:
    scope = {
        "type": "http",
        "method": "GET",
        "path": path,
        "query_string": b"",
        "headers": [(b"host", b"testserver")],
        "scheme": "http",
        "server": ("testserver", 80),
    }
    return Request(scope)


def test_a_bound_etag_is_dropped_if_the_log_moved_while_rendering(story_api: Api) -> None:
    """A body read partly uncut (a stream's head) while an entry was committed must not carry a
    tag naming the older checkpoint: the body's hash is used instead."""
    ledger: Ledger = story_api.http.app.state.ledger  # type: ignore[union-attr]
    pinned = latest(ledger, _request("/v1/scorecard"), "minute")
    assert pinned.etag is not None
    assert still_latest(ledger, pinned) == pinned.etag
    # A read-only server's state may run ahead of the newest kept checkpoint: no bound tag.
    ahead = dataclasses.replace(pinned, size=pinned.size - 1)
    assert still_latest(ledger, ahead) is None
    story_api.submit(
        "accreditation.suspend",
        REGISTRY_STREAM,
        "online-safety-board",
        {"party": "safecheck-labs", "reason": "An undeclared conflict of interest."},
    )
    assert pinned.size < ledger.size
    assert still_latest(ledger, pinned) is None


def test_errors_and_writes_are_not_cached(story_api: Api) -> None:
    r = story_api.http.get("/v1/entries/999")
    assert r.headers["cache-control"] == "no-store"
    assert "etag" not in r.headers
    page = story_api.http.get("/providers/nobody")
    assert page.status_code == 404
    assert page.headers["cache-control"] == "no-cache"
    assert "etag" not in page.headers


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


def test_bound_tags_follow_the_log_on_both_databases(api: Api) -> None:
    """On SQLite and PostgreSQL: a latest read's tag is bound to the checkpoint (304 while it
    stands), and a new entry gives a new tag and the new body at once (no cache in the app)."""
    http = api.http
    urls = [f"/v1/streams/{REGISTRY_STREAM}", "/v1/scorecard", "/", "/log"]
    before = {u: http.get(u) for u in urls}
    for u, r in before.items():
        assert r.headers["cache-control"] == LATEST, u
        assert http.get(u, headers={"if-none-match": r.headers["etag"]}).status_code == 304, u
    Story(api).register()
    for u, r in before.items():
        after = http.get(u, headers={"if-none-match": r.headers["etag"]})
        assert after.status_code == 200, u
        assert after.headers["etag"] != r.headers["etag"], u
    assert http.get(f"/v1/streams/{REGISTRY_STREAM}").json()["length"] == 5


def test_a_bundle_at_a_size_is_immutable_once_cosigned(
    story_api: Api, sqlite_ledger: Ledger
) -> None:
    """With a witness policy, a bundle at a size may still gain the witnesses' cosignatures:
    it lives as long as a latest read until the cosigned checkpoint of that size is kept."""
    ledger = sqlite_ledger
    policy = (
        f"log {ledger.note_verifier.vkey()}\n"
        f"witness w1 {WITNESS.verifier.vkey()} http://127.0.0.1:9/w1\n"
        "quorum w1\n"
    ).encode()
    http = TestClient(create_app(ledger, witness_policy=policy))
    url = f"/v1/streams/{P}/bundle?size={ledger.size}"
    plain = http.get(url)
    assert plain.headers["cache-control"] == LATEST
    note = ledger.checkpoint()
    ledger.keep_cosigned(note + cosign(note, WITNESS, 1_800_000_000))
    cosigned = http.get(url, headers={"if-none-match": plain.headers["etag"]})
    assert cosigned.status_code == 200  # the tag is bound to the note, which gained a line
    assert cosigned.headers["cache-control"] == IMMUTABLE
    assert cosigned.content != plain.content


def test_one_bound_tag_names_one_body_while_the_log_grows(
    story_api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Readers racing a writer: every (URL, ETag) pair seen always comes with the same bytes,
    so a tag never names a checkpoint the body does not show."""
    http = story_api.http
    ledger: Ledger = http.app.state.ledger  # type: ignore[union-attr]
    real_head = ledger.head

    def slow_head(stream: str) -> tuple[str, int]:
        time.sleep(0.003)  # widen the window between pinning the checkpoint and reading
        return real_head(stream)

    monkeypatch.setattr(ledger, "head", slow_head)
    urls = ["/v1/scorecard", f"/v1/streams/{REGISTRY_STREAM}", "/"]
    seen: dict[tuple[str, str], bytes] = {}
    mismatched: list[tuple[str, str]] = []

    def read() -> None:
        for url in urls:
            r = http.get(url)
            key = (url, r.headers["etag"])
            if seen.setdefault(key, r.content) != r.content:
                mismatched.append(key)

    with reading_meanwhile(read):
        for i in range(12):
            body = example_party_register_body(f"extra-{i}", "provider", keys=[100 + i])
            story_api.submit("party.register", REGISTRY_STREAM, AUTHORITY, body)
    assert not mismatched, mismatched
    heads = {tag for url, tag in seen if url == urls[1]}
    assert len(heads) > 3  # the readers did see the log grow
