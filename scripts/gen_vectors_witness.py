"""Generate the witness vectors, ``tests/vectors/witness/cosignature.json`` (docs/SPEC.md §12).

Run ``python -m scripts.gen_vectors_witness`` to (re)write the file, or ``--check`` to compare
it with what would be written (exit status 1 when it differs). Same conventions as
``scripts/gen_vectors.py``: fixed seeds and times, ``{"description", "spec", "cases"}``, each
case ``{name, input, expect | error}``, sorted keys, ASCII, a trailing newline; every expectation
is computed by the library and every refusal is checked to be refused here.

ML-DSA-44 signing is randomized (FIPS 204 hedged mode), so ML-DSA-44 cases pin what is
deterministic (the key from its seed, the key id, the vkey, the exact signed message) and give
no signature bytes: a reader checks them by signing the pinned message with the key from the
seed and verifying under the pinned vkey. Ed25519 cosignatures are deterministic and pinned
byte for byte.
"""

from __future__ import annotations

import base64
import struct
import sys
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a file: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from attest.checkpoint import Checkpoint, NoteSigner, sign_checkpoint
from attest.cosignature import (
    CosignatureType,
    CosignerKey,
    CosignerSigner,
    add_cosignatures,
    cosign,
    cosignature_v1_message,
    cosigner_key_id,
    subtree_v1_message,
    verify_cosignature,
)
from attest.errors import VerificationError
from attest.loglist import logs_v0_entry, parse_logs_v0
from attest.merkle import MemoryTree, leaf_hash, subtree_hash
from attest.policy import check_consistent, parse_policy, verify_policy
from attest.subtree import subtree_consistency_proof, verify_subtree_consistency
from keys import PrivateKey
from scripts._vectors import vector_doc, write_or_check

__all__ = ["FILE", "VECTORS_DIR", "build", "main"]

Json = dict[str, Any]

VECTORS_DIR = Path(__file__).resolve().parents[1] / "tests" / "vectors" / "witness"
FILE = "cosignature.json"

ORIGIN = "claimledger.example/log"
WITNESS = "witness.example/w1"
LOG_SEED = b"\x01" * 32
ED_SEED = bytes(range(32))
ML_SEED = bytes(range(32, 64))
TIME = 1_800_000_000


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _case(name: str, input_: Json, expect: Json) -> Json:
    return {"name": name, "input": input_, "expect": expect}


def _refused(name: str, input_: Json, reason: str, call: Callable[[], object]) -> Json:
    try:
        call()
    except VerificationError as exc:
        return {
            "name": name,
            "input": input_,
            "error": {"class": type(exc).__name__, "reason": reason},
        }
    raise AssertionError(f"vector {name!r} was expected to be refused but was accepted")


def _tree(n: int, tag: bytes = b"") -> MemoryTree:
    return MemoryTree(leaf_hash(tag + i.to_bytes(8, "big")) for i in range(n))


def log_signer() -> NoteSigner:
    return NoteSigner(ORIGIN, PrivateKey.from_seed(LOG_SEED))


def ed_cosigner() -> CosignerSigner:
    return CosignerSigner(WITNESS, PrivateKey.from_seed(ED_SEED))


def ml_cosigner() -> CosignerSigner:
    return CosignerSigner.mldsa44_from_seed(WITNESS, ML_SEED)


def _vkey(name: str, id_hex: str, data: bytes) -> str:
    return f"{name}+{id_hex}+{_b64(data)}"


