"""The Atom feeds (``/v1/log/feed.atom``, ``/v1/streams/{s}/feed.atom``) through TestClient, on
SQLite and PostgreSQL.

Every feed is parsed by a real Atom parser (``feedparser``, which must find nothing wrong:
``bozo == 0``) and by ElementTree (the namespace, the escaping). Expected titles are written out
here from the measures' public titles and the parties' names, not taken from the feed code.
"""

from __future__ import annotations

import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import feedparser  # type: ignore[import-untyped]
import pytest
from fastapi.testclient import TestClient

from api import create_app
from attest.measures import MEASURES
from attest.statements import REGISTRY_STREAM, format_timestamp
from ledger import Ledger
from tests.api.conftest import Api
from tests.attest.examples import (
    AUTHORITY,
    example_accreditation_grant_body,
    example_claim_body,
    example_claim_withdraw_body,
    example_key_revoke_body,
    example_party_register_body,
    example_provider_reply_body,
    example_test_record_body,
    example_verdict_body,
)
from tests.attest.logbuilder import key
from tests.ledger.actors import KEYS, P, Q, V

ATOM_NS = "{http://www.w3.org/2005/Atom}"
BASE = "http://testserver"
DAY = 86_400_000
IMG = "detect.hash_known_image"
VID = "detect.hash_known_video"
REP = "report.authority"
P_NAME = "Acme Social, Inc."
Q_NAME = "Other Video <b>Ltd</b> & Co"
V_NAME = "SafeCheck Labs Ltd"

HOSTILE = (
    ']]> <![CDATA[ <script>alert(1)</script> &amp; "quoted" \t tab\nnew line '
    "\x85 \u2028 \u202e \ufffe end"
)
"""Reply text the statement schema accepts: markup, a CDATA end, C1 and bidi characters, U+FFFE."""


def title(measure: str) -> str:
    return MEASURES[measure].title


def day(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d")


@dataclass
class Told:
    """What the story put in the log, and where."""

    api: Api
    ledger: Ledger
    index: dict[str, int] = field(default_factory=dict)
    digest: dict[str, str] = field(default_factory=dict)
    soon_ms: int = 0

    def submit(
        self, label: str, kind: str, stream: str, signer: str, body: dict[str, Any], **kw: Any
    ) -> str:
        d = self.api.submit(kind, stream, signer, body, **kw)
        self.index[label] = self.api.size() - 1
        self.digest[label] = d
        return d


def tell(api: Api, ledger: Ledger) -> Told:
    """Registrations; claims, tests, verdicts (one expiring in 10 days), a hostile reply, a
    withdrawal; the verifier rotates its key, then is suspended; another company's claim."""
    t = Told(api, ledger)
    q = example_party_register_body(Q, keys=[KEYS[Q]])
    q["name"] = Q_NAME
    for party, body in (
        (P, example_party_register_body(P, keys=[KEYS[P]])),
        (Q, q),
        (V, example_party_register_body(V, "verifier", keys=[KEYS[V]])),
    ):
        t.submit(f"register-{party}", "party.register", REGISTRY_STREAM, AUTHORITY, body)
    grant = example_accreditation_grant_body(V)
    t.submit("grant", "accreditation.grant", REGISTRY_STREAM, AUTHORITY, grant)
    c = t.submit("claim-img", "claim.publish", P, P, example_claim_body(IMG))
    test = t.submit("test-img", "test.record", P, V, example_test_record_body(c))
    v = t.submit("verdict-img", "verdict.issue", P, V, example_verdict_body(c, [test]))
    t.submit("reply", "provider.reply", P, P, {**example_provider_reply_body(v), "text": HOSTILE})
    c2 = t.submit("claim-vid", "claim.publish", P, P, example_claim_body(VID))
    test2 = t.submit("test-vid", "test.record", P, V, example_test_record_body(c2, result="WARNED"))
    soon = example_verdict_body(c2, [test2], result="CONFIRMED_WITH_COMMENTS")
    t.soon_ms = (int(time.time()) + 10 * 86_400) * 1000
    soon["validUntil"] = format_timestamp(t.soon_ms)
    t.submit("verdict-vid", "verdict.issue", P, V, soon)
    c3 = t.submit("claim-rep", "claim.publish", P, P, example_claim_body(REP))
    t.submit("withdraw", "claim.withdraw", P, P, example_claim_withdraw_body(c3))
    new_key = {"party": V, "key": key(7).public_key.b64()}
    t.submit("key-add", "key.add", REGISTRY_STREAM, V, new_key)
    old_id = str(key(KEYS[V]).public_key.key_id)
    revoke = example_key_revoke_body(V, old_id)
    t.submit("revoke", "key.revoke", REGISTRY_STREAM, V, revoke, key_no=7)
    suspend = {"party": V, "reason": "Undeclared conflict of interest <script>x</script>."}
    t.submit("suspend", "accreditation.suspend", REGISTRY_STREAM, AUTHORITY, suspend)
    t.submit("claim-q", "claim.publish", Q, Q, example_claim_body(IMG))
    return t


@pytest.fixture
def told(ledger: Ledger) -> Iterator[Told]:
    """The story told on SQLite and on PostgreSQL."""
    with TestClient(create_app(ledger)) as client:
        yield tell(Api(client), ledger)


def fetch(api: Api, url: str) -> tuple[Any, ET.Element, bytes]:
    r = api.http.get(url)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].split(";")[0] == "application/atom+xml"
    assert r.headers["cache-control"] == "no-cache"
    parsed = feedparser.parse(r.content)
    assert parsed.bozo == 0, parsed.get("bozo_exception")
    assert parsed.version == "atom10"
    root = ET.fromstring(r.content)  # noqa: S314 - the server under test made it
    return parsed, root, r.content


