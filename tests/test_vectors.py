"""The spec vectors in tests/vectors/: up to date byte for byte, and right by the library.

(a) The generator (``scripts/gen_vectors.py``) is run in memory and must reproduce every committed
file exactly, so any change to a signed or hashed byte fails here until the vectors are
regenerated on purpose (``python -m scripts.gen_vectors``). (b) Every case is checked against the
library independently of the generator's own checks, so the committed expectations are known to
be right. (c) The log of log.json is replayed with the streaming verifier and its checkpoint
verified.
"""

from __future__ import annotations

import base64
import hashlib
import json
from functools import cache
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

import attest
from attest import canonical
from attest.bundle import verify_bundle
from attest.checkpoint import NoteSigner, NoteVerifier, sign_checkpoint, verify_checkpoint
from attest.dsse import Envelope, pae, sign_envelope
from attest.entry import LogEntry, entry_hash, genesis_prev, leaf_data
from attest.errors import SchemaError
from attest.merkle import (
    MemoryTree,
    leaf_hash,
    verify_consistency,
    verify_inclusion,
)
from attest.reconcile import current_datasets, reconcile
from attest.rules import LogState, Placed, open_envelope, replay
from attest.statemap import (
    FOLD_START,
    MapLeaf,
    MapProof,
    Record,
    StateMap,
    fold,
    map_key,
    verify_map_proof,
)
from attest.statements import (
    Claim,
    ReferencePublish,
    format_timestamp,
    parse_statement,
    parse_timestamp,
)
from attest.verify import LogVerifier, log_note_verifier
from keys import KeysError, PrivateKey, PublicKey, key_id, verify_strict
from scripts import gen_vectors
from tests.conftest import OWN_VECTORS

Json = dict[str, Any]


@cache
def _built() -> dict[str, bytes]:
    return gen_vectors.build()


def _cases(name: str) -> list[Json]:
    doc = json.loads((OWN_VECTORS / name).read_bytes())
    cases: list[Json] = doc["cases"]
    return cases


def _raises(case: Json, exc: BaseException) -> None:
    """The exception matches the case's expected class (and field, when the case names one)."""
    error = case["error"]
    assert type(exc).__name__ == error["class"], (case["name"], repr(exc))
    if "field" in error:
        assert isinstance(exc, attest.VerificationError)
        assert exc.field == error["field"], case["name"]


def _refused(case: Json, call: Any, *args: Any) -> None:
    with pytest.raises((attest.AttestError, KeysError)) as info:
        call(*args)
    _raises(case, info.value)


def _entry(raw: Json) -> LogEntry:
    root = raw.get("stateRoot")
    return LogEntry(
        raw["index"],
        raw["stream"],
        raw["position"],
        raw["logTimeMs"],
        raw["envelope"].encode("utf-8"),
        None if root is None else bytes.fromhex(root),
    )


# -- (a) byte for byte ---------------------------------------------------------------------------


def test_the_set_of_vector_files() -> None:
    on_disk = sorted(p.name for p in OWN_VECTORS.glob("*.json"))
    assert on_disk == sorted(gen_vectors.FILES)
    assert sorted(_built()) == on_disk


@pytest.mark.parametrize("name", gen_vectors.FILES)
def test_vectors_are_regenerated_byte_for_byte(name: str) -> None:
    committed = (OWN_VECTORS / name).read_bytes()
    assert _built()[name] == committed, (
        f"tests/vectors/{name} is out of date: a signed or hashed byte changed. If that is "
        "intended, run `python -m scripts.gen_vectors` and review the diff."
    )


def test_generation_is_deterministic() -> None:
    assert gen_vectors.build() == _built()


@pytest.mark.parametrize("name", gen_vectors.FILES)
def test_file_shape(name: str) -> None:
    data = (OWN_VECTORS / name).read_bytes()
    assert data.endswith(b"}\n")
    assert data.isascii()
    doc = json.loads(data)
    assert set(doc) == {"description", "spec", "cases"}
    assert doc["spec"].startswith("docs/SPEC.md §")
    assert json.dumps(doc, indent=2, sort_keys=True).encode() + b"\n" == data
    names = [c["name"] for c in doc["cases"]]
    assert len(names) == len(set(names)) > 0
    for case in doc["cases"]:
        assert set(case) in ({"name", "input", "expect"}, {"name", "input", "error"}), case
        if "error" in case:
            assert {"class", "reason"} <= set(case["error"])


