"""Read views: replay as of a date or size, scorecards, search and parties.

Unit tests build logs with :class:`tests.attest.logbuilder.LogBuilder`, admit every entry through
:class:`attest.rules.LogState` (so only valid logs reach the views) and feed :class:`Views`; one
integration test runs through a real Ledger on SQLite and PostgreSQL.
"""

from __future__ import annotations

import bisect
import json
import random
from types import SimpleNamespace
from typing import Any

import pytest

import ledger._views as views_module
from attest.rules import LogState
from attest.statements import format_timestamp, parse_timestamp
from ledger._ledger import Ledger
from ledger._views import DAY_MS as DAY
from ledger._views import (
    PUBLIC_STATUSES,
    Accreditation,
    Views,
    accreditation_gaps,
    out_of_accreditation,
)
from ledger.errors import CorruptionError
from tests.attest.examples import (
    AUTHORITY,
    example_accreditation_grant_body,
    example_claim_body,
    example_claim_withdraw_body,
    example_commitment,
    example_disclosures,
    example_engagement_open_body,
    example_engagement_withdraw_body,
    example_key_revoke_body,
    example_provider_reply_body,
    example_verdict_body,
)
from tests.attest.logbuilder import STEP_MS, LogBuilder, digest, key
from tests.conftest import small_log_chunks
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


def views_of(b: LogBuilder, *, paged: bool = False) -> Views:
    """Admit every entry of ``b`` with the rules, feeding the views in index order (``paged``:
    with their log index read back from ``b``'s leaves past a few chunks, as a server's with a
    memory budget)."""
    state = LogState()
    views = Views()
    if paged:
        views.read_log(lambda s, e: [(r.log_time_ms, r.stream, r.position) for r in b.entries[s:e]])
        views.keep_resident(10**9, lambda key: False)  # parts stay; the log index is paged
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
    t2 = b.test(V, P, c, result="FAILED")
    v2 = b.verdict(V, P, c, [t2], result="CONTRADICTED")  # the verifier revises itself
    r = b.reply(P, v2)
    views = views_of(b)
    claim = views.replay(P).claim(hx(c))
    assert claim.public_status == "contradicted"
    assert claim.disagreement == ()
    assert claim.latest_verdict is not None
    assert claim.latest_verdict.digest == hx(v2)
    assert [f.digest.hex() for f in claim.replies] == [r]
    assert claim.replies[0].verdict == hx(v2)
    assert claim.replies[0].measure == IMG
    assert len(claim.verdicts) == 2
    assert views.scorecard(at_ms=b.time_ms).cell(P, IMG).to_dict()["claims"][0]["replies"] == 1


def second_opinion(b: LogBuilder, c: str, verifier: str, result: str, provider: str = P) -> str:
    t = b.test(verifier, provider, c, result="FAILED" if result == "CONTRADICTED" else "PASSED")
    return b.verdict(verifier, provider, c, [t], result=result)


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("CONFIRMED", "CONTRADICTED"),
        ("CONFIRMED_WITH_COMMENTS", "NO_EVIDENCE_FOUND"),
        ("NO_EVIDENCE_FOUND", "CONFIRMED"),
    ],
)
def test_two_verifiers_pointing_different_ways_read_verifiers_disagree(
    first: str, second: str
) -> None:
    b = base()
    c = b.claim(P, IMG)
    v1 = second_opinion(b, c, V, first)
    v2 = second_opinion(b, c, W, second)
    views = views_of(b)
    claim = views.replay(P).claim(hx(c))
    assert claim.public_status == "verifiers_disagree"  # never the newest alone
    assert [v.digest.hex() for v in claim.disagreement] == [v1, v2]
    assert claim.latest_verdict is not None
    assert claim.latest_verdict.digest == hx(v2)
    cell = views.scorecard(at_ms=b.time_ms).cell(P, IMG)
    assert cell.status == "verifiers_disagree"
    assert cell.verifiers_disagree
    d = cell.to_dict()
    assert d["verifiersDisagree"] is True
    links = d["claims"][0]["disagreement"]
    assert [(x["digest"], x["verifier"], x["result"]) for x in links] == [
        (v1, V, first),
        (v2, W, second),
    ]
    assert claim.to_dict()["disagreement"] == links
    assert views.scorecard(at_ms=b.time_ms, verdict="verifiers_disagree").rows[0].provider == P


def test_what_is_not_a_disagreement() -> None:
    b = base()
    # Agreement either way, and INCONCLUSIVE takes no side.
    same = b.claim(P, IMG)
    second_opinion(b, same, V, "CONFIRMED")
    second_opinion(b, same, W, "CONFIRMED_WITH_COMMENTS")
    unsure = b.claim(P, VID)
    second_opinion(b, unsure, V, "CONTRADICTED")
    second_opinion(b, unsure, W, "INCONCLUSIVE")
    # A verifier that revised its own CONFIRMED to CONTRADICTED agrees with the other's.
    revised = b.claim(P, REP)
    second_opinion(b, revised, V, "CONFIRMED")
    second_opinion(b, revised, W, "CONTRADICTED")
    second_opinion(b, revised, V, "CONTRADICTED")
    # Different claim versions of one measure: each version has one verifier.
    old = b.claim(P, URL)
    second_opinion(b, old, V, "CONFIRMED")
    new = b.claim(P, URL)
    second_opinion(b, new, W, "CONTRADICTED")
    views = views_of(b)
    replay = views.replay(P)
    expected = {same: "confirmed_with_comments", unsure: "inconclusive", revised: "contradicted"}
    for c, status in expected.items():
        assert replay.claim(hx(c)).public_status == status
        assert replay.claim(hx(c)).disagreement == ()
    card = views.scorecard(at_ms=b.time_ms)
    assert card.cell(P, URL).status == "contradicted"
    assert not any(cell.verifiers_disagree for row in card.rows for cell in row.cells)


