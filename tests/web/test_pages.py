"""The public pages through TestClient, on the demo ledger (a real Ledger on a SQLite file).

Every expectation is computed from the ledger's own views (``views.scorecard``, ``views.replay``)
or the stored statements, never from the page code: the status words below are the public words
of ``../shared/DOMAIN.md``, written out here on purpose.
"""

from __future__ import annotations

import re
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import orjson
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api import create_app
from api.web import mount
from attest import Envelope, make_statement, sign_statement
from attest.measures import MEASURES
from attest.statements import REGISTRY_STREAM, format_timestamp
from cli._demo import DAY_MS, DemoLedger, build_demo
from keys import PrivateKey
from ledger import PUBLIC_STATUSES, Ledger
from ledger._store import stream_id
from tests.attest.examples import (
    AUTHORITY,
    example_claim_body,
    example_key_revoke_body,
    example_party_register_body,
)
from tests.attest.logbuilder import key
from tests.conftest import small_log_chunks
from tests.ledger.actors import mirrored_ledger
from tests.ledger.conftest import pg_schema, store_url

__all__ = ["pg_schema", "store_url"]  # fixtures used here

WORDS = {
    "confirmed": "Confirmed",
    "confirmed_with_comments": "Confirmed with comments",
    "no_evidence_found": "No evidence found",
    "contradicted": "Contradicted",
    "verifiers_disagree": "Verifiers disagree",
    "inconclusive": "Inconclusive",
    "unverified": "Unverified",
    "no_claim": "No claim",
}
"""The public word of each cell status (DOMAIN.md), independent of the templates."""

# -- a small DOM, enough to read the pages -------------------------------------------------------

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source"}


@dataclass
class Node:
    """An element: tag, attributes, children (nodes and text)."""

    tag: str
    attrs: dict[str, str]
    children: list[Node | str] = field(default_factory=list)

    def text(self) -> str:
        """All text inside, whitespace collapsed."""
        parts: list[str] = []

        def walk(n: Node) -> None:
            for c in n.children:
                if isinstance(c, str):
                    parts.append(c)
                else:
                    walk(c)

        walk(self)
        return " ".join(" ".join(parts).split())

    def find_all(self, pred: Callable[[Node], bool]) -> list[Node]:
        """Every element below (document order) for which ``pred`` holds."""
        out: list[Node] = []

        def walk(n: Node) -> None:
            for c in n.children:
                if isinstance(c, Node):
                    if pred(c):
                        out.append(c)
                    walk(c)

        walk(self)
        return out

    def select(self, tag: str | None = None, **attrs: str | None) -> list[Node]:
        """Elements by tag and attributes (``class_`` matches one class; None: attribute set)."""

        def match(n: Node) -> bool:
            if tag is not None and n.tag != tag:
                return False
            for k, v in attrs.items():
                name = "class" if k == "class_" else k.replace("_", "-")
                if name not in n.attrs:
                    return False
                if v is None:
                    continue
                if name == "class":
                    if v not in n.attrs[name].split():
                        return False
                elif n.attrs[name] != v:
                    return False
            return True

        return self.find_all(match)

    def one(self, tag: str | None = None, **attrs: str | None) -> Node:
        """The single element matching."""
        found = self.select(tag, **attrs)
        assert len(found) == 1, (tag, attrs, len(found))
        return found[0]


class _Builder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Node("#document", {})
        self.stack = [self.root]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        node = Node(tag, {k: v or "" for k, v in attrs})
        self.stack[-1].children.append(node)
        if tag not in VOID:
            self.stack.append(node)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.stack[-1].children.append(Node(tag, {k: v or "" for k, v in attrs}))

    def handle_endtag(self, tag: str) -> None:
        for i in range(len(self.stack) - 1, 0, -1):
            if self.stack[i].tag == tag:
                del self.stack[i:]
                return

    def handle_data(self, data: str) -> None:
        self.stack[-1].children.append(data)


def dom(html: str) -> Node:
    """Parse a page."""
    b = _Builder()
    b.feed(html)
    b.close()
    return b.root


# -- the demo ledger -----------------------------------------------------------------------------


@dataclass
class Demo:
    """The demo ledger open with its log key, its app and a client; the pages' clock is fixed."""

    info: DemoLedger
    ledger: Ledger
    app: FastAPI
    client: TestClient
    now_ms: int
    day0_ms: int

    def day(self, n: int) -> str:
        """The date ``n`` days into the demo story (``YYYY-MM-DD``)."""
        return datetime.fromtimestamp((self.day0_ms + n * DAY_MS) / 1000, UTC).strftime("%Y-%m-%d")

    def get(self, url: str, status: int = 200) -> Node:
        """GET a page and parse it, checking its status."""
        r = self.client.get(url)
        assert r.status_code == status, (url, r.status_code, r.text[:300])
        assert r.headers["content-type"].startswith("text/html")
        return dom(r.text)


