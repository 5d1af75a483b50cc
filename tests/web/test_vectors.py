"""The browser verifier (api/web/static/verify.js) agrees with the Python reference on every vector.

Each test hands a whole vector file to the page in one call and compares the outcomes here, so a
mismatch names the case. External vectors are fetched by the page from the loopback server.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from attest.statements import parse_timestamp
from scripts.gen_vectors import FILES
from tests.conftest import OWN_VECTORS, shared_vectors

pytestmark = pytest.mark.browser

# CCTV flags that the KEY rule refuses (SPEC §2); every other flag is the SIGNATURE rule's.
KEY_FLAGS = {"low_order_A", "non_canonical_A", "low_order_component_A"}
KEY_ERRORS = {"KeyFormatError", "WeakKeyError"}


def _cases(name: str) -> list[dict[str, Any]]:
    cases: list[dict[str, Any]] = json.loads((OWN_VECTORS / f"{name}.json").read_text())["cases"]
    return cases


def _run(page: Any, fn: str, cases: list[dict[str, Any]], *extra: Any) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = page.evaluate(
        f"([cs, extra]) => Promise.all(cs.map((c) => T.{fn}(c, ...extra)))", [cases, list(extra)]
    )
    assert len(out) == len(cases)
    return out


def _error_matches(case: dict[str, Any], got: dict[str, Any]) -> bool:
    want = case["error"]["class"]
    return not got["ok"] and got["kind"] == want


def test_cctv_ed25519_accept_iff_no_flags(page: Any) -> None:
    results = page.evaluate("u => T.cctv(u)", "/shared/ed25519/ed25519vectors.json")
    assert len(results) == 914
    wrong = [
        (r["number"], r["flags"], r.get("kind"))
        for r in results
        if r["ok"] == bool(r["flags"])  # accepted iff flags is empty
    ]
    assert wrong == []
    assert [r["number"] for r in results if r["ok"]] == [305]


def test_cctv_ed25519_refusal_reason_follows_flags(page: Any) -> None:
    results = page.evaluate("u => T.cctv(u)", "/shared/ed25519/ed25519vectors.json")
    wrong = []
    for r in results:
        if r["ok"]:
            continue
        key_refused = r["kind"] in KEY_ERRORS
        if key_refused != bool(set(r["flags"]) & KEY_FLAGS) or r["kind"] not in (
            KEY_ERRORS | {"InvalidSignatureError"}
        ):
            wrong.append((r["number"], r["flags"], r["kind"]))
    assert wrong == []


def test_transparency_dev_inclusion_vectors(page: Any) -> None:
    root = shared_vectors() / "merkle" / "inclusion"
    files = sorted(root.rglob("*.json"))
    assert len(files) >= 98
    urls = [f"/shared/merkle/inclusion/{p.relative_to(root).as_posix()}" for p in files]
    results = page.evaluate("us => T.inclusion(us)", urls)
    wrong = [(r["url"], r["wantErr"], r.get("what")) for r in results if r["ok"] == r["wantErr"]]
    assert wrong == []
    refused = [r for r in results if not r["ok"]]
    assert {r["kind"] for r in refused} == {"ProofError"}
    assert sum(1 for r in results if r["ok"]) >= 5


def test_c2sp_signed_note_example(page: Any) -> None:
    want = json.loads((shared_vectors() / "signed-note" / "c2sp-example.json").read_text())["want"]
    got = page.evaluate("u => T.signedNote(u)", "/shared/signed-note/c2sp-example.json")
    assert got["ok"] is want["valid"]
    assert (got["name"], got["keyIdHex"], got["text"]) == (
        want["key_name"],
        want["key_id_hex"],
        want["text"],
    )


def test_canonical_vectors(page: Any) -> None:
    """The JSON profile (SPEC §1): the browser decodes payloads canonical-or-reject too."""
    cases = _cases("canonical")
    wrong = []
    for case, got in zip(cases, _run(page, "canonical", cases), strict=True):
        if "error" in case:
            ok = _error_matches(case, got)
        else:
            ok = got == {"ok": True, "hex": case["expect"]["hex"], "roundTrip": True}
        if not ok:
            wrong.append((case["name"], got))
    assert wrong == []


def test_statement_vectors(page: Any) -> None:
    """The statement schemas (SPEC §3): the browser refuses exactly what Python refuses.

    Every valid statement is accepted with the same payload and digest; every invalid one is
    refused as SchemaError at the first pointer Python reports (``api/web/static/schema.js``).
    """
    cases = _cases("statements")
    results = _run(page, "statements", cases)
    wrong = []
    for case, got in zip(cases, results, strict=True):
        if "expect" in case:
            ok = got == {"ok": True, **case["expect"]}
        else:
            first = case["error"]["pointers"][0]
            ok = not got["ok"] and (got["kind"], got["field"]) == ("SchemaError", first)
        if not ok:
            wrong.append((case["name"], got))
    assert wrong == []
    assert sum(1 for c in cases if "error" in c) == 35


def test_keys_vectors(page: Any) -> None:
    cases = _cases("keys")
    wrong = []
    for case, got in zip(cases, _run(page, "keys", cases), strict=True):
        if "error" in case:
            ok = _error_matches(case, got)
        elif "keyId" in case["expect"]:
            e = case["expect"]
            ok = got["ok"] and (got["keyId"], got["publicKeyB64"], got["roundTrip"]) == (
                e["keyId"],
                e["publicKeyB64"],
                e["publicKey"],
            )
        else:
            ok = got["ok"] and got.get("accept") is case["expect"]["accept"]
        if not ok:
            wrong.append((case["name"], got))
    assert wrong == []


def _public_keys_of_seeds() -> dict[str, str]:
    return {
        c["input"]["seed"]: c["expect"]["publicKey"] for c in _cases("keys") if "seed" in c["input"]
    }


def test_dsse_vectors(page: Any) -> None:
    cases = _cases("dsse")
    wrong = []
    for case, got in zip(cases, _run(page, "dsse", cases, _public_keys_of_seeds()), strict=True):
        i = case["input"]
        if "error" in case:
            ok = _error_matches(case, got)
            if ok and "field" in case["error"]:
                ok = got["field"] == case["error"]["field"]
        elif "payloadHex" in i:
            ok = got["ok"] and got["hex"] == case["expect"]["hex"]
        elif "payloadText" in i:
            e = case["expect"]
            ok = got["ok"] and (
                got["keyid"],
                got["envKeyid"],
                got["paeHex"],
                got["signature"],
                got["payloadText"],
            ) == (e["keyid"], e["keyid"], e["paeHex"], e["signature"], i["payloadText"])
        else:
            ok = got["ok"] and all(got[k] == v for k, v in case["expect"].items())
        if not ok:
            wrong.append((case["name"], got))
    assert wrong == []


def test_entry_vectors(page: Any) -> None:
    cases = _cases("entry")
    wrong = []
    for case, got in zip(cases, _run(page, "entry", cases), strict=True):
        if "error" in case:
            ok = _error_matches(case, got)
        else:
            # Genesis values' preimages are the prefix and the stream name: not re-derived here.
            ok = got["ok"] and all(
                got[k] == v
                for k, v in case["expect"].items()
                if not (k == "preimageHex" and "prev" in case["expect"])
            )
        if not ok:
            wrong.append((case["name"], got))
    assert wrong == []


def test_merkle_vectors(page: Any) -> None:
    cases = _cases("merkle")
    wrong = []
    for case, got in zip(cases, _run(page, "merkle", cases), strict=True):
        if "error" in case:
            ok = _error_matches(case, got)
        elif "leaves" in case["input"]:
            ok = got["ok"] and got == {"ok": True, **case["expect"]}
        else:
            ok = got == {"ok": True, "accept": True}
        if not ok:
            wrong.append((case["name"], got))
    assert wrong == []


def test_checkpoint_vectors(page: Any) -> None:
    cases = _cases("checkpoint")
    wrong = []
    for case, got in zip(cases, _run(page, "checkpoint", cases), strict=True):
        i = case["input"]
        if "error" in case:
            ok = _error_matches(case, got)
        elif "seed" in i:
            e = case["expect"]
            ok = got["ok"] and (
                got["noteKeyId"],
                got["publicKey"],
                got["origin"],
                got["size"],
                got["root"],
            ) == (e["noteKeyId"], e["publicKey"], i["origin"], str(i["size"]), i["root"])
        else:
            e = case["expect"]
            ok = got["ok"] and (got["origin"], got["size"], got["root"], got["extensions"]) == (
                e["origin"],
                str(e["size"]),
                e["root"],
                e["extensions"],
            )
        if not ok:
            wrong.append((case["name"], got))
    assert wrong == []


# -- log.json: the whole log, verified in the browser ------------------------------------------


def _log_record() -> tuple[dict[str, Any], dict[str, Any]]:
    case = _cases("log")[0]
    expect = case["expect"]
    entries = [
        {**e, "inclusionProof": x["inclusionProof"]}
        for e, x in zip(case["input"]["entries"], expect["entries"], strict=True)
    ]
    record = {
        "entries": entries,
        "checkpointNote": expect["checkpoint"],
        "logVkey": expect["vkey"],
        "genesisHash": expect["genesisHash"],
        "options": {"sparse": False},
    }
    return record, expect


def test_log_vector_verifies_whole(page: Any) -> None:
    record, expect = _log_record()
    got = page.evaluate("r => T.record(r)", record)
    assert got["ok"], got
    assert (got["size"], got["root"], got["genesisHash"], got["origin"]) == (
        expect["size"],
        expect["root"],
        expect["genesisHash"],
        "claimledger.example/log",
    )
    assert got["heads"] == expect["heads"]
    assert got["progress"] >= 2


def test_log_vector_without_vkey_takes_the_log_key_from_the_genesis(page: Any) -> None:
    record, expect = _log_record()
    got = page.evaluate("r => T.record(r)", {**record, "logVkey": None})
    assert got["ok"], got
    assert got["root"] == expect["root"]


def test_log_vector_every_flipped_byte_names_its_entry(page: Any) -> None:
    """A flipped byte anywhere in one entry's stored envelope fails at that entry.

    Every byte of every entry is covered in the Node run of the same engine during development;
    here 24 offsets per entry, spread over the whole envelope, keep the browser run short.
    """
    record, _ = _log_record()
    probes = []
    for n, e in enumerate(record["entries"]):
        length = len(e["envelope"].encode())
        probes += [(n, off) for off in sorted({length * k // 24 for k in range(24)} | {length - 1})]
    results = page.evaluate(
        "([r, ps]) => Promise.all(ps.map(([n, off]) => T.flipped(r, n, off)))", [record, probes]
    )
    wrong = [
        (n, off, got)
        for (n, off), got in zip(probes, results, strict=True)
        if got["ok"] or got["index"] != record["entries"][n]["index"]
    ]
    assert wrong == []


def test_log_vector_flipped_proof_byte_names_its_entry(page: Any) -> None:
    record, _ = _log_record()
    for n in (0, 6, 12):
        entries = [dict(e) for e in record["entries"]]
        proof = list(entries[n]["inclusionProof"])
        proof[-1] = ("1" if proof[-1][0] == "0" else "0") + proof[-1][1:]
        entries[n]["inclusionProof"] = proof
        got = page.evaluate("r => T.record(r)", {**record, "entries": entries})
        assert (got["ok"], got["kind"], got["index"]) == (False, "ProofError", n), got


def test_log_vector_earlier_checkpoint_and_consistency(page: Any) -> None:
    record, expect = _log_record()
    # The proofs are for size 13: with the size-7 checkpoint they are refused at the first entry.
    got = page.evaluate(
        "r => T.record(r)", {**record, "checkpointNote": expect["earlierCheckpoint"]}
    )
    assert (got["ok"], got["kind"], got["index"]) == (False, "ProofError", 0), got
    ok = page.evaluate(
        """async ([old, now, vkey, proof]) => {
            const v = await T.V.parseVkey(vkey);
            const a = await T.V.verifyCheckpoint(old, v), b = await T.V.verifyCheckpoint(now, v);
            await T.V.verifyConsistency(a.size, b.size, proof.map(T.V.fromHex), a.root, b.root);
            return [String(a.size), String(b.size)];
        }""",
        [
            expect["earlierCheckpoint"],
            expect["checkpoint"],
            expect["vkey"],
            expect["consistencyProof"],
        ],
    )
    assert ok == ["7", "13"]


def test_log_vector_state_roots_are_recomputed(page: Any) -> None:
    """A whole log: the browser replays the state commitment (SPEC §11.2) and refuses a served
    state root that is not its own, at that entry; with the served roots left out it still
    verifies, since the leaves are rebuilt with its own roots."""
    record, expect = _log_record()
    assert [e["stateRoot"] for e in record["entries"]] == [
        x["stateRoot"] for x in expect["entries"]
    ]
    for n in (0, 5, 12):
        entries = [dict(e) for e in record["entries"]]
        entries[n]["stateRoot"] = ("1" if entries[n]["stateRoot"][0] == "0" else "0") + entries[n][
            "stateRoot"
        ][1:]
        got = page.evaluate("r => T.record(r)", {**record, "entries": entries})
        assert (got["ok"], got["kind"], got["index"]) == (False, "VerificationError", n), got
        assert "state root" in got["what"]
    bare = [{k: v for k, v in e.items() if k != "stateRoot"} for e in record["entries"]]
    got = page.evaluate("r => T.record(r)", {**record, "entries": bare})
    assert got["ok"], got
    assert got["root"] == expect["root"]


# -- rules.json: each candidate decided after the whole log ------------------------------------


def _log_then_candidates(
    page: Any, name: str
) -> tuple[dict[str, Any], list[dict[str, Any]], Any, list[Any]]:
    """The vector file ``name``: its first case a whole log, the others candidates after it. The
    browser verifies the log (asserted) and each candidate appended alone; returns the cases, the
    log's result and the candidates' results."""
    log_case, *cases = _cases(name)
    entries = log_case["input"]["entries"]
    options = {"sparse": False, "unsafeSkipCheckpoint": True}
    records = [{"entries": entries, "options": options}]
    records += [{"entries": [*entries, c["input"]["entry"]], "options": options} for c in cases]
    whole, *results = page.evaluate("rs => Promise.all(rs.map(T.record))", records)
    assert whole["ok"], whole
    return log_case, cases, whole, results


def _wrong_decisions(cases: list[dict[str, Any]], results: list[Any]) -> list[Any]:
    """The candidate cases whose browser decision is not Python's: accepted, or refused with the
    same class at the same entry and field. Empty when all agree."""
    wrong = []
    for case, got in zip(cases, results, strict=True):
        if "error" in case:
            ok = (
                not got["ok"]
                and got["kind"] == case["error"]["class"]
                and got["index"] == case["input"]["entry"]["index"]
                and got["field"] == case["error"].get("field")
            )
        else:
            ok = got["ok"] is True
        if not ok:
            wrong.append((case["name"], case.get("error"), got))
    return wrong


def test_rules_vectors(page: Any) -> None:
    record, _ = _log_record()
    cases = _cases("rules")
    records = [
        {
            "entries": [*record["entries"], case["input"]["entry"]],
            "options": {"sparse": False, "unsafeSkipCheckpoint": True},
        }
        for case in cases
    ]
    results = page.evaluate("rs => Promise.all(rs.map(T.record))", records)
    wrong = _wrong_decisions(cases, results)
    assert wrong == []
    assert any(c.get("error", {}).get("class") == "SchemaError" for c in cases)


def test_engagement_vectors(page: Any) -> None:
    """The engagement log verifies in the browser, and each candidate after it gets the Python
    decision: accepted, or refused with the same class at the same field."""
    log_case, cases, whole, results = _log_then_candidates(page, "engagements")
    wrong = _wrong_decisions(cases, results)
    assert wrong == []
    assert any(c.get("error", {}).get("class") == "OutOfScopeError" for c in cases)
    # Findings and commitments (SPEC §8.2, derived): the browser reads the same findings, and
    # judges each commitment overdue or not at each time the vector names, as Python did.
    mine = [f for f in whole["findings"] if f["stream"] == "acme-social"]
    for want in log_case["expect"]["findings"]:
        at = parse_timestamp(want["at"])
        dues = [c["due"] for f in mine for c in f["commitments"]]
        overdue = iter(
            page.evaluate("([ds, at]) => ds.map((d) => T.V.commitmentOverdue(d, at))", [dues, at])
        )
        got = [
            {
                "verdict": f["verdict"],
                "recommendation": f["recommendation"],
                "status": "open" if f["closedBy"] is None else "closed",
                "commitments": [
                    {"due": c["due"], "overdue": next(overdue) and f["closedBy"] is None}
                    for c in f["commitments"]
                ],
            }
            for f in mine
        ]
        assert got == want["findings"], want["at"]


def test_party_vectors(page: Any) -> None:
    """Key compromise and retirement in the browser: the log verifies with the same compromised
    entries and retired parties as Python, and each candidate gets the Python decision."""
    log_case, cases, whole, results = _log_then_candidates(page, "parties")
    assert whole["compromised"] == log_case["expect"]["compromised"]
    assert whole["retired"] == log_case["expect"]["retired"]
    wrong = _wrong_decisions(cases, results)
    assert wrong == []


def _rotation_record(entries: list[dict[str, Any]], note: str) -> dict[str, Any]:
    """A whole-log record of ``entries`` with inclusion proofs in the tree of their number, and
    a checkpoint note (of that size) to verify it against."""
    from attest.dsse import Envelope
    from attest.entry import entry_hash, leaf_data
    from attest.merkle import MemoryTree, leaf_hash

    leaves = [
        leaf_hash(
            leaf_data(
                e["index"],
                e["stream"],
                e["position"],
                e["logTimeMs"],
                entry_hash(Envelope.parse_stored(e["envelope"].encode())),
                bytes.fromhex(e["stateRoot"]),
            )
        )
        for e in entries
    ]
    tree = MemoryTree(leaves)
    with_proofs = [
        {**e, "inclusionProof": [h.hex() for h in tree.inclusion_proof(n)]}
        for n, e in enumerate(entries)
    ]
    return {"entries": with_proofs, "checkpointNote": note, "options": {"sparse": False}}


def test_rotation_vectors(page: Any) -> None:
    """Log key rotation in the browser (SPEC §7.6): the log verifies with the key in force at each
    checkpoint's size and reads the same log keys as Python; a checkpoint by another of the log's
    keys is refused by name; each candidate gets the Python decision."""
    log_case, *cases = _cases("rotation")
    entries = log_case["input"]["entries"]
    expect = log_case["expect"]
    whole = page.evaluate("r => T.record(r)", _rotation_record(entries, expect["checkpoint"]))
    assert whole["ok"], whole
    assert (whole["size"], whole["root"]) == (expect["size"], expect["root"])
    assert whole["logKeys"] == expect["logKeys"]
    given = {**_rotation_record(entries, expect["checkpoint"]), "logVkey": expect["keyAt"]["18"]}
    assert page.evaluate("r => T.record(r)", given)["ok"]
    old = {**given, "logVkey": expect["keyAt"]["14"]}
    refused = page.evaluate("r => T.record(r)", old)
    assert (refused["ok"], refused["kind"]) == (False, "CheckpointError"), refused
    checked = 0
    wrong: list[tuple[Any, ...]] = []
    for case in cases:
        if "checkpoint" not in case["input"]:
            continue
        note = case["input"]["checkpoint"]
        size = int(note.split("\n")[1])
        got = page.evaluate("r => T.record(r)", _rotation_record(entries[:size], note))
        if "error" in case:
            ok = (
                not got["ok"]
                and got["kind"] == "CheckpointError"
                and "signed by log key" in got["what"]
            )
        else:
            ok = got["ok"] is True and (got["size"], got["root"]) == (
                case["expect"]["size"],
                case["expect"]["root"],
            )
        checked += 1
        if not ok:
            wrong.append((case["name"], got))
    assert (checked, wrong) == (8, [])
    options = {"sparse": False, "unsafeSkipCheckpoint": True}
    records = []
    candidates = [c for c in cases if "entry" in c["input"]]
    for c in candidates:
        prefix = entries[: c["input"].get("prefix", len(entries))]
        records.append({"entries": [*prefix, c["input"]["entry"]], "options": options})
    results = page.evaluate("rs => Promise.all(rs.map(T.record))", records)
    wrong = _wrong_decisions(candidates, results)
    assert (len(candidates), wrong) == (12, [])


def test_accreditation_vectors(page: Any) -> None:
    """The accreditation log verifies whole in the browser: the rules accept every entry (the
    verdict made in the gap between two periods too: how it reads is the views', SPEC §8.2), and
    the grants' disclosures pass the browser's schema."""
    (case,) = _cases("accreditations")
    options = {"sparse": False, "unsafeSkipCheckpoint": True}
    (whole,) = page.evaluate(
        "rs => Promise.all(rs.map(T.record))",
        [{"entries": case["input"]["entries"], "options": options}],
    )
    assert whole["ok"], whole
    expect = case["expect"]
    # The same reading as the views (SPEC §8.2, accreditation periods): the gap, and which
    # verdicts are not current.
    assert sorted(whole["notCurrent"]) == sorted(d for d, ok in expect["current"].items() if not ok)
    assert len(whole["notCurrent"]) == 1
    assert whole["accreditationGaps"] == {
        expect["verifier"]: [
            [parse_timestamp(g["from"]), parse_timestamp(g["to"])] for g in expect["gaps"]
        ]
    }
    # Both grants carry disclosures: a member the browser's schema refused would have stopped
    # the record at it.
    grants = [e for e in case["input"]["entries"] if '"accreditingBody"' in _payload(e)]
    assert len(grants) == 2


def _payload(entry: dict[str, Any]) -> str:
    import base64

    env = json.loads(entry["envelope"])
    return base64.b64decode(env["payload"]).decode()


def test_dataset_vectors(page: Any) -> None:
    """Reference datasets and dumps in the browser: the log verifies, and each candidate after it
    gets the Python decision (authority only, one dump per date, the schema's refusals)."""
    _, cases, _, results = _log_then_candidates(page, "datasets")
    wrong = _wrong_decisions(cases, results)
    assert wrong == []
    assert {c["error"]["class"] for c in cases if "error" in c} == {
        "NotAuthorisedError",
        "SchemaError",
    }


def test_dataset_reconciliations_whole_and_sparse(page: Any) -> None:
    """SPEC §8.4 replayed in the browser: every provider's comparison with the current table
    (the correction, not the typo) is the one datasets.json pins, from the whole log and from
    each provider's sparse company record (its stream and the registry entries about it, the
    authority and every signer on its stream), as tests/ledger/test_reconcile.py checks Python."""
    from attest.rules import LogState
    from attest.statemap import subject
    from tests.test_vectors import _entry

    log_case = _cases("datasets")[0]
    entries, expect = log_case["input"]["entries"], log_case["expect"]
    state = LogState()
    placed = []
    for raw in entries:
        p = state.open(_entry(raw))
        state.admit(p)
        placed.append(p.signed.statement)
    options = {"sparse": False, "unsafeSkipCheckpoint": True}
    records = [{"entries": entries, "options": options}]
    parties = sorted(expect["reconciliations"])
    for party in parties:
        involved = {party, state.authority} | {st.signer for st in placed if st.stream == party}
        mine = [
            raw
            for raw, st in zip(entries, placed, strict=True)
            if st.stream == party or subject(st) in involved
        ]
        assert len(mine) < len(entries)
        records.append(
            {"entries": mine, "stream": party, "options": {"unsafeSkipCheckpoint": True}}
        )
    whole, *sparse = page.evaluate("rs => Promise.all(rs.map(T.record))", records)
    assert whole["ok"], whole
    keep = ("status", "reason", "listedAs", "count", "reported")

    def read(result: dict[str, Any], party: str) -> list[dict[str, Any]]:
        assert {r["digest"] for r in result["reconciliations"]} == set(expect["datasets"])
        return [{k: r[k] for k in keep} for r in result["reconciliations"] if r["stream"] == party]

    # The whole log: one comparison per provider (every provider of the log is pinned).
    assert sorted({r["stream"] for r in whole["reconciliations"]}) == parties
    for party in parties:
        assert read(whole, party) == [expect["reconciliations"][party]], party
    # Each company record: only its own provider, with the same result.
    for party, got in zip(parties, sparse, strict=True):
        assert got["ok"], (party, got)
        assert {r["stream"] for r in got["reconciliations"]} == {party}
        assert read(got, party) == [expect["reconciliations"][party]], party
    # Every outcome of the rule is among the pinned ones, so each check of the rule ran.
    outcomes = {(w["status"], w["reason"]) for w in expect["reconciliations"].values()}
    assert {s for s, _ in outcomes} == {"consistent", "inconsistent", "not_comparable"}
    assert {r for _, r in outcomes} - {None} == {
        "no_row",
        "no_claim",
        "recipient",
        "period",
        "unit",
    }


def test_reported_values_equal_a_count_by_their_numeric_value(page: Any) -> None:
    """SPEC §8.4's equality (attest/reconcile.py's _equals): a decimal string equals the count
    when its numeric value does; the browser answers as Python does on each pair."""
    from attest.reconcile import _equals

    pairs: list[tuple[int | str, int]] = [
        (61034, 61034),
        (61034, 61035),
        ("61034", 61034),
        ("61034.0", 61034),
        ("61034.000", 61034),
        ("61034.5", 61034),
        ("061034", 61034),
        ("-0", 0),
        ("0.0", 0),
        ("-1", 1),
        ("9007199254740991", 2**53 - 1),
        ("9007199254740992", 2**53 - 1),
        ("9007199254740991.01", 2**53 - 1),
    ]
    got = page.evaluate("ps => ps.map(([v, c]) => T.V.reportedEquals(v, c))", pairs)
    assert got == [_equals(v, c) for v, c in pairs]
    assert any(got)
    assert not all(got)


# Vector files of other components, covered by their own tests (a file of the witness work may
# land next to these; tests/witness/ runs it). Any other file must be covered here.
COVERED_ELSEWHERE = {"cosignature"}


def test_vector_files_are_all_covered() -> None:
    covered = {"canonical", "checkpoint", "dsse", "entry", "keys", "log", "merkle", "rules"}
    covered |= {"statements", "statemap", "engagements", "parties", "rotation", "accreditations"}
    covered |= {"datasets"}
    present = {p.stem for p in Path(OWN_VECTORS).glob("*.json")}
    assert covered <= present
    assert present - covered <= COVERED_ELSEWHERE, present - covered
    assert {Path(f).stem for f in FILES} == covered  # every file the spec's generator writes


# -- statemap.json: the state commitment (SPEC §11) and v2 bundles (SPEC §10) ------------------


def _statemap(names: str | tuple[str, ...]) -> list[dict[str, Any]]:
    return [c for c in _cases("statemap") if c["name"].startswith(names)]


def test_statemap_keys_records_folds_and_roots(page: Any) -> None:
    cases = _statemap(("map key", "record bytes", "party fold", "map roots"))
    assert len(cases) == 6
    wrong = []
    for case, got in zip(cases, _run(page, "statemap", cases), strict=True):
        i, e = case["input"], case["expect"]
        if "count" in i:
            ok = got == {
                "ok": True,
                "value": e["value"],
                "back": [i["count"], i["lastIndex"], i["digest"]],
            }
        elif "pairs" in i:
            # The root depends on the set of pairs only: inserted backwards, the same root.
            ok = got == {"ok": True, **e, "reverseRoot": e["roots"][-1]}
        else:
            ok = got == {"ok": True, **e}
        if not ok:
            wrong.append((case["name"], got))
    assert wrong == []


def test_statemap_state_root_after_every_entry_of_the_log(page: Any) -> None:
    (case,) = _statemap("the state of the log")
    assert case["input"] == {"entries": "log.json"}
    log = _cases("log")[0]
    got = page.evaluate("es => T.stateRoots(es)", log["input"]["entries"])
    assert got["ok"], got
    assert got["roots"] == case["expect"]["stateRoots"]
    assert got["roots"] == [x["stateRoot"] for x in log["expect"]["entries"]]
    assert got["roots"][-1] == case["expect"]["root"]


def test_statemap_proofs_of_the_log_state(page: Any) -> None:
    """Each record proof of the final state verifies to its value, or to absent."""
    (case,) = _statemap("the state of the log")
    records = case["expect"]["records"]
    proofs = [
        {"input": {"root": case["expect"]["root"], "key": r["key"], "proof": r["proof"]}}
        for r in records
    ]
    got = _run(page, "statemap", proofs)
    assert [g.get("value", g) for g in got] == [r["value"] for r in records]
    assert any(r["value"] is None and r["proof"]["leaf"] is not None for r in records)
    keys = page.evaluate(
        "rs => Promise.all(rs.map(async r => T.V.hex(await T.V.mapKey(r.kind === 'stream' ? "
        "T.V.KEY_STREAM : T.V.KEY_PARTY, r.id))))",
        records,
    )
    assert keys == [r["key"] for r in records]


def test_statemap_refused_map_proofs(page: Any) -> None:
    cases = _statemap("map proof:")
    assert len(cases) == 5
    got = _run(page, "statemap", cases)
    wrong = [(c["name"], g) for c, g in zip(cases, got, strict=True) if not _error_matches(c, g)]
    assert wrong == []


def test_statemap_bundle_is_accepted(page: Any) -> None:
    (case,) = [c for c in _cases("statemap") if c["name"] == "bundle"]
    got = page.evaluate("t => T.bundle(t)", case["input"]["bundle"])
    assert got["ok"], got
    e = case["expect"]
    assert (got["size"], got["indexes"], got["streamLength"]) == (
        e["size"],
        e["indexes"],
        e["streamLength"],
    )
    assert got["complete"] is True
    assert got["kinds"] == dict(Counter(e["companyKinds"]))


def test_statemap_refused_bundles(page: Any) -> None:
    cases = _statemap("bundle: ")
    assert len(cases) == 4
    results = [page.evaluate("t => T.bundle(t)", c["input"]["bundle"]) for c in cases]
    wrong = []
    for case, got in zip(cases, results, strict=True):
        ok = _error_matches(case, got)
        if ok and "field" in case["error"]:
            ok = got["field"] == case["error"]["field"]
        if not ok:
            wrong.append((case["name"], case["error"], got))
    assert wrong == []
