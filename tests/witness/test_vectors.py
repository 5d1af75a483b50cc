"""The witness vectors, tests/vectors/witness/cosignature.json: up to date and right.

(a) ``scripts/gen_vectors_witness.py`` run in memory reproduces the committed file byte for
byte. (b) Every case is checked against the library independently of the generator; the
ML-DSA-44 case is checked by signing its pinned message with the key from its seed and
verifying under its pinned vkey (ML-DSA-44 signing is randomized).
"""

from __future__ import annotations

import base64
import json
from functools import cache
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import mldsa

import keys
from attest.checkpoint import Checkpoint
from attest.cosignature import (
    CosignerKey,
    CosignerSigner,
    cosign,
    cosignature_v1_message,
    subtree_v1_message,
    verify_cosignature,
)
from attest.errors import VerificationError
from attest.loglist import logs_v0_entry, parse_logs_v0
from attest.merkle import MemoryTree, leaf_hash, subtree_hash
from attest.policy import check_consistent, parse_policy, verify_policy
from attest.subtree import subtree_consistency_proof, verify_subtree_consistency
from scripts import gen_vectors_witness
from tests.conftest import OWN_VECTORS

PATH = OWN_VECTORS / "witness" / gen_vectors_witness.FILE


@cache
def _cases() -> dict[str, dict[str, Any]]:
    doc = json.loads(PATH.read_text(encoding="ascii"))
    assert doc["spec"] == "docs/SPEC.md §12"
    return {c["name"]: c for c in doc["cases"]}


def test_regenerated_byte_for_byte() -> None:
    built = gen_vectors_witness.build()
    assert list(built) == [gen_vectors_witness.FILE]
    assert built[gen_vectors_witness.FILE] == PATH.read_bytes(), (
        "tests/vectors/witness/cosignature.json is out of date: "
        "run python -m scripts.gen_vectors_witness"
    )


def test_check_mode(tmp_path: Any) -> None:
    assert gen_vectors_witness.main(["--check", "--out", str(PATH.parent)]) == 0
    assert gen_vectors_witness.main(["--check", "--out", str(tmp_path)]) == 1


def _run(case: dict[str, Any]) -> object:
    """Run one case's input through the library; return what it computes."""
    name: str = case["name"]
    i = case["input"]
    if name.startswith("key"):
        v = CosignerKey.from_vkey(i["vkey"]) if "vkey" in i else None
        if v is not None:
            return v
        seed = bytes.fromhex(i["seed"])
        signer = (
            CosignerSigner(i["name"], keys.PrivateKey.from_seed(seed))
            if i["type"] == "0x04"
            else CosignerSigner.mldsa44_from_seed(i["name"], seed)
        )
        v = signer.verifier
        return {
            "publicKey": base64.b64encode(v.public_key).decode(),
            "keyId": v.key_id.hex(),
            "vkey": v.vkey(),
        }
    if name.startswith("message"):
        if "noteText" in i:
            return {
                "message": cosignature_v1_message(i["noteText"].encode(), i["timestamp"]).decode()
            }
        msg = subtree_v1_message(
            i["cosigner"],
            i["timestamp"],
            i["origin"],
            i["start"],
            i["end"],
            bytes.fromhex(i["hash"]),
        )
        return {"message": msg.hex()}
    if name.startswith("cosign: ed25519"):
        note = i["note"].encode()
        signer = CosignerSigner(
            i["cosigner"], keys.PrivateKey.from_seed(bytes.fromhex(i["cosignerSeed"]))
        )
        line = cosign(note, signer, i["timestamp"])
        return {
            "line": line.decode(),
            "cosignedNote": (note + line).decode(),
            "vkey": signer.verifier.vkey(),
        }
    if name.startswith("verify"):
        return verify_cosignature(i["note"].encode(), CosignerKey.from_vkey(i["vkey"]))
    if name.startswith("policy"):
        policy = parse_policy(i["policy"].encode())
        if "note" not in i:
            return policy
        got = verify_policy(i["note"].encode(), policy)
        return {"cosigners": [n for n, _ in got.cosigners], "size": got.checkpoint.size}
    if name.startswith("split view"):
        held = Checkpoint.parse_body(i["held"].encode())
        other = Checkpoint.parse_body(i["other"].encode())
        check_consistent(held, other, [bytes.fromhex(p) for p in i["proof"]])
        return {"consistent": True}
    if name.startswith("subtree proof refused"):
        node, root = bytes.fromhex(i["subtreeHash"]), bytes.fromhex(i["root"])
        path = [bytes.fromhex(p) for p in i["proof"]]
        verify_subtree_consistency(i["start"], i["end"], i["n"], path, node, root)
        return None
    if name.startswith("subtree proof"):
        tree = MemoryTree(leaf_hash(bytes([k])) for k in range(i["n"]))
        made = subtree_consistency_proof(i["start"], i["end"], i["n"], tree.get_node)
        node = subtree_hash(i["start"], i["end"], tree.get_node)
        verify_subtree_consistency(i["start"], i["end"], i["n"], made, node, tree.root())
        return {
            "subtreeHash": node.hex(),
            "root": tree.root().hex(),
            "proof": [p.hex() for p in made],
        }
    if name.startswith("logs/v0 refused"):
        return parse_logs_v0(i["list"].encode())
    if name.startswith("logs/v0"):
        return {"entry": logs_v0_entry(i["vkey"], i["origin"], i["qpd"], i["contact"])}
    raise AssertionError(f"no check for vector {name!r}")


_DETERMINISTIC = [n for n in _cases() if not n.startswith("cosign: ml-dsa-44")]


@pytest.mark.parametrize("name", _DETERMINISTIC)
def test_case_by_the_library(name: str) -> None:
    case = _cases()[name]
    if "error" in case:
        with pytest.raises(VerificationError) as info:
            _run(case)
        assert type(info.value).__name__ == case["error"]["class"]
    else:
        assert _run(case) == case["expect"]


def test_mldsa_case_signs_and_verifies() -> None:
    case = _cases()["cosign: ml-dsa-44 subtree/v1 (sign the message, verify under the vkey)"]
    i, expect = case["input"], case["expect"]
    key = CosignerKey.from_vkey(expect["vkey"])
    message = bytes.fromhex(expect["message"])
    # The message is the one subtree/v1 defines for this note, cosigner and time.
    cp = Checkpoint.parse_body(i["note"].encode().rsplit(b"\n\n", 1)[0] + b"\n")
    assert message == subtree_v1_message(
        i["cosigner"], i["timestamp"], cp.origin, 0, cp.size, cp.root
    )
    # Raw FIPS 204 (empty context), outside attest: sign with the seed's key, verify under vkey.
    private = mldsa.MLDSA44PrivateKey.from_seed_bytes(bytes.fromhex(i["cosignerSeed"]))
    assert private.public_key().public_bytes_raw() == key.public_key
    signature = private.sign(message)
    mldsa.MLDSA44PublicKey.from_public_bytes(key.public_key).verify(signature, message)
    # And through attest: a line built from that signature verifies on the note.
    blob = key.key_id + i["timestamp"].to_bytes(8, "big") + signature
    assert len(blob) == expect["signatureBlobBytes"]
    line = f"\u2014 {key.name} {base64.b64encode(blob).decode()}\n".encode()
    assert len(line) == expect["lineBytes"]
    got = verify_cosignature(i["note"].encode() + line, key)
    assert got.cosignatures[0].timestamp == i["timestamp"]
