"""Read views: replay as of a date or size, scorecards, search and parties.

Unit tests build logs with :class:`tests.attest.logbuilder.LogBuilder`, admit every entry through
:class:`attest.rules.LogState` (so only valid logs reach the views) and feed :class:`Views`; one
integration test runs through a real Ledger on SQLite and PostgreSQL.
"""

from __future__ import annotations

import json

import pytest

from attest.rules import LogState
from attest.statements import format_timestamp, parse_timestamp
from ledger._ledger import Ledger
from ledger._views import PUBLIC_STATUSES, Views
from tests.attest.examples import (
    AUTHORITY,
    example_claim_body,
    example_claim_withdraw_body,
    example_key_revoke_body,
    example_verdict_body,
)
from tests.attest.logbuilder import STEP_MS, LogBuilder, digest, key
from tests.ledger.actors import mirrored_ledger

P = "acme-social"
Q = "globex-video"
V = "safecheck-labs"
W = "audit-partners"
IMG = "detect.hash_known_image"
VID = "detect.hash_known_video"
REP = "report.authority"
URL = "detect.url_blocklist"
AGE = "age.assurance"
MEASURES6 = [IMG, VID, REP, URL, AGE, "defaults.minor_settings"]
FAR_FUTURE = parse_timestamp("2030-01-01T00:00:00Z")


def views_of(b: LogBuilder) -> Views:
    """Admit every entry of ``b`` with the rules, feeding the views in index order."""
    state = LogState()
    views = Views()
    for raw in b.entries:
        placed = state.open(raw)
        state.admit(placed)
        views.apply(placed)
    return views


def base() -> LogBuilder:
    b = LogBuilder()
    b.genesis()
    b.register(P, "provider", 3)
    b.register(Q, "provider", 4)
    b.register(V, "verifier", 5)
    b.register(W, "verifier", 6)
    b.accredit(V, MEASURES6)
    b.accredit(W, MEASURES6)
    return b


def claim_with_verdict(b: LogBuilder, measure: str, result: str, provider: str = P) -> str:
    c = b.claim(provider, measure)
    t = b.test(V, provider, c)
    b.verdict(V, provider, c, [t], result=result)
    return c


def hx(s: str) -> bytes:
    return bytes.fromhex(s)


# -- replay --------------------------------------------------------------------------------


def test_every_verdict_result_reads_as_its_public_word() -> None:
    b = base()
    results = {
        IMG: "CONFIRMED",
        VID: "CONFIRMED_WITH_COMMENTS",
        REP: "NO_EVIDENCE_FOUND",
        URL: "CONTRADICTED",
        AGE: "INCONCLUSIVE",
    }
    claims = {m: claim_with_verdict(b, m, r) for m, r in results.items()}
    unverified = b.claim(P, "defaults.minor_settings")
    views = views_of(b)
    replay = views.replay(P)
    for m, r in results.items():
        c = replay.claim(hx(claims[m]))
        assert c.status == "active"
        assert c.public_status == r.lower()
        assert c.latest_verdict is not None
        assert c.latest_verdict.result == r
        assert c.latest_verdict_expired is False
        assert len(c.tests) == 1
    assert replay.claim(hx(unverified)).public_status == "unverified"
    assert replay.claim(hx(unverified)).latest_verdict is None

    card = views.scorecard(at_ms=b.time_ms)
    for m, r in results.items():
        assert card.cell(P, m).status == r.lower()
    assert card.cell(P, "defaults.minor_settings").status == "unverified"
    assert card.cell(P, "transparency.report").status == "no_claim"
    assert card.cell(Q, IMG).status == "no_claim"
    statuses = {c.status for row in card.rows for c in row.cells}
    assert statuses <= set(PUBLIC_STATUSES)


