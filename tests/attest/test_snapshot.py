"""The snapshot binding (SPEC §16): the generator reproduces tests/vectors/snapshot/snapshot.json
byte for byte; the signed bytes rebuilt here from the spec's text (not by the library) are the
vectors'; the signatures verify with OpenSSL (``cryptography``) directly, and the library's
verdict on every case is the vector's; the signed bytes are never a signed note."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from attest.checkpoint import parse_note
from attest.errors import CheckpointError, VerificationError
from attest.snapshot import SnapshotBinding
from keys import PublicKey
from scripts import gen_vectors_snapshot

PATH = Path(__file__).resolve().parents[1] / "vectors" / "snapshot" / gen_vectors_snapshot.FILE
CASES: list[dict[str, Any]] = json.loads(PATH.read_text())["cases"]


def test_the_generator_reproduces_the_vectors() -> None:
    assert gen_vectors_snapshot.build()[gen_vectors_snapshot.FILE] == PATH.read_bytes()


def _spec_message(inp: dict[str, Any]) -> bytes:
    """SPEC §16.1, written out again from the text."""

    def b64(h: str) -> str:
        return base64.b64encode(bytes.fromhex(h)).decode()

    text = "".join(
        f"{line}\n"
        for line in (
            inp["origin"],
            str(inp["size"]),
            b64(inp["root"]),
            b64(inp["stateRoot"]),
            b64(inp["digest"]),
            b64(inp["tag"]),
        )
    )
    return b"claimledger:v1:snapshot" + b"\x00" + text.encode("ascii")


def _binding(inp: dict[str, Any]) -> SnapshotBinding:
    return SnapshotBinding(
        origin=inp["origin"],
        size=inp["size"],
        root=bytes.fromhex(inp["root"]),
        state_root=bytes.fromhex(inp["stateRoot"]),
        digest=bytes.fromhex(inp["digest"]),
        tag=bytes.fromhex(inp["tag"]),
    )


ACCEPTED = [c for c in CASES if "expect" in c]
REFUSED = [c for c in CASES if "error" in c]


@pytest.mark.parametrize("case", ACCEPTED, ids=[c["name"] for c in ACCEPTED])
def test_bindings_sign_the_spec_bytes(case: dict[str, Any]) -> None:
    inp, expect = case["input"], case["expect"]
    message, signature = bytes.fromhex(expect["message"]), bytes.fromhex(expect["signature"])
    assert _spec_message(inp) == message
    assert _binding(inp).message() == message
    raw_key = base64.b64decode(inp["logKey"])
    Ed25519PublicKey.from_public_bytes(raw_key).verify(signature, message)  # OpenSSL
    _binding(inp).verify(signature, PublicKey(raw_key))  # the library, SPEC §2.2
    with pytest.raises(CheckpointError):
        parse_note(message)  # a zero byte: never a signed note


@pytest.mark.parametrize("case", REFUSED, ids=[c["name"] for c in REFUSED])
def test_refused_cases_are_refused_with_their_class(case: dict[str, Any]) -> None:
    inp, error = case["input"], case["error"]

    def decide() -> None:
        _binding(inp).verify(bytes.fromhex(inp["signature"]), PublicKey.from_b64(inp["logKey"]))

    with pytest.raises(VerificationError) as caught:
        decide()
    assert type(caught.value).__name__ == error["class"]
    assert caught.value.field == error.get("field")