def test_the_whole_log_feed(told: Told) -> None:
    t = told
    parsed, root, _ = fetch(t.api, "/v1/log/feed.atom")
    i = t.index
    expected = [
        (i["claim-q"], f"{Q_NAME} claims: {title(IMG)}"),
        (i["suspend"], f"Accreditation of {V_NAME} suspended"),
        (i["revoke"], f"A signing key of {V_NAME} was revoked"),
        (i["withdraw"], f"{P_NAME} withdrew its claim: {title(REP)}"),
        (i["claim-rep"], f"{P_NAME} claims: {title(REP)}"),
        (
            i["verdict-vid"],
            f"Verdict expires on {day(t.soon_ms)}: {P_NAME} — {title(VID)} "
            "(Confirmed with comments)",
        ),
        (
            i["verdict-vid"],
            f"Verdict on {P_NAME}: {title(VID)} — Confirmed with comments (by {V_NAME})",
        ),
        (i["test-vid"], f"{V_NAME} tested {P_NAME}: {title(VID)} — passed with warnings"),
        (i["claim-vid"], f"{P_NAME} claims: {title(VID)}"),
        (i["reply"], f"{P_NAME} replied to a verdict: {title(IMG)}"),
        (i["verdict-img"], f"Verdict on {P_NAME}: {title(IMG)} — Confirmed (by {V_NAME})"),
        (i["test-img"], f"{V_NAME} tested {P_NAME}: {title(IMG)} — passed"),
        (i["claim-img"], f"{P_NAME} claims: {title(IMG)}"),
    ]  # newest first; registrations, grants and key additions are not news
    assert [e.title for e in parsed.entries] == [title for _, title in expected]
    genesis = (t.ledger.state.genesis_hash or b"").hex()
    tag = f"tag:claimledger.dev,2026:{genesis}"
    ids = [e.id for e in parsed.entries]
    assert ids[0] == f"{tag}/entry/{i['claim-q']}"
    assert ids[5] == f"{tag}/expiring/{i['verdict-vid']}"
    assert ids[6] == f"{tag}/entry/{i['verdict-vid']}"
    assert len(set(ids)) == len(ids)
    links = [e.link for e in parsed.entries]
    assert links[0] == f"{BASE}/providers/{Q}#entry-{i['claim-q']}"
    assert links[1] == f"{BASE}/#verifiers"
    assert links[3] == f"{BASE}/providers/{P}#entry-{i['withdraw']}"
    assert links[5] == f"{BASE}/providers/{P}#entry-{i['verdict-vid']}"
    # updated: each entry's log time, newest first; the feed's is the log's last entry's.
    size = t.ledger.size
    times = {e.index: e.log_time_ms for e in t.ledger.log_entries(0, size)}
    for e, (index, _) in zip(parsed.entries, expected, strict=True):
        ms = int(datetime.fromisoformat(e.updated).timestamp() * 1000)
        assert ms == times[index], e.title
    last = int(datetime.fromisoformat(parsed.feed.updated).timestamp() * 1000)
    assert last == times[size - 1]
    assert parsed.feed.id == f"{tag}/feed"
    assert parsed.feed.links[0].href == f"{BASE}/v1/log/feed.atom"
    assert parsed.feed.links[0].rel == "self"
    assert parsed.feed.link == f"{BASE}/"
    # ElementTree: one Atom namespace throughout, every entry with id, title, updated, link.
    assert root.tag == f"{ATOM_NS}feed"
    assert all(el.tag.startswith(ATOM_NS) for el in root.iter())
    entries = root.findall(f"{ATOM_NS}entry")
    assert len(entries) == len(expected)
    for el in entries:
        for child in ("id", "title", "updated", "author", "link", "content"):
            assert el.find(f"{ATOM_NS}{child}") is not None, child