def test_an_expired_verdict_takes_no_side() -> None:
    b = base()
    c = b.claim(P, IMG)
    t = b.test(V, P, c)
    body = example_verdict_body(c, [t], result="CONFIRMED")
    until = (b.time_ms // 1000 + 3600) * 1000
    body["validUntil"] = format_timestamp(until)
    b.append("verdict.issue", P, V, body)
    second_opinion(b, c, W, "CONTRADICTED")
    views = views_of(b)
    assert views.scorecard(at_ms=until).cell(P, IMG).status == "verifiers_disagree"
    later = views.scorecard(at_ms=until + 1000).cell(P, IMG)
    assert later.status == "contradicted"
    assert not later.verifiers_disagree


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


# -- verdict flags: the registry's later word on a verdict's author ---------------------------


def suspend(b: LogBuilder, verifier: str) -> int:
    body = {"party": verifier, "reason": "Undeclared conflict of interest."}
    return b.append("accreditation.suspend", "registry", AUTHORITY, body).index


def test_a_verdict_whose_verifier_was_suspended_later_is_flagged_and_still_counts() -> None:
    b = base()
    c = claim_with_verdict(b, IMG, "CONFIRMED")
    other = b.claim(P, VID)
    t = b.test(W, P, other)
    b.verdict(W, P, other, [t])
    before = len(b.entries)
    at = suspend(b, V)
    views = views_of(b)

    claim = views.replay(P).claim(hx(c))
    flags = claim.latest_verdict_flags
    assert flags.verifier_suspended
    assert not flags.key_revoked
    assert flags.suspended is not None
    assert flags.suspended.index == at
    assert claim.verdict_flags == (flags,)
    assert claim.public_status == "confirmed"  # still the latest verdict: flagged, not hidden
    assert not views.replay(P).claim(hx(other)).latest_verdict_flags.flagged  # W: untouched
    d = claim.to_dict()
    assert d["latestVerdict"]["verifierSuspended"] is True
    assert d["latestVerdict"]["verifierSuspendedIndex"] == at
    assert d["latestVerdict"]["verifierSuspendedAt"] == format_timestamp(b.time_ms)
    assert d["verdicts"][0]["verifierSuspended"] is True
    assert d["verdicts"][0]["keyRevoked"] is False

    card = views.scorecard(at_ms=b.time_ms)
    cell = card.cell(P, IMG)
    assert cell.status == "confirmed"
    assert cell.verifier_suspended
    assert not cell.key_revoked
    assert cell.to_dict()["verifierSuspended"] is True
    assert cell.to_dict()["claims"][0]["verdict"]["verifierSuspended"] is True
    assert not card.cell(P, VID).verifier_suspended
    assert card.cell(P, VID).to_dict()["verifierSuspended"] is False

    # As of a size or date before the suspension, nothing is flagged (replay --as-of).
    for past in (views.replay(P, size=before), views.replay(P, as_of_ms=b.time_ms - 1)):
        assert not past.claim(hx(c)).latest_verdict_flags.flagged
    assert not views.scorecard(at_ms=b.time_ms, size=before).cell(P, IMG).verifier_suspended
    assert views.scorecard(at_ms=b.time_ms, size=at + 1).cell(P, IMG).verifier_suspended

    # Once the flagged verdict has expired it no longer decides the cell: no mark there, the
    # verdict itself keeps its flag.
    late = views.scorecard(at_ms=FAR_FUTURE).cell(P, IMG)
    assert late.status == "unverified"
    assert not late.verifier_suspended
    assert late.to_dict()["claims"][0]["verdict"]["verifierSuspended"] is True


def test_a_verdict_after_a_new_accreditation_is_not_flagged_by_the_old_suspension() -> None:
    b = base()
    old = claim_with_verdict(b, IMG, "CONFIRMED")
    first = suspend(b, V)
    b.accredit(V, MEASURES6)
    new = claim_with_verdict(b, VID, "CONFIRMED")
    views = views_of(b)
    replay = views.replay(P)
    flags = replay.claim(hx(old)).latest_verdict_flags
    assert flags.suspended is not None
    assert flags.suspended.index == first
    assert not replay.claim(hx(new)).latest_verdict_flags.flagged
    second = suspend(b, V)
    replay = views_of(b).replay(P)
    old_flags = replay.claim(hx(old)).latest_verdict_flags
    new_flags = replay.claim(hx(new)).latest_verdict_flags
    assert old_flags.suspended is not None
    assert old_flags.suspended.index == first  # the first suspension after it
    assert new_flags.suspended is not None
    assert new_flags.suspended.index == second


def test_a_verdict_whose_key_was_revoked_later_is_flagged() -> None:
    b = base()
    c = claim_with_verdict(b, IMG, "CONFIRMED")
    b.append("key.add", "registry", V, {"party": V, "key": key(7).public_key.b64()})
    before = len(b.entries)
    old_id = str(key(5).public_key.key_id)
    revoked = b.append(
        "key.revoke", "registry", V, example_key_revoke_body(V, old_id), key_no=7
    ).index
    b.keys[V] = 7
    after = claim_with_verdict(b, VID, "CONFIRMED")  # signed with the new key
    views = views_of(b)
    replay = views.replay(P)
    flags = replay.claim(hx(c)).latest_verdict_flags
    assert flags.key_revoked
    assert not flags.verifier_suspended
    assert flags.revoked is not None
    assert flags.revoked.index == revoked
    assert replay.claim(hx(c)).latest_verdict is not None
    assert replay.claim(hx(c)).latest_verdict.to_dict()["keyId"] == old_id  # type: ignore[union-attr]
    assert not replay.claim(hx(after)).latest_verdict_flags.flagged
    assert replay.claim(hx(c)).to_dict()["latestVerdict"]["keyRevokedIndex"] == revoked
    card = views.scorecard(at_ms=b.time_ms)
    assert card.cell(P, IMG).key_revoked
    assert card.cell(P, IMG).status == "confirmed"
    assert not card.cell(P, VID).key_revoked
    assert not views.replay(P, size=before).claim(hx(c)).latest_verdict_flags.flagged
    assert not views.scorecard(at_ms=b.time_ms, size=revoked).cell(P, IMG).key_revoked


# -- a verifier's track record ----------------------------------------------------------------


def engage(b: LogBuilder, verifier: str, provider: str, claim: str, hours: int) -> str:
    start = b.time_ms + STEP_MS
    body = example_engagement_open_body(
        [claim],
        start=format_timestamp(start // 1000 * 1000),
        end=format_timestamp((start + hours * 3_600_000) // 1000 * 1000),
    )
    return digest(b.append("engagement.open", provider, verifier, body))


def test_a_verifier_record_counts_engagements_verdicts_and_second_opinions() -> None:
    b = base()
    c = b.claim(P, IMG)
    d = b.claim(Q, IMG)
    engage(b, V, P, c, hours=24 * 30)  # stays open
    gone = engage(b, V, Q, d, hours=24 * 30)
    b.append("engagement.withdraw", Q, Q, example_engagement_withdraw_body(gone))
    engage(b, W, Q, d, hours=1)  # overdue once its hour has passed
    mine = second_opinion(b, c, V, "CONFIRMED")
    theirs = second_opinion(b, c, W, "NO_EVIDENCE_FOUND")
    agreed = b.claim(P, VID)
    second_opinion(b, agreed, V, "CONTRADICTED")
    second_opinion(b, agreed, W, "CONTRADICTED")
    second_opinion(b, d, V, "INCONCLUSIVE", provider=Q)
    before_suspension = len(b.entries)
    suspend(b, V)
    views = views_of(b)
    later = b.time_ms + 2 * 3_600_000

    rec = views.verifier(V, at_ms=later)
    assert rec is not None
    assert rec.engagement_counts == {"open": 1, "overdue": 0, "closed": 0, "withdrawn": 1}
    assert [e.opened.stream for e in rec.engagements] == [P, Q]
    assert rec.engagements[1].withdrawn_by == Q
    assert rec.tests == 3
    assert rec.verdict_counts == {
        "CONFIRMED": 1,
        "CONFIRMED_WITH_COMMENTS": 0,
        "INCONCLUSIVE": 1,
        "NO_EVIDENCE_FOUND": 0,
        "CONTRADICTED": 1,
    }
    assert len(rec.second_opinions) == 2  # the INCONCLUSIVE one takes no side
    assert rec.disagreed == 1
    (split,) = (o for o in rec.second_opinions if o.disagreed_by)
    assert (split.verdict.digest.hex(), [v.digest.hex() for v in split.disagreed_by]) == (
        mine,
        [theirs],
    )
    assert rec.accreditations[-1].suspended
    d_ = rec.to_dict()
    assert d_["secondOpinions"]["disagreed"] == 1
    assert d_["engagementCounts"]["withdrawn"] == 1
    assert d_["engagements"][0]["provider"] == P
    assert json.loads(json.dumps(d_)) == d_

    other = views.verifier(W, at_ms=later)
    assert other is not None
    assert other.engagement_counts["overdue"] == 1
    assert other.disagreed == 0  # nobody judged after W
    assert views.verifier(W, at_ms=b.time_ms).engagement_counts["open"] == 1  # type: ignore[union-attr]

    then = views.verifier(V, at_ms=later, size=before_suspension)
    assert then is not None
    assert not then.accreditations[-1].suspended
    assert views.verifier(P, at_ms=later) is None  # a provider
    assert views.verifier("nobody", at_ms=later) is None
    assert views.verifier(V, at_ms=later, size=3) is None  # not registered yet
    # The index holds only V's entries, the withdrawal of its engagement and its registry
    # record: its page reads those, never every entry of the streams it worked on.
    facts = [views._fact_at(n) for n in views._verifiers[V].entries]
    kinds = [f.kind for f in facts]
    assert kinds.count("accreditation.grant") == 1
    assert kinds.count("accreditation.suspend") == 1
    assert kinds.count("engagement.withdraw") == 1
    assert all(f.signer in (V, Q, AUTHORITY) for f in facts)
    assert len(kinds) == 2 + 2 + 1 + 3 + 3


# -- findings ---------------------------------------------------------------------------------


def test_findings_open_with_bad_verdicts_and_recommendations_and_close_on_a_new_version() -> None:
    b = base()
    c1 = b.claim(P, IMG)
    bad = second_opinion(b, c1, V, "CONTRADICTED")
    again = second_opinion(b, c1, W, "CONFIRMED")  # same version: closes nothing
    fine = b.claim(P, VID)
    comments = second_opinion(b, fine, V, "CONFIRMED_WITH_COMMENTS")
    second_opinion(b, fine, W, "CONFIRMED")  # no recommendations, no finding
    before = len(b.entries)
    c2 = digest(b.append("claim.supersede", P, P, example_claim_body(IMG, supersedes=c1)))
    c3 = digest(b.append("claim.supersede", P, P, example_claim_body(IMG, supersedes=c2)))
    closing = second_opinion(b, c3, W, "NO_EVIDENCE_FOUND")  # down the chain; opens its own
    views = views_of(b)

    then = views.replay(P, size=before).findings
    assert [(f.verdict.digest.hex(), f.open) for f in then] == [(bad, True), (comments, True)]
    assert then[1].recommendation == ("Publish the median time from match to removal per surface.")
    assert then[0].recommendation is None
    assert again not in {f.verdict.digest.hex() for f in then}

    now = views.replay(P).findings
    assert [f.verdict.digest.hex() for f in now] == [bad, comments, closing]
    assert now[0].closed_by is not None
    assert now[0].closed_by.digest.hex() == closing
    assert now[0].to_dict()["closedBy"]["verifier"] == W
    assert now[1].open  # its claim has no newer version
    assert now[2].open
    assert now[2].claim.hex() == c3
    assert views.replay(P).to_dict()["findings"][0]["status"] == "closed"
    assert views.replay(Q).findings == ()


def test_a_verdict_on_a_newer_version_logged_before_the_finding_does_not_close_it() -> None:
    b = base()
    c1 = b.claim(P, IMG)
    c2 = digest(b.append("claim.supersede", P, P, example_claim_body(IMG, supersedes=c1)))
    early = second_opinion(b, c2, W, "CONFIRMED")
    late = second_opinion(b, c1, V, "CONTRADICTED")  # on the replaced version, afterwards
    (f,) = views_of(b).replay(P).findings
    assert f.verdict.digest.hex() == late
    assert f.open
    assert early


def test_commitments_read_overdue_past_their_day_while_the_finding_is_open() -> None:
    """Issue 17 §2: a reply's commitments attach to the finding they answer; one past its due
    day reads overdue while its finding is open, never once a newer version's verdict closed it;
    the company page's counts and the scorecard row say so, with the overdue engagements."""
    b = base()
    c1 = b.claim(P, IMG)
    bad = second_opinion(b, c1, V, "CONTRADICTED")
    fine = b.claim(P, VID)
    comments = second_opinion(b, fine, V, "CONFIRMED_WITH_COMMENTS")
    b.append(
        "provider.reply", P, P, example_provider_reply_body(bad, [example_commitment("2026-12-01")])
    )
    reply = b.append(
        "provider.reply",
        P,
        P,
        example_provider_reply_body(comments, [example_commitment("2026-12-10", 0)]),
    )
    late = engage(b, W, P, fine, hours=1)
    due = parse_timestamp("2026-12-01T00:00:00Z")
    views = views_of(b)

    before = views.replay(P, at_ms=due + DAY - 1000)
    assert [len(f.commitments) for f in before.findings] == [1, 1]
    assert before.finding_counts == {"open": 2, "closed": 0, "overdue": 0, "commitmentsOverdue": 0}
    after = views.replay(P, at_ms=due + DAY)
    assert [f.overdue for f in after.findings] == [True, False]
    (x,) = after.findings[1].commitments
    assert (x.reply.index, x.due, x.overdue) == (reply.index, "2026-12-10", False)
    assert after.findings[0].age_days == (due + DAY - after.findings[0].verdict.log_time_ms) // DAY
    d = after.to_dict()
    assert d["findingCounts"]["commitmentsOverdue"] == 1
    assert d["findings"][0]["commitments"][0]["overdue"] is True
    assert d["findings"][1]["recommendationIndex"] == 0

    row = views.scorecard(at_ms=due + DAY).to_dict()["rows"][0]
    assert (row["provider"], row["findingsOpen"], row["commitmentsOverdue"]) == (P, 2, 1)
    assert row["engagementsOverdue"] == [late]
    assert views.scorecard(at_ms=b.time_ms).to_dict()["rows"][0]["engagementsOverdue"] == []

    # A verdict on a newer version closes the finding: its commitment is no longer overdue.
    c2 = digest(b.append("claim.supersede", P, P, example_claim_body(IMG, supersedes=c1)))
    second_opinion(b, c2, W, "CONFIRMED")
    closed = views_of(b).replay(P, at_ms=due + 30 * DAY)
    assert not closed.findings[0].open
    assert closed.findings[0].commitments[0].overdue is False
    assert closed.findings[1].overdue  # the recommendation's is past its day, still open
    assert closed.finding_counts["commitmentsOverdue"] == 1


def _grant(start: int, until: int | None, suspended: int | None = None) -> Accreditation:
    return Accreditation("s", (IMG,), until, 0, None, start_ms=start, suspended_ms=suspended)


def test_accreditation_periods_gaps_and_what_counts_as_current() -> None:
    """SPEC §8.2, accreditation periods: overlapping periods leave no gap, an open-ended one
    covers everything after it, a suspension ends a period; a verdict in a gap, before the first
    period or after the last is not current, and says why."""
    a, b, c = _grant(0, 10 * DAY), _grant(5 * DAY, 20 * DAY), _grant(30 * DAY, None)
    assert accreditation_gaps([a, b]) == ()
    assert accreditation_gaps([c, a, b]) == ((20 * DAY, 30 * DAY),)  # order of grants: any
    assert accreditation_gaps([_grant(0, None), c]) == ()
    cut = _grant(0, 50 * DAY, suspended=3 * DAY)
    assert cut.end_ms == 3 * DAY
    assert accreditation_gaps([cut, b]) == ((3 * DAY, 5 * DAY),)
    assert accreditation_gaps([]) == ()
    assert out_of_accreditation([a, b, c], 20 * DAY) is None  # the end is inside
    assert out_of_accreditation([a, b, c], 30 * DAY) is None
    gap = out_of_accreditation([a, b, c], 25 * DAY)
    assert gap is not None
    assert gap.startswith(
        "made in a gap in its verifier's accreditation, from 1970-01-21T00:00:00Z"
    )
    before = out_of_accreditation([b], DAY)
    assert (before or "").startswith("made before")
    after = out_of_accreditation([a], 11 * DAY)
    assert (after or "").startswith("made after")


def test_a_verdict_made_before_its_grant_s_period_reads_unverified_and_flagged() -> None:
    """A grant logged before its validFrom: the rules accept the verifier's verdict (they read
    validUntil), the views read it as not current: its claim is unverified, the flag says why,
    in the replay, the scorecard cell and the verifier's record; one after validFrom counts."""
    b = base()
    late = "late-audit"
    b.register(late, "verifier", 7)
    start = format_timestamp((b.time_ms + 10 * DAY) // 1000 * 1000)
    b.append(
        "accreditation.grant",
        "registry",
        AUTHORITY,
        {**example_accreditation_grant_body(late), **example_disclosures(start)},
    )
    c = b.claim(P, IMG)
    early = second_opinion(b, c, late, "CONFIRMED")
    views = views_of(b)
    claim = views.replay(P, at_ms=b.time_ms).claim(hx(c))
    assert claim.public_status == "unverified"
    why = claim.latest_verdict_flags.outside
    assert why is not None
    assert why.startswith("made before its verifier's accreditation period")
    assert claim.to_dict()["latestVerdict"]["outOfAccreditation"] == why
    assert views.scorecard(at_ms=b.time_ms).cell(P, IMG).out_of_accreditation
    rec = views.verifier(late, at_ms=b.time_ms)
    assert rec is not None
    assert dict(zip([v.digest.hex() for v in rec.verdicts], rec.outside, strict=True))[early] == why
    assert rec.accreditations[-1].independence is not None
    assert rec.to_dict()["accreditations"][-1]["accreditingBody"] == (
        "National Accreditation Service (example)"
    )
    # Later, inside the period: current again.
    b.time_ms += 11 * DAY
    second_opinion(b, c, late, "CONFIRMED")
    assert views_of(b).replay(P, at_ms=b.time_ms).claim(hx(c)).public_status == "confirmed"


# -- feeds ------------------------------------------------------------------------------------


def verdict_until(b: LogBuilder, claim: str, until_ms: int, verifier: str = V) -> str:
    t = b.test(verifier, P, claim)
    body = example_verdict_body(claim, [t], result="CONFIRMED")
    body["validUntil"] = format_timestamp(until_ms // 1000 * 1000)
    return digest(b.append("verdict.issue", P, verifier, body))


def test_the_whole_log_feed_is_the_newest_events_newest_first() -> None:
    b = base()
    c = claim_with_verdict(b, IMG, "CONFIRMED")
    r = b.reply(P, digest(b.entries[-1]))
    w = b.append("claim.withdraw", P, P, example_claim_withdraw_body(c))
    q = b.claim(Q, VID)
    s = suspend(b, W)
    views = views_of(b)
    feed = views.feed()
    assert feed.stream is None
    assert feed.size == len(b.entries)
    assert feed.time_ms == b.time_ms
    kinds = [(i.fact.kind, i.expiring) for i in feed.items]
    assert kinds == [
        ("accreditation.suspend", False),
        ("claim.publish", False),
        ("claim.withdraw", False),
        ("provider.reply", False),
        ("verdict.issue", False),
        ("test.record", False),
        ("claim.publish", False),
    ]  # registrations, grants and the genesis are not news
    assert feed.items[0].index == s
    assert feed.items[1].fact.digest == hx(q)
    assert feed.items[2].index == w.index
    assert feed.items[3].fact.digest == hx(r)
    assert [i.index for i in feed.items] == sorted((i.index for i in feed.items), reverse=True)
    assert all(i.log_time_ms == i.fact.log_time_ms for i in feed.items)
    assert [i.index for i in views.feed(limit=3).items] == [i.index for i in feed.items[:3]]
    past = views.feed(size=w.index)
    assert past.size == w.index
    assert past.items[0].fact.kind == "provider.reply"
    assert past.time_ms == b.entries[w.index - 1].log_time_ms
    with pytest.raises(ValueError, match="limit"):
        views.feed(limit=0)


def test_a_company_feed_has_its_entries_and_what_affects_its_verifiers() -> None:
    b = base()
    c = claim_with_verdict(b, IMG, "CONFIRMED")  # V signs on P's stream
    w_before = suspend(b, W)  # W has signed nothing on P's stream: not P's news
    b.accredit(W, MEASURES6)
    claim_with_verdict(b, VID, "CONTRADICTED", provider=Q)  # Q's, not P's
    t = b.test(W, P, c)  # now W signs on P's stream...
    w_after = suspend(b, W)  # ...so this suspension is P's news
    s_v = suspend(b, V)
    b.keys[P] = 3
    b.append("key.add", "registry", P, {"party": P, "key": key(7).public_key.b64()})
    own = b.append(
        "key.revoke",
        "registry",
        P,
        example_key_revoke_body(P, str(key(3).public_key.key_id)),
        key_no=7,
    ).index
    views = views_of(b)
    feed = views.feed(P)
    assert feed.stream == P
    assert feed.time_ms == b.time_ms
    got = [(i.index, i.fact.kind) for i in feed.items]
    stream = [(f.index, f.kind) for f in views.entries(P)]
    registry = [
        (own, "key.revoke"),
        (s_v, "accreditation.suspend"),
        (w_after, "accreditation.suspend"),
    ]
    assert got == sorted(stream + registry, reverse=True)
    assert w_before not in [i for i, _ in got]
    assert digest(b.entries[feed.items[-1].index]) == c
    assert hx(t) in [i.fact.digest for i in feed.items]
    # V signed on Q's stream too (before its suspension); W never did.
    q = [(f.index, f.kind) for f in views.entries(Q)] + [(s_v, "accreditation.suspend")]
    assert [(i.index, i.fact.kind) for i in views.feed(Q).items] == sorted(q, reverse=True)
    assert views.feed("nobody").items == ()
    assert views.feed("registry").items == ()
    assert [i.index for i in views.feed(P, limit=2).items] == [own, s_v]


def test_verdicts_expiring_within_30_days_of_the_feed_time() -> None:
    b = base()
    soon = b.claim(P, IMG)
    v_soon = verdict_until(b, soon, b.time_ms + 10 * DAY)  # issued inside its last 30 days
    v_soon_index = len(b.entries) - 1
    later = b.claim(P, VID)
    v_later = verdict_until(b, later, b.time_ms + 45 * DAY)
    gone = b.claim(P, REP)
    verdict_until(b, gone, b.time_ms + 5 * DAY)
    b.append("claim.withdraw", P, P, example_claim_withdraw_body(gone))  # no longer news
    views = views_of(b)
    expiring = [i for i in views.feed().items if i.expiring]
    assert [i.fact.digest.hex() for i in expiring] == [v_soon]
    assert expiring[0].index == v_soon_index
    assert [i.fact.digest.hex() for i in views.feed(P).items if i.expiring] == [v_soon]
    assert not [i for i in views.feed(Q).items if i.expiring]

    # 20 days on, the 10-day verdict has expired and the 45-day one is within 30 days: its item
    # starts at the first entry logged inside the window, and stays the same as the log grows.
    tick = b.append(
        "claim.publish", Q, Q, example_claim_body(URL), log_time_ms=b.time_ms + 20 * DAY
    )
    b.claim(Q, AGE)
    views = views_of(b)
    items = {i.fact.digest.hex(): i for i in views.feed().items if i.expiring}
    assert set(items) == {v_later}
    assert items[v_later].index == tick.index
    assert items[v_later].log_time_ms == tick.log_time_ms
    assert views.feed(size=tick.index + 1).items[0] == items[v_later]
    assert views.feed(size=tick.index + 1).items[1].index == tick.index  # the entry itself
    # After it expired, it is no longer expiring (the feed's time is past validUntil).
    b.append("claim.publish", Q, Q, example_claim_body(REP), log_time_ms=b.time_ms + 40 * DAY)
    assert not [i for i in views_of(b).feed().items if i.expiring]
    # A window of 0 days: nothing is expiring.
    assert not [i for i in views.feed(expiring_within_ms=0).items if i.expiring]


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


def test_the_whole_log_feed_reads_older_entries_from_their_streams(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The newest entries' facts are kept apart (``_NEWEST``); a feed reaching further back
    reads the others from their streams, with the same result."""
    b = base()
    for i in range(12):
        claim_with_verdict(b, MEASURES6[i % 6], "CONFIRMED", provider=(P, Q)[i % 2])
    whole = views_of(b)
    monkeypatch.setattr(views_module, "_NEWEST", 3)
    few = views_of(b)
    assert len(few._newest) == 3
    for size in (5, len(b.entries) - 4, len(b.entries)):
        for limit in (1, 4, 1000):
            assert few.feed(size=size, limit=limit) == whole.feed(size=size, limit=limit)


def _claims_and_expiring_verdicts(seed: int) -> LogBuilder:
    """Two companies' claims, new versions, withdrawals and verdicts of many validities, with
    jumps of days in log time."""
    rnd = random.Random(seed)
    b = base()
    live: dict[str, list[str]] = {P: [], Q: []}
    for _ in range(60):
        provider = rnd.choice((P, Q))
        claims = live[provider]
        roll = rnd.random()
        jump = rnd.choice((0, 0, 0, 3 * DAY, 12 * DAY))
        if not claims or roll < 0.25:
            body = example_claim_body(rnd.choice(MEASURES6))
            claims.append(digest(b.append("claim.publish", provider, provider, body)))
        elif roll < 0.35:
            old = claims.pop(rnd.randrange(len(claims)))
            body = example_claim_body(rnd.choice(MEASURES6), supersedes=old)
            claims.append(digest(b.append("claim.supersede", provider, provider, body)))
        elif roll < 0.42:
            gone = claims.pop(rnd.randrange(len(claims)))
            b.append("claim.withdraw", provider, provider, example_claim_withdraw_body(gone))
        else:
            c = rnd.choice(claims)
            t = b.test(V, provider, c)
            body = example_verdict_body(c, [t], result="CONFIRMED")
            until = b.time_ms + jump + rnd.randrange(1, 60) * DAY
            body["validUntil"] = format_timestamp(until // 1000 * 1000)
            b.append("verdict.issue", provider, V, body, log_time_ms=b.time_ms + jump)
    return b


@pytest.mark.parametrize("paged", [False, True])
@pytest.mark.parametrize("seed", range(4))
def test_the_whole_log_feed_finds_the_expiring_items_every_company_feed_finds(
    seed: int, paged: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The whole log's expiring items come from an index of the newest verdicts, not from every
    company's record: at every size they are the newest of all the company feeds' own (also
    when the log index is read back a chunk at a time: only the newest are looked up there)."""
    small_log_chunks(monkeypatch)
    b = _claims_and_expiring_verdicts(seed)
    views = views_of(b, paged=paged)
    seen = 0
    for size in range(1, len(b.entries) + 1, 3):
        for limit in (2, 1000):
            want = sorted(
                (i for p in (P, Q) for i in views.feed(p, size=size, limit=1000).items),
                key=lambda i: (i.index, i.fact.index),
                reverse=True,
            )
            want = [i for i in want if i.expiring][:limit]
            got = [i for i in views.feed(size=size, limit=limit).items if i.expiring]
            assert got == want[: len(got)]
            if limit == 1000:
                assert got == want
                seen += len(got)
    assert seen > 10  # the log has verdicts in their last 30 days at many sizes


def test_a_company_record_s_views_have_gaps_and_read_as_the_whole_log_s() -> None:
    """Fed the whole log, entry n has index n (the indexes are a range, 16 bytes an entry);
    fed one company's record, the indexes have gaps, and every read of that company at every
    size is the same as from the whole log."""
    b = base()
    for i in range(6):
        claim_with_verdict(b, MEASURES6[i], "CONFIRMED", provider=(P, Q)[i % 2])
    whole = views_of(b)
    assert isinstance(whole._all.index, range)
    state, mine = LogState(sparse=True), Views()
    for raw in b.entries:
        placed = state.open(raw)
        if raw.stream in ("registry", P):
            state.admit(placed)
            mine.apply(placed)
    assert not isinstance(mine._all.index, range)
    assert list(mine._all.index) == [e.index for e in b.entries if e.stream in ("registry", P)]
    at = b.time_ms
    for size in range(1, len(b.entries) + 1):
        assert mine.replay(P, size=size, at_ms=at) == whole.replay(P, size=size, at_ms=at)
        assert mine.feed(P, size=size).items == whole.feed(P, size=size).items


@pytest.mark.parametrize("seed", range(3))
def test_a_log_index_read_back_in_chunks_reads_as_one_in_memory(
    seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Held to one chunk of four entries in memory, the views' log index reads the others back
    from the log's leaves: every read that goes through it — the log at a time, the time of a
    size or an entry, the whole log's search and feed, a verifier's record — is the same as
    with the whole index in memory, at every size."""
    small_log_chunks(monkeypatch, chunk=4, resident=1)
    b = _claims_and_expiring_verdicts(seed)
    whole, paged = views_of(b), views_of(b, paged=True)
    index = paged._all
    assert sum(c is None for c in index._chunks) >= len(index._chunks) - 2  # dropped as fed
    times = sorted({r.log_time_ms for r in b.entries})
    for t in [0, *times, *(t + 1 for t in times), *(t - 1 for t in times)]:
        assert paged.size_at(t) == whole.size_at(t), t
    n = len(b.entries)
    at = b.time_ms
    for size in range(0, n + 1, 2):
        assert paged.time_at(size) == whole.time_at(size)
        assert paged.feed(size=size, limit=3) == whole.feed(size=size, limit=3)
        assert paged.verifier(V, at_ms=at, size=size) == whole.verifier(V, at_ms=at, size=size)
    for i in range(n + 1):
        assert paged.log_time(i) == whole.log_time(i)
    for kind in (None, "verdict.issue", "claim.publish"):
        for after in (None, 0, n // 3, n - 2):
            got = paged.search(kind=kind, after_index=after, limit=5)
            assert got == whole.search(kind=kind, after_index=after, limit=5)
    assert len(index._resident) <= 1  # still one chunk, however much was read back


def test_a_snapshot_of_a_paged_log_index_holds_its_newest_chunk_only(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Given the log's reader, the index pickles its newest chunk and each chunk's first log
    time, not 16 bytes an entry; restored, it reads the rest from the log, and says so when it
    has no reader, or when the log's leaves are not the entries it indexed."""
    small_log_chunks(monkeypatch, chunk=4, resident=1)
    b = _claims_and_expiring_verdicts(0)
    whole, paged = views_of(b), views_of(b, paged=True)
    chunks = -(-len(b.entries) // 4)
    assert len(whole._all.__getstate__()[3]) == chunks > 10
    state = paged._all.__getstate__()
    assert len(state[3]) == 1

    def restored() -> views_module._LogIndex:
        index = views_module._LogIndex.__new__(views_module._LogIndex)
        index.__setstate__(state)
        return index

    index = restored()
    with pytest.raises(RuntimeError, match="no reader"):
        index.time_of(0)
    numbers = whole._numbers
    index.read_from(
        lambda s, e: [(r.log_time_ms, r.stream, r.position) for r in b.entries[s:e]], numbers
    )
    for n in range(len(b.entries)):
        assert (index.time_of(n), index.where(n)) == (whole._all.time_of(n), whole._all.where(n))
    # A log whose leaves are not what was indexed: shifted by one, or naming another stream.
    shifted = restored()
    shifted.read_from(
        lambda s, e: [(r.log_time_ms, r.stream, r.position) for r in b.entries[s + 1 : e + 1]],
        numbers,
    )
    with pytest.raises(CorruptionError, match="not the entries the views applied"):
        shifted.time_of(4)
    renamed = restored()
    renamed.read_from(lambda s, e: [(b.entries[s].log_time_ms, "nobody", 0)] * (e - s), numbers)
    with pytest.raises(CorruptionError, match="name stream 'nobody'"):
        renamed.where(0)


@pytest.mark.parametrize("seed", range(3))
def test_the_log_index_finds_times_and_streams_as_a_flat_list_would(
    seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Counting the entries logged before (or at) a time, bounding that count without a read,
    and the streams from an entry on: the same as on flat lists, with many entries at one
    time, across chunk edges, with one chunk in memory."""
    small_log_chunks(monkeypatch, chunk=8, resident=1)
    rnd = random.Random(seed)
    times: list[int] = []
    streams: list[int] = []
    t = 1000
    index = views_module._LogIndex()
    index.read_from(
        lambda s, e: [(times[n], str(streams[n]), 0) for n in range(s, e)],
        {str(i): i for i in range(5)},
    )
    index.keep(1)
    for n in range(150):
        t += rnd.choice((0, 0, 0, 1, 7))
        times.append(t)
        streams.append(rnd.randrange(5))
        fact: Any = SimpleNamespace(index=n, log_time_ms=t)
        index.append(fact, streams[-1], 0)
    for q in range(990, t + 3):
        assert index.count_before(q) == bisect.bisect_left(times, q), q
        assert index.count_at_or_before(q) == bisect.bisect_right(times, q), q
        assert index.chunk_bound(q) >= index.count_before(q)
    for n in range(0, 151, 3):
        assert index.streams_from(n) == set(streams[n:])


@pytest.mark.parametrize("seed", range(4))
def test_the_newest_expiring_verdicts_are_found_without_looking_up_every_one(
    seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The whole log's expiring items, at most ``limit``: the newest of all of them, exactly,
    though only those that can be among them are looked up in a paged log index."""
    small_log_chunks(monkeypatch, chunk=4, resident=1)
    b = _claims_and_expiring_verdicts(seed)
    views = views_of(b, paged=True)
    tested = 0
    for cut in range(1, len(b.entries) + 1):
        time_ms = views.time_at(cut)
        every = views._expiring_all(cut, time_ms, 30 * DAY, 10**9)
        if len(every) < 3:
            continue
        tested += 1

        def newest(items: list[views_module.FeedItem], n: int) -> list[views_module.FeedItem]:
            return sorted(items, key=lambda i: (i.index, i.fact.index), reverse=True)[:n]

        for limit in (1, 2, 3):
            got = views._expiring_all(cut, time_ms, 30 * DAY, limit)
            assert newest(got, limit) == newest(every, limit), (cut, limit)
    assert tested > 10


@pytest.mark.parametrize("seed", range(6))
def test_expiring_verdicts_whose_window_opens_long_after_them_are_ordered_exactly(
    seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A claim logged every few hours for 50 days, and verdicts on some of them valid for
    20 to 60 days and some hours: most verdicts' items are at the first entry inside their
    30-day window, well after the verdict, several at one entry; the newest ``limit`` of them
    are exactly the newest of all, though only those that can be among them are looked up."""
    small_log_chunks(monkeypatch, chunk=4, resident=1)
    rnd = random.Random(seed)
    b = base()
    for _ in range(150):
        c = digest(
            b.append(
                "claim.publish",
                P,
                P,
                example_claim_body("age.assurance"),
                log_time_ms=b.time_ms + rnd.choice((1, 4, 9)) * 3600_000,
            )
        )
        if rnd.random() < 0.3:
            body = example_verdict_body(c, [b.test(V, P, c)], result="CONFIRMED")
            valid = rnd.randrange(20, 60) * DAY + rnd.randrange(24) * 3600_000
            body["validUntil"] = format_timestamp((b.time_ms + valid) // 1000 * 1000)
            b.append("verdict.issue", P, V, body)
    # Judged as each entry arrives: at the log's own size, every stream's verdicts are in the
    # index of due ones (at an older size, the streams written since are read in full).
    state, views = LogState(), Views()
    views.read_log(lambda s, e: [(r.log_time_ms, r.stream, r.position) for r in b.entries[s:e]])
    views.keep_resident(10**9, lambda key: False)
    late = 0
    for raw in b.entries:
        placed = state.open(raw)
        state.admit(placed)
        views.apply(placed)
        cut = raw.index + 1
        time_ms = views.time_at(cut)
        every = sorted(
            views._expiring_all(cut, time_ms, 30 * DAY, 10**9),
            key=lambda i: (i.index, i.fact.index),
            reverse=True,
        )
        late += sum(i.index > i.fact.index for i in every)  # opened after the verdict
        for limit in (1, 2, 3, 5):
            got = views._expiring_all(cut, time_ms, 30 * DAY, limit)
            newest = sorted(got, key=lambda i: (i.index, i.fact.index), reverse=True)
            assert newest == every[:limit], (cut, limit)
    assert late > 50
