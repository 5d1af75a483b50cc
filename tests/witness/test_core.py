"""The witness's add-checkpoint rules and HTTP interface, in process (TestClient).

Every status code of C2SP tlog-witness is provoked here; tests/witness/test_server.py runs the
same protocol against a real server process.
"""

from __future__ import annotations

import base64
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from attest.checkpoint import Checkpoint, NoteSigner, sign_checkpoint
from attest.cosignature import (
    CosignatureError,
    CosignatureType,
    cosign,
    verify_cosignature,
    verify_subtree_cosignature,
)
from attest.loglist import parse_logs_v0
from attest.merkle import EMPTY_ROOT, MemoryTree
from attest.merkle import subtree_hash as mth
from attest.policy import parse_policy, verify_policy
from attest.subtree import subtree_consistency_proof
from attest.tlogwitness import parse_sign_subtree, sign_subtree_body
from tests.witness.helpers import ORIGIN, SimLog, body, logs_file, origin_hash
from witness import (
    STATE_FILE,
    RequestError,
    Witness,
    WitnessError,
    WitnessKeys,
    WitnessState,
    create_app,
    init_witness,
    load_witness,
)

NOW = 1_800_000_000


@pytest.fixture
def wdir(tmp_path: Path) -> Path:
    init_witness(tmp_path / "w", "witness.example/w1")
    return tmp_path / "w"


def _open(wdir: Path, *logs: SimLog) -> Witness:
    listed = parse_logs_v0(logs_file(*logs))
    return Witness(load_witness(wdir), listed, WitnessState(wdir / STATE_FILE))


@pytest.fixture
def log() -> SimLog:
    return SimLog().grow(3)


@pytest.fixture
def witness(wdir: Path, log: SimLog) -> Iterator[Witness]:
    w = _open(wdir, log)
    yield w
    w.state.close()


def _status(w: Witness, req: bytes) -> int:
    try:
        w.add_checkpoint(req, NOW)
    except RequestError as exc:
        return exc.status
    return 200


def _policy(keys: WitnessKeys, log: SimLog, quorum: str = "both") -> bytes:
    return (
        f"log {log.vkey()}\n"
        f"witness ml {keys.mldsa44.verifier.vkey()}\n"
        f"witness ed {keys.ed25519.verifier.vkey()}\n"
        f"group both all ml ed\n"
        f"quorum {quorum}\n"
    ).encode()


def test_cosigns_first_checkpoint_with_both_key_types(witness: Witness, log: SimLog) -> None:
    lines = witness.add_checkpoint(log.request(0), NOW)
    assert lines.count(b"\n") == 2
    assert all(
        line.startswith("\u2014 witness.example/w1 ".encode()) for line in lines.splitlines()
    )
    note = log.note() + lines
    for signer in witness.keys.signers:
        got = verify_cosignature(note, signer.verifier)
        assert got.checkpoint == log.checkpoint()
        assert got.cosignatures[0].timestamp == NOW
    kinds = [s.verifier.kind for s in witness.keys.signers]
    assert kinds == [CosignatureType.MLDSA44, CosignatureType.ED25519]
    policy = parse_policy(_policy(witness.keys, log))
    assert [n for n, _ in verify_policy(note, policy).cosigners] == ["ml", "ed"]


def test_consistent_sequence(witness: Witness, log: SimLog) -> None:
    sizes = [0]
    assert _status(witness, log.request(0)) == 200
    for grow in (1, 4, 0, 9, 1, 0):
        old = log.tree.size
        log.grow(grow)
        assert _status(witness, log.request(old)) == 200
        sizes.append(log.tree.size)
        stored = witness.state.latest(ORIGIN)
        assert stored is not None
        assert (stored.size, stored.root) == (log.tree.size, log.tree.root())


def test_size_zero(wdir: Path) -> None:
    empty = SimLog()
    w = _open(wdir, empty)
    assert _status(w, empty.request(0)) == 200
    bad = Checkpoint(ORIGIN, 0, b"\x01" * 32)
    assert _status(w, body(0, [], sign_checkpoint(bad, empty.signer))) == 422
    empty.grow(2)
    assert _status(w, empty.request(0)) == 200