# -- (b) every case, by the library --------------------------------------------------------------


def test_canonical() -> None:
    for case in _cases("canonical.json"):
        if "error" in case:
            _refused(case, canonical.decode, bytes.fromhex(case["input"]["hex"]))
            continue
        value = case["input"]["value"]
        data = bytes.fromhex(case["expect"]["hex"])
        assert canonical.encode(value) == data, case["name"]
        assert case["expect"]["text"].encode("utf-8") == data
        assert canonical.decode(data) == value


def test_keys() -> None:
    for case in _cases("keys.json"):
        inp = case["input"]
        if "seed" in inp:
            pub = PrivateKey.from_seed(bytes.fromhex(inp["seed"])).public_key
            assert pub.raw.hex() == case["expect"]["publicKey"]
            assert pub.b64() == case["expect"]["publicKeyB64"]
            assert key_id(pub.raw) == case["expect"]["keyId"] == pub.key_id
            assert PublicKey.from_b64(case["expect"]["publicKeyB64"]) == pub
        elif "signature" in inp:
            args = (bytes.fromhex(inp[k]) for k in ("publicKey", "signature", "message"))
            if "error" in case:
                _refused(case, verify_strict, *args)
            else:
                verify_strict(*args)
        elif "publicKeyB64" in inp:
            _refused(case, PublicKey.from_b64, inp["publicKeyB64"])
        else:
            _refused(case, PublicKey.from_raw, bytes.fromhex(inp["publicKey"]))


def test_keys_rule_2_is_load_bearing() -> None:
    """The R = identity case passes the cofactorless equation: only rule 2 refuses it."""
    (case,) = [c for c in _cases("keys.json") if c["name"].startswith("signature: R = identity")]
    inp = case["input"]
    key = Ed25519PublicKey.from_public_bytes(bytes.fromhex(inp["publicKey"]))
    key.verify(bytes.fromhex(inp["signature"]), bytes.fromhex(inp["message"]))  # OpenSSL accepts
    assert case["error"]["class"] == "InvalidSignatureError"


def test_dsse() -> None:
    for case in _cases("dsse.json"):
        inp, name = case["input"], case["name"]
        if name.startswith("PAE"):
            out = pae(inp["payloadType"], bytes.fromhex(inp["payloadHex"]))
            assert out.hex() == case["expect"]["hex"]
        elif name.startswith("sign"):
            key = PrivateKey.from_seed(bytes.fromhex(inp["seed"]))
            env = sign_envelope(inp["payloadText"].encode("utf-8"), key)
            assert env.to_bytes().decode() == case["expect"]["stored"]
            assert env.signature.keyid == case["expect"]["keyid"]
            assert env.signature.sig.hex() == case["expect"]["signature"]
            assert env.pae().hex() == case["expect"]["paeHex"]
            key.public_key.verify(env.signature.sig, env.pae())
        elif inp["mode"] == "parse":
            data = inp["envelope"].encode()
            if "error" in case:
                _refused(case, Envelope.parse, data)
            else:
                assert Envelope.parse(data).to_bytes().decode() == case["expect"]["stored"]
        elif inp["mode"] == "stored":
            _refused(case, Envelope.parse_stored, inp["envelope"].encode())
        else:
            assert inp["mode"] == "open"
            pub = PublicKey.from_b64(inp["publicKey"])

            def open_(text: str, key: PublicKey = pub) -> bytes:
                return open_envelope(Envelope.parse_stored(text.encode()), key).digest

            if "error" in case:
                _refused(case, open_, inp["envelope"])
            else:
                assert open_(inp["envelope"]).hex() == case["expect"]["digest"]