def test_a_company_feed_has_what_affects_its_record(told: Told) -> None:
    t = told
    i = t.index
    parsed, root, _ = fetch(t.api, f"/v1/streams/{P}/feed.atom")
    got = [e.id.rsplit("/", 2)[-2:] for e in parsed.entries]
    assert got == [
        ["entry", str(i["suspend"])],  # V signed on P's stream before
        ["entry", str(i["revoke"])],
        ["entry", str(i["withdraw"])],
        ["entry", str(i["claim-rep"])],
        ["expiring", str(i["verdict-vid"])],
        ["entry", str(i["verdict-vid"])],
        ["entry", str(i["test-vid"])],
        ["entry", str(i["claim-vid"])],
        ["entry", str(i["reply"])],
        ["entry", str(i["verdict-img"])],
        ["entry", str(i["test-img"])],
        ["entry", str(i["claim-img"])],
    ]
    assert all(e.link.startswith(f"{BASE}/providers/{P}") for e in parsed.entries)
    assert parsed.entries[0].link == f"{BASE}/providers/{P}"  # registry news: the company page
    assert parsed.feed.link == f"{BASE}/providers/{P}"
    assert parsed.feed.links[0].href == f"{BASE}/v1/streams/{P}/feed.atom"
    assert parsed.feed.title == f"{P_NAME}: claims, tests and verdicts on claimledger"
    assert root.tag == f"{ATOM_NS}feed"

    q, _, _ = fetch(t.api, f"/v1/streams/{Q}/feed.atom")
    assert [e.title for e in q.entries] == [
        f"{Q_NAME} claims: {title(IMG)}"
    ]  # V never signed there
    assert q.feed.title == f"{Q_NAME}: claims, tests and verdicts on claimledger"


def test_hostile_statement_text_stays_text(told: Told) -> None:
    t = told
    for url in ("/v1/log/feed.atom", f"/v1/streams/{P}/feed.atom"):
        parsed, root, raw = fetch(t.api, url)
        assert b"<script>" not in raw
        assert b"<b>" not in raw
        assert b"<![CDATA[" not in raw
        assert "\ufffe".encode() not in raw  # not an XML character: replaced
        reply = next(
            el
            for el in root.iter(f"{ATOM_NS}entry")
            if el.findtext(f"{ATOM_NS}id", "").endswith(f"/entry/{t.index['reply']}")
        )
        content = reply.find(f"{ATOM_NS}content")
        assert content is not None
        assert content.get("type") == "text"
        expected = HOSTILE.replace("\ufffe", "\ufffd")
        assert f"Reply: {expected}" in (content.text or "")
        entry = next(e for e in parsed.entries if e.id.endswith(f"/entry/{t.index['reply']}"))
        assert "<script>alert(1)</script>" in entry.content[0].value
        assert entry.content[0].type == "text/plain"
    parsed, _, _ = fetch(t.api, "/v1/log/feed.atom")
    assert parsed.entries[0].title == f"{Q_NAME} claims: {title(IMG)}"  # the name is text too


def test_feeds_are_cacheable_and_grow_with_the_log(told: Told) -> None:
    t = told
    first = t.api.http.get("/v1/log/feed.atom")
    again = t.api.http.get("/v1/log/feed.atom")
    assert first.content == again.content  # no wall clock inside
    etag = first.headers["etag"]
    assert t.api.http.get("/v1/log/feed.atom", headers={"if-none-match": etag}).status_code == 304
    t.submit("claim-q2", "claim.publish", Q, Q, example_claim_body(VID))
    grown = t.api.http.get("/v1/log/feed.atom")
    assert grown.headers["etag"] != etag
    parsed = feedparser.parse(grown.content)
    assert parsed.entries[0].id.endswith(f"/entry/{t.index['claim-q2']}")
    # The entries already there keep their ids and times.
    before = feedparser.parse(first.content)
    kept = {e.id: e.updated for e in parsed.entries}
    for e in before.entries:
        assert kept[e.id] == e.updated


@pytest.mark.parametrize("who", ["nobody", V, REGISTRY_STREAM, AUTHORITY])
def test_only_companies_have_feeds(told: Told, who: str) -> None:
    r = told.api.http.get(f"/v1/streams/{who}/feed.atom")
    assert r.status_code == 404
    assert r.headers["content-type"] == "application/problem+json"


def test_a_feed_is_at_most_100_items(sqlite_api: Api, sqlite_ledger: Ledger) -> None:
    api = sqlite_api
    api.submit(
        "party.register", REGISTRY_STREAM, AUTHORITY, example_party_register_body(P, keys=[KEYS[P]])
    )
    for n in range(105):
        api.submit("claim.publish", P, P, example_claim_body(IMG if n % 2 else VID))
    for url in ("/v1/log/feed.atom", f"/v1/streams/{P}/feed.atom"):
        r = api.http.get(url)
        parsed = feedparser.parse(r.content)
        assert parsed.bozo == 0
        assert len(parsed.entries) == 100
        indexes = [int(e.id.rsplit("/", 1)[1]) for e in parsed.entries]
        assert indexes == list(range(sqlite_ledger.size - 1, sqlite_ledger.size - 101, -1))