def make_demo(root: Path) -> tuple[DemoLedger, int]:
    """Build the demo ledger under ``root`` (``ledger.db`` and ``keys/``); returns it and today."""
    today = int(time.time()) * 1000
    info = build_demo(f"sqlite:///{root / 'ledger.db'}", root / "keys", today_ms=today)
    return info, today


def open_demo(info: DemoLedger) -> Ledger:
    """The demo ledger opened with its (unencrypted) log key."""
    return Ledger.open(info.url, log_key=PrivateKey.load(info.keys_dir / "log.key", None))


@contextmanager
def one_byte_changed(db: Path, stream: str, position: int) -> Iterator[None]:
    """Change one byte inside the base64 payload of a stored entry, directly in the SQLite
    database (the events are readable JSON: docs/architecture/storage.md); put it back on exit."""
    select = "SELECT state FROM claimledger_events WHERE originator_id=? AND originator_version=?"
    update = "UPDATE claimledger_events SET state=? WHERE originator_id=? AND originator_version=?"
    args = (stream_id(stream).hex, position + 1)
    with sqlite3.connect(db) as conn:
        (state,) = conn.execute(select, args).fetchone()
    state = bytes(state)
    at = state.index(b"payload") + 80
    flipped = b"A" if state[at : at + 1] != b"A" else b"B"
    with sqlite3.connect(db) as conn:
        conn.execute(update, (state[:at] + flipped + state[at + 1 :], *args))
    try:
        yield
    finally:
        with sqlite3.connect(db) as conn:
            conn.execute(update, (state, *args))


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    info, today = make_demo(tmp_path_factory.mktemp("demo"))
    ledger = open_demo(info)
    app = create_app(ledger)
    mount(app)
    app.state.clock = lambda: today
    try:
        with TestClient(app) as client:
            yield Demo(info, ledger, app, client, today, today - today % DAY_MS - 200 * DAY_MS)
    finally:
        ledger.close()


def cells(page: Node) -> dict[tuple[str, str], Node]:
    """The comparison's cells by (provider, measure)."""
    out = {}
    for td in page.select("td", data_provider=None, data_measure=None):
        out[(td.attrs["data-provider"], td.attrs["data-measure"])] = td
    return out


def label_of(cell: Node) -> str:
    return cell.one("span", class_="status-label").text()


# -- the comparison ------------------------------------------------------------------------------


def test_every_cell_says_what_the_scorecard_says(demo: Demo) -> None:
    card = demo.ledger.views.scorecard(at_ms=demo.now_ms)
    page = demo.get("/?all=1")
    shown = cells(page)
    assert len(shown) == len(card.rows) * len(MEASURES)
    for row in card.rows:
        for c in row.cells:
            td = shown[(row.provider, c.measure)]
            assert td.attrs["data-status"] == c.status, (row.provider, c.measure)
            assert label_of(td) == WORDS[c.status], (row.provider, c.measure)
    # The demo is believable: every public status appears somewhere.
    assert {c.status for r in card.rows for c in r.cells} == set(PUBLIC_STATUSES)
    headers = [th.text() for th in page.one("table", id="comparison").select("th", scope="col")]
    # Each company's overdue engagements and commitments are flagged under its name (issue 17).
    assert headers[1:] == [
        f"{r.name} based in {r.jurisdiction}"
        + (f" {len(r.overdue_engagements)} engagement overdue" if r.overdue_engagements else "")
        + (f" {r.overdue_commitments} commitment overdue" if r.overdue_commitments else "")
        for r in card.rows
    ]
    assert sum(len(r.overdue_engagements) for r in card.rows) == 1
    assert sum(r.overdue_commitments for r in card.rows) == 1


def test_an_expired_verdict_reads_as_unverified_and_says_why(demo: Demo) -> None:
    card = demo.ledger.views.scorecard(at_ms=demo.now_ms)
    expired = [
        c
        for r in card.rows
        for c in r.cells
        if any(v.latest_verdict_expired for v in c.claims) and c.status == "unverified"
    ]
    assert expired, "the demo has an expired verdict"
    shown = cells(demo.get("/"))
    for c in expired:
        td = shown[(c.provider, c.measure)]
        assert label_of(td) == "Unverified"
        assert "expired" in td.text()


def test_by_default_only_measures_someone_claims_are_rows(demo: Demo) -> None:
    card = demo.ledger.views.scorecard(at_ms=demo.now_ms)
    claimed = [m for i, m in enumerate(card.measures) if any(r.cells[i].claims for r in card.rows)]
    page = demo.get("/")
    rows = [tr.attrs["data-measure"] for tr in page.select("tr", data_measure=None)]
    assert rows == claimed
    assert f"{len(MEASURES) - len(claimed)} measures" in page.one("caption").text()


def test_the_measure_filter_keeps_one_row(demo: Demo) -> None:
    card = demo.ledger.views.scorecard(at_ms=demo.now_ms)
    measure = "detect.hash_known_image"
    page = demo.get(f"/?measure={measure}")
    shown = cells(page)
    assert {m for _, m in shown} == {measure}
    assert len(shown) == len(card.rows)
    for row in card.rows:
        td = shown[(row.provider, measure)]
        assert td.attrs["data-status"] == card.cell(row.provider, measure).status
    selected = page.one("select", id="f-measure").select("option", selected=None)
    assert [o.attrs["value"] for o in selected] == [measure]