def test_entry() -> None:
    for case in _cases("entry.json"):
        inp, expect = case["input"], case.get("expect", {})
        if "envelope" in inp:
            env = Envelope.parse(inp["envelope"].encode())
            assert entry_hash(env).hex() == expect["entryHash"]
            if "preimageHex" in expect:
                preimage = bytes.fromhex(expect["preimageHex"])
                assert hashlib.sha256(preimage).hexdigest() == expect["entryHash"]
                assert gen_vectors.entry_preimage(env) == preimage
        elif "entryHash" not in inp:
            assert genesis_prev(inp["stream"]) == expect["prev"]
            preimage = bytes.fromhex(expect["preimageHex"])
            assert hashlib.sha256(preimage).hexdigest() == expect["prev"]
        else:
            args = (
                inp["index"],
                inp["stream"],
                inp["position"],
                inp["logTimeMs"],
                bytes.fromhex(inp["entryHash"]),
                bytes.fromhex(inp["stateRoot"]),
            )
            if "error" in case:
                _refused(case, leaf_data, *args)
                continue
            data = leaf_data(*args)
            assert data.hex() == expect["leafData"]
            assert leaf_hash(data).hex() == expect["leafHash"]


def _hashes(items: list[str]) -> list[bytes]:
    return [bytes.fromhex(h) for h in items]


def test_merkle() -> None:
    cases = _cases("merkle.json")
    (full,) = [c for c in cases if c["name"] == "root: size 13"]
    tree = MemoryTree(leaf_hash(d) for d in _hashes(full["input"]["leaves"]))
    for case in cases:
        inp, expect = case["input"], case.get("expect", {})
        if "leaves" in inp:
            leaves = _hashes(inp["leaves"])
            assert [leaf_hash(d).hex() for d in leaves] == expect["leafHashes"]
            assert MemoryTree(leaf_hash(d) for d in leaves).root().hex() == expect["root"]
        elif "index" in inp:
            args = (bytes.fromhex(inp["leafHash"]), inp["index"], inp["size"])
            if "error" in case:
                bad, root = _hashes(inp["proof"]), bytes.fromhex(inp["root"])
                _refused(case, verify_inclusion, *args, bad, root)
            elif "proof" in inp:  # the size is not bound by the root (SPEC §6)
                verify_inclusion(*args, _hashes(inp["proof"]), bytes.fromhex(inp["root"]))
            else:
                path = tree.inclusion_proof(inp["index"], inp["size"])
                assert [h.hex() for h in path] == expect["proof"]
                assert tree.root(inp["size"]).hex() == expect["root"]
                verify_inclusion(*args, _hashes(expect["proof"]), bytes.fromhex(expect["root"]))
        else:
            m, n = inp["size1"], inp["size2"]
            roots = bytes.fromhex(inp["root1"]), bytes.fromhex(inp["root2"])
            if "error" in case:
                _refused(case, verify_consistency, m, n, _hashes(inp["proof"]), *roots)
                continue
            assert (tree.root(m), tree.root(n)) == roots
            made = tree.consistency_proof(m, n) if m else []
            assert [h.hex() for h in made] == expect["proof"]
            verify_consistency(m, n, _hashes(expect["proof"]), *roots)


def test_checkpoint() -> None:
    for case in _cases("checkpoint.json"):
        inp, expect = case["input"], case.get("expect", {})
        if "seed" in inp:
            signer = NoteSigner(inp["origin"], PrivateKey.from_seed(bytes.fromhex(inp["seed"])))
            cp = attest.Checkpoint(inp["origin"], inp["size"], bytes.fromhex(inp["root"]))
            note = sign_checkpoint(cp, signer)
            assert cp.body().decode() == expect["body"]
            assert note.decode() == expect["note"]
            assert signer.verifier.vkey() == expect["vkey"]
            assert signer.verifier.key_id.hex() == expect["noteKeyId"]
            assert signer.key.public_key.raw.hex() == expect["publicKey"]
            blob = base64.b64decode(note.rsplit(b" ", 1)[1])
            assert blob == bytes.fromhex(expect["noteKeyId"] + expect["signature"])
            assert verify_checkpoint(note, NoteVerifier.from_vkey(expect["vkey"])) == cp
        elif "note" in inp:
            verifier = NoteVerifier.from_vkey(inp["vkey"])
            if "error" in case:
                _refused(case, verify_checkpoint, inp["note"].encode(), verifier)
                continue
            cp = verify_checkpoint(inp["note"].encode(), verifier)
            assert (cp.origin, cp.size, cp.root.hex(), list(cp.extensions)) == (
                expect["origin"],
                expect["size"],
                expect["root"],
                expect["extensions"],
            )
        else:
            _refused(case, NoteVerifier.from_vkey, inp["vkey"])


