"""Accountable verifiers (issue 17 §3) on the demo ledger: verifiers disagree, verifier pages.

The demo's second opinion on BrightChat's hash matching:
ClearSight confirmed the claim; OpenProbe, later, found no evidence (demo_story.json). The cell
must say "verifiers disagree" and link both verdicts, in the scorecard JSON, on the comparison,
the side-by-side comparison and the company page, through a real server and in headless
Chromium. The expected verdicts are read from the ledger's stored statements, not from the views.

Each verifier has a page (``/verifiers/ID``, JSON at ``/v1/verifiers/ID``), linked wherever a
verdict is shown: its accreditation, engagements by status, verdicts by result, and how often a
later verdict by another verifier disagreed. Expected counts come from the stored statements of
every stream and from each company's replay, not from the verifier's own index.
"""

from __future__ import annotations

from typing import Any

import httpx
import orjson

from attest import Envelope
from tests.conftest import revalidated
from tests.web.test_pages import dom
from tests.web.test_pages_browser import Site, browser, page, site

__all__ = ["browser", "page", "site"]  # fixtures used here

VERIFIERS = ("clearsight-audit", "northstar-assurance", "openprobe-lab", "quickcert")
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


# -- verifier pages ------------------------------------------------------------------------------


def _stored(s: Site) -> list[tuple[int, str, dict[str, Any]]]:
    """(index, stream, statement) of every stored entry of every company."""
    out = []
    for p in s.providers:
        for e in s.ledger.stream_entries(p):
            out.append((e.index, p, orjson.loads(Envelope.parse_stored(e.envelope).payload)))
    return out


def test_the_verifier_json_counts_what_the_log_holds(site: Site) -> None:
    stored = _stored(site)
    for verifier in VERIFIERS:
        r = httpx.get(f"{site.base}/v1/verifiers/{verifier}")
        assert r.status_code == 200, r.text
        assert r.headers["cache-control"].startswith("public")
        again = revalidated(httpx.get, f"{site.base}/v1/verifiers/{verifier}")
        assert again.status_code == 304
        got = r.json()
        mine = [st for _, _, st in stored if st["signer"] == verifier]
        results = [st["body"]["result"] for st in mine if st["kind"] == "verdict.issue"]
        assert {k: n for k, n in got["verdictCounts"].items() if n} == {
            x: results.count(x) for x in set(results)
        }
        assert got["tests"] == sum(st["kind"] == "test.record" for st in mine)
        statuses = [
            e.status
            for p in site.providers
            for e in site.ledger.views.replay(p, at_ms=got["atMs"]).engagements
            if e.verifier == verifier
        ]
        assert {k: n for k, n in got["engagementCounts"].items() if n} == {
            x: statuses.count(x) for x in set(statuses)
        }
        assert got["verifier"]["id"] == verifier
        assert got["accreditations"][-1]["suspended"] is (verifier == "quickcert")
    # The demo's story: ClearSight's CONFIRMED was contradicted by OpenProbe's later verdict.
    clear = httpx.get(f"{site.base}/v1/verifiers/clearsight-audit").json()
    assert clear["secondOpinions"]["judgedAgain"] == 1
    assert clear["secondOpinions"]["disagreed"] == 1
    (item,) = clear["secondOpinions"]["items"]
    assert item["verdict"]["index"] == _verdicts(site)[0][0]
    assert [d["index"] for d in item["disagreedBy"]] == [_verdicts(site)[1][0]]
    probe = httpx.get(f"{site.base}/v1/verifiers/openprobe-lab").json()
    assert len(probe["accreditations"]) == 2  # its scope was extended by a later grant
    assert "detect.hash_known_image" in probe["accreditations"][-1]["measures"]
    assert probe["engagementCounts"]["closed"] == 1
    assert probe["engagementCounts"]["withdrawn"] == 1
    # A cut at a size is immutable; unknown ids and a provider are 404 problems; too large 400.
    size = _verdicts(site)[1][0]  # before OpenProbe's verdict
    cut = httpx.get(f"{site.base}/v1/verifiers/clearsight-audit", params={"size": size})
    assert "immutable" in cut.headers["cache-control"]
    assert cut.json()["secondOpinions"]["disagreed"] == 0
    for who in ("nobody", P):
        missing = httpx.get(f"{site.base}/v1/verifiers/{who}")
        assert missing.status_code == 404
        assert missing.headers["content-type"] == "application/problem+json"
    big = httpx.get(f"{site.base}/v1/verifiers/quickcert", params={"size": 10**9})
    assert big.status_code == 400


