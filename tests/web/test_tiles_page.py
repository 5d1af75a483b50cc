"""The company page proves a newer checkpoint extends the one this browser remembered from the
log's tiles (C2SP tlog-tiles, SPEC §14) where the server serves them, in real Chromium against the
real app; a damaged tile (a bad cache) falls back to the API's proof, never to a false alarm, and
a fork is still caught."""

from __future__ import annotations

from typing import Any

import pytest

from attest.merkle import subtree_hash
from tests.web.test_pages_browser import (  # noqa: F401 - fixtures used by name
    Site,
    _trust,
    _verify,
    browser,
    page,
    site,
)

pytestmark = pytest.mark.browser


def test_the_page_proves_consistency_from_tiles(site: Site, page: Any) -> None:  # noqa: F811
    provider = "kiteworld"
    ledger = site.ledger
    size = ledger.size
    vkey = ledger.note_verifier.vkey()
    old_root = subtree_hash(0, size - 3, ledger.store.get_node).hex()
    urls: list[str] = []
    page.on("request", lambda r: urls.append(r.url))
    page.goto(site.base)
    page.evaluate("localStorage.clear()")
    try:
        _trust(page, vkey, size - 3, old_root)
        got = _verify(page, site.base, provider)
        assert got["outcome"] == "ok", got
        assert f"({size - 3} entries; proved from the log's tiles)" in got["text"]
        assert any("/tile/" in u for u in urls)

        def damaged(route: Any) -> None:
            response = route.fetch()
            body = bytearray(response.body())
            body[0] ^= 1
            route.fulfill(response=response, body=bytes(body))

        page.route("**/tile/**", damaged)
        _trust(page, vkey, size - 3, old_root)
        got = _verify(page, site.base, provider)
        assert got["outcome"] == "ok", got
        assert f"verified on 2026-01-01T00:00:00Z ({size - 3} entries)" in got["text"]
        page.unroute("**/tile/**")

        _trust(page, vkey, size - 3, "00" * 32)
        got = _verify(page, site.base, provider)
        assert (got["outcome"], got["kind"]) == ("failed", "ProofError"), got
        assert "history was rewritten" in got["text"]
    finally:
        page.evaluate("localStorage.clear()")