def test_statements() -> None:
    kinds = set()
    for case in _cases("statements.json"):
        st = case["input"]["statement"]
        if "error" in case:
            with pytest.raises(SchemaError) as info:
                parse_statement(st)
            _raises(case, info.value)
            assert [p.pointer for p in info.value.problems] == case["error"]["pointers"]
            continue
        kinds.add(st["kind"])
        payload = canonical.encode(st)
        assert payload.decode() == case["expect"]["payloadText"]
        assert hashlib.sha256(payload).hexdigest() == case["expect"]["digest"]
        assert parse_statement(st).to_dict() == st
    assert kinds == {k.value for k in attest.Kind}


# -- (c) the log, and the rule decisions after it ------------------------------------------------


def _log() -> tuple[list[LogEntry], Json]:
    (case,) = _cases("log.json")
    return [_entry(e) for e in case["input"]["entries"]], case["expect"]


def test_log_replays_and_its_checkpoint_verifies() -> None:
    entries, expect = _log()
    verifier = LogVerifier(genesis_hash=bytes.fromhex(expect["genesisHash"]))
    for raw, want in zip(entries, expect["entries"], strict=True):
        placed = verifier.feed(raw)
        assert placed.signed.statement.kind == want["kind"]
        assert placed.signed.digest.hex() == want["digest"]
        assert placed.signed.entry_hash.hex() == want["entryHash"]
    verified = verifier.finish(expect["checkpoint"].encode())
    assert verified.genesis_hash.hex() == expect["genesisHash"]
    assert verified.checkpoint.size == expect["size"] == len(entries)
    assert verified.checkpoint.root.hex() == expect["root"]
    assert log_note_verifier(verified.state).vkey() == expect["vkey"]
    heads = {s: {"head": h, "length": n} for s, (h, n) in verified.state.heads.items()}
    assert heads == expect["heads"]

    root = bytes.fromhex(expect["root"])
    for raw, want in zip(entries, expect["entries"], strict=True):
        ehash = bytes.fromhex(want["entryHash"])
        sroot = bytes.fromhex(want["stateRoot"])
        assert raw.state_root == sroot
        lh = leaf_hash(
            leaf_data(raw.index, raw.stream, raw.position, raw.log_time_ms, ehash, sroot)
        )
        assert lh.hex() == want["leafHash"]
        verify_inclusion(lh, raw.index, len(entries), _hashes(want["inclusionProof"]), root)

    log_key = NoteVerifier.from_vkey(expect["vkey"])
    early = verify_checkpoint(expect["earlierCheckpoint"].encode(), log_key)
    proof = _hashes(expect["consistencyProof"])
    verify_consistency(early.size, len(entries), proof, early.root, root)
    trusting = LogVerifier(trusted=early)
    for raw in entries:
        trusting.feed(raw)
    trusting.finish(expect["checkpoint"].encode())


def test_log_key_is_the_one_the_genesis_names() -> None:
    entries, expect = _log()
    genesis = json.loads(Envelope.parse_stored(entries[0].envelope).payload)["body"]
    signer = gen_vectors.log_signer()
    assert signer.name == genesis["origin"]
    assert signer.key.public_key.b64() == genesis["logKey"]
    assert signer.verifier.vkey() == expect["vkey"]


def _decide_candidates(state: LogState, cases: list[Json], size: int) -> None:
    """Decide each candidate entry alone after the log of ``state`` (of ``size`` entries): the
    recorded error, located at the entry, or acceptance; candidates are never applied."""
    for case in cases:
        raw = _entry(case["input"]["entry"])
        if "error" in case:
            with pytest.raises(attest.VerificationError) as info:
                state.check(state.open(raw))
            _raises(case, info.value)
            err = info.value
            assert (err.stream, err.position, err.index) == (raw.stream, raw.position, raw.index)
        else:
            assert case["expect"] == {"accept": True}
            state.check(state.open(raw))
        assert state.size == size