def test_withdrawn_and_superseded_claims() -> None:
    b = base()
    old = claim_with_verdict(b, IMG, "CONFIRMED")
    new = b.append(
        "claim.supersede", P, P, example_claim_body(IMG, supersedes=old)
    )  # no verdict yet on the new version
    gone = b.claim(P, VID)
    w = b.append("claim.withdraw", P, P, example_claim_withdraw_body(gone))
    views = views_of(b)
    replay = views.replay(P)
    o = replay.claim(hx(old))
    assert o.status == "superseded"
    assert o.ended_by is not None
    assert o.ended_by.digest.hex() == digest(new)
    assert o.to_dict()["supersededBy"] == digest(new)
    n = replay.claim(hx(digest(new)))
    assert n.status == "active"
    assert n.entry.supersedes == hx(old)
    g = replay.claim(hx(gone))
    assert g.status == "withdrawn"
    assert g.ended_by is not None
    assert g.ended_by.index == w.index
    assert g.to_dict()["supersededBy"] is None

    card = views.scorecard(at_ms=b.time_ms)
    # The verdict was on the superseded version: it does not carry over to the new one.
    assert card.cell(P, IMG).status == "unverified"
    assert [c.digest.hex() for c in card.cell(P, IMG).claims] == [digest(new)]
    assert card.cell(P, VID).status == "no_claim"


