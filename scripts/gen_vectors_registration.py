"""Generate the registration request vectors, tests/vectors/registration/request.json (SPEC §15).

Run ``python -m scripts.gen_vectors_registration`` to (re)write the file, or ``--check`` to compare
it with what would be written (exit status 1 when it differs). Same conventions as the other
generators: fixed seeds and times, ``{"description", "spec", "cases"}``, each case
``{name, input, expect | error}``, sorted keys, ASCII, a trailing newline; every expectation is
computed by the library, and every refusal is checked to be refused here.
"""

from __future__ import annotations

import base64
import hashlib
import json
import sys
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a file: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from attest.errors import VerificationError
from attest.registration import (
    REQUEST_DOMAIN,
    RegistrationRequest,
    sign_registration_request,
    verify_registration_request,
)
from attest.statements import Role
from keys import PrivateKey
from scripts._vectors import vector_doc, write_or_check

__all__ = ["FILE", "VECTORS_DIR", "build", "main"]

Json = dict[str, Any]

VECTORS_DIR = Path(__file__).resolve().parents[1] / "tests" / "vectors" / "registration"
FILE = "request.json"

CREATED_AT = "2026-12-01T09:30:00Z"


def _seed(n: int) -> bytes:
    """The example seeds of tests/attest/examples.py (``claimledger example key n``)."""
    return hashlib.sha256(f"claimledger example key {n}".encode()).digest()


def _text(doc: Json) -> str:
    """A request document as a provider's tool prints it (any layout is accepted)."""
    return json.dumps(doc, indent=2, ensure_ascii=False)


def _signed(seed: bytes, **fields: Any) -> tuple[Json, Json]:
    key = PrivateKey.from_seed(seed)
    request = RegistrationRequest(key=key.public_key.b64(), created_at=CREATED_AT, **fields)
    doc = sign_registration_request(request, key)
    expect = {
        "message": request.message().hex(),
        "keyId": key.public_key.key_id,
        "signature": doc["signature"],
        "document": _text(doc),
        "registerBody": request.register_body(),
    }
    return {"seed": seed.hex(), "request": request.to_dict()}, expect | {"doc": doc}


def _flip(b64: str) -> str:
    """The base64 of the same bytes with the first bit flipped."""
    raw = bytearray(base64.b64decode(b64))
    raw[0] ^= 0x80
    return base64.b64encode(bytes(raw)).decode()


def _refused(name: str, text: str, reason: str) -> Json:
    try:
        verify_registration_request(text.encode("utf-8"))
    except VerificationError as exc:
        error: Json = {"class": type(exc).__name__, "reason": reason}
        if exc.field is not None:
            error["field"] = exc.field
        return {"name": name, "input": {"document": text}, "error": error}
    raise AssertionError(f"vector {name!r} was expected to be refused but was accepted")


def build() -> dict[str, bytes]:
    """The vector file's name and exact bytes."""
    cases: list[Json] = []
    provider_in, provider = _signed(
        _seed(5),
        party="newco-chat",
        role=Role.PROVIDER,
        name="NewCo Chat Ltd",
        jurisdiction="IE",
        website="https://newco.example",
    )
    verifier_in, verifier = _signed(
        _seed(6), party="kidsafe-audit", role=Role.VERIFIER, name="KidSafe Audit", jurisdiction="DE"
    )
    for name, input_, expect in (
        ("a provider's request", provider_in, provider),
        ("a verifier's request, no website", verifier_in, verifier),
    ):
        doc = expect.pop("doc")
        # the signed bytes start with the domain prefix; the document verifies, in any layout
        compact = json.dumps(doc, separators=(",", ":")).encode()
        if not bytes.fromhex(expect["message"]).startswith(REQUEST_DOMAIN) or (
            verify_registration_request(compact).to_dict() != input_["request"]
        ):
            raise AssertionError(f"vector {name!r} does not verify")
        cases.append({"name": name, "input": input_, "expect": expect})

    doc = json.loads(provider["document"])
    other = json.loads(verifier["document"])
    req = doc["request"]
    bad: list[tuple[str, Json | str, str]] = [
        ("changed after signing", {**doc, "request": {**req, "name": "Someone Else"}}, "signature"),
        (
            "another key, named consistently",
            {**doc, "request": {**req, "key": other["request"]["key"]}, "keyId": other["keyId"]},
            "not signed by this key",
        ),
        ("keyId of another key", {**doc, "keyId": other["keyId"]}, "keyId is not the key's id"),
        ("signature flipped", {**doc, "signature": _flip(doc["signature"])}, "signature"),
        ("unknown member", {**doc, "request": {**req, "admin": True}}, "unknown member"),
        ("version 2", {**doc, "request": {**req, "v": 2}}, "v must be 1"),
        ("the authority role", {**doc, "request": {**req, "role": "authority"}}, "role"),
        (
            "small-order key",
            {**doc, "request": {**req, "key": base64.b64encode(b"\x01" + 31 * b"\0").decode()}},
            "KEY rule",
        ),
        ("bad party id", {**doc, "request": {**req, "party": "NewCo"}}, "party id format"),
        ("float", _text(doc).replace('"v": 1', '"v": 1.0'), "no floats in the profile"),
        (
            "duplicate member",
            _text(doc).replace('"v": 1', '"v": 1, "v": 1'),
            "duplicate member",
        ),
    ]
    for name, value, reason in bad:
        text = value if isinstance(value, str) else _text(value)
        cases.append(_refused(name, text, reason))
    description = (
        "Registration requests: a new party's identity and public key, signed by that key "
        "(proof of possession); the signed bytes, and refusals"
    )
    return {FILE: vector_doc(description, "docs/SPEC.md §15", cases)}


def main(argv: list[str] | None = None) -> int:
    """Write the vector file(s), or with ``--check`` report whether they are up to date."""
    description = __doc__.splitlines()[0] if __doc__ else None
    return write_or_check(build, VECTORS_DIR, argv, description)


if __name__ == "__main__":
    sys.exit(main())