def test_409_stale_old_size(witness: Witness, log: SimLog) -> None:
    client = TestClient(create_app(witness))
    r = client.post("/add-checkpoint", content=log.request(2))
    assert (r.status_code, r.content, r.headers["content-type"]) == (
        409,
        b"0\n",
        "text/x.tlog.size",
    )
    assert client.post("/add-checkpoint", content=log.request(0)).status_code == 200
    log.grow(5)
    r = client.post("/add-checkpoint", content=log.request(0))
    assert (r.status_code, r.content, r.headers["content-type"]) == (
        409,
        b"3\n",
        "text/x.tlog.size",
    )
    r = client.post("/add-checkpoint", content=log.request(1))
    assert (r.status_code, r.content) == (409, b"3\n")
    assert client.post("/add-checkpoint", content=log.request(3)).status_code == 200


def test_404_unknown_origin(witness: Witness) -> None:
    other = SimLog("other.example/log").grow(2)
    assert _status(witness, other.request(0)) == 404


def test_403_untrusted_or_bad_signature(witness: Witness, log: SimLog) -> None:
    impostor = NoteSigner(ORIGIN, SimLog(seed=b"\x09" * 32).signer.key)
    note = sign_checkpoint(log.checkpoint(), impostor)
    assert _status(witness, body(0, [], note)) == 403
    good = log.note()
    text, sig = good.rsplit(b" ", 1)
    blob = bytearray(base64.b64decode(sig))
    blob[-1] ^= 1
    bad = text + b" " + base64.b64encode(bytes(blob)) + b"\n"
    assert _status(witness, body(0, [], bad)) == 403
    # A bad line from the trusted key beside a good one is still refused (a malformed note).
    assert _status(witness, body(0, [], good + bad.rsplit(b"\n\n", 1)[1])) == 403
    assert witness.state.latest(ORIGIN) is None


def _sig(log: SimLog) -> bytes:
    return log.note().rsplit(b"\n\n", 1)[1]


@pytest.mark.parametrize(
    "make",
    [
        lambda log: log.request(0).replace(b"\n\n", b"\n", 1),
        lambda log: b"old 01\n\n" + log.note(),
        lambda log: b"old  0\n\n" + log.note(),
        lambda log: b"new 0\n\n" + log.note(),
        lambda log: b"old 18446744073709551616\n\n" + log.note(),
        lambda log: body(0, [b"\x00" * 32] * 64, log.note()),
        lambda log: b"old 1\nAAAA\n\n" + log.note(),
        lambda log: b"old 1\n" + base64.b64encode(b"\x00" * 32).rstrip(b"=") + b"\n\n" + log.note(),
        lambda log: b"old 1\n" + base64.b64encode(b"\x00" * 32)[:-2] + b"B=\n\n" + log.note(),
        lambda log: body(4, [], log.note()),
        lambda log: body(0, [], log.note().replace(b"\n\n", b"\n")),
        lambda log: body(0, [], b"claimledger.example/log\n3\nnot base64\n\n" + _sig(log)),
        lambda log: b"old 0\r\n\n" + log.note(),
    ],
    ids=[
        "no-empty-line",
        "leading-zero",
        "two-spaces",
        "not-old",
        "old-over-u64",
        "64-proof-lines",
        "short-proof-hash",
        "unpadded-proof",
        "non-canonical-proof-bits",
        "old-larger-than-size",
        "note-without-signatures",
        "bad-root",
        "crlf",
    ],
)
def test_400_malformed(witness: Witness, log: SimLog, make: object) -> None:
    assert callable(make)
    assert _status(witness, make(log)) == 400
    assert witness.state.latest(ORIGIN) is None


def test_422_proof_with_old_zero_and_bad_proofs(witness: Witness, log: SimLog) -> None:
    assert _status(witness, body(0, [b"\x00" * 32], log.note())) == 422
    assert _status(witness, log.request(0)) == 200
    log.grow(5)
    proof = log.tree.consistency_proof(3, 8)
    for i in range(len(proof)):
        bad: list[bytes] = list(proof)
        bad[i] = bytes([bad[i][0] ^ 1]) + bad[i][1:]
        assert _status(witness, body(3, bad, log.note())) == 422
    assert _status(witness, body(3, proof[:-1], log.note())) == 422
    assert _status(witness, body(3, [*proof, proof[0]], log.note())) == 422
    assert _status(witness, body(3, proof, log.note())) == 200


