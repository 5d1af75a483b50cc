"""Generate the in-toto export vectors, tests/vectors/intoto/statements.json (SPEC §17).

Run ``python -m scripts.gen_vectors_intoto`` to (re)write the file, or ``--check`` to compare it
with what would be written (exit status 1 when it differs). Same conventions as the other
generators: fixed seeds and times, ``{"description", "spec", "cases"}``, each case
``{name, input, expect | error}``, sorted keys, ASCII, a trailing newline; every expectation is
computed by the library, and every refusal is checked to be refused here.

The statements exported are built here from literal bodies (not the shared test examples), so
that these bytes change only when the export format does.
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

from attest import canonical
from attest.build import sign_statement
from attest.dsse import pae
from attest.errors import VerificationError
from attest.intoto import (
    INTOTO_PAYLOAD_TYPE,
    LoggedStatement,
    intoto_statements,
    sign_intoto,
    verify_intoto,
)
from keys import PrivateKey
from scripts._vectors import vector_doc, write_or_check

__all__ = ["FILE", "VECTORS_DIR", "build", "main"]

Json = dict[str, Any]

VECTORS_DIR = Path(__file__).resolve().parents[1] / "tests" / "vectors" / "intoto"
FILE = "statements.json"

ORIGIN = "claimledger.example/log"
PROVIDER = "acme-social"
VERIFIER = "safecheck-labs"
MEASURE = "detect.hash_known_image"
CLAIM = hashlib.sha256(b"claimledger example claim version").hexdigest()
VERIFIER_SEED = hashlib.sha256(b"claimledger example key 3").digest()
OTHER_SEED = hashlib.sha256(b"claimledger example key 4").digest()

_DOC = {"uri": "https://safecheck.example/protocols/canary-hash-v3", "digest": {"sha256": CLAIM}}

TEST_BODY: Json = {
    "claim": CLAIM,
    "method": "seeded_canary_hash",
    "protocol": _DOC,
    "environment": {"service": "Acme Social", "surface": "public_posts", "jurisdiction": "GB"},
    "window": {"start": "2026-11-02T09:00:00Z", "end": "2026-11-06T17:00:00Z"},
    "cooperation": "coordinated",
    "trials": [
        {
            "name": "canary image upload to public post",
            "expected": "Upload blocked within 60 seconds",
            "observed": "Upload blocked at once",
            "outcome": "pass",
        }
    ],
    "summary": "Benign canary images, whose hashes were placed in a test bank, were uploaded.",
    "result": "PASSED",
    "limitations": ["Only the Android client was tested."],
}


def _verdict_body(result: str, tests: list[str]) -> Json:
    body: Json = {
        "claim": CLAIM,
        "tests": tests,
        "result": result,
        "assurance": "reasonable" if result == "CONFIRMED" else "limited",
        "scopeTested": {"surfaces": ["public_posts"], "jurisdictions": ["GB"]},
        "scopeMatch": "full" if result == "CONFIRMED" else "partial",
        "validUntil": "2027-11-20T00:00:00Z",
        "conflictsOfInterest": "none declared",
    }
    if result != "CONFIRMED":
        body["comments"] = "Only public posts were tested."
    return body


def _logged(kind: str, body: Json, index: int, key: PrivateKey) -> LoggedStatement:
    statement: Json = {
        "v": 1,
        "kind": kind,
        "stream": PROVIDER,
        "prev": hashlib.sha256(f"head before {index}".encode()).hexdigest(),
        "signer": VERIFIER,
        "signedAt": "2026-11-20T10:00:00Z",
        "body": body,
    }
    envelope = sign_statement(statement, key)
    return LoggedStatement(ORIGIN, index, "2026-11-20T10:00:01Z", envelope, MEASURE)


def _input(logged: LoggedStatement) -> Json:
    return {
        "origin": logged.origin,
        "index": logged.index,
        "logTime": logged.log_time,
        "measure": logged.measure,
        "envelope": logged.envelope.to_dict(),
        "seed": VERIFIER_SEED.hex(),
    }


def _expect(logged: LoggedStatement, key: PrivateKey) -> Json:
    out = []
    for statement in intoto_statements(logged):
        envelope = sign_intoto(statement, key)
        payload = canonical.encode(statement)
        if verify_intoto(envelope, key.public_key) != statement:
            raise AssertionError("an exported envelope does not verify")
        out.append(
            {
                "statement": statement,
                "pae": pae(INTOTO_PAYLOAD_TYPE, payload).hex(),
                "envelope": envelope.decode("ascii"),
            }
        )
    return {"exports": out}


def _refused(name: str, envelope: bytes, reason: str) -> Json:
    key = PrivateKey.from_seed(VERIFIER_SEED)
    try:
        verify_intoto(envelope, key.public_key)
    except VerificationError as exc:
        error: Json = {"class": type(exc).__name__, "reason": reason}
        if exc.field is not None:
            error["field"] = exc.field
        return {"name": name, "input": {"envelope": envelope.decode("ascii")}, "error": error}
    raise AssertionError(f"vector {name!r} was expected to be refused but was accepted")


def build() -> dict[str, bytes]:
    """The vector file's name and exact bytes."""
    key = PrivateKey.from_seed(VERIFIER_SEED)
    test = _logged("test.record", TEST_BODY, 6, key)
    cases: list[Json] = []
    for name, logged in (
        ("a test record", test),
        (
            "a verdict CONFIRMED (PASSED)",
            _logged("verdict.issue", _verdict_body("CONFIRMED", [test.digest]), 7, key),
        ),
        (
            "a verdict CONTRADICTED (FAILED)",
            _logged("verdict.issue", _verdict_body("CONTRADICTED", [test.digest]), 8, key),
        ),
        (
            "a verdict INCONCLUSIVE (no summary)",
            _logged("verdict.issue", _verdict_body("INCONCLUSIVE", [test.digest]), 9, key),
        ),
    ):
        cases.append({"name": name, "input": _input(logged), "expect": _expect(logged, key)})

    good = json.loads(cases[0]["expect"]["exports"][0]["envelope"])
    other = PrivateKey.from_seed(OTHER_SEED)
    statement = cases[0]["expect"]["exports"][0]["statement"]
    changed = {**statement, "predicateType": "https://claimledger.dev/verdict/v1"}
    raw_sig = bytearray(base64.b64decode(good["signatures"][0]["sig"]))
    raw_sig[0] ^= 0x01
    bad: list[tuple[str, Json, str]] = [
        (
            "payload changed after signing",
            {**good, "payload": base64.b64encode(canonical.encode(changed)).decode()},
            "signature",
        ),
        (
            "signature flipped",
            {
                **good,
                "signatures": [
                    {**good["signatures"][0], "sig": base64.b64encode(bytes(raw_sig)).decode()}
                ],
            },
            "signature",
        ),
        ("signed by another key", json.loads(sign_intoto(statement, other)), "key id"),
        (
            "the ledger's payload type",
            {**good, "payloadType": "application/vnd.claimledger.statement.v1+json"},
            "payloadType",
        ),
        ("no signature", {**good, "signatures": []}, "exactly one signature"),
    ]
    for name, value, reason in bad:
        cases.append(_refused(name, canonical.encode(value), reason))
    description = (
        "in-toto Statements v1 of test records and verdicts (claimledger predicates and the SLSA "
        "verification summary), in DSSE signed by the verifier's key; and refusals"
    )
    return {FILE: vector_doc(description, "docs/SPEC.md §17", cases)}


def main(argv: list[str] | None = None) -> int:
    """Write the vector file(s), or with ``--check`` report whether they are up to date."""
    description = __doc__.splitlines()[0] if __doc__ else None
    return write_or_check(build, VECTORS_DIR, argv, description)


if __name__ == "__main__":
    sys.exit(main())