def test_the_jurisdiction_filter_keeps_claims_covering_it(demo: Demo) -> None:
    card = demo.ledger.views.scorecard(at_ms=demo.now_ms)
    rank = {s: i for i, s in enumerate(PUBLIC_STATUSES)}
    for place in ("GB", "FI"):
        want: dict[tuple[str, str], str] = {}
        for row in card.rows:
            mine = {}
            for c in row.cells:
                covering = [
                    v
                    for v in c.claims
                    if v.entry.scope is not None
                    and ({place, "GLOBAL"} & set(v.entry.scope.jurisdictions))
                ]
                mine[(row.provider, c.measure)] = (
                    min((v.public_status for v in covering), key=rank.__getitem__)
                    if covering
                    else "no_claim"
                )
            if any(s != "no_claim" for s in mine.values()):
                want.update(mine)
        shown = cells(demo.get(f"/?jurisdiction={place}&all=1"))
        assert {k: td.attrs["data-status"] for k, td in shown.items()} == want
        assert len({p for p, _ in shown}) < len(card.rows)  # it narrows


def test_unknown_filter_values_say_so_and_show_everything(demo: Demo) -> None:
    page = demo.get("/?measure=detect.nonsense&jurisdiction=ZZ", status=400)
    notices = [n.text() for n in page.select("p", role="alert")]
    assert any("detect.nonsense" in n for n in notices)
    assert any("ZZ" in n for n in notices)
    assert cells(page)


def test_scope_caveats_are_one_click_away(demo: Demo) -> None:
    card = demo.ledger.views.scorecard(at_ms=demo.now_ms)
    shown = cells(demo.get("/"))
    checked = 0
    for row in card.rows:
        for c in row.cells:
            for v in c.claims:
                scope = v.entry.scope
                assert scope is not None
                details = shown[(row.provider, c.measure)].select("details", class_="scope")
                text = " ".join(d.text() for d in details)
                for _surface, reason in scope.excluded_surfaces:
                    assert reason in text
                    checked += 1
                assert ", ".join(scope.jurisdictions) in text
    assert checked >= 1


def test_the_verifiers_and_their_schemes_are_listed(demo: Demo) -> None:
    page = demo.get("/")
    rows = {tr.attrs["data-verifier"]: tr.text() for tr in page.select("tr", data_verifier=None)}
    verifiers = demo.ledger.views.parties(role="verifier")
    assert set(rows) == {v.id for v in verifiers}
    for v in verifiers:
        assert v.name in rows[v.id]
        assert v.accreditation is not None
        assert v.accreditation.scheme in rows[v.id]
        assert ("Suspended" in rows[v.id]) is v.accreditation.suspended
    assert any(v.accreditation is not None and v.accreditation.suspended for v in verifiers)
    how = page.one("section", id="how").text()
    for word in ("A claim", "A test", "A verdict"):
        assert word in how


# -- a company's page ----------------------------------------------------------------------------


def entries_of(page: Node) -> list[Node]:
    return page.one("ol", id="timeline").select("li", data_index=None)


def test_the_company_page_lists_every_entry_in_log_order(demo: Demo) -> None:
    for provider in demo.info.providers:
        stored = demo.ledger.stream_entries(provider)
        page = demo.get(f"/providers/{provider}")
        items = entries_of(page)
        assert [int(li.attrs["data-index"]) for li in items] == [e.index for e in stored]
        assert [int(li.attrs["data-position"]) for li in items] == list(range(len(stored)))
        for li, e in zip(items, stored, strict=True):
            statement = orjson.loads(Envelope.parse_stored(e.envelope).payload)
            text = li.text()
            assert li.attrs["data-kind"] == statement["kind"]
            assert f"Log index: {e.index}" in text
            assert statement["signer"] in [c.text() for c in li.select("code")]
            body = statement["body"]
            docs = [*body.get("evidence", ()), *([body["protocol"]] if "protocol" in body else [])]
            for d in docs:
                assert d["digest"]["sha256"] in text
                assert d["uri"] in text
            for trial in body.get("trials", ()):
                for d in trial.get("evidence", ()):
                    assert d["sha256"] in text


def test_the_company_page_has_a_verify_button_and_a_chart(demo: Demo) -> None:
    page = demo.get("/providers/pixelstream")
    button = page.one("button", id="verify-button")
    assert "hidden" in button.attrs  # shown by page.js; without JS the noscript note explains
    assert button.attrs["data-stream"] == "pixelstream"
    assert button.attrs["data-genesis"] == demo.info.fingerprint
    assert page.select("noscript")
    svg = page.one("svg", class_="chart")
    replay = demo.ledger.views.replay("pixelstream", at_ms=demo.now_ms)
    assert len(svg.select("rect", class_="bar")) == len(replay.claims)
    verdicts = sum(len(c.verdicts) for c in replay.claims)
    assert len(svg.select("g", class_="mark")) == verdicts + sum(
        len(c.tests) for c in replay.claims
    )
    assert [s.attrs["src"] for s in page.select("script")] == ["/static/page.js"]