def test_never_cosigns_a_fork(witness: Witness, log: SimLog) -> None:
    log.grow(3)  # 6 leaves
    fork = log.fork(b"B")
    log.grow(4)
    fork.grow(4)
    assert _status(witness, log.request(0, 6)) == 200
    assert _status(witness, log.request(6)) == 200  # branch A at 10
    # Branch B at the same size: equal size, different root.
    assert _status(witness, fork.request(10, 10)) == 422
    # Branch B later, with its own (valid for B) proof from 10.
    fork.grow(3)
    assert _status(witness, fork.request(10)) == 422
    stored = witness.state.latest(ORIGIN)
    assert stored is not None
    assert stored.root == log.tree.root()
    reasons = [r for _, status, r in witness.state.refused() if status == 422]
    assert len(reasons) == 2
    assert "different roots" in reasons[0]


def test_equal_size_same_root_is_cosigned_again(witness: Witness, log: SimLog) -> None:
    assert _status(witness, log.request(0)) == 200
    lines = witness.add_checkpoint(log.request(3), NOW + 5)
    assert verify_cosignature(log.note() + lines, witness.keys.ed25519.verifier).cosignatures[
        0
    ].timestamp == (NOW + 5)


def test_monitoring_api(witness: Witness, log: SimLog) -> None:
    client = TestClient(create_app(witness))
    path = f"/{origin_hash(ORIGIN)}/checkpoint"
    assert client.get(path).status_code == 404
    assert client.post("/add-checkpoint", content=log.request(0)).status_code == 200
    log.grow(2)
    r = client.post("/add-checkpoint", content=log.request(3))
    assert r.status_code == 200
    got = client.get(path)
    assert got.status_code == 200
    verified = verify_policy(got.content, parse_policy(_policy(witness.keys, log)))
    assert verified.checkpoint == log.checkpoint()
    assert got.content == log.note() + r.content  # log signature, then the cosignatures
    assert client.get(f"/{origin_hash('other')}/checkpoint").status_code == 404
    assert client.get(f"/{origin_hash(ORIGIN).upper()}/checkpoint").status_code == 404
    assert client.get("/add-checkpoint").status_code == 405
    assert client.post("/sign-subtree", content=b"").status_code == 400


def test_unknown_signature_lines_are_dropped_from_the_stored_note(
    witness: Witness, log: SimLog
) -> None:
    stranger = NoteSigner("stranger.example", SimLog(seed=b"\x08" * 32).signer.key)
    note = log.note() + stranger.sign(log.checkpoint().body()).rsplit(b"\n\n", 1)[1]
    lines = witness.add_checkpoint(body(0, [], note), NOW)
    stored = witness.state.latest(ORIGIN)
    assert stored is not None
    assert stored.note == log.note() + lines


def test_request_too_large(witness: Witness) -> None:
    client = TestClient(create_app(witness))
    r = client.post("/add-checkpoint", content=b"old 0\n\n" + b"x" * (2 << 20))
    assert r.status_code == 413