def _keys(cases: list[Json]) -> None:
    for label, signer, seed in (
        ("ed25519", ed_cosigner(), ED_SEED),
        ("ml-dsa-44", ml_cosigner(), ML_SEED),
    ):
        v = signer.verifier
        if CosignerKey.from_vkey(v.vkey()) != v:
            raise AssertionError(label)
        cases.append(
            _case(
                f"key: {label} cosigner from seed",
                {"name": WITNESS, "type": f"0x{v.kind:02x}", "seed": seed.hex()},
                {"publicKey": _b64(v.public_key), "keyId": v.key_id.hex(), "vkey": v.vkey()},
            )
        )
    ed, ml = ed_cosigner().verifier, ml_cosigner().verifier
    small_order = bytes(32)
    bad = [
        ("Ed25519 note key type 0x01", _vkey(ed.name, ed.key_id.hex(), b"\x01" + ed.public_key)),
        ("unassigned type 0x05", _vkey(ed.name, ed.key_id.hex(), b"\x05" + ed.public_key)),
        ("uppercase key id", _vkey(ed.name, ed.key_id.hex().upper(), b"\x04" + ed.public_key)),
        (
            "key id of another name",
            _vkey("witness.example/w2", ed.key_id.hex(), b"\x04" + ed.public_key),
        ),
        ("Ed25519 key of 31 bytes", _vkey(ed.name, ed.key_id.hex(), b"\x04" + ed.public_key[:31])),
        (
            "ML-DSA-44 key of 1311 bytes",
            _vkey(ml.name, ml.key_id.hex(), b"\x06" + ml.public_key[:-1]),
        ),
        (
            "Ed25519 key of small order",
            _vkey(
                "w",
                cosigner_key_id("w", CosignatureType.ED25519, small_order).hex(),
                b"\x04" + small_order,
            ),
        ),
        ("non-canonical base64", ed.vkey() + "="),
    ]
    for name, vkey in bad:
        cases.append(
            _refused(
                f"key refused: {name}",
                {"vkey": vkey},
                name,
                partial(CosignerKey.from_vkey, vkey),
            )
        )


def _messages(cases: list[Json]) -> None:
    root = _tree(5).root()
    cp = Checkpoint(ORIGIN, 5, root)
    text = cp.body()
    cases.append(
        _case(
            "message: cosignature/v1",
            {"noteText": text.decode(), "timestamp": TIME},
            {"message": cosignature_v1_message(text, TIME).decode()},
        )
    )
    msg = subtree_v1_message(WITNESS, TIME, ORIGIN, 0, 5, root)
    cases.append(
        _case(
            "message: subtree/v1 of a checkpoint",
            {
                "cosigner": WITNESS,
                "timestamp": TIME,
                "origin": ORIGIN,
                "start": 0,
                "end": 5,
                "hash": root.hex(),
            },
            {"message": msg.hex()},
        )
    )
    sub = subtree_v1_message(WITNESS, 0, ORIGIN, 4, 8, _tree(8).root())
    cases.append(
        _case(
            "message: subtree/v1 of a subtree (timestamp 0)",
            {
                "cosigner": WITNESS,
                "timestamp": 0,
                "origin": ORIGIN,
                "start": 4,
                "end": 8,
                "hash": _tree(8).root().hex(),
            },
            {"message": sub.hex()},
        )
    )
    cases.append(
        _refused(
            "message refused: subtree with start > 0 and a timestamp",
            {
                "cosigner": WITNESS,
                "timestamp": TIME,
                "origin": ORIGIN,
                "start": 4,
                "end": 8,
                "hash": root.hex(),
            },
            "a non-zero start needs timestamp 0",
            lambda: subtree_v1_message(WITNESS, TIME, ORIGIN, 4, 8, root),
        )
    )
    cases.append(
        _refused(
            "message refused: origin over 255 bytes",
            {
                "cosigner": WITNESS,
                "timestamp": TIME,
                "origin": "o" * 256,
                "start": 0,
                "end": 5,
                "hash": root.hex(),
            },
            "origin is 1 to 255 bytes",
            lambda: subtree_v1_message(WITNESS, TIME, "o" * 256, 0, 5, root),
        )
    )