def test_expired_verdict_reads_as_unverified() -> None:
    b = base()
    c = b.claim(P, IMG)
    t = b.test(V, P, c)
    body = example_verdict_body(c, [t], result="CONFIRMED")
    valid_until = (b.time_ms // 1000 + 3600) * 1000
    body["validUntil"] = format_timestamp(valid_until)
    b.append("verdict.issue", P, V, body)
    views = views_of(b)
    assert views.scorecard(at_ms=valid_until).cell(P, IMG).status == "confirmed"
    expired = views.scorecard(at_ms=valid_until + 1000).cell(P, IMG)
    assert expired.status == "unverified"
    assert expired.to_dict()["claims"][0]["verdict"]["expired"] is True
    # In a replay, expiry is judged at the as-of date, or at the caller's time.
    assert views.replay(P, as_of_ms=valid_until + 1000).claims[0].public_status == "unverified"
    assert views.replay(P, as_of_ms=valid_until + 1000).claims[0].latest_verdict_expired
    assert views.replay(P).claims[0].public_status == "confirmed"  # last log time: still valid
    assert views.replay(P, at_ms=FAR_FUTURE).claims[0].public_status == "unverified"


def test_latest_verdict_wins_and_replies_attach_to_the_claim() -> None:
    b = base()
    c = claim_with_verdict(b, IMG, "CONFIRMED")
    t2 = b.test(W, P, c, result="FAILED")
    v2 = b.verdict(W, P, c, [t2], result="CONTRADICTED")
    r = b.reply(P, v2)
    views = views_of(b)
    claim = views.replay(P).claim(hx(c))
    assert claim.public_status == "contradicted"
    assert claim.latest_verdict is not None
    assert claim.latest_verdict.signer == W
    assert [f.digest.hex() for f in claim.replies] == [r]
    assert claim.replies[0].verdict == hx(v2)
    assert claim.replies[0].measure == IMG
    assert len(claim.verdicts) == 2
    assert views.scorecard(at_ms=b.time_ms).cell(P, IMG).to_dict()["claims"][0]["replies"] == 1


def test_several_active_claims_show_each_and_the_least_favourable_status() -> None:
    b = base()
    eu = claim_with_verdict(b, IMG, "CONFIRMED")
    us = b.claim(P, IMG)
    cell = views_of(b).scorecard(at_ms=b.time_ms).cell(P, IMG)
    assert [c.digest.hex() for c in cell.claims] == [us, eu]  # newest first
    assert cell.status == "unverified"
    b2 = base()
    claim_with_verdict(b2, IMG, "CONFIRMED")
    claim_with_verdict(b2, IMG, "CONTRADICTED")
    claim_with_verdict(b2, IMG, "CONFIRMED_WITH_COMMENTS")
    assert views_of(b2).scorecard(at_ms=b2.time_ms).cell(P, IMG).status == "contradicted"


def test_as_of_date_and_size() -> None:
    b = base()
    c = claim_with_verdict(b, IMG, "CONFIRMED")
    before_withdrawal = b.time_ms
    size_before = len(b.entries)
    w = b.append("claim.withdraw", P, P, example_claim_withdraw_body(c))
    later = b.claim(P, VID)
    views = views_of(b)

    now = views.replay(P)
    assert now.claim(hx(c)).status == "withdrawn"
    assert now.length == 5

    for past in (
        views.replay(P, as_of_ms=before_withdrawal),
        views.replay(P, size=size_before),
        views.replay(P, as_of_ms=w.log_time_ms - 1),
        views.replay(P, as_of_ms=b.time_ms, size=size_before),
    ):
        assert past.claim(hx(c)).status == "active"  # withdrawn only after the cut
        assert past.claim(hx(c)).public_status == "confirmed"
        assert [f.kind for f in past.timeline] == ["claim.publish", "test.record", "verdict.issue"]
        with pytest.raises(KeyError):
            past.claim(hx(later))
    assert views.replay(P, as_of_ms=w.log_time_ms).claim(hx(c)).status == "withdrawn"
    assert views.replay(P, size=w.index + 1).claim(hx(c)).status == "withdrawn"
    assert views.replay(P, size=0).claims == ()
    assert views.replay(P, as_of_ms=0).timeline == ()
    assert views.replay("nobody").timeline == ()

    past_card = views.scorecard(at_ms=before_withdrawal, as_of_ms=before_withdrawal)
    assert past_card.cell(P, IMG).status == "confirmed"
    assert views.scorecard(at_ms=b.time_ms).cell(P, IMG).status == "no_claim"
    # A provider registered after the cut is not on the scorecard.
    assert [r.provider for r in views.scorecard(at_ms=0, size=2).rows] == [P]


def test_replay_to_dict_is_plain_json_with_camel_case_keys() -> None:
    b = base()
    c = claim_with_verdict(b, IMG, "CONFIRMED_WITH_COMMENTS")
    views = views_of(b)
    d = views.replay(P, size=len(b.entries)).to_dict()
    assert json.loads(json.dumps(d)) == d
    (claim,) = d["claims"]
    assert claim["digest"] == c
    assert claim["scope"]["excludedSurfaces"][0]["surface"] == "dm_e2ee"
    assert claim["scope"]["jurisdictions"] == ["GLOBAL"]
    assert claim["latestVerdict"]["validUntil"] == "2027-11-20T00:00:00Z"
    assert claim["logTime"].endswith("Z")
    assert d["timeline"][0]["title"] == "Claim: Known abuse images are matched and removed"
    card = views.scorecard(at_ms=b.time_ms).to_dict()
    assert json.loads(json.dumps(card)) == card
    assert card["measures"][0]["measure"] == "policy.csea_definition"

    def keys(o: object) -> set[str]:
        if isinstance(o, dict):
            return set(o) | {k for v in o.values() for k in keys(v)}
        if isinstance(o, list):
            return {k for v in o for k in keys(v)}
        return set()

    assert not any("_" in k for k in keys(d) | keys(card))


# -- search and parties ----------------------------------------------------------------------


def test_search_filters_and_pages() -> None:
    b = base()
    c1 = claim_with_verdict(b, IMG, "CONFIRMED")
    c2 = claim_with_verdict(b, VID, "CONTRADICTED", provider=Q)
    t = b.test(W, P, c1, result="WARNED")
    b.verdict(W, P, c1, [t], result="INCONCLUSIVE")
    views = views_of(b)

    assert [f.digest.hex() for f in views.search(company=Q, kind="claim.publish")] == [c2]
    assert {f.stream for f in views.search(measure=IMG)} == {P}
    assert [f.kind for f in views.search(measure=IMG)] == [
        "claim.publish",
        "test.record",
        "verdict.issue",
        "test.record",
        "verdict.issue",
    ]
    assert [f.result for f in views.search(verifier=W)] == ["WARNED", "INCONCLUSIVE"]
    assert [f.stream for f in views.search(result="CONTRADICTED")] == [Q]
    assert views.search(verifier=V, kind="verdict.issue", result="CONFIRMED")[0].claim == hx(c1)
    assert views.search(company="registry", kind="accreditation.grant")[0].party == V
    assert views.search(company="nobody") == []

    everything = views.search(limit=1000)
    assert [f.index for f in everything] == list(range(len(b.entries)))
    pages: list[int] = []
    after = None
    while True:
        page = views.search(limit=4, after_index=after)
        if not page:
            break
        pages += [f.index for f in page]
        after = page[-1].index
    assert pages == list(range(len(b.entries)))
    assert [f.index for f in views.search(company=P, after_index=9, limit=2)] == [13, 14]
    with pytest.raises(ValueError, match="limit"):
        views.search(limit=0)


def test_parties_keys_and_accreditation() -> None:
    b = base()
    b.keys[P] = 3
    new_key = key(7).public_key
    b.append("key.add", "registry", P, {"party": P, "key": new_key.b64()})
    old_id = str(key(3).public_key.key_id)
    b.append("key.revoke", "registry", P, example_key_revoke_body(P, old_id), key_no=7)
    b.append("accreditation.suspend", "registry", AUTHORITY, {"party": W, "reason": "Audit."})
    views = views_of(b)
    parties = {p.id: p for p in views.parties()}
    assert set(parties) == {AUTHORITY, P, Q, V, W}
    assert parties[AUTHORITY].role == "authority"
    acme = views.party(P)
    assert acme is not None
    assert acme.role == "provider"
    assert acme.jurisdiction == "US"
    assert acme.website == "https://acme-social.example"
    assert [(k.key_id, k.revoked_at is not None) for k in acme.keys] == [
        (old_id, True),
        (str(new_key.key_id), False),
    ]
    assert acme.keys[1].added_at == len(b.entries) - 3
    assert acme.keys[0].revoked_at == len(b.entries) - 2
    v = views.party(V)
    assert v is not None
    assert v.accreditation is not None
    assert not v.accreditation.suspended
    assert v.accreditation.measures == tuple(MEASURES6)
    w = views.party(W)
    assert w is not None
    assert w.accreditation is not None
    assert w.accreditation.suspended
    assert w.to_dict()["accreditation"]["validUntil"] == "2027-12-31T23:59:59Z"
    assert [p.id for p in views.parties(role="verifier")] == [W, V]
    assert views.party("nobody") is None
    assert json.loads(json.dumps(acme.to_dict())) == acme.to_dict()


# -- speed --------------------------------------------------------------------------------


def build_large_company(n: int = 10_000) -> tuple[Views, int]:
    """Views holding one company with ``n`` entries: a claim, then tests and verdicts on it.

    Built through the views directly (signing ``n`` statements would dominate): one signed test
    record and one verdict, re-placed at new indexes — the views trust their feed, since the
    rules ran before. Also used by ``bench/bench_replay.py``. Returns the views and the log time
    of the middle entry.
    """
    from attest.rules import Placed

    b = base()
    c = b.claim(P, IMG)
    state = LogState()
    views = Views()
    for raw in b.entries:
        placed = state.open(raw)
        state.admit(placed)
        views.apply(placed)
    t = b.test(V, P, c)
    b.verdict(V, P, c, [t])
    test_placed = state.open(b.entries[-2])
    verdict_placed = state.open(b.entries[-1])
    index = len(b.entries) - 2
    position = 1
    for i in range(n - 1):
        src = test_placed if i % 10 else verdict_placed
        views.apply(Placed(src.signed, index, position, b.time_ms + i * STEP_MS))
        index += 1
        position += 1
    return views, b.time_ms + (n // 2) * STEP_MS


def test_replay_of_a_company_with_10000_entries_cuts_at_the_as_of_date() -> None:
    """Issue 3's 10,000-entry replay (its speed is measured in bench/bench_replay.py)."""
    views, mid = build_large_company()
    assert views.replay(P).length == 10_000
    half = views.replay(P, as_of_ms=mid)
    assert 4_990 <= half.length <= 5_010
    assert all(e.log_time_ms <= mid for e in half.timeline)
    assert views.replay(P, as_of_ms=FAR_FUTURE - 1).length == 10_000


# -- through a real ledger -------------------------------------------------------------------


def _ledger_story(url: str) -> Ledger:
    """A ledger holding a provider, an accredited verifier, two claims with tests and verdicts."""
    ledger, b, put = mirrored_ledger(url)
    b.register(P, "provider", 3)
    put()
    b.register(V, "verifier", 5)
    put()
    b.accredit(V, MEASURES6)
    put()
    for m, r in ((IMG, "CONFIRMED"), (VID, "NO_EVIDENCE_FOUND")):
        c = b.claim(P, m)
        put()
        t = b.test(V, P, c)
        put()
        b.verdict(V, P, c, [t], result=r)
        put()
    return ledger


def test_views_survive_close_and_reopen(store_url: str) -> None:
    ledger = _ledger_story(store_url)
    try:
        assert ledger.size == 10
        at = ledger.state.last_log_time_ms
        before = (
            ledger.views.replay(P).to_dict(),
            ledger.views.replay(P, size=7).to_dict(),
            ledger.views.scorecard(at_ms=at).to_dict(),
            [p.to_dict() for p in ledger.views.parties()],
            [f.to_dict() for f in ledger.views.search(limit=1000)],
        )
        assert ledger.views.scorecard(at_ms=at).cell(P, IMG).status == "confirmed"
        assert ledger.views.scorecard(at_ms=at).cell(P, VID).status == "no_evidence_found"
    finally:
        ledger.close()
    reopened = Ledger.open(store_url)
    try:
        after = (
            reopened.views.replay(P).to_dict(),
            reopened.views.replay(P, size=7).to_dict(),
            reopened.views.scorecard(at_ms=at).to_dict(),
            [p.to_dict() for p in reopened.views.parties()],
            [f.to_dict() for f in reopened.views.search(limit=1000)],
        )
    finally:
        reopened.close()
    assert after == before


def test_reading_while_entries_arrive() -> None:
    """Regression: a replay iterating the live fold while the sequencer applies an entry must
    not see a dict change size under it (the views take one lock for feeding and reading)."""
    import threading

    from attest.rules import Placed

    b = base()
    c = b.claim(P, IMG)
    t = b.test(V, P, c)
    state = LogState()
    views = Views()
    for raw in b.entries:
        placed = state.open(raw)
        state.admit(placed)
        views.apply(placed)
    claim_placed = state.open(b.entries[-2])
    errors: list[BaseException] = []
    stop = threading.Event()

    def feed() -> None:
        index, position = len(b.entries), 2
        try:
            for i in range(3000):
                # New claim versions (distinct digests via a changed place) grow the live dict.
                s = claim_placed.signed
                signed = type(s)(s.envelope, s.statement, s.entry_hash, i.to_bytes(32, "big"))
                views.apply(Placed(signed, index, position, b.time_ms + i))
                index += 1
                position += 1
        except BaseException as exc:  # pragma: no cover - the failure being tested for
            errors.append(exc)
        finally:
            stop.set()

    thread = threading.Thread(target=feed)
    thread.start()
    reads = 0
    while not stop.is_set():
        views.replay(P)
        views.scorecard(at_ms=b.time_ms)
        reads += 1
    thread.join()
    assert not errors
    assert views.replay(P).length == 3002
    assert t
    assert reads > 0
