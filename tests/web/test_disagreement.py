"""Verifiers disagree (issue 17 §3): the demo's second opinion on BrightChat's hash matching.

ClearSight confirmed the claim; OpenProbe, later, found no evidence (demo_story.json). The cell
must say "verifiers disagree" and link both verdicts, in the scorecard JSON, on the comparison,
the side-by-side comparison and the company page, through a real server and in headless
Chromium. The expected verdicts are read from the ledger's stored statements, not from the views.
"""

from __future__ import annotations

from typing import Any

import httpx
import orjson

from attest import Envelope
from tests.web.test_pages import dom
from tests.web.test_pages_browser import Site, browser, page, site

__all__ = ["browser", "page", "site"]  # fixtures used here

P = "brightchat"
M = "detect.hash_known_image"


def _verdicts(s: Site) -> list[tuple[int, str, str]]:
    """(index, verifier, result) of every verdict on the claim, from the stored statements."""
    claim = s.digests["brightchat-hash"]
    out = []
    for e in s.ledger.stream_entries(P):
        st = orjson.loads(Envelope.parse_stored(e.envelope).payload)
        if st["kind"] == "verdict.issue" and st["body"]["claim"] == claim:
            out.append((e.index, st["signer"], st["body"]["result"]))
    return out


def test_the_scorecard_json_says_verifiers_disagree_and_links_both(site: Site) -> None:
    verdicts = _verdicts(site)
    assert [(v, r) for _, v, r in verdicts] == [
        ("clearsight-audit", "CONFIRMED"),
        ("openprobe-lab", "NO_EVIDENCE_FOUND"),
    ]
    data = httpx.get(f"{site.base}/v1/scorecard", params={"measure": M}).json()
    (cell,) = (c for r in data["rows"] if r["provider"] == P for c in r["cells"])
    assert cell["status"] == "verifiers_disagree"  # not the newest verdict's NO_EVIDENCE_FOUND
    assert cell["verifiersDisagree"] is True
    (claim,) = cell["claims"]
    links = [(d["index"], d["verifier"], d["result"]) for d in claim["disagreement"]]
    assert links == verdicts
    others = [c for r in data["rows"] if r["provider"] != P for c in r["cells"]]
    assert others
    assert not any(c["verifiersDisagree"] for c in others)
    only = httpx.get(f"{site.base}/v1/scorecard", params={"verdict": "verifiers_disagree"})
    assert [r["provider"] for r in only.json()["rows"]] == [P]


def _links(node: Any) -> list[str]:
    return [a.attrs["href"] for a in node.select("a", href=None)]


def test_the_pages_say_verifiers_disagree_and_link_both(site: Site) -> None:
    verdicts = _verdicts(site)
    want = [
        href for i, v, _ in verdicts for href in (f"/providers/{P}#entry-{i}", f"/verifiers/{v}")
    ]
    for url in ("/", f"/compare?s={P}/BrightChat"):
        html = httpx.get(site.base + url).text
        (td,) = (
            td
            for td in dom(html).select("td", data_provider=P)
            if td.attrs.get("data-measure") == M
        )
        assert td.attrs["data-status"] == "verifiers_disagree", url
        assert td.one("span", class_="status-label").text() == "Verifiers disagree"
        (flag,) = td.select("p", data_flag="verifiers-disagree")
        assert _links(flag) == want, url
        assert "ClearSight Audit LLP" in flag.text()
        assert "OpenProbe Lab Pty Ltd" in flag.text()
    page_ = dom(httpx.get(f"{site.base}/providers/{P}").text)
    li = page_.one("li", data_claim=site.digests["brightchat-hash"])
    assert li.attrs["data-public-status"] == "verifiers_disagree"
    (flag,) = li.select("p", data_flag="verifiers-disagree")
    assert _links(flag) == want
    # Each linked verdict is an entry on the company page.
    anchors = {n.attrs["id"] for n in page_.select("li", id=None)}
    assert {f"entry-{i}" for i, _, _ in verdicts} <= anchors
    # Another company's page has no such flag.
    assert not dom(httpx.get(f"{site.base}/providers/kiteworld").text).select(
        "p", data_flag="verifiers-disagree"
    )


def test_verifiers_disagree_in_chromium(site: Site, page: Any) -> None:
    verdicts = _verdicts(site)
    page.goto(f"{site.base}/")
    cell = page.locator(f"td[data-provider='{P}'][data-measure='{M}']")
    assert cell.get_attribute("data-status") == "verifiers_disagree"
    assert cell.locator(".status-label").inner_text().strip() == "Verifiers disagree"
    flag = cell.locator("[data-flag='verifiers-disagree']")
    assert flag.is_visible()
    text = flag.inner_text()
    assert "Verifiers disagree." in text
    assert "Confirmed by ClearSight Audit LLP" in text
    assert "No evidence found by OpenProbe Lab Pty Ltd" in text
    # The second verdict's link leads to that entry on the company page.
    later = verdicts[-1][0]
    flag.locator(f"a[data-verdict='{later}']").click()
    page.wait_for_url(f"**/providers/{P}#entry-{later}")
    assert page.locator(f"#entry-{later}").is_visible()
    claim = page.locator(f"li[data-claim='{site.digests['brightchat-hash']}']")
    assert claim.get_attribute("data-public-status") == "verifiers_disagree"
    assert claim.locator("[data-flag='verifiers-disagree'] a[data-verdict]").count() == 2
