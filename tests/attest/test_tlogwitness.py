"""Tests for attest.tlogwitness: the add-checkpoint body, 409 sizes and 200 answers."""

from __future__ import annotations

import base64

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import keys
from attest.checkpoint import Checkpoint, NoteSigner, sign_checkpoint
from attest.cosignature import CosignerSigner, cosign
from attest.errors import CheckpointError, EncodingError
from attest.merkle import MemoryTree, leaf_hash
from attest.merkle import subtree_hash as mth
from attest.subtree import subtree_consistency_proof
from attest.tlogwitness import (
    MAX_PROOF_LINES,
    add_checkpoint_body,
    origin_hash,
    parse_add_checkpoint,
    parse_cosignature_lines,
    parse_sign_subtree,
    parse_size,
    sign_subtree_body,
)

ORIGIN = "example.com/behind-the-sofa"
LOG = NoteSigner(ORIGIN, keys.PrivateKey.from_seed(b"\x01" * 32))
TREE = MemoryTree([leaf_hash(i.to_bytes(2, "big")) for i in range(20)])
NOTE = sign_checkpoint(Checkpoint(ORIGIN, 20, TREE.root()), LOG)

# The example request of C2SP tlog-witness (its signatures are not checked here).
SPEC_BODY = (
    "old 20852014\n"
    "PlRNCrwHpqhGrupue0L7gxbjbMiKA9temvuZZDDpkaw=\n"
    "jrJZDmY8Y7SyJE0MWLpLozkIVMSMZcD5kvuKxPC3swk=\n"
    "5+pKlUdi2LeF/BcMHBn+Ku6yhPGNCswZZD1X/6QgPd8=\n"
    "/6WVhPs2CwSsb5rYBH5cjHV/wSmA79abXAwhXw3Kj/0=\n"
    "\n"
    "example.com/behind-the-sofa\n"
    "20852163\n"
    "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
    "\n"
    "\u2014 example.com/behind-the-sofa Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5/"
    "Zhcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=\n"
    "\u2014 example.com/behind-the-sofa opLqBQsREYCgu6xQkYQwJr9fo45a62DN9EdmHXnZdXNqlcVGlCum2Wks+"
    "49/V6267UEjw6QUXTS5Rovnzv++qbSzm9Q=\n"
).encode()


def test_spec_example_request_parses() -> None:
    req = parse_add_checkpoint(SPEC_BODY)
    assert req.old == 20852014
    assert len(req.proof) == 4
    assert req.proof[0] == base64.b64decode("PlRNCrwHpqhGrupue0L7gxbjbMiKA9temvuZZDDpkaw=")
    assert (req.checkpoint.origin, req.checkpoint.size) == (ORIGIN, 20852163)
    assert add_checkpoint_body(req.old, req.proof, req.note) == SPEC_BODY


@given(old=st.integers(1, 19))
@settings(max_examples=20)
def test_round_trip(old: int) -> None:
    proof = TREE.consistency_proof(old, 20)
    body = add_checkpoint_body(old, proof, NOTE)
    req = parse_add_checkpoint(body)
    assert (req.old, list(req.proof), req.note) == (old, proof, NOTE)
    assert req.text + b"\n" == NOTE[: len(req.text) + 1]


def test_build_refusals() -> None:
    with pytest.raises(EncodingError):
        add_checkpoint_body(-1, [], NOTE)
    with pytest.raises(EncodingError):
        add_checkpoint_body(0, [b"\x00" * 32] * (MAX_PROOF_LINES + 1), NOTE)
    with pytest.raises(EncodingError):
        add_checkpoint_body(0, [b"\x00" * 31], NOTE)
    with pytest.raises(CheckpointError):
        add_checkpoint_body(0, [], b"not a note\n")


@pytest.mark.parametrize(
    "body",
    [
        b"old 0\n" + NOTE,
        b"old 00\n\n" + NOTE,
        b"old -1\n\n" + NOTE,
        b"old 18446744073709551616\n\n" + NOTE,
        b"old 1\n" + b"A" * 42 + b"B=\n\n" + NOTE,
        b"old 1\n" + b"\xff\n\n" + NOTE,
        b"old 0\n\n" + NOTE[:-1],
    ],
)
def test_parse_refusals(body: bytes) -> None:
    with pytest.raises((EncodingError, CheckpointError)):
        parse_add_checkpoint(body)


def test_sizes() -> None:
    assert parse_size(b"0\n") == 0
    assert parse_size(b"20852163\n") == 20852163
    for bad in (b"", b"1", b"01\n", b"1\n\n", b" 1\n", b"18446744073709551616\n", b"\xff\n"):
        with pytest.raises(EncodingError):
            parse_size(bad)


def test_cosignature_lines() -> None:
    w = CosignerSigner("witness.example/w1", keys.PrivateKey.from_seed(b"\x02" * 32))
    line = cosign(NOTE, w, 1)
    got = parse_cosignature_lines(NOTE, line)
    assert [(s.name, s.key_id) for s in got] == [(w.verifier.name, w.verifier.key_id)]
    for bad in (b"", b"hello\n", b"\n" + line, line[:-1]):
        with pytest.raises(CheckpointError):
            parse_cosignature_lines(NOTE, bad)


def test_origin_hash() -> None:
    assert origin_hash("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    assert len(origin_hash(ORIGIN)) == 64


def test_sign_subtree_round_trip_and_refusals() -> None:
    proof = subtree_consistency_proof(8, 13, 20, TREE.get_node)
    node = mth(8, 13, TREE.get_node)
    body = sign_subtree_body(8, 13, node, proof, NOTE)
    assert body.startswith(b"subtree 8 13\n" + base64.b64encode(node) + b"\n")
    req = parse_sign_subtree(body)
    assert (req.start, req.end, req.subtree_hash, list(req.proof)) == (8, 13, node, proof)
    assert req.checkpoint.size == 20
    for bad in (
        body.replace(b"subtree 8 13", b"subtree 9 13"),
        body.replace(b"subtree 8 13", b"subtree 8 013"),
        body.replace(b"subtree 8 13", b"subtree 16 24"),
        body.replace(b"subtree 8 13", b"subtree  8 13"),
        b"subtree 8 13\n\n" + NOTE,
        b"subtree 0 1\n" + b"\n".join([base64.b64encode(bytes(32))] * 65) + b"\n\n" + NOTE,
    ):
        with pytest.raises(EncodingError):
            parse_sign_subtree(bad)
    with pytest.raises(EncodingError):
        sign_subtree_body(9, 13, node, proof, NOTE)
