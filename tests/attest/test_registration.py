"""Registration requests (SPEC §15): the vectors regenerate byte for byte, check out against an
independent Ed25519 implementation, and any change to a signed request is refused."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from attest import canonical
from attest.errors import SignatureError, VerificationError
from attest.registration import verify_registration_request
from keys import key_id
from scripts import gen_vectors_registration as gen
from tests.conftest import OWN_VECTORS

PATH = OWN_VECTORS / "registration" / gen.FILE
CASES: list[dict[str, Any]] = json.loads(PATH.read_bytes())["cases"]
SIGNED = [c for c in CASES if "expect" in c]
REFUSED = [c for c in CASES if "error" in c]


def test_regenerated_byte_for_byte() -> None:
    assert gen.build() == {gen.FILE: PATH.read_bytes()}, (
        "tests/vectors/registration/request.json is out of date: run "
        "python -m scripts.gen_vectors_registration"
    )


@pytest.mark.parametrize("case", SIGNED, ids=lambda c: c["name"])
def test_signed_bytes_by_the_spec_text(case: dict[str, Any]) -> None:
    seed = bytes.fromhex(case["input"]["seed"])
    request, expect = case["input"]["request"], case["expect"]
    # SPEC §15.2: the prefix, a zero byte, the canonical JSON of the request object
    message = b"claimledger:v1:registration-request\x00" + canonical.encode(request)
    assert message.hex() == expect["message"]
    private = Ed25519PrivateKey.from_private_bytes(seed)  # another implementation signs
    raw = private.public_key().public_bytes_raw()
    assert base64.b64encode(raw).decode() == request["key"]
    assert key_id(raw) == expect["keyId"]
    assert base64.b64encode(private.sign(message)).decode() == expect["signature"]
    got = verify_registration_request(expect["document"].encode())
    assert got.to_dict() == request
    assert got.register_body() == expect["registerBody"]


@pytest.mark.parametrize("case", REFUSED, ids=lambda c: c["name"])
def test_refusals(case: dict[str, Any]) -> None:
    with pytest.raises(VerificationError) as info:
        verify_registration_request(case["input"]["document"].encode())
    assert type(info.value).__name__ == case["error"]["class"]
    assert info.value.field == case["error"].get("field")


def test_any_flipped_bit_in_the_signed_bytes_is_refused() -> None:
    doc = json.loads(SIGNED[0]["expect"]["document"])
    sig = base64.b64decode(doc["signature"])
    for i in range(len(sig)):
        bad = bytearray(sig)
        bad[i] ^= 1 << (i % 8)
        forged = {**doc, "signature": base64.b64encode(bytes(bad)).decode()}
        with pytest.raises(SignatureError):
            verify_registration_request(json.dumps(forged).encode())
    changes = {
        "party": "newco-chats",
        "name": "NewCo Chat Ltd.",
        "jurisdiction": "GB",
        "website": "https://newco.example/x",
        "createdAt": "2026-12-01T09:30:01Z",
        "role": "verifier",
    }
    for member, value in changes.items():
        forged = {**doc, "request": {**doc["request"], member: value}}
        with pytest.raises(SignatureError):
            verify_registration_request(json.dumps(forged).encode())
