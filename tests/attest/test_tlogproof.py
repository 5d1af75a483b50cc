"""Single-entry proofs (C2SP tlog-proof, SPEC §13): the vectors, round trips and tampering.

(a) ``scripts/gen_vectors_proof.py`` run in memory reproduces tests/vectors/proof/tlog-proof.json
byte for byte. (b) Every case is checked against the library independently of the generator:
the leaf data rebuilt from its fields, the inclusion proof from the leaf hashes, the file from
those, and every refusal refused with the class it names. (c) Any flipped byte is refused.
"""

from __future__ import annotations

import base64
import hashlib
import json
from functools import cache
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from attest.entry import leaf_data, parse_leaf_data
from attest.errors import EncodingError, VerificationError
from attest.merkle import leaf_hash, root_from_inclusion
from attest.policy import parse_policy
from attest.tlogproof import (
    parse_tlog_proof,
    tlog_proof,
    verify_tlog_proof,
)
from scripts import gen_vectors_proof
from tests.conftest import OWN_VECTORS

PATH = OWN_VECTORS / "proof" / gen_vectors_proof.FILE


@cache
def _doc() -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(PATH.read_text(encoding="ascii"))
    assert doc["spec"] == "docs/SPEC.md §13"
    return doc


def _cases(kind: str) -> list[dict[str, Any]]:
    return [c for c in _doc()["cases"] if ("expect" in c) == (kind == "ok")]


def test_regenerated_byte_for_byte() -> None:
    built = gen_vectors_proof.build()
    assert list(built) == [gen_vectors_proof.FILE]
    assert built[gen_vectors_proof.FILE] == PATH.read_bytes(), (
        "tests/vectors/proof/tlog-proof.json is out of date: "
        "run python -m scripts.gen_vectors_proof"
    )


def test_check_mode() -> None:
    assert gen_vectors_proof.main(["--check", "--out", str(PATH.parent)]) == 0


def test_check_mode_reports_a_stale_file(tmp_path: Any) -> None:
    (tmp_path / gen_vectors_proof.FILE).write_bytes(PATH.read_bytes()[:-2] + b"\n")
    assert gen_vectors_proof.main(["--check", "--out", str(tmp_path)]) == 1


def test_the_vectors_cover_both_kinds() -> None:
    assert len(_cases("ok")) == 5
    assert len(_cases("error")) >= 12


@pytest.mark.parametrize("case", _cases("ok"), ids=lambda c: c["name"])
def test_valid_case(case: dict[str, Any]) -> None:
    leaf, expect = case["input"]["leaf"], case["expect"]
    data = leaf_data(
        leaf["index"],
        leaf["stream"],
        leaf["position"],
        leaf["logTimeMs"],
        bytes.fromhex(leaf["entryHash"]),
        bytes.fromhex(leaf["stateRoot"]),
    )
    assert data.hex() == expect["leafData"]
    assert leaf_hash(data).hex() == expect["leafHash"]
    proof = [base64.b64decode(h) for h in expect["inclusionProof"]]
    root = root_from_inclusion(leaf_hash(data), leaf["index"], case["input"]["size"], proof)
    assert base64.b64encode(root).decode() == expect["root"]
    text = expect["tlogProof"].encode("utf-8")
    parsed = parse_tlog_proof(text)
    assert tlog_proof(data, proof, parsed.note) == text
    assert parse_leaf_data(data) == parsed.leaf
    policy = parse_policy(case["input"]["policy"].encode())
    envelope = case["input"]["envelope"].encode()
    verified = verify_tlog_proof(text, policy, envelope=envelope)
    assert verified.leaf.to_bytes() == data
    assert verified.witnessed.checkpoint.size == case["input"]["size"]
    assert [name for name, _ in verified.witnessed.cosigners] == expect["cosigners"]


@pytest.mark.parametrize("case", _cases("error"), ids=lambda c: c["name"])
def test_refused_case(case: dict[str, Any]) -> None:
    policy = parse_policy(case["input"]["policy"].encode())
    envelope = case["input"].get("envelope")
    with pytest.raises(VerificationError) as info:
        verify_tlog_proof(
            case["input"]["tlogProof"].encode("utf-8"),
            policy,
            envelope=None if envelope is None else envelope.encode(),
        )
    assert type(info.value).__name__ == case["error"]["class"]


def _good() -> tuple[bytes, Any]:
    case = next(c for c in _cases("ok") if c["name"].startswith("proof: entry 2 "))
    return case["expect"]["tlogProof"].encode(), parse_policy(case["input"]["policy"].encode())


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_any_flipped_byte_is_refused(data: st.DataObject) -> None:
    good, policy = _good()
    at = data.draw(st.integers(0, len(good) - 1))
    bit = data.draw(st.integers(0, 7))
    bad = bytearray(good)
    bad[at] ^= 1 << bit
    with pytest.raises(VerificationError):
        verify_tlog_proof(bytes(bad), policy)


@settings(max_examples=100, deadline=None)
@given(
    index=st.integers(0, 2**64 - 1),
    stream=st.text(max_size=40),
    position=st.integers(0, 2**64 - 1),
    log_time=st.integers(0, 2**64 - 1),
)
def test_leaf_data_round_trips(index: int, stream: str, position: int, log_time: int) -> None:
    ehash, root = hashlib.sha256(b"e").digest(), hashlib.sha256(b"r").digest()
    data = leaf_data(index, stream, position, log_time, ehash, root)
    leaf = parse_leaf_data(data)
    assert (leaf.index, leaf.stream, leaf.position, leaf.log_time_ms) == (
        index,
        stream,
        position,
        log_time,
    )
    assert leaf.to_bytes() == data
    with pytest.raises(EncodingError):
        parse_leaf_data(data + b"\x00")
    with pytest.raises(EncodingError):
        parse_leaf_data(data[:-1])


def test_building_refuses_bad_parts() -> None:
    good, _ = _good()
    parsed = parse_tlog_proof(good)
    data = parsed.leaf.to_bytes()
    with pytest.raises(EncodingError):
        tlog_proof(data, [b"\x00" * 31], parsed.note)
    with pytest.raises(EncodingError):
        tlog_proof(data, [b"\x00" * 32] * 65, parsed.note)
    with pytest.raises(EncodingError):
        tlog_proof(data[:-1], [], parsed.note)