def test_rules() -> None:
    entries, _ = _log()
    state: LogState = replay(entries)
    _decide_candidates(state, _cases("rules.json"), state.size)


def test_engagements() -> None:
    """The engagement log replays (dense and as the provider's sparse company record) to the
    expected engagement states, and every candidate after it is decided as recorded."""
    log_case, *cases = _cases("engagements.json")
    entries = [_entry(e) for e in log_case["input"]["entries"]]
    state: LogState = replay(entries)
    expect = log_case["expect"]
    assert state.size == expect["size"]
    got = {
        d.hex(): {
            "status": e.status,
            "verifier": e.verifier,
            "verdicts": [v.hex() for v in e.verdicts],
        }
        for d, e in state.engagements.items()
    }
    assert got == expect["engagements"]
    assert {e["status"] for e in got.values()} == {"open", "closed", "withdrawn"}
    # Findings and commitments (derived, SPEC §8.2): the ledger's views over the same entries,
    # judged at each time the vector names, overdue or not as it says.
    from ledger import Views

    views, dense = Views(), LogState()
    for e in entries:
        placed = dense.open(e)
        dense.admit(placed)
        views.apply(placed)
    for want in expect["findings"]:
        r = views.replay("acme-social", at_ms=parse_timestamp(want["at"]))
        findings = [
            {
                "verdict": f.verdict.digest.hex(),
                "recommendation": f.recommendation_index,
                "status": "open" if f.open else "closed",
                "commitments": [{"due": c.due, "overdue": c.overdue} for c in f.commitments],
            }
            for f in r.findings
        ]
        assert (findings, r.finding_counts) == (want["findings"], want["counts"]), want["at"]
    overdue = [w["counts"]["commitmentsOverdue"] for w in expect["findings"]]
    assert overdue == [0, 1, 2]  # the due day counts whole: overdue from the next midnight UTC
    assert {c["error"]["class"] for c in cases if "error" in c} >= {
        "EngagementError",
        "OutOfScopeError",
    }
    _decide_candidates(state, cases, expect["size"])


def test_accreditations() -> None:
    """Accreditation periods (SPEC §8.2): the log replays with every entry accepted (the verdict
    made in the gap too), and the ledger's views read the periods, the gap, which verdicts count
    as current and the claim's status at each size as the vector says."""
    from ledger import Views

    (case,) = _cases("accreditations.json")
    entries = [_entry(e) for e in case["input"]["entries"]]
    expect = case["expect"]
    state, views = LogState(), Views()
    for e in entries:
        placed = state.open(e)
        state.admit(placed)
        views.apply(placed)
    assert state.size == expect["size"]
    at = entries[-1].log_time_ms
    record = views.verifier(expect["verifier"], at_ms=at)
    assert record is not None
    periods = [
        {
            "start": format_timestamp(a.start_ms),
            "end": None if a.end_ms is None else format_timestamp(a.end_ms),
        }
        for a in record.accreditations
    ]
    assert periods == expect["periods"]
    gaps = [{"from": format_timestamp(a), "to": format_timestamp(b)} for a, b in record.gaps]
    assert gaps == expect["gaps"]
    current = {
        v.digest.hex(): why is None for v, why in zip(record.verdicts, record.outside, strict=True)
    }
    assert current == expect["current"]
    assert sorted(current.values()) == [False, True, True]
    claim = bytes.fromhex(expect["claim"])
    for size, status in expect["claimStatusAtSize"].items():
        assert views.replay("acme-social", size=int(size), at_ms=at).claim(claim).public_status == (
            status
        )
    assert record.to_dict()["periodsContiguous"] is False