def test_concurrent_requests_never_roll_back(wdir: Path, log: SimLog) -> None:
    """The race of the spec: N and N+K checked at once; the stored size never goes back."""
    w = _open(wdir, log)
    assert _status(w, log.request(0)) == 200
    log.grow(20)
    results: list[int] = []

    def submit(size: int) -> None:
        results.append(_status(w, log.request(3, size)))

    threads = [threading.Thread(target=submit, args=(s,)) for s in range(4, 24)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results.count(200) == 1
    assert results.count(409) == 19
    stored = w.state.latest(ORIGIN)
    assert stored is not None
    assert stored.size > 3


def test_state_survives_reopen(wdir: Path, log: SimLog) -> None:
    w = _open(wdir, log)
    w.add_checkpoint(log.request(0), NOW)
    w.state.close()
    again = _open(wdir, log)
    assert _status(again, log.request(0)) == 409
    stored = again.state.latest(ORIGIN)
    assert stored is not None
    assert stored.size == 3


def test_keys_and_directory(tmp_path: Path) -> None:
    made = init_witness(tmp_path / "d", "witness.example/w9")
    loaded = load_witness(tmp_path / "d")
    assert loaded.ed25519.verifier == made.ed25519.verifier
    assert loaded.mldsa44.verifier == made.mldsa44.verifier
    assert (tmp_path / "d" / "ed25519.pem").stat().st_mode & 0o777 == 0o600
    assert (tmp_path / "d" / "mldsa44.pem").stat().st_mode & 0o777 == 0o600
    with pytest.raises(WitnessError, match="refusing to overwrite"):
        init_witness(tmp_path / "d", "witness.example/w9")
    with pytest.raises(WitnessError, match="refused"):
        init_witness(tmp_path / "e", "bad name")
    with pytest.raises(WitnessError, match="cannot read"):
        load_witness(tmp_path / "missing")


def test_a_log_listed_under_two_keys(wdir: Path) -> None:
    a = SimLog().grow(2)
    b = SimLog(seed=b"\x04" * 32).grow(2)
    w = _open(wdir, a, b)
    assert _status(w, b.request(0)) == 200
    assert _status(w, a.request(2)) == 200


def test_timestamp_zero_is_never_used(witness: Witness, log: SimLog) -> None:
    with pytest.raises(WitnessError):
        witness.add_checkpoint(log.request(0), 0)
    assert witness.state.latest(ORIGIN) is None


def test_empty_tree_root_rule_uses_the_empty_root() -> None:
    assert MemoryTree().root() == bytes.fromhex(
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    )


def test_every_flipped_request_byte_is_refused(witness: Witness, log: SimLog) -> None:
    assert _status(witness, log.request(0)) == 200
    log.grow(5)
    req = log.request(3)
    for i in range(len(req)):
        flipped = bytearray(req)
        flipped[i] ^= 0x01
        assert _status(witness, bytes(flipped)) in (400, 403, 404, 409, 422), i
    stored = witness.state.latest(ORIGIN)
    assert stored is not None
    assert stored.size == 3
    assert _status(witness, req) == 200


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    steps=st.lists(
        st.tuples(st.sampled_from(["grow", "honest", "fork", "stale"]), st.integers(0, 6)),
        min_size=1,
        max_size=12,
    )
)
def test_only_the_honest_branch_is_ever_cosigned(
    tmp_path: Path, steps: list[tuple[str, int]]
) -> None:
    """Random interleavings of honest submissions, forks and stale sizes: every cosigned
    checkpoint is on the honest branch, and the witness's size never goes back."""
    wdir = tmp_path / f"w{len(list(tmp_path.iterdir()))}"
    init_witness(wdir, "witness.example/w1")
    honest = SimLog().grow(1)
    w = _open(wdir, honest)
    try:
        cosigned = 0
        fork_no = 0
        for op, k in steps:
            if op == "grow":
                honest.grow(k)
            elif op == "honest":
                status = _status(w, honest.request(cosigned))
                assert status == 200
                cosigned = honest.tree.size
            elif op == "fork" and cosigned > 0:
                fork_no += 1
                fork = honest.fork(b"F%d" % fork_no)
                # The fork shares the first `cut` leaves with the honest log, then differs.
                cut = min(k, cosigned - 1)
                fork.tree = MemoryTree(honest.tree.get_node(0, i) for i in range(cut))
                fork.grow(cosigned - cut + k)
                status = _status(w, fork.request(cosigned))
                assert status == 422
            elif op == "stale":
                stale = (cosigned + k + 1) if k % 2 else max(0, cosigned - k - 1)
                if stale != cosigned and stale <= honest.tree.size:
                    assert _status(w, honest.request(stale)) == 409
            stored = w.state.latest(ORIGIN)
            if cosigned:
                assert stored is not None
                assert (stored.size, stored.root) == (cosigned, honest.tree.root(cosigned))
    finally:
        w.state.close()


