"""The shipped nginx configuration (``deploy/nginx/claimledger.conf``) in front of a real
``claimledger serve``: cacheable reads are stored and served by nginx, follow the app's lifetimes,
answer conditional requests with 304, and writes pass through.

Both processes are real and listen on loopback only. Without nginx the test fails in CI
(``CI=true``) and is skipped elsewhere.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from bench._nginx import NginxMissingError, find_nginx, nginx
from tests.cli.conftest import PROVIDER, Proc, World, claim_body, free_port, serving

MAX_AGE = 5.0  # the app's max-age for "latest" reads (api.responses.Cache.LATEST)


@pytest.fixture(scope="module", autouse=True)
def _nginx_installed() -> None:
    try:
        find_nginx()
    except NginxMissingError as exc:
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(f"{exc}: CI must test the reverse-proxy configuration", pytrace=False)
        pytest.skip(str(exc))


@pytest.fixture
def stack(sqlite_world: World, proc: Proc, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """``claimledger serve`` and nginx in front of it: (app URL, proxy URL)."""
    with serving(proc, sqlite_world.url, sqlite_world.key("log")) as app:
        upstream = app.removeprefix("http://")
        with nginx(tmp_path / "nginx", port=free_port(), upstream=upstream) as proxy:
            yield app, proxy


def _status(r: httpx.Response) -> str:
    return str(r.headers.get("x-cache-status", ""))


def test_reads_are_cached_revalidated_and_writes_pass_through(
    stack: tuple[str, str], sqlite_world: World, proc: Proc, tmp_path: Path
) -> None:
    app, proxy = stack
    with httpx.Client(base_url=proxy, timeout=10) as http:
        _check(http, app, sqlite_world, proc, tmp_path)


def _check(http: httpx.Client, app: str, sqlite_world: World, proc: Proc, tmp_path: Path) -> None:
    head_url = f"/v1/streams/{PROVIDER}"
    urls = [head_url, "/", f"/providers/{PROVIDER}", f"/v1/streams/{PROVIDER}/bundle"]
    first: dict[str, httpx.Response] = {}
    filled = time.monotonic()
    for url in urls:
        miss = http.get(url)
        assert miss.status_code == 200, (url, miss.text)
        assert _status(miss) == "MISS", (url, miss.headers)
        hit = http.get(url)
        assert _status(hit) == "HIT", (url, hit.headers)
        assert (hit.content, hit.headers["etag"]) == (miss.content, miss.headers["etag"])
        first[url] = miss
    size = int(http.get("/v1/log/checkpoint").text.split("\n")[1])
    fixed = f"/v1/streams/{PROVIDER}/bundle?size={size}"
    assert _status(http.get(fixed)) == "MISS"
    assert "immutable" in http.get(fixed).headers["cache-control"]
    assert _status(http.get(fixed)) == "HIT"

    # A conditional request is answered 304 from the cache.
    etag = first[head_url].headers["etag"]
    conditional = http.get(head_url, headers={"if-none-match": etag})
    assert conditional.status_code == 304
    assert conditional.content == b""
    assert http.get(head_url, headers={"if-none-match": '"other"'}).status_code == 200

    # Writes through the proxy reach the app and are not cached. The second is signed on the
    # cached head (now stale): the app refuses it (409) naming the head, and the CLI re-signs.
    # Two different claims: the same claim signed on the same head within one second would be
    # the same bytes, which the app answers as a repeat of the first (one entry, not two).
    for measure in ("detect.hash_known_image", "report.authority"):
        body = tmp_path / f"claim-{measure}.json"
        body.write_text(json.dumps(claim_body(measure)))
        published = proc.json(
            "claim",
            "publish",
            "--server",
            str(http.base_url).rstrip("/"),
            *sqlite_world.as_party(PROVIDER),
            "--body",
            body,
        )
        assert published["digest"]
    length = first[head_url].json()["length"]
    assert httpx.get(app + head_url).json()["length"] == length + 2  # the app has both
    unsigned = http.post("/v1/entries", content=b"{}", headers={"content-type": "application/json"})
    assert unsigned.status_code == 400  # the app's problem, not a cached answer
    assert _status(unsigned) == ""
    assert _status(http.post("/v1/entries", content=b"{}")) == ""

    # Until max-age, the cache answers with what it holds; then the new entry shows.
    cached = http.get(head_url)
    if time.monotonic() - filled < MAX_AGE:
        assert (_status(cached), cached.json()["length"]) == ("HIT", length), cached.headers
    seen: list[str] = []
    deadline = filled + MAX_AGE + 30  # generous: a loaded machine is slow, never wrong
    while True:
        r = http.get(head_url)
        seen.append(_status(r))
        if r.json()["length"] == length + 2:
            break
        assert time.monotonic() < deadline, f"the new entry never showed: {seen}"
        time.sleep(0.1)
    assert time.monotonic() - filled >= MAX_AGE - 0.5, "served fresh before max-age"
    assert {"STALE", "UPDATING", "EXPIRED", "REVALIDATED"} & set(seen), seen
    new_etag = r.headers["etag"]
    assert new_etag != etag
    assert http.get(head_url, headers={"if-none-match": new_etag}).status_code == 304
    assert http.get(head_url, headers={"if-none-match": etag}).status_code == 200
    # The page and the bundle follow the same checkpoint.
    for url in ("/", f"/v1/streams/{PROVIDER}/bundle"):
        deadline = time.monotonic() + 3
        while http.get(url).headers["etag"] == first[url].headers["etag"]:
            assert time.monotonic() < deadline, url
            time.sleep(0.1)
    # The bundle fixed at the old size never changes.
    old = http.get(fixed)
    assert (_status(old), old.status_code) == ("HIT", 200)


def test_pages_are_cached_per_language(stack: tuple[str, str]) -> None:
    """The pages vary with Accept-Language (``Vary``, and an ETag per language): nginx keeps one
    copy per language and never answers a French reader with the English page, or the reverse."""
    _app, proxy = stack
    url = f"/providers/{PROVIDER}"
    french = {"accept-language": "fr-FR,fr;q=0.9"}
    english = {"accept-language": "en-GB,en;q=0.9"}
    with httpx.Client(base_url=proxy, timeout=10) as http:
        fr = http.get(url, headers=french)
        assert (fr.status_code, _status(fr)) == (200, "MISS")
        assert '<html lang="fr">' in fr.text
        assert "Accept-Language" in fr.headers["vary"]
        en = http.get(url, headers=english)
        assert '<html lang="en">' in en.text, _status(en)
        assert en.headers["etag"] != fr.headers["etag"]
        for headers, body in ((french, fr), (english, en)):
            again = http.get(url, headers=headers)
            assert (_status(again), again.content) == ("HIT", body.content)
        # A conditional request in one language is never answered with the other's tag.
        other = http.get(url, headers={**english, "if-none-match": fr.headers["etag"]})
        assert (other.status_code, other.headers["etag"]) == (200, en.headers["etag"])
        same = http.get(url, headers={**french, "if-none-match": fr.headers["etag"]})
        assert same.status_code == 304