def test_verdicts_link_their_verifier_pages(site: Site) -> None:
    home = dom(httpx.get(f"{site.base}/").text)
    listed = home.one("table", class_="verifiers")
    assert {
        a.attrs["href"] for a in listed.select("a", href=None) if "/verifiers/" in a.attrs["href"]
    } == {f"/verifiers/{v}" for v in VERIFIERS}
    company = dom(httpx.get(f"{site.base}/providers/pixelstream").text)
    hrefs = {a.attrs["href"] for a in company.select("a", href=None)}
    assert "/verifiers/clearsight-audit" in hrefs  # its CONTRADICTED verdict
    assert "/verifiers/openprobe-lab" in hrefs  # its INCONCLUSIVE verdict
    for v in VERIFIERS:
        r = httpx.get(f"{site.base}/verifiers/{v}")
        assert r.status_code == 200
        assert r.headers["content-security-policy"].startswith("default-src 'none'")
    assert httpx.get(f"{site.base}/verifiers/{P}").status_code == 404


def test_a_verifier_page_in_chromium(site: Site, page: Any) -> None:
    page.goto(f"{site.base}/providers/{P}")
    page.locator("a[href='/verifiers/clearsight-audit']").first.click()
    page.wait_for_url("**/verifiers/clearsight-audit")
    assert page.locator("#verifier-name").inner_text() == "ClearSight Audit LLP"
    data = httpx.get(f"{site.base}/v1/verifiers/clearsight-audit").json()
    counts = data["engagementCounts"]
    assert (
        page.locator("#engagement-counts")
        .inner_text()
        .startswith(
            f"{len(data['engagements'])}: {counts['open']} open, {counts['overdue']} overdue"
        )
    )
    again = data["secondOpinions"]
    said = page.locator("#second-opinions").inner_text()
    if again["judgedAgain"] == 1:
        assert "was later judged by another verifier" in said
        assert said.endswith("who disagreed." if again["disagreed"] else "who agreed.")
    else:
        assert f"{again['judgedAgain']} of its verdicts were later judged" in said
        assert f"; {again['disagreed']} of them disagreed." in said
    assert again["disagreed"] >= 1  # the demo's second opinion on BrightChat's hash matching
    item = page.locator("li[data-flag='verifiers-disagree']")
    assert item.count() == 1
    assert "No evidence found by OpenProbe Lab Pty Ltd" in item.inner_text()
    item.locator("a[href='/verifiers/openprobe-lab']").click()
    page.wait_for_url("**/verifiers/openprobe-lab")
    assert page.locator("li.accreditation").count() == 2


def test_verifier_disclosures_and_accreditation_periods_in_chromium(site: Site, page: Any) -> None:
    """Issue 17 §3, as the demo's data file tells: Northstar's renewed accreditation discloses
    its accrediting body, methods, team and independence, its periods contiguous; ClearSight,
    renewed only from day 600 while its period ends on day 565, shows the gap, in the page and in
    /v1/verifiers."""
    page.goto(f"{site.base}/verifiers/northstar-assurance")
    summary = page.locator("#periods-summary")
    assert summary.get_attribute("data-contiguous") == "yes"
    assert "contiguous" in summary.inner_text()
    renewed = page.locator("li.accreditation").first  # newest first
    assert renewed.locator(".accrediting-body").inner_text() == (
        "Nordic Accreditation Council (fictional)"
    )
    assert (
        "Two engineers with end-to-end encryption"
        in renewed.locator(".qualifications").inner_text()
    )
    other = renewed.locator(".other-services")
    assert "A 2025 staff training course on grooming signals." in other.inner_text()
    assert other.locator("a").get_attribute("href") == "/providers/brightchat"
    assert renewed.locator(".fee-band").inner_text() == "EUR 40,000-80,000 per engagement"
    assert "after three engagements" in renewed.locator(".rotation").inner_text()
    data = httpx.get(f"{site.base}/v1/verifiers/northstar-assurance").json()
    assert (data["periodsContiguous"], data["accreditationGaps"]) == (True, [])
    assert data["accreditations"][-1]["independence"]["feeBand"] == (
        "EUR 40,000-80,000 per engagement"
    )
    assert all(v["outOfAccreditation"] is None for v in data["verdicts"])

    page.goto(f"{site.base}/verifiers/clearsight-audit")
    summary = page.locator("#periods-summary")
    assert summary.get_attribute("data-contiguous") == "no"
    data = httpx.get(f"{site.base}/v1/verifiers/clearsight-audit").json()
    (gap,) = data["accreditationGaps"]
    current, renewed = data["accreditations"]
    assert gap == {"from": current["period"]["end"], "to": renewed["period"]["start"]}
    assert "1 gap:" in summary.inner_text()
    assert summary.locator(".gap").count() == 1
    assert renewed["independence"]["otherServices"] == []
    assert "none" in page.locator("li.accreditation").first.locator(".other-services").inner_text()
    # Its verdicts so far were made inside its first period: all current.
    assert all(v["outOfAccreditation"] is None for v in data["verdicts"])
    assert page.locator("[data-flag='out-of-accreditation']").count() == 0