def _cosignatures(cases: list[Json]) -> None:
    log = log_signer()
    ed, ml = ed_cosigner(), ml_cosigner()
    cp = Checkpoint(ORIGIN, 5, _tree(5).root())
    note = sign_checkpoint(cp, log)
    line = cosign(note, ed, TIME)
    cosigned = add_cosignatures(note, [line])
    got = verify_cosignature(cosigned, CosignerKey.from_vkey(ed.verifier.vkey()))
    if got.cosignatures[0].timestamp != TIME:
        raise AssertionError("ed25519 cosignature")
    cases.append(
        _case(
            "cosign: ed25519 cosignature/v1",
            {
                "note": note.decode(),
                "cosignerSeed": ED_SEED.hex(),
                "cosigner": WITNESS,
                "timestamp": TIME,
            },
            {"line": line.decode(), "cosignedNote": cosigned.decode(), "vkey": ed.verifier.vkey()},
        )
    )
    # ML-DSA-44: the message is pinned; the signature is not (randomized). Check it here.
    ml_line = cosign(note, ml, TIME)
    verify_cosignature(add_cosignatures(note, [ml_line]), CosignerKey.from_vkey(ml.verifier.vkey()))
    blob = base64.b64decode(ml_line.decode().rsplit(" ", 1)[1])
    if len(blob) != 4 + 8 + 2420 or blob[:4] != ml.verifier.key_id:
        raise AssertionError("ml-dsa-44 cosignature layout")
    cases.append(
        _case(
            "cosign: ml-dsa-44 subtree/v1 (sign the message, verify under the vkey)",
            {
                "note": note.decode(),
                "cosignerSeed": ML_SEED.hex(),
                "cosigner": WITNESS,
                "timestamp": TIME,
            },
            {
                "message": subtree_v1_message(WITNESS, TIME, ORIGIN, 0, 5, cp.root).hex(),
                "vkey": ml.verifier.vkey(),
                "lineBytes": len(ml_line),
                "signatureBlobBytes": len(blob),
            },
        )
    )
    ext_note = sign_checkpoint(Checkpoint(ORIGIN, 5, cp.root, ("extension",)), log)
    ext_line = cosign(ext_note, ed, TIME)
    cases.append(
        _case(
            "cosign: ed25519 covers extension lines",
            {
                "note": ext_note.decode(),
                "cosignerSeed": ED_SEED.hex(),
                "cosigner": WITNESS,
                "timestamp": TIME,
            },
            {
                "line": ext_line.decode(),
                "cosignedNote": add_cosignatures(ext_note, [ext_line]).decode(),
                "vkey": ed.verifier.vkey(),
            },
        )
    )
    prefix, b64 = line.decode().rstrip("\n").rsplit(" ", 1)
    raw = base64.b64decode(b64)

    def with_blob(data: bytes) -> bytes:
        return note + f"{prefix} {_b64(data)}\n".encode()

    flipped = bytearray(raw)
    flipped[-1] ^= 1
    other_time = raw[:4] + struct.pack(">Q", TIME + 1) + raw[12:]
    huge_time = raw[:4] + struct.pack(">Q", 1 << 63) + raw[12:]
    moved = ext_note + line
    refusals = [
        ("signature byte flipped", with_blob(bytes(flipped)), "does not verify"),
        ("timestamp changed", with_blob(other_time), "does not verify"),
        ("timestamp over 2^63 - 1", with_blob(huge_time), "timestamp out of range"),
        ("signature one byte short", with_blob(raw[:-1]), "wrong length"),
        ("moved to a note with an extension line", moved, "does not verify"),
        ("no line from the key", note, "no cosignature"),
        (
            "a bad line beside a good one",
            cosigned + with_blob(bytes(flipped))[len(note) :],
            "does not verify",
        ),
    ]
    vkey = ed.verifier.vkey()
    for name, bad, reason in refusals:
        cases.append(
            _refused(
                f"verify refused: {name}",
                {"note": bad.decode(), "vkey": vkey},
                reason,
                partial(verify_cosignature, bad, CosignerKey.from_vkey(vkey)),
            )
        )