def test_as_of_replays_the_record_as_it_stood(demo: Demo) -> None:
    withdrawn = bytes.fromhex(demo.info.digests["nimbus-withdrawal"])
    views = demo.ledger.views
    now = views.replay("nimbus-drive", at_ms=demo.now_ms)
    claim = next(c for c in now.claims if c.ended_by is not None and c.ended_by.digest == withdrawn)
    assert claim.status == "withdrawn"
    before = demo.day(100)  # the claim stood; withdrawn on day 118
    then = views.replay(
        "nimbus-drive",
        as_of_ms=int(datetime.fromisoformat(before + "T23:59:59.999+00:00").timestamp() * 1000),
    )
    assert then.claim(claim.digest).status == "active"

    def status(page: Node) -> str:
        return page.one("li", data_claim=claim.digest.hex()).attrs["data-status"]

    page_now = demo.get("/providers/nimbus-drive")
    page_then = demo.get(f"/providers/nimbus-drive?as_of={before}")
    assert status(page_now) == "withdrawn"
    assert status(page_then) == "active"
    assert [int(li.attrs["data-index"]) for li in entries_of(page_then)] == [
        f.index for f in then.timeline
    ]
    assert len(entries_of(page_then)) < len(entries_of(page_now))
    assert before in page_then.one("p", id="asof-banner").text()
    assert page_then.one("input", id="as_of").attrs["value"] == before


def test_as_of_judges_verdict_expiry_on_that_day(demo: Demo) -> None:
    expired = demo.info.digests["lumen-verdict-expired"]
    now = demo.ledger.views.replay("lumen-search", at_ms=demo.now_ms)
    claim = next(
        c for c in now.claims if c.latest_verdict and c.latest_verdict.digest.hex() == expired
    )
    assert claim.public_status == "unverified"
    verdict = claim.latest_verdict
    assert verdict is not None
    assert verdict.valid_until_ms is not None
    day = datetime.fromtimestamp(verdict.log_time_ms / 1000 + 86_400, UTC).strftime("%Y-%m-%d")
    page = demo.get(f"/providers/lumen-search?as_of={day}")
    card = page.one("li", data_claim=claim.digest.hex())
    assert card.attrs["data-public-status"] == (verdict.result or "").lower()
    card_now = demo.get("/providers/lumen-search").one("li", data_claim=claim.digest.hex())
    assert card_now.attrs["data-public-status"] == "unverified"
    assert "expired" in card_now.text()


def test_a_bad_as_of_date_is_said_and_the_present_shown(demo: Demo) -> None:
    page = demo.get("/providers/nimbus-drive?as_of=yesterday", status=400)
    assert "yesterday" in page.one("p", role="alert").text()
    assert len(entries_of(page)) == len(demo.ledger.stream_entries("nimbus-drive"))


def test_an_entry_changed_in_the_database_is_flagged_not_a_crash(demo: Demo) -> None:
    entry = demo.ledger.stream_entries("pixelstream")[3]
    db = Path(demo.info.url.removeprefix("sqlite:///"))
    with one_byte_changed(db, "pixelstream", entry.position):
        page = demo.get("/providers/pixelstream")
        flagged = page.one("li", id=f"entry-{entry.index}")
        assert "can no longer be read" in flagged.one("p", role="alert").text()
        assert len(entries_of(page)) == len(demo.ledger.stream_entries("pixelstream"))
    assert not demo.get("/providers/pixelstream").select("p", role="alert")


@pytest.mark.parametrize("who", ["no-such-company", "clearsight-audit", "registry", "x" * 300])
def test_unknown_companies_get_an_html_404(demo: Demo, who: str) -> None:
    page = demo.get(f"/providers/{who}", status=404)
    assert "Not found" in page.one("h1").text()
    assert page.select("a", href="/")


# -- the log page, headers, assets --------------------------------------------------------------


def test_the_log_page_shows_the_checkpoint_key_and_fingerprints(demo: Demo) -> None:
    page = demo.get("/log")
    ledger = demo.ledger
    assert page.one("pre", id="checkpoint").text() == " ".join(ledger.checkpoint().decode().split())
    assert page.one("dd", id="log-size").text() == str(ledger.size)
    assert page.one("code", id="log-vkey").text() == ledger.note_verifier.vkey()
    assert page.one("code", id="genesis").text() == demo.info.fingerprint
    authority = ledger.views.party(ledger.state.authority or "")
    assert authority is not None
    text = page.text()
    for k in authority.keys:
        assert k.key_id in text
    assert (
        f"claimledger verify --server http://testserver --genesis {demo.info.fingerprint}" in text
    )