# -- findings ------------------------------------------------------------------------------------


def test_open_findings_on_the_company_page_and_in_the_state(site: Site, page: Any) -> None:
    # From the stored statements: the verdicts that open a finding on PixelStream's record.
    opening = [
        (i, st)
        for i, p, st in _stored(site)
        if p == "pixelstream"
        and st["kind"] == "verdict.issue"
        and (
            st["body"]["result"] in ("CONTRADICTED", "NO_EVIDENCE_FOUND")
            or st["body"]["result"] == "CONFIRMED_WITH_COMMENTS"
        )
    ]
    expected = [
        i
        for i, st in opening
        for _ in (
            [None]
            if st["body"]["result"] != "CONFIRMED_WITH_COMMENTS"
            else st["body"].get("recommendations", [])
        )
    ]
    assert expected  # the demo's CONTRADICTED video verdict
    state = httpx.get(f"{site.base}/v1/streams/pixelstream/state").json()
    assert [f["verdict"]["index"] for f in state["findings"]] == expected
    assert all(f["status"] == "open" for f in state["findings"])
    html = dom(httpx.get(f"{site.base}/providers/pixelstream").text)
    items = html.select("li", class_="finding")
    assert [li.attrs["data-finding"] for li in items] == [str(i) for i in expected]
    times = {e.index: e.log_time_ms for e in site.ledger.stream_entries("pixelstream")}
    for li in items:
        days = (site.now_ms - times[int(li.attrs["data-finding"])]) // 86_400_000
        assert li.one("span", class_="finding-age").text() == f"{days} days"
    # In Chromium: BrightChat's second opinion opened a finding, linked to its verdict.
    page.goto(f"{site.base}/providers/{P}")
    assert page.locator("#findings-h").is_visible()
    later = _verdicts(site)[-1][0]
    item = page.locator(f"li.finding[data-finding='{later}']")
    assert item.get_attribute("data-status") == "open"
    assert "No evidence found, by OpenProbe Lab Pty Ltd" in item.inner_text()
    item.locator(f"a[href='#entry-{later}']").click()
    assert page.locator(f"#entry-{later}").is_visible()
    # The demo's closed finding: Northstar's recommendation, closed by its verdict on the newer
    # version of BrightChat's end-to-end encryption claim.
    opened = int(
        site.ledger.views.replay(P)
        .claim(bytes.fromhex(site.digests["brightchat-e2ee"]))
        .verdicts[0]
        .index
    )
    done = page.locator(f"li.finding[data-finding='{opened}']")
    assert done.get_attribute("data-status") == "closed"
    text = done.inner_text()
    assert "Ship the nudity warning on iOS." in text
    assert "closed on" in text
    assert "Confirmed by Northstar Assurance B.V." in text
    closer = site.digests["brightchat-e2ee-recheck-verdict"]
    closing = {
        e.index
        for e in site.ledger.stream_entries(P)
        if orjson.loads(Envelope.parse_stored(e.envelope).payload)["kind"] == "verdict.issue"
    }
    hrefs = [a.get_attribute("href") for a in done.locator("a").all()]
    assert any(
        h.startswith("#entry-") and int(h[7:]) in closing and int(h[7:]) != opened for h in hrefs
    )
    state = httpx.get(f"{site.base}/v1/streams/{P}/state").json()
    (closed,) = (f for f in state["findings"] if f["status"] == "closed")
    assert closed["closedBy"]["digest"] == closer
    assert page.locator("#findings-summary").inner_text() == "1 open, 1 closed."
