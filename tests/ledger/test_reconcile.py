"""Reference tables and the reconciliation of reported counts (issue 17 §5, SPEC §8.4).

The views' reading of the vector log equals the one the vectors pin (dense, and from each
provider's sparse company record); then a real Ledger on SQLite and PostgreSQL: the authority logs
a small table made for these tests, a provider or verifier signing one is refused, a correction
replaces the earlier table, and the comparison reads the same live, from an exported bundle
(offline ``report``), and as of a size before the table was logged (none).
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from attest.bundle import verify_bundle
from attest.errors import NotAuthorisedError
from attest.rules import LogState
from attest.statemap import subject
from ledger._bundle import export_bundle
from ledger._report import build_report
from ledger._views import Views
from tests.attest.examples import AUTHORITY, example_claim_body, example_reference_publish_body
from tests.conftest import OWN_VECTORS
from tests.ledger.actors import mirrored_ledger
from tests.test_vectors import _entry

P = "acme-social"
Q = "globex-video"
V = "safecheck-labs"
REP = "report.authority"


def _vector_log() -> tuple[list[Any], dict[str, Any]]:
    doc = json.loads((OWN_VECTORS / "datasets.json").read_bytes())
    case = doc["cases"][0]
    return [_entry(e) for e in case["input"]["entries"]], case["expect"]


def _results(views: Views, party: str) -> list[dict[str, Any]]:
    keep = ("status", "reason", "listedAs", "count", "reported")
    return [
        {k: v for k, v in r.to_dict().items() if k in keep}
        for r in views.replay(party).reconciliations
    ]


def test_views_read_the_vector_log_as_the_rule_says() -> None:
    """Dense and sparse (each provider's company record: its stream and the registry entries
    about it and the authority), every provider's comparison is the one datasets.json pins."""
    entries, expect = _vector_log()
    state, views = LogState(), Views()
    placed = []
    for raw in entries:
        p = state.open(raw)
        state.admit(p)
        views.apply(p)
        placed.append(p)
    for party, want in expect["reconciliations"].items():
        assert _results(views, party) == [want]
        # Sparse: only what a bundle of this company holds (SPEC §10.1: the registry records of
        # the company, the authority and every signer on its stream).
        involved = {party, state.authority}
        involved |= {
            p.signed.statement.signer for p in placed if p.signed.statement.stream == party
        }
        sparse, mine = LogState(sparse=True), Views()
        for p in placed:
            st = p.signed.statement
            if st.stream == party or subject(st) in involved:
                q = sparse.open(entries[p.index])
                sparse.admit(q)
                mine.apply(q)
        assert _results(mine, party) == [want]
    digests = {r.digest.hex() for r in views.replay(P).reconciliations}
    assert digests == set(expect["datasets"])  # the corrected table, not the typo


def _report_claim(value: int | str, unit: str = "reports") -> dict[str, Any]:
    body = example_claim_body(REP)
    body["details"] = {"recipients": ["NCMEC"]}
    body["metrics"] = [
        {
            "name": "cybertipline_reports",
            "period": {"start": "2025-01-01", "end": "2025-12-31"},
            "value": value,
            "unit": unit,
            "method": "Reports filed with NCMEC.",
        }
    ]
    return body


def _table(acme: int, globex: int) -> dict[str, Any]:
    return example_reference_publish_body(
        [
            {"listedAs": "Acme Social, Inc.", "count": acme, "party": P},
            {"listedAs": "Globex Video", "count": globex, "party": Q},
        ]
    )


def test_a_logged_table_is_compared_live_offline_and_as_of(store_url: str) -> None:
    ledger, b, put = mirrored_ledger(store_url)
    try:
        b.register(P, "provider", 3)
        put()
        b.register(Q, "provider", 4)
        put()
        b.register(V, "verifier", 5)
        put()
        b.append("claim.publish", P, P, _report_claim(61034))
        put()
        b.append("claim.publish", Q, Q, _report_claim("700"))
        put()
        before = ledger.size
        # Only the authority logs a table: the provider and the verifier are refused.
        for signer in (P, V):
            wrong = b.make("reference.publish", "registry", signer, _table(1, 1))
            with pytest.raises(NotAuthorisedError, match="only the authority may sign"):
                ledger.submit(wrong.envelope)
        b.append("reference.publish", "registry", AUTHORITY, _table(61000, 700))
        put()
        b.append("reference.publish", "registry", AUTHORITY, _table(61034, 900))  # corrected
        put()
        live_p = ledger.views.replay(P).reconciliations
        live_q = ledger.views.replay(Q).reconciliations
        assert [(r.index, r.result.status) for r in live_p] == [(before + 1, "consistent")]
        assert [r.result.status for r in live_q] == ["inconsistent"]
        q = live_q[0].to_dict()
        assert (q["count"], [v["value"] for v in q["reported"]]) == (900, ["700"])
        assert q["label"] == "Inconsistent"
        assert "700" in q["text"]
        assert "900" in q["text"]
        assert ledger.views.replay(P, size=before).reconciliations == ()
        # As of a size between the two tables, the first (with its wrong count) was current.
        mid = ledger.views.replay(P, size=before + 1).reconciliations
        assert [(r.result.status, r.result.count) for r in mid] == [("inconsistent", 61000)]
        bundle = export_bundle(ledger, Q)
        genesis = ledger.state.genesis_hash
    finally:
        ledger.close()
    record = verify_bundle(bundle, genesis_hash=genesis)
    report = build_report(record).to_dict()
    assert report["reconciliations"] == [r.to_dict() for r in live_q]
