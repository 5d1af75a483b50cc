"""Keys and parties in headless Chromium (issue 15): a verdict signed with a key the authority
later stated compromised reads as not to be relied on (its claim unverified, the flag in words,
the browser's own verification naming the entry), and a retired company is marked on its page
and left out of the comparison (SPEC §8.2 rule 5)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from attest.statements import format_timestamp
from ledger import Ledger
from tests.attest.examples import example_key_revoke_body
from tests.attest.logbuilder import key
from tests.ledger.actors import AUTHORITY, mirrored_ledger
from tests.web.conftest import STATIC
from tests.web.test_pages_browser import browser, page, serving  # noqa: F401 - fixtures

pytestmark = pytest.mark.browser

P, Q, V = "kite-social", "lumen-chat", "probe-labs"
DAY_MS = 86_400_000


@dataclass
class PartiesSite:
    base: str
    ledger: Ledger
    verdict_index: int
    revoke_index: int
    retire_ms: int


@pytest.fixture(scope="module")
def parties_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PartiesSite]:
    root = tmp_path_factory.mktemp("parties")
    ledger, b, put = mirrored_ledger(f"sqlite:///{root / 'ledger.db'}")
    try:
        for party, role, k in ((P, "provider", 3), (Q, "provider", 6), (V, "verifier", 5)):
            b.register(party, role, k)
            put()
        b.accredit(V, ["detect.hash_known_image"])
        put()
        for provider in (P, Q):
            claim = b.claim(provider)
            put()
            test = b.test(V, provider, claim)
            put()
            b.verdict(V, provider, claim, [test])
            put()
        verdict_index = b.entries[-4].index  # P's verdict: Q's claim, test and verdict follow
        revoke = example_key_revoke_body(V, str(key(5).public_key.key_id))
        revoke["compromisedSince"] = {"index": verdict_index}
        r = b.append("key.revoke", "registry", AUTHORITY, revoke, log_time_ms=b.time_ms + DAY_MS)
        put()
        retire = {"party": Q, "reason": "Service closed in every covered country."}
        t = b.append("party.retire", "registry", AUTHORITY, retire, log_time_ms=b.time_ms + DAY_MS)
        put()
        with serving(ledger, b.time_ms + DAY_MS) as base:
            yield PartiesSite(base, ledger, verdict_index, r.index, t.log_time_ms)
    finally:
        ledger.close()


def test_a_compromised_verdict_and_a_retired_company_in_chromium(
    parties_site: PartiesSite,
    page: Any,  # noqa: F811 - the fixture
) -> None:
    site = parties_site
    # The key was compromised from P's verdict on: that verdict (not P's test before it), and
    # Q's verdict after it, read as not to be relied on.
    page.goto(f"{site.base}/providers/{P}")
    flag = page.locator("p.flag[data-flag='key-compromised']")
    assert flag.count() >= 1
    assert flag.first.is_visible()
    assert "Not to be relied on." in flag.first.inner_text()
    assert f"log index {site.revoke_index}" in flag.first.inner_text()
    assert page.locator("#retired-banner").count() == 0

    page.focus("#verify-button")
    page.keyboard.press("Enter")
    page.wait_for_selector("#verify-result[data-outcome]", timeout=30_000)
    assert page.get_attribute("#verify-result", "data-outcome") == "ok"
    note = page.locator("#verify-compromised")
    assert note.is_visible()
    assert note.get_attribute("data-count") == "1"
    assert f"{site.verdict_index}, revoked at {site.revoke_index}" in note.inner_text()
    # The browser's words come from the page's one wording table, as the server's do.
    words = json.loads((STATIC / "verdict-words.json").read_text())["states"]["key_compromised"]
    assert note.inner_text().startswith(words["label"] + ": 1 entry.")
    assert note.locator(".next-step").inner_text() == words["next"]

    page.goto(f"{site.base}/providers/{Q}")
    banner = page.locator("#retired-banner")
    assert banner.is_visible()
    assert banner.inner_text().startswith("Retired since ")
    assert page.locator("p.flag[data-flag='key-compromised']").first.is_visible()
    page.goto(f"{site.base}/search?q=acme")  # both companies carry the example name
    retired = "retired since " + format_timestamp(site.retire_ms)[:10]
    assert retired in page.inner_text(f"#results li[data-id='{Q}']")
    assert "retired" not in page.inner_text(f"#results li[data-id='{P}']")
    page.goto(f"{site.base}/companies/{P}/case-file")
    assert "NOT TO BE RELIED ON (key stated compromised)" in page.inner_text("body")
    page.goto(f"{site.base}/")
    cell = page.locator(f"td[data-provider='{P}'][data-measure='detect.hash_known_image']")
    assert cell.get_attribute("data-status") == "unverified"
    assert cell.locator("[data-flag='key-compromised']").is_visible()
    assert page.locator(f"td[data-provider='{Q}']").count() == 0  # out of current comparisons