def _policies(cases: list[Json]) -> None:
    log = log_signer()
    ed = ed_cosigner()
    ed2 = CosignerSigner("witness.example/w2", PrivateKey.from_seed(bytes(range(64, 96))))
    ml = ml_cosigner()
    policy = (
        f"# claimledger example policy\nlog {log.verifier.vkey()}\n\n"
        f"witness A {ed.verifier.vkey()}\n"
        f"witness B {ed2.verifier.vkey()}\n"
        f"witness C {ml.verifier.vkey()}\n"
        "group AB 2 A B\n"
        "group Q any AB C\n"
        "quorum Q\n"
    )
    parsed = parse_policy(policy.encode())
    note = sign_checkpoint(Checkpoint(ORIGIN, 5, _tree(5).root()), log)
    both = add_cosignatures(note, [cosign(note, ed, TIME), cosign(note, ed2, TIME)])
    got = verify_policy(both, parsed)
    cases.append(
        _case(
            "policy: quorum met by group AB",
            {"policy": policy, "note": both.decode()},
            {"cosigners": [name for name, _ in got.cosigners], "size": got.checkpoint.size},
        )
    )
    one = add_cosignatures(note, [cosign(note, ed, TIME)])
    cases.append(
        _refused(
            "policy refused: below quorum",
            {"policy": policy, "note": one.decode()},
            "below quorum Q: group Q needs 1 of 2 (AB, C), has 0",
            lambda: verify_policy(one, parsed),
        )
    )
    bad_policies = [
        (
            "member not defined above",
            f"witness A {ed.verifier.vkey()}\ngroup G any A Z\nquorum G\n",
        ),
        (
            "member listed twice",
            f"witness A {ed.verifier.vkey()}\ngroup G any A\ngroup H any A\nquorum H\n",
        ),
        (
            "threshold above member count",
            f"witness A {ed.verifier.vkey()}\ngroup G 2 A\nquorum G\n",
        ),
        (
            "duplicate witness key",
            f"witness A {ed.verifier.vkey()}\nwitness B {ed.verifier.vkey()}\nquorum A\n",
        ),
        ("no quorum line", f"witness A {ed.verifier.vkey()}\n"),
        ("log key of a cosigner type", f"log {ed.verifier.vkey()}\nquorum none\n"),
    ]
    for name, text in bad_policies:
        cases.append(
            _refused(
                f"policy refused: {name}",
                {"policy": text},
                name,
                partial(parse_policy, text.encode()),
            )
        )


def _split_view(cases: list[Json]) -> None:
    a, b = _tree(6, b"A"), MemoryTree()
    for i in range(4):
        b.append(a.get_node(0, i))
    for i in range(4, 6):
        b.append(leaf_hash(b"B" + i.to_bytes(8, "big")))
    held = Checkpoint(ORIGIN, 6, a.root())
    other = Checkpoint(ORIGIN, 6, b.root())
    cases.append(
        _refused(
            "split view: equal size, different roots",
            {"held": held.body().decode(), "other": other.body().decode(), "proof": []},
            "names both checkpoints",
            lambda: check_consistent(held, other, []),
        )
    )
    grown = Checkpoint(ORIGIN, 4, a.root(4))
    proof = a.consistency_proof(4, 6)
    check_consistent(grown, held, proof)
    cases.append(
        _case(
            "split view: consistent (held 4, shown 6)",
            {
                "held": grown.body().decode(),
                "other": held.body().decode(),
                "proof": [p.hex() for p in proof],
            },
            {"consistent": True},
        )
    )


