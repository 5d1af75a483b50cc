"""in-toto exports (SPEC §17): the vectors regenerate byte for byte; every exported Statement is
accepted by the in-toto-attestation library (its protobuf JSON parser and ``validate()``); every
envelope verifies with securesystemslib's DSSE and with a PAE written here over pyca/cryptography;
the predicate carries the ledger's statement and a signature that verifies; refusals are refused."""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from google.protobuf import json_format
from in_toto_attestation.v1 import statement_pb2
from in_toto_attestation.v1.statement import Statement as IntotoStatement
from securesystemslib.dsse import Envelope as SslibEnvelope
from securesystemslib.signer import SSlibKey  # type: ignore[attr-defined]

from attest import canonical, errors
from attest.dsse import Envelope
from attest.intoto import LoggedStatement, intoto_statements, verify_intoto
from keys import PrivateKey
from scripts import gen_vectors_intoto as gen
from tests.conftest import OWN_VECTORS

PATH = OWN_VECTORS / "intoto" / gen.FILE
CASES: list[dict[str, Any]] = json.loads(PATH.read_bytes())["cases"]
EXPORTED = [c for c in CASES if "expect" in c]
REFUSED = [c for c in CASES if "error" in c]
EXPORTS = [(c["name"], e) for c in EXPORTED for e in c["expect"]["exports"]]


def test_regenerated_byte_for_byte() -> None:
    assert gen.build() == {gen.FILE: PATH.read_bytes()}, (
        "tests/vectors/intoto/statements.json is out of date: run "
        "python -m scripts.gen_vectors_intoto"
    )


def _logged(case: dict[str, Any]) -> LoggedStatement:
    i = case["input"]
    envelope = Envelope.parse_stored(canonical.encode(i["envelope"]))
    return LoggedStatement(i["origin"], i["index"], i["logTime"], envelope, i["measure"])


def validate_with_intoto_attestation(statement: dict[str, Any]) -> None:
    """Parse the Statement with the in-toto-attestation library (its protobuf JSON mapping:
    unknown top-level fields are an error) and run its ``validate()``."""
    pb = json_format.Parse(json.dumps(statement), statement_pb2.Statement())
    IntotoStatement.copy_from_pb(pb).validate()
    assert pb.type == "https://in-toto.io/Statement/v1"
    assert json_format.MessageToDict(pb)["predicate"] == statement["predicate"]


def verify_with_securesystemslib(envelope: bytes, public_raw: bytes) -> bytes:
    """The payload of a DSSE envelope verified by securesystemslib (threshold 1)."""
    env = SslibEnvelope.from_dict(json.loads(envelope))
    keyid = env.signatures[next(iter(env.signatures))].keyid
    key = SSlibKey(keyid, "ed25519", "ed25519", {"public": public_raw.hex()})
    assert set(env.verify([key], 1)) == {keyid}
    assert env.payload_type == "application/vnd.in-toto+json"
    return env.payload


@pytest.mark.parametrize(
    ("name", "export"), EXPORTS, ids=[f"{n}: {i}" for i, (n, _) in enumerate(EXPORTS)]
)
def test_real_consumers_accept_each_export(name: str, export: dict[str, Any]) -> None:
    statement = export["statement"]
    validate_with_intoto_attestation(statement)
    public = PrivateKey.from_seed(gen.VERIFIER_SEED).public_key
    payload = verify_with_securesystemslib(export["envelope"].encode(), public.raw)
    assert json.loads(payload) == statement
    assert payload == canonical.encode(statement)  # SPEC §17: the payload is canonical JSON
    # an independent PAE over pyca/cryptography
    env = json.loads(export["envelope"])
    pae = b"DSSEv1 28 application/vnd.in-toto+json %d %s" % (len(payload), payload)
    assert pae.hex() == export["pae"]
    Ed25519PublicKey.from_public_bytes(public.raw).verify(
        base64.b64decode(env["signatures"][0]["sig"]), pae
    )
    assert env["signatures"][0]["keyid"] == public.key_id


@pytest.mark.parametrize("case", EXPORTED, ids=lambda c: c["name"])
def test_exports_follow_from_the_entry(case: dict[str, Any]) -> None:
    logged = _logged(case)
    exports = case["expect"]["exports"]
    assert intoto_statements(logged) == [e["statement"] for e in exports]
    signed = logged.envelope
    for e in exports:
        subject = e["statement"]["subject"]
        claim = logged.statement["body"]["claim"]
        assert subject == [
            {
                "name": f"claimledger:claimledger.example/log/acme-social/claim/{claim}",
                "digest": {"sha256": claim},
            }
        ]
    pred = exports[0]["statement"]["predicate"]
    # the ledger's statement and signature travel in the predicate, and verify on their own
    assert canonical.encode(pred["statement"]) == signed.payload
    assert pred["digest"] == {"sha256": hashlib.sha256(signed.payload).hexdigest()}
    ledger_pae = b"DSSEv1 %d %s %d %s" % (
        len(signed.payload_type),
        signed.payload_type.encode(),
        len(signed.payload),
        signed.payload,
    )
    public = PrivateKey.from_seed(gen.VERIFIER_SEED).public_key
    Ed25519PublicKey.from_public_bytes(public.raw).verify(
        base64.b64decode(pred["signature"]["sig"]), ledger_pae
    )
    assert pred["log"] == {"origin": gen.ORIGIN, "index": logged.index, "logTime": logged.log_time}


def test_vsa_results_map_as_the_spec_says() -> None:
    by_name = {c["name"]: c["expect"]["exports"] for c in EXPORTED}
    passed = by_name["a verdict CONFIRMED (PASSED)"][1]["statement"]["predicate"]
    failed = by_name["a verdict CONTRADICTED (FAILED)"][1]["statement"]["predicate"]
    assert passed["verificationResult"] == "PASSED"
    assert passed["verifiedLevels"] == ["CLAIMLEDGER_CONFIRMED_REASONABLE"]
    assert failed["verificationResult"] == "FAILED"
    assert failed["verifiedLevels"] == ["FAILED"]
    assert [
        e["statement"]["predicateType"] for e in by_name["a verdict INCONCLUSIVE (no summary)"]
    ] == ["https://claimledger.dev/verdict/v1"]
    test_digest = hashlib.sha256(
        base64.b64decode(EXPORTED[0]["input"]["envelope"]["payload"])
    ).hexdigest()
    assert passed["inputAttestations"] == [
        {
            "uri": f"claimledger:claimledger.example/log/acme-social/test/{test_digest}",
            "digest": {"sha256": test_digest},
        }
    ]


@pytest.mark.parametrize("case", REFUSED, ids=lambda c: c["name"])
def test_refused(case: dict[str, Any]) -> None:
    public = PrivateKey.from_seed(gen.VERIFIER_SEED).public_key
    with pytest.raises(errors.VerificationError) as info:
        verify_intoto(case["input"]["envelope"].encode(), public)
    assert type(info.value).__name__ == case["error"]["class"]
    assert info.value.field == case["error"].get("field")