def test_an_origin_too_long_for_subtree_v1_gets_ed25519_only(wdir: Path) -> None:
    long_log = SimLog("o" * 256).grow(2)
    w = _open(wdir, long_log)
    lines = w.add_checkpoint(long_log.request(0), NOW)
    assert lines.count(b"\n") == 1
    got = verify_cosignature(long_log.note() + lines, w.keys.ed25519.verifier)
    assert got.checkpoint.size == 2
    w.state.close()


def _subtree_request(log: SimLog, start: int, end: int, note: bytes, size: int) -> bytes:
    proof = subtree_consistency_proof(start, end, size, log.tree.get_node)
    node = mth(start, end, log.tree.get_node) if start < end else EMPTY_ROOT
    return sign_subtree_body(start, end, node, proof, note)


def test_sign_subtree(witness: Witness, log: SimLog) -> None:
    log.grow(11)  # 14 leaves
    lines = witness.add_checkpoint(log.request(0), NOW)
    cosigned = log.note() + lines
    client = TestClient(create_app(witness))
    ml = witness.keys.mldsa44.verifier
    for start, end in [(8, 13), (4, 8), (0, 14), (0, 5), (13, 14), (6, 6)]:
        r = client.post("/sign-subtree", content=_subtree_request(log, start, end, cosigned, 14))
        assert r.status_code == 200, r.text
        assert r.headers["content-type"].startswith("text/plain")
        node = mth(start, end, log.tree.get_node) if start < end else EMPTY_ROOT
        assert verify_subtree_cosignature(r.content, ml, ORIGIN, start, end, node) == 0
        with pytest.raises(CosignatureError):
            verify_subtree_cosignature(r.content, ml, ORIGIN, start, end + 1, node)


def test_sign_subtree_refusals(witness: Witness, log: SimLog) -> None:
    log.grow(11)
    lines = witness.add_checkpoint(log.request(0), NOW)
    cosigned = log.note() + lines
    good = _subtree_request(log, 8, 13, cosigned, 14)

    def status(req: bytes) -> int:
        try:
            witness.sign_subtree(req)
        except RequestError as exc:
            return exc.status
        return 200

    assert status(good) == 200
    # 400: not a subtree, beyond the checkpoint, malformed.
    assert status(good.replace(b"subtree 8 13", b"subtree 9 13", 1)) == 400
    assert status(good.replace(b"subtree 8 13", b"subtree 8 15", 1)) == 400
    assert status(good.replace(b"subtree 8 13", b"subtree 08 13", 1)) == 400
    assert status(b"subtree 0 1\n\n" + cosigned) == 400
    # 403: only the log's signature, or our cosignature tampered with.
    assert status(_subtree_request(log, 8, 13, log.note(), 14)) == 403
    ml_line, ed_line = lines.splitlines()
    prefix, b64 = ed_line.rsplit(b" ", 1)
    blob = bytearray(base64.b64decode(b64))
    blob[-1] ^= 1
    bad_ed = prefix + b" " + base64.b64encode(bytes(blob)) + b"\n"
    assert status(_subtree_request(log, 8, 13, log.note() + ml_line + b"\n" + bad_ed, 14)) == 403
    # Another witness's cosignature does not count.
    other = init_witness(Path(witness.state.path).parent.parent / "other", "witness.example/w2")
    theirs = b"".join(cosign(log.note(), s, NOW) for s in other.signers)
    assert status(_subtree_request(log, 8, 13, log.note() + theirs, 14)) == 403
    # 404: unknown origin.
    stranger = SimLog("other.example/log").grow(14)
    assert status(_subtree_request(stranger, 8, 13, stranger.note(), 14)) == 404
    # 422: a proof or hash that does not connect.
    req = parse_sign_subtree(good)
    for i in range(len(req.proof)):
        bad = list(req.proof)
        bad[i] = bytes([bad[i][0] ^ 1]) + bad[i][1:]
        assert status(sign_subtree_body(8, 13, req.subtree_hash, bad, cosigned)) == 422
    assert status(sign_subtree_body(8, 13, b"\x00" * 32, req.proof, cosigned)) == 422
    assert status(sign_subtree_body(8, 13, req.subtree_hash, req.proof[:-1], cosigned)) == 422