@pytest.mark.parametrize("url", ["/", "/providers/brightchat", "/log", "/providers/nope"])
def test_pages_are_sent_with_a_strict_csp_and_no_inline_script(demo: Demo, url: str) -> None:
    r = demo.client.get(url)
    csp = r.headers["content-security-policy"]
    directives = dict(d.strip().split(" ", 1) for d in csp.split(";"))
    assert directives["script-src"] == "'self'"
    assert directives["style-src"] == "'self'"
    assert directives["default-src"] == "'none'"
    assert "unsafe" not in csp
    assert r.headers["x-content-type-options"] == "nosniff"
    page = dom(r.text)
    for script in page.select("script"):
        assert script.attrs.get("src", "").startswith("/static/")
        assert not script.text()
    assert not re.search(r"\son[a-z]+=", r.text), "no inline event handlers"
    assert " style=" not in r.text


@pytest.mark.parametrize(
    ("path", "kind"),
    [
        ("/static/page.js", "javascript"),
        ("/static/verify.js", "javascript"),
        ("/static/site.css", "text/css"),
    ],
)
def test_assets_are_local(demo: Demo, path: str, kind: str) -> None:
    r = demo.client.get(path)
    assert r.status_code == 200
    assert kind in r.headers["content-type"]
    remote = re.compile(
        r"""(from\s*["']|import\s*\(\s*["']|url\(\s*["']?|@import\s+["']?)(https?:)?//"""
    )
    assert not remote.search(r.text), "assets load nothing from another origin"


@pytest.mark.parametrize("url", ["/", "/providers/brightchat", "/log"])
def test_pages_load_only_local_assets(demo: Demo, url: str) -> None:
    page = demo.get(url)
    for n in page.select("link", href=None) + page.select("script", src=None):
        ref = n.attrs.get("href") or n.attrs.get("src") or ""
        if n.attrs.get("rel") == "alternate":  # a feed to follow, not an asset: this origin
            assert ref.startswith("/v1/"), ref
            assert ref.endswith("/feed.atom"), ref
            continue
        assert ref.startswith("/static/") or ref == "data:,", ref


def test_the_feeds_are_linked_from_the_head_of_the_pages(demo: Demo) -> None:
    def feeds(page: Node) -> list[str]:
        head = page.one("head")
        links = head.select("link", rel="alternate", type="application/atom+xml")
        return [n.attrs["href"] for n in links]

    assert feeds(demo.get("/")) == ["/v1/log/feed.atom"]
    assert feeds(demo.get("/providers/brightchat")) == [
        "/v1/streams/brightchat/feed.atom",
        "/v1/log/feed.atom",
    ]
    assert feeds(demo.get("/log")) == []
    for url in ("/v1/log/feed.atom", "/v1/streams/brightchat/feed.atom"):
        r = demo.client.get(url)
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("application/atom+xml")
    body = demo.get("/providers/brightchat").one("section", aria_labelledby="keys-h")
    assert body.select("a", href="/v1/streams/brightchat/feed.atom")


def test_mount_twice_is_harmless(demo: Demo) -> None:
    routes = len(demo.app.routes)
    mount(demo.app)
    assert len(demo.app.routes) == routes


def test_the_api_is_still_json(demo: Demo) -> None:
    r = demo.client.get("/v1/streams/no-such-company/entries")
    assert r.status_code == 404
    assert r.headers["content-type"].startswith("application/problem+json")


# -- verdicts whose verifier was suspended, or whose key was revoked, later -----------------------

FLAG_P = "acme-social"
FLAG_Q = "other-video"
FLAG_V = "safecheck-labs"
FLAG_W = "audit-partners"


@dataclass
class FlaggedLog:
    """A ledger where V's verdicts precede V's suspension and W's verdict precedes the revocation
    of the key that signed it; ``now_ms`` (the pages' clock) is a day after the last entry."""

    ledger: Ledger
    now_ms: int
    suspended_ms: int
    revoked_ms: int
    suspend_index: int
    revoke_index: int
    verdicts: dict[str, str]
    claims: dict[str, str]


def build_flagged(url: str) -> FlaggedLog:
    """The flagged story on a new ledger at ``url`` (the caller closes it)."""
    ledger, b, put = mirrored_ledger(url)
    measures = ["detect.hash_known_image", "detect.hash_known_video"]
    try:
        for party, role, k in (
            (FLAG_P, "provider", 3),
            (FLAG_Q, "provider", 6),
            (FLAG_V, "verifier", 5),
            (FLAG_W, "verifier", 8),
        ):
            b.register(party, role, k)
            put()
        for verifier in (FLAG_V, FLAG_W):
            b.accredit(verifier, measures)
            put()
        claims: dict[str, str] = {}
        verdicts: dict[str, str] = {}
        for label, provider, measure, verifier in (
            ("p-img", FLAG_P, measures[0], FLAG_V),
            ("p-vid", FLAG_P, measures[1], FLAG_W),
            ("q-img", FLAG_Q, measures[0], FLAG_V),
        ):
            claims[label] = b.claim(provider, measure)
            put()
            t = b.test(verifier, provider, claims[label])
            put()
            verdicts[label] = b.verdict(verifier, provider, claims[label], [t])
            put()
        b.append("key.add", "registry", FLAG_W, {"party": FLAG_W, "key": key(9).public_key.b64()})
        put()
        revoke = example_key_revoke_body(FLAG_W, str(key(8).public_key.key_id))
        r = b.append(
            "key.revoke", "registry", FLAG_W, revoke, key_no=9, log_time_ms=b.time_ms + 2 * DAY_MS
        )
        put()
        s = b.append(
            "accreditation.suspend",
            "registry",
            AUTHORITY,
            {"party": FLAG_V, "reason": "Undeclared conflict of interest."},
            log_time_ms=b.time_ms + 3 * DAY_MS,
        )
        put()
    except BaseException:
        ledger.close()
        raise
    return FlaggedLog(
        ledger,
        b.time_ms + DAY_MS,
        s.log_time_ms,
        r.log_time_ms,
        s.index,
        r.index,
        verdicts,
        claims,
    )


