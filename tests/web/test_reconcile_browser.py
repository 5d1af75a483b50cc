"""Reported counts against the authority's logged table (issue 17 §5) on the demo's company pages,
in headless Chromium through a real server.

The demo logs a fictional NCMEC table of CyberTipline reports for 2025 (demo_story.json). The
expected numbers are read from the stored statements (the table's row and the company's claim
metric), not from the views: Nimbus Drive's page shows the mismatch with both numbers, PixelStream's
reads consistent, BrightChat's not comparable (another period), Lumen Search's no row; the state
JSON says the same, and the browser verifies the record that carries the table, compares the
counts itself (verify.js, SPEC §8.4) and says whether it reads what the cards show.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx
import orjson

from attest import Envelope
from tests.web.test_pages_browser import Site, browser, page, site

__all__ = ["browser", "page", "site"]  # fixtures used here


def _stored(s: Site) -> tuple[int, dict[str, Any]]:
    """The index and body of the demo's reference.publish, from the stored registry entries."""
    (found,) = (
        (e.index, st["body"])
        for e in s.ledger.stream_entries("registry")
        if (st := orjson.loads(Envelope.parse_stored(e.envelope).payload))["kind"]
        == "reference.publish"
    )
    return found


def _reported(s: Site, provider: str) -> int:
    """The provider's stored report.authority metric for 2025."""
    values = [
        m["value"]
        for e in s.ledger.stream_entries(provider)
        if (st := orjson.loads(Envelope.parse_stored(e.envelope).payload))["kind"]
        == "claim.publish"
        and st["body"]["measure"] == "report.authority"
        for m in st["body"].get("metrics", ())
        if m["period"] == {"start": "2025-01-01", "end": "2025-12-31"}
    ]
    (value,) = values
    return int(value)


def test_the_mismatch_and_the_match_on_the_company_pages(site: Site, page: Any) -> None:
    index, table = _stored(site)
    rows = {r.get("party"): r["count"] for r in table["rows"]}
    listed, reported = rows["nimbus-drive"], _reported(site, "nimbus-drive")
    assert listed != reported  # the demo's mismatch

    page.goto(f"{site.base}/providers/nimbus-drive")
    card = page.locator("li.reconciliation")
    assert card.count() == 1
    assert card.get_attribute("data-status") == "inconsistent"
    assert card.is_visible()
    assert page.locator("#reconciliation-h").inner_text().startswith("Reported counts")
    assert card.locator(".reconciliation-label").inner_text() == "Inconsistent"
    assert card.locator(".listed-count").inner_text().startswith(f"{listed} reports")
    assert card.locator(".reported-count").inner_text().startswith(str(reported))
    text = card.inner_text()
    assert table["source"]["digest"]["sha256"] in text
    assert f"entry {index}" in text
    href = card.locator("a[rel~='nofollow']").get_attribute("href")
    assert href == table["source"]["uri"]
    # The card fits a phone's width: the long digest wraps.
    page.set_viewport_size({"width": 390, "height": 800})
    box = card.bounding_box()
    assert box is not None
    assert box["x"] + box["width"] <= 390
    page.set_viewport_size({"width": 1280, "height": 900})

    page.goto(f"{site.base}/providers/pixelstream")
    assert page.locator("li.reconciliation").get_attribute("data-status") == "consistent"
    assert rows["pixelstream"] == _reported(site, "pixelstream")
    page.goto(f"{site.base}/providers/brightchat")
    card = page.locator("li.reconciliation")
    assert (card.get_attribute("data-status"), card.get_attribute("data-reason")) == (
        "not_comparable",
        "period",
    )
    page.goto(f"{site.base}/providers/lumen-search")
    assert page.locator("li.reconciliation").get_attribute("data-reason") == "no_row"

    state = httpx.get(f"{site.base}/v1/streams/nimbus-drive/state").json()
    (check,) = state["reconciliations"]
    assert (check["status"], check["count"], check["reported"][0]["value"]) == (
        "inconsistent",
        listed,
        reported,
    )
    assert check["index"] == index

    # The browser verifies the record that carries the table (a registry entry about the
    # authority) as the Python verifier does.
    page.goto(f"{site.base}/providers/nimbus-drive")
    page.focus("#verify-button")
    page.keyboard.press("Enter")
    page.wait_for_selector("#verify-result[data-outcome]", timeout=30_000)
    assert page.get_attribute("#verify-result", "data-outcome") == "ok"
    # ... and compares the reported counts itself (SPEC §8.4 in verify.js): it reads what the
    # server's card shows.
    said = page.locator("#verify-reconciliation")
    assert (said.get_attribute("data-agrees"), said.get_attribute("data-count")) == ("true", "1")
    assert said.inner_text().startswith("Reported counts against published tables")


def test_the_browser_says_when_the_page_shows_another_comparison(site: Site, page: Any) -> None:
    """A card altered to read consistent: the browser's own comparison (inconsistent) differs,
    and the verify panel says so, naming the table's log index."""
    index, _ = _stored(site)
    page.goto(f"{site.base}/providers/nimbus-drive")
    page.evaluate("document.querySelector('li.reconciliation').dataset.status = 'consistent'")
    page.focus("#verify-button")
    page.keyboard.press("Enter")
    page.wait_for_selector("#verify-result[data-outcome]", timeout=30_000)
    assert page.get_attribute("#verify-result", "data-outcome") == "ok"
    said = page.locator("#verify-reconciliation")
    assert said.get_attribute("data-agrees") == "false"
    assert f"the table logged at index {index} reads otherwise here" in said.inner_text()
    # A card of a table the browser did not find in the verified record differs too.
    page.evaluate(
        """() => {
            const card = document.querySelector('li.reconciliation');
            card.dataset.status = 'inconsistent';
            const extra = card.cloneNode(true);
            extra.dataset.dataset = '00'.repeat(32);
            card.after(extra);
        }"""
    )
    page.focus("#verify-button")
    page.keyboard.press("Enter")
    page.wait_for_selector("#verify-result[data-outcome]", timeout=30_000)
    said = page.locator("#verify-reconciliation")
    assert said.get_attribute("data-agrees") == "false"
    assert "the page shows a table this browser did not find" in said.inner_text()


def test_no_comparison_is_said_on_a_page_as_of_an_earlier_date(site: Site, page: Any) -> None:
    """The page as it stood on a date shows that date's cards while the browser verifies today's
    record, so the panel does not compare them (and says nothing either way)."""
    # The day before the site's "now": the cards (if any) are that day's reading; the browser
    # would find one table in today's record either way, so only the skip keeps it silent.
    day = datetime.fromtimestamp(site.now_ms / 1000 - 86_400, UTC).date().isoformat()
    page.goto(f"{site.base}/providers/nimbus-drive?as_of={day}")
    assert page.locator("#asof-banner").count() == 1
    page.focus("#verify-button")
    page.keyboard.press("Enter")
    page.wait_for_selector("#verify-result[data-outcome]", timeout=30_000)
    assert page.get_attribute("#verify-result", "data-outcome") == "ok"
    assert page.locator("#verify-reconciliation").count() == 0