def _subtrees(cases: list[Json]) -> None:
    # The draft's examples: a tree of 14 leaves d[i] = the byte i.
    tree = MemoryTree(leaf_hash(bytes([i])) for i in range(14))
    for start, end in ((4, 8), (8, 13), (0, 9), (5, 6)):
        proof = subtree_consistency_proof(start, end, 14, tree.get_node)
        node = subtree_hash(start, end, tree.get_node)
        verify_subtree_consistency(start, end, 14, proof, node, tree.root())
        cases.append(
            _case(
                f"subtree proof: [{start}, {end}) in 14 leaves",
                {"leaves": "d[i] = the byte i, i < 14", "start": start, "end": end, "n": 14},
                {
                    "subtreeHash": node.hex(),
                    "root": tree.root().hex(),
                    "proof": [p.hex() for p in proof],
                },
            )
        )
    proof = subtree_consistency_proof(8, 13, 14, tree.get_node)
    node = subtree_hash(8, 13, tree.get_node)
    bad = [proof[0], proof[2], proof[1], *proof[3:]]
    cases.append(
        _refused(
            "subtree proof refused: hashes out of order",
            {
                "start": 8,
                "end": 13,
                "n": 14,
                "subtreeHash": node.hex(),
                "root": tree.root().hex(),
                "proof": [p.hex() for p in bad],
            },
            "does not rebuild the root",
            partial(verify_subtree_consistency, 8, 13, 14, bad, node, tree.root()),
        )
    )
    cases.append(
        _refused(
            "subtree proof refused: [4, 9) is not a subtree",
            {
                "start": 4,
                "end": 9,
                "n": 14,
                "subtreeHash": node.hex(),
                "root": tree.root().hex(),
                "proof": [],
            },
            "not a subtree",
            partial(verify_subtree_consistency, 4, 9, 14, [], node, tree.root()),
        )
    )


def _log_list(cases: list[Json]) -> None:
    log = log_signer()
    entry = logs_v0_entry(log.verifier.vkey(), None, 86400, "ops@claimledger.example")
    parse_logs_v0(("logs/v0\n\n" + entry).encode())
    cases.append(
        _case(
            "logs/v0: the log's own entry",
            {
                "vkey": log.verifier.vkey(),
                "origin": None,
                "qpd": 86400,
                "contact": "ops@claimledger.example",
            },
            {"entry": entry},
        )
    )
    other = logs_v0_entry(
        log.verifier.vkey(), "claimledger.example/log-2026", 24, "sysadmin (at) example.org"
    )
    cases.append(
        _case(
            "logs/v0: an origin other than the key name",
            {
                "vkey": log.verifier.vkey(),
                "origin": "claimledger.example/log-2026",
                "qpd": 24,
                "contact": "sysadmin (at) example.org",
            },
            {"entry": other},
        )
    )
    v = log.verifier.vkey()
    bad_lists = [
        ("no header", f"vkey {v}\nqpd 1\ncontact c\n"),
        ("qpd with a leading zero", f"logs/v0\nvkey {v}\nqpd 01\ncontact c\n"),
        ("qpd of 2^31", f"logs/v0\nvkey {v}\nqpd 2147483648\ncontact c\n"),
        ("lines out of order", f"logs/v0\nvkey {v}\ncontact c\nqpd 1\n"),
        ("a cosigner key", f"logs/v0\nvkey {ed_cosigner().verifier.vkey()}\nqpd 1\ncontact c\n"),
    ]
    for name, text in bad_lists:
        cases.append(
            _refused(
                f"logs/v0 refused: {name}",
                {"list": text},
                name,
                partial(parse_logs_v0, text.encode()),
            )
        )


def build() -> dict[str, bytes]:
    """The vector file's name and exact bytes."""
    cases: list[Json] = []
    _keys(cases)
    _messages(cases)
    _cosignatures(cases)
    _policies(cases)
    _split_view(cases)
    _subtrees(cases)
    _log_list(cases)
    description = (
        "C2SP witness cosignatures (Ed25519 cosignature/v1, ML-DSA-44 subtree/v1), "
        "tlog-policy quorums, split view, subtree consistency proofs, and the witness network's "
        "logs/v0 list"
    )
    return {FILE: vector_doc(description, "docs/SPEC.md §12", cases)}


def main(argv: list[str] | None = None) -> int:
    """Write the vector file(s), or with ``--check`` report whether they are up to date."""
    description = __doc__.splitlines()[0] if __doc__ else None
    return write_or_check(build, VECTORS_DIR, argv, description)


if __name__ == "__main__":
    sys.exit(main())