@dataclass
class Flagged(FlaggedLog):
    """The flagged story with the pages mounted, and a client."""

    client: TestClient

    def get(self, url: str) -> Node:
        r = self.client.get(url)
        assert r.status_code == 200, (url, r.text[:300])
        return dom(r.text)


@pytest.fixture
def flagged(store_url: str) -> Iterator[Flagged]:
    """On SQLite and PostgreSQL."""
    log = build_flagged(store_url)
    try:
        app = create_app(log.ledger)
        mount(app)
        app.state.clock = lambda: log.now_ms
        with TestClient(app) as client:
            yield Flagged(**{f.name: getattr(log, f.name) for f in fields(log)}, client=client)
    finally:
        log.ledger.close()


def _day(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d")


def test_flagged_verdicts_are_marked_in_the_comparison_and_still_count(flagged: Flagged) -> None:
    f = flagged
    shown = cells(f.get("/"))
    card = f.ledger.views.scorecard(at_ms=f.now_ms)
    for (provider, measure), flag in (
        ((FLAG_P, "detect.hash_known_image"), "verifier-suspended"),
        ((FLAG_Q, "detect.hash_known_image"), "verifier-suspended"),
        ((FLAG_P, "detect.hash_known_video"), "key-revoked"),
    ):
        td = shown[(provider, measure)]
        assert td.attrs["data-status"] == "confirmed"  # still the latest verdict: not hidden
        assert label_of(td) == "Confirmed"
        marks = [n.attrs["data-flag"] for n in td.select("span", data_flag=None)]
        assert marks == [flag]
        words = {"verifier-suspended": "verifier since suspended"}
        words["key-revoked"] = "signing key since revoked"
        assert words[flag] in td.text()
        when = _day(f.suspended_ms if flag == "verifier-suspended" else f.revoked_ms)
        assert "after this verdict" in td.one("details", class_="scope").text()
        assert when in td.one("details", class_="scope").text()
        cell = card.cell(provider, measure)
        assert cell.verifier_suspended is (flag == "verifier-suspended")
        assert cell.key_revoked is (flag == "key-revoked")
    # The scorecard JSON carries the same flags.
    data = f.client.get("/v1/scorecard").json()
    json_cells = {(c["provider"], c["measure"]): c for r in data["rows"] for c in r["cells"]}
    img = json_cells[(FLAG_P, "detect.hash_known_image")]
    assert img["verifierSuspended"] is True
    assert img["keyRevoked"] is False
    assert img["claims"][0]["verdict"]["verifierSuspended"] is True
    assert img["claims"][0]["verdict"]["verifierSuspendedIndex"] == f.suspend_index
    vid = json_cells[(FLAG_P, "detect.hash_known_video")]
    assert vid["keyRevoked"] is True
    assert vid["claims"][0]["verdict"]["keyRevokedIndex"] == f.revoke_index
    assert json_cells[(FLAG_P, "detect.url_blocklist")]["verifierSuspended"] is False
    # As the log stood before the suspension: no flag (the JSON's size cut).
    before = f.client.get(f"/v1/scorecard?size={f.revoke_index}").json()
    assert not any(
        c["verifierSuspended"] or c["keyRevoked"] for r in before["rows"] for c in r["cells"]
    )


def test_flagged_verdicts_say_so_on_the_company_page(flagged: Flagged) -> None:
    f = flagged
    page = f.get(f"/providers/{FLAG_P}")
    img = page.one("li", data_claim=f.claims["p-img"])
    assert img.attrs["data-public-status"] == "confirmed"
    (mark,) = img.select("p", data_flag="verifier-suspended")
    assert mark.text() == (
        "Verifier since suspended. The verifier's accreditation was suspended on "
        f"{_day(f.suspended_ms)} after this verdict (log index {f.suspend_index})."
    )
    assert mark.select("svg", aria_hidden="true")  # the icon is decoration; the words say it
    assert not img.select("p", data_flag="key-revoked")
    vid = page.one("li", data_claim=f.claims["p-vid"])
    (mark,) = vid.select("p", data_flag="key-revoked")
    assert f"revoked on {_day(f.revoked_ms)} after this verdict" in mark.text()
    assert not vid.select("p", data_flag="verifier-suspended")
    # The verdicts in the timeline carry the same marks; other entries none.
    flagged_entries = {
        li.attrs["data-index"]: [p.attrs["data-flag"] for p in li.select("p", data_flag=None)]
        for li in entries_of(page)
        if li.select("p", data_flag=None)
    }
    replay = f.ledger.views.replay(FLAG_P)
    by_digest = {v.digest.hex(): v.index for c in replay.claims for v in c.verdicts}
    assert flagged_entries == {
        str(by_digest[f.verdicts["p-img"]]): ["verifier-suspended"],
        str(by_digest[f.verdicts["p-vid"]]): ["key-revoked"],
    }
    # As of the day before the suspension, it is not flagged (the key was revoked by then).
    then = f.get(f"/providers/{FLAG_P}?as_of={_day(f.suspended_ms - DAY_MS)}")
    assert not then.one("li", data_claim=f.claims["p-img"]).select("p", data_flag=None)
    assert then.one("li", data_claim=f.claims["p-vid"]).select("p", data_flag="key-revoked")
    then = f.get(f"/providers/{FLAG_P}?as_of={_day(f.revoked_ms - DAY_MS)}")
    assert not then.select("p", data_flag=None)


# -- hostile strings -----------------------------------------------------------------------------

EVIL_NAME = "<script>alert(1)</script>"
EVIL_SERVICE = "</td><script>alert(2)</script>"
EVIL_REASON = '"><img src=x onerror=alert(3)>'


def _append(
    ledger: Ledger, kind: str, stream: str, signer: str, body: dict[str, Any], k: int
) -> str:
    statement = make_statement(
        kind=kind,
        stream=stream,
        prev=ledger.head(stream)[0],
        signer=signer,
        signed_at=format_timestamp(int(time.time()) * 1000),
        body=body,
    )
    env = sign_statement(statement, key(k))
    ledger.submit(env.to_bytes())
    return env.payload.hex()


@pytest.fixture
def hostile(tmp_path: Path) -> Iterator[TestClient]:
    ledger = Ledger.init(
        f"sqlite:///{tmp_path / 'hostile.db'}",
        authority_id="online-safety-board",
        authority_name='Board <b>of</b> & "trust"',
        authority_key=key(1),
        origin="claimledger.example/log",
        log_key=key(2),
    )
    try:
        register = example_party_register_body("evil-corp")
        register["name"] = EVIL_NAME
        _append(ledger, "party.register", REGISTRY_STREAM, "online-safety-board", register, 1)
        claim = example_claim_body()
        claim["services"] = [EVIL_SERVICE]
        claim["excludedSurfaces"][0]["reason"] = EVIL_REASON
        _append(ledger, "claim.publish", "evil-corp", "evil-corp", claim, 3)
        app = create_app(ledger)
        mount(app)
        with TestClient(app) as client:
            yield client
    finally:
        ledger.close()


@pytest.mark.parametrize("url", ["/", "/?all=1", "/providers/evil-corp", "/log"])
def test_hostile_strings_render_as_text(hostile: TestClient, url: str) -> None:
    r = hostile.get(url)
    assert r.status_code == 200
    html = r.text
    assert "<script>alert" not in html
    assert "<img src=x" not in html
    assert "<b>of</b>" not in html
    page = dom(html)
    assert [s.attrs.get("src") for s in page.select("script")] in ([], ["/static/page.js"])
    assert not page.select("img")
    if url != "/log":
        assert EVIL_NAME in page.text()
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    if url.startswith("/providers"):
        assert EVIL_SERVICE in page.text()
        assert EVIL_REASON in page.text()


# -- what a verdict confirmed, how sure, and what a parent can do next ----------------------------

ASSURANCE_WORDS = {"reasonable": "reasonable assurance", "limited": "limited assurance"}
"""The assurance levels of SPEC §3 in words, written out here (not read from the table)."""

TABLE = orjson.loads((Path(__file__).parents[2] / "api/web/static/verdict-words.json").read_bytes())


def _verdict_body(ledger: Ledger, index: int) -> dict[str, Any]:
    (entry,) = ledger.log_entries(index, index + 1)
    statement = orjson.loads(Envelope.parse_stored(entry.envelope).payload)
    assert statement["kind"] == "verdict.issue"
    return dict(statement["body"])


def _expected_state(claim: Any) -> str:
    v = claim.latest_verdict
    if v is not None and claim.latest_verdict_expired and claim.public_status == "unverified":
        return "expired"
    return str(claim.public_status)


def test_the_wording_table_covers_every_state_once() -> None:
    states = TABLE["states"]
    assert set(PUBLIC_STATUSES) | {"expired", "key_compromised"} <= set(states)
    for name, words in states.items():
        assert all(words[k] for k in ("label", "meaning", "next")), name
    assert "{scope}" in states["confirmed"]["next"]
    assert "did not work as claimed" in states["contradicted"]["next"]
    assert set(TABLE["assurance"]) == set(ASSURANCE_WORDS)
    # The browser reads the same file, and no longer spells the compromised label itself.
    js = (Path(__file__).parents[2] / "api/web/static/page.js").read_text()
    assert "/static/verdict-words.json" in js
    assert "Not to be relied on" not in js


def test_confirmed_cells_show_the_assurance_and_what_was_tested(demo: Demo) -> None:
    card = demo.ledger.views.scorecard(at_ms=demo.now_ms)
    shown = cells(demo.get("/?all=1"))
    checked = 0
    for row in card.rows:
        for c in row.cells:
            td = shown[(row.provider, c.measure)]
            glance = td.select("span", class_="glance")
            if c.status not in ("confirmed", "confirmed_with_comments"):
                assert not glance, (row.provider, c.measure)
                continue
            (lead,) = [v for v in c.claims if v.public_status == c.status][:1]
            verdict, scope = lead.latest_verdict, lead.entry.scope
            assert verdict is not None
            assert scope is not None
            body = _verdict_body(demo.ledger, verdict.index)
            text = glance[0].text()
            assert glance[0].attrs["data-assurance"] == body["assurance"]
            assert text.startswith(ASSURANCE_WORDS[body["assurance"]] + " for ")
            for j in body["scopeTested"]["jurisdictions"]:
                assert (j if j != "GLOBAL" else "everywhere") in text
            for service in scope.services:
                assert service in text
            checked += 1
    assert checked >= 2


def test_every_claim_says_what_a_parent_can_do_next(demo: Demo) -> None:
    seen: set[str] = set()
    for row in demo.ledger.views.scorecard(at_ms=demo.now_ms).rows:
        page = demo.get(f"/providers/{row.provider}")
        replay = demo.ledger.views.replay(row.provider, at_ms=demo.now_ms)
        shown = {li.attrs["data-claim"]: li for li in page.select("li", class_="claim")}
        for c in replay.claims:
            li = shown[c.digest.hex()]
            nxt = li.select("p", class_="next-step")
            if c.status != "active":
                assert not nxt
                continue
            state = _expected_state(c)
            assert nxt[0].attrs["data-state"] == state, (row.provider, c.measure)
            before, _, after = TABLE["states"][state]["next"].partition("{scope}")
            assert nxt[0].text().startswith("What you can do: " + before.strip())
            assert nxt[0].text().endswith(after.strip() or nxt[0].text()[-1:])
            if c.latest_verdict is not None:
                body = _verdict_body(demo.ledger, c.latest_verdict.index)
                assurance = li.one("strong", class_="assurance")
                assert assurance.text() == ASSURANCE_WORDS[body["assurance"]]
                assert "Tested: " in li.one("p", class_="glance").text()
            seen.add(state)
    # The demo is believable: a parent meets the main states.
    assert {"confirmed", "contradicted", "expired", "unverified"} <= seen


def test_pages_under_a_memory_budget_of_one_entry_are_the_pages_without(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every public page and company record served by a server that drops each company's state
    as soon as it reads another's (``resident_entries=1``), and keeps one chunk of eight
    entries of its log index, twice over, is byte for byte what a server that replayed the log
    serves."""
    small_log_chunks(monkeypatch, chunk=8, resident=1)
    info, today = make_demo(tmp_path)
    log_key = PrivateKey.load(info.keys_dir / "log.key", None)
    with Ledger.open(info.url, log_key=log_key) as ledger:
        ledger.snapshot()
        providers = [p.id for p in ledger.views.parties(role="provider")]
        verifiers = [p.id for p in ledger.views.parties(role="verifier")]
        # The JSON views judge expiry at the wall clock's minute unless pinned to a time.
        pin = f"size={ledger.size}&at={format_timestamp(today // 1000 * 1000)}"
    paths = ["/", "/compare", "/log", f"/v1/scorecard?{pin}", "/v1/log/feed.atom"]
    for p in providers:
        paths += [f"/providers/{p}", f"/companies/{p}/case-file", f"/v1/streams/{p}/state?{pin}"]
    paths += [f"/verifiers/{v}" for v in verifiers]

    def serve(resident: int | None, rounds: int) -> tuple[list[bytes], int, int]:
        # Without a budget: replayed from genesis, no part read from the snapshot.
        kw: dict[str, Any] = {"resident_entries": resident} if resident else {"snapshots": False}
        with Ledger.open(info.url, log_key=log_key, **kw) as ledger:
            app = create_app(ledger)
            mount(app)
            app.state.clock = lambda: today
            with TestClient(app) as client:
                bodies = []
                for _ in range(rounds):
                    for path in paths:
                        r = client.get(path)
                        assert r.status_code == 200, path
                        bodies.append(r.content)
            chunks = ledger.views._all._chunks
            return bodies[-len(paths) :], ledger.views.loaded_parts(), chunks.count(None)

    kept, everything, paged = serve(None, 1)
    dropped, left, paged_out = serve(1, 2)
    assert everything == len(providers) > 1  # all in memory, replayed
    assert left < everything  # the budget did drop parts
    assert paged == 0
    assert paged_out > 5  # and chunks of the log index
    for path, a, b in zip(paths, kept, dropped, strict=True):
        assert a == b, path