def test_parties() -> None:
    """Key compromise and retirement: the log replays (dense, and as each provider's sparse
    company record) to the expected compromised entries and retired parties, and every candidate
    after it is decided as recorded."""
    log_case, *cases = _cases("parties.json")
    entries = [_entry(e) for e in log_case["input"]["entries"]]
    state: LogState = replay(entries)
    expect = log_case["expect"]
    opened = [state.open(e) for e in entries[1:]]  # every key is known after the whole log

    def compromised(s: LogState, placed: list[Placed]) -> dict[str, int]:
        out = {}
        for p in placed:
            r = s.compromised(p.index, p.log_time_ms, p.signed.keyid)
            if r is not None:
                out[str(p.index)] = r
        return out

    assert compromised(state, opened) == expect["compromised"]
    assert {p: x.retired_at for p, x in state.parties.items() if x.retired_at is not None} == (
        expect["retired"]
    )
    # Sparse: acme's company record (its stream, the registry) reads its entries the same way.
    sparse = LogState(sparse=True)
    kept = [e for e in entries if e.stream in ("registry", "acme-social")]
    for e in kept:
        sparse.admit(sparse.open(e))
    mine = [sparse.open(e) for e in kept[1:]]
    want = {
        i: r for i, r in expect["compromised"].items() if entries[int(i)].stream == "acme-social"
    }
    assert want
    assert compromised(sparse, mine) == want
    _decide_candidates(state, cases, expect["size"])


def test_rotation() -> None:
    """Log key rotation (SPEC §7.6): the log replays (dense, streaming, and as acme's sparse
    company record) to the recorded log keys; every checkpoint note is verified with the key in
    force at its size or refused; the hand-over checkpoint under the old key is consistent with
    the whole log under the new one; every candidate is decided as recorded."""
    log_case, *cases = _cases("rotation.json")
    entries = [_entry(e) for e in log_case["input"]["entries"]]
    expect = log_case["expect"]
    state: LogState = replay(entries)

    def periods(s: LogState) -> list[Json]:
        return [
            {
                "fromSize": p.from_size,
                "index": p.index,
                "vkey": log_note_verifier(s, p.from_size).vkey(),
            }
            for p in s.log_keys
        ]

    assert periods(state) == expect["logKeys"]
    assert {n: log_note_verifier(state, int(n)).vkey() for n in expect["keyAt"]} == expect["keyAt"]
    verifier = LogVerifier()
    for e in entries:
        verifier.feed(e)
    whole = verifier.finish(expect["checkpoint"].encode()).checkpoint
    assert (whole.size, whole.root.hex()) == (expect["size"], expect["root"])
    # A client pinned to the old key: the hand-over checkpoint (old key) covers the rotation, and
    # the consistency proof carries it to the whole log (new key).
    prefix = LogState()
    handover = verify_checkpoint(
        expect["handoverCheckpoint"].encode(), NoteVerifier.from_vkey(expect["logKeys"][0]["vkey"])
    )
    for e in entries[: handover.size]:
        prefix.admit(prefix.open(e))
    assert prefix.log_key_at(expect["size"]) == state.log_key_at(expect["size"])
    proof = [bytes.fromhex(x) for x in expect["consistencyProof"]]
    verify_consistency(handover.size, whole.size, proof, handover.root, whole.root)
    # Sparse: acme's company record holds the authority's record, so the same rotations.
    sparse = LogState(sparse=True)
    for e in entries:
        if e.stream in ("registry", "acme-social"):
            sparse.admit(sparse.open(e))
    assert periods(sparse) == expect["logKeys"]
    checked = {"checkpoint": 0, "entry": 0}
    for case in cases:
        if "checkpoint" in case["input"]:
            checked["checkpoint"] += 1
            note = case["input"]["checkpoint"].encode()
            if "error" in case:
                with pytest.raises(attest.CheckpointError) as cp_info:
                    attest.verify_log_checkpoint(note, state)
                _raises(case, cp_info.value)
                assert "signed by log key" in str(cp_info.value)
            else:
                cp = attest.verify_log_checkpoint(note, state)
                assert {"size": cp.size, "root": cp.root.hex()} == case["expect"]
            continue
        checked["entry"] += 1
        decider = state
        if "prefix" in case["input"]:
            decider = replay(entries[: case["input"]["prefix"]])
        raw = _entry(case["input"]["entry"])
        if "error" in case:
            with pytest.raises(attest.VerificationError) as info:
                decider.check(decider.open(raw))
            _raises(case, info.value)
        else:
            assert case["expect"] == {"accept": True}
            decider.check(decider.open(raw))
    assert checked == {"checkpoint": 8, "entry": 12}


def test_datasets() -> None:
    """Reference datasets and dumps: the log replays to the expected dumps, the current table is
    the correction, each provider's comparison is as recorded (SPEC §8.4, by attest.reconcile on
    the claims of the log), and every candidate after it is decided as recorded."""
    log_case, *cases = _cases("datasets.json")
    entries = [_entry(e) for e in log_case["input"]["entries"]]
    state: LogState = replay(entries)
    expect = log_case["expect"]
    assert state.size == expect["size"]
    assert state.dumps == expect["dumps"]
    tables: list[tuple[str, ReferencePublish]] = []
    claims: dict[str, list[tuple[str, Claim]]] = {}
    for e in entries:
        payload = Envelope.parse_stored(e.envelope).payload
        st = parse_statement(json.loads(payload))
        d = hashlib.sha256(payload).hexdigest()
        if isinstance(st.body, ReferencePublish):
            tables.append((d, st.body))
        elif isinstance(st.body, Claim) and state.claims[bytes.fromhex(d)].status == "active":
            claims.setdefault(st.stream, []).append((d, st.body))
    current = current_datasets(tables)
    assert [d for d, _ in current] == expect["datasets"]
    assert len(tables) == 2  # the typo, replaced
    table = current[0][1]
    got = {p: reconcile(table, p, claims.get(p, [])).to_dict() for p in expect["reconciliations"]}
    assert got == expect["reconciliations"]
    _decide_candidates(state, cases, expect["size"])


# -- the state commitment (SPEC §11) ---------------------------------------------------------------


def _map_proof(obj: Json) -> MapProof:
    leaf = obj["leaf"]
    return MapProof(
        tuple(base64.b64decode(x) for x in obj["siblings"]),
        None if leaf is None else MapLeaf(bytes.fromhex(leaf["key"]), bytes.fromhex(leaf["value"])),
    )


def test_statemap() -> None:
    entries, _ = _log()
    for case in _cases("statemap.json"):
        inp, expect, name = case["input"], case.get("expect", {}), case["name"]
        if name.startswith("map key"):
            pre = bytes.fromhex(expect["preimageHex"])
            assert hashlib.sha256(pre).hexdigest() == expect["key"]
            assert map_key(inp["type"], inp["id"]).hex() == expect["key"]
        elif name == "record bytes":
            rec = Record(inp["count"], inp["lastIndex"], bytes.fromhex(inp["digest"]))
            assert rec.to_bytes().hex() == expect["value"]
            assert Record.from_bytes(rec.to_bytes()) == rec
        elif name.startswith("party fold"):
            acc = FOLD_START
            got = []
            for h in inp["entryHashes"]:
                acc = fold(acc, bytes.fromhex(h))
                got.append(acc.hex())
            assert got == expect["folds"]
        elif name == "map roots of growing sets":
            pairs = [(bytes.fromhex(p["key"]), bytes.fromhex(p["value"])) for p in inp["pairs"]]
            roots = [StateMap.build(pairs[:n]).root().hex() for n in range(len(pairs) + 1)]
            assert roots == expect["roots"]
            assert expect["emptyRoot"] == "00" * 32
        elif name == "the state of the log of log.json":
            state = LogState()
            roots = []
            for raw in entries:
                state.admit(state.open(raw))
                roots.append(state.state_root.hex())
            assert roots == expect["stateRoots"]
            assert [(e.state_root or b"").hex() for e in entries] == roots
            root = bytes.fromhex(expect["root"])
            for rec in expect["records"]:
                key = bytes.fromhex(rec["key"])
                value = verify_map_proof(root, key, _map_proof(rec["proof"]))
                assert (None if value is None else value.hex()) == rec["value"]
        elif name.startswith("map proof"):
            with pytest.raises(attest.VerificationError) as info:
                verify_map_proof(
                    bytes.fromhex(inp["root"]), bytes.fromhex(inp["key"]), _map_proof(inp["proof"])
                )
            _raises(case, info.value)
        elif name == "bundle":
            record = verify_bundle(inp["bundle"].encode())
            assert record.checkpoint.size == expect["size"] == len(entries)
            assert record.stream_length == expect["streamLength"]
            assert [p.index for p in record.entries] == expect["indexes"]
        else:
            assert name.startswith("bundle: ")
            with pytest.raises(attest.VerificationError) as info:
                verify_bundle(inp["bundle"].encode())
            _raises(case, info.value)
