"""in-toto attestation Statements v1 of test records and verdicts, in DSSE (docs/SPEC.md §17).

A test record or verdict in the ledger is a claimledger statement in a DSSE envelope of payload
type ``application/vnd.claimledger.statement.v1+json`` (§4). For other tools it is exported as an
in-toto Statement v1 whose subject is the claim version it concerns:

- ``https://claimledger.dev/test-record/v1`` and ``https://claimledger.dev/verdict/v1``: the
  signed statement itself, the ledger envelope's signature over it and where the log placed it;
- ``https://slsa.dev/verification_summary/v1`` (SLSA VSA): a verdict's summary, for a verdict
  whose result maps to PASSED or FAILED (none for ``INCONCLUSIVE``).

:func:`sign_intoto` wraps a Statement in a DSSE envelope of payload type
``application/vnd.in-toto+json`` signed with a claimledger key (the verifier re-signs its own
statements); :func:`verify_intoto` checks one. Pure: bytes and values in, values out.
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass
from typing import Any

from attest import canonical
from attest.dsse import Envelope, b64decode_lenient, pae
from attest.entry import LogEntry
from attest.errors import EncodingError, SignatureError
from attest.statements import format_timestamp
from keys import PrivateKey, PublicKey
from keys.errors import InvalidSignatureError

__all__ = [
    "INTOTO_PAYLOAD_TYPE",
    "STATEMENT_TYPE",
    "TEST_RECORD_PREDICATE",
    "VERDICT_PREDICATE",
    "VSA_PREDICATE",
    "LoggedStatement",
    "claim_name",
    "intoto_statements",
    "party_uri",
    "sign_intoto",
    "statement_bytes",
    "test_record_statement",
    "verdict_statement",
    "verify_intoto",
    "vsa_statement",
]

STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
INTOTO_PAYLOAD_TYPE = "application/vnd.in-toto+json"
TEST_RECORD_PREDICATE = "https://claimledger.dev/test-record/v1"
VERDICT_PREDICATE = "https://claimledger.dev/verdict/v1"
VSA_PREDICATE = "https://slsa.dev/verification_summary/v1"

_TEST_RECORD = "test.record"
_VERDICT = "verdict.issue"
_PASSED = frozenset({"CONFIRMED", "CONFIRMED_WITH_COMMENTS"})
_FAILED = frozenset({"NO_EVIDENCE_FOUND", "CONTRADICTED"})


def claim_name(origin: str, provider: str, digest: str) -> str:
    """The stable name of a claim version: ``claimledger:<origin>/<provider>/claim/<digest>``."""
    return f"claimledger:{origin}/{provider}/claim/{digest}"


def _name(origin: str, provider: str, what: str, digest: str) -> str:
    return f"claimledger:{origin}/{provider}/{what}/{digest}"


def party_uri(origin: str, party: str) -> str:
    """A party of the log: ``claimledger:<origin>/party/<party id>``."""
    return f"claimledger:{origin}/party/{party}"


@dataclass(frozen=True, slots=True)
class LoggedStatement:
    """A test record or verdict as the log holds it: what an export is made from.

    Attributes:
        origin: the log's checkpoint origin (§7).
        index: the entry's log index.
        log_time: the entry's log time, RFC 3339 in whole seconds (``YYYY-MM-DDTHH:MM:SSZ``).
        envelope: the stored envelope (§4), whose payload is the canonical statement.
        measure: the measure of the claim version the statement concerns.
    """

    origin: str
    index: int
    log_time: str
    envelope: Envelope
    measure: str

    @property
    def statement(self) -> dict[str, Any]:
        """The signed statement (its payload is canonical JSON, §1)."""
        return canonical.decode_object(self.envelope.payload)

    @classmethod
    def from_entry(cls, origin: str, entry: LogEntry, measure: str) -> LoggedStatement:
        """The export source of a raw log entry (its stored envelope parsed, not verified).

        Raises:
            EncodingError: the stored envelope is malformed.
        """
        return cls(
            origin,
            entry.index,
            format_timestamp(entry.log_time_ms - entry.log_time_ms % 1000),
            Envelope.parse_stored(entry.envelope),
            measure,
        )

    @property
    def digest(self) -> str:
        """The statement digest (§3.4): hex SHA-256 of the signed payload."""
        return hashlib.sha256(self.envelope.payload).hexdigest()


def _predicate(logged: LoggedStatement, statement: dict[str, Any]) -> dict[str, Any]:
    sig = logged.envelope.signature
    return {
        "statement": statement,
        "digest": {"sha256": logged.digest},
        "signature": {"keyid": sig.keyid, "sig": base64.b64encode(sig.sig).decode("ascii")},
        "log": {"origin": logged.origin, "index": logged.index, "logTime": logged.log_time},
        "measure": logged.measure,
    }


def _subject(logged: LoggedStatement, statement: dict[str, Any]) -> list[dict[str, Any]]:
    claim = statement["body"]["claim"]
    return [
        {
            "name": claim_name(logged.origin, statement["stream"], claim),
            "digest": {"sha256": claim},
        }
    ]


def _kind(logged: LoggedStatement, kind: str) -> dict[str, Any]:
    statement = logged.statement
    if statement.get("kind") != kind:
        raise EncodingError(
            f"entry {logged.index} is a {statement.get('kind')!r}, not a {kind!r}", field="/kind"
        )
    return statement


def test_record_statement(logged: LoggedStatement) -> dict[str, Any]:
    """The Statement of a test record (predicate ``https://claimledger.dev/test-record/v1``).

    Raises:
        EncodingError: the entry is not a test record.
    """
    statement = _kind(logged, _TEST_RECORD)
    return {
        "_type": STATEMENT_TYPE,
        "subject": _subject(logged, statement),
        "predicateType": TEST_RECORD_PREDICATE,
        "predicate": _predicate(logged, statement),
    }


def verdict_statement(logged: LoggedStatement) -> dict[str, Any]:
    """The Statement of a verdict (predicate ``https://claimledger.dev/verdict/v1``).

    Raises:
        EncodingError: the entry is not a verdict.
    """
    statement = _kind(logged, _VERDICT)
    return {
        "_type": STATEMENT_TYPE,
        "subject": _subject(logged, statement),
        "predicateType": VERDICT_PREDICATE,
        "predicate": _predicate(logged, statement),
    }


def vsa_statement(logged: LoggedStatement) -> dict[str, Any] | None:
    """A verdict's SLSA Verification Summary Attestation, or ``None`` for ``INCONCLUSIVE``
    (there is no VSA result for "could not be tested").

    ``CONFIRMED`` and ``CONFIRMED_WITH_COMMENTS`` are ``PASSED`` with one custom verified level
    ``CLAIMLEDGER_<RESULT>_<ASSURANCE>``; ``NO_EVIDENCE_FOUND`` and ``CONTRADICTED`` are
    ``FAILED`` with the level ``FAILED``. The policy is the verdict statement itself (it names
    the tests, the scope tested and the assurance); the test records are the input attestations.

    Raises:
        EncodingError: the entry is not a verdict.
    """
    statement = _kind(logged, _VERDICT)
    body = statement["body"]
    result = body["result"]
    if result in _PASSED:
        outcome, levels = "PASSED", [f"CLAIMLEDGER_{result}_{body['assurance'].upper()}"]
    elif result in _FAILED:
        outcome, levels = "FAILED", ["FAILED"]
    else:
        return None
    origin, provider = logged.origin, statement["stream"]
    return {
        "_type": STATEMENT_TYPE,
        "subject": _subject(logged, statement),
        "predicateType": VSA_PREDICATE,
        "predicate": {
            "verifier": {"id": party_uri(origin, statement["signer"])},
            "timeVerified": statement["signedAt"],
            "resourceUri": claim_name(origin, provider, body["claim"]),
            "policy": {
                "uri": _name(origin, provider, "verdict", logged.digest),
                "digest": {"sha256": logged.digest},
            },
            "inputAttestations": [
                {"uri": _name(origin, provider, "test", t), "digest": {"sha256": t}}
                for t in body["tests"]
            ],
            "verificationResult": outcome,
            "verifiedLevels": levels,
        },
    }


def intoto_statements(logged: LoggedStatement) -> list[dict[str, Any]]:
    """Every Statement exported for an entry: a test record's, or a verdict's and its VSA
    (none for other kinds)."""
    kind = logged.statement.get("kind")
    if kind == _TEST_RECORD:
        return [test_record_statement(logged)]
    if kind == _VERDICT:
        vsa = vsa_statement(logged)
        return [verdict_statement(logged), *([] if vsa is None else [vsa])]
    return []


def statement_bytes(statement: dict[str, Any]) -> bytes:
    """The DSSE payload of a Statement: its canonical JSON (§1)."""
    return canonical.encode(statement)


def sign_intoto(statement: dict[str, Any], key: PrivateKey) -> bytes:
    """A DSSE envelope of payload type ``application/vnd.in-toto+json`` over the Statement's
    canonical bytes, signed with ``key`` (Ed25519 over PAE, key id §2.3), as canonical JSON with
    standard padded base64."""
    payload = statement_bytes(statement)
    sig = key.sign(pae(INTOTO_PAYLOAD_TYPE, payload))
    return canonical.encode(
        {
            "payload": base64.b64encode(payload).decode("ascii"),
            "payloadType": INTOTO_PAYLOAD_TYPE,
            "signatures": [
                {"keyid": key.public_key.key_id, "sig": base64.b64encode(sig).decode("ascii")}
            ],
        }
    )


def verify_intoto(envelope: bytes, key: PublicKey) -> dict[str, Any]:
    """Verify an exported envelope with ``key`` and return its Statement.

    Raises:
        EncodingError: not a DSSE envelope of an in-toto Statement v1, or not exactly one
            signature.
        SignatureError: the key id is not ``key``'s, or the signature does not verify.
    """
    try:
        obj = json.loads(envelope)
    except ValueError as exc:
        raise EncodingError(f"envelope is not valid JSON: {exc}") from exc
    if not isinstance(obj, dict) or set(obj) != {"payload", "payloadType", "signatures"}:
        raise EncodingError("a DSSE envelope has payload, payloadType and signatures")
    if obj["payloadType"] != INTOTO_PAYLOAD_TYPE:
        raise EncodingError(f"payloadType must be {INTOTO_PAYLOAD_TYPE!r}", field="/payloadType")
    sigs = obj["signatures"]
    if not isinstance(sigs, list) or len(sigs) != 1 or not isinstance(sigs[0], dict):
        raise EncodingError("exactly one signature", field="/signatures")
    if not isinstance(obj["payload"], str) or not isinstance(sigs[0].get("sig"), str):
        raise EncodingError("payload and sig are base64 strings")
    payload = b64decode_lenient(obj["payload"], field="/payload")
    sig = b64decode_lenient(sigs[0]["sig"], field="/signatures/0/sig")
    if sigs[0].get("keyid") != key.key_id:
        raise SignatureError(
            f"signature key id {sigs[0].get('keyid')} is not key {key.key_id}",
            field="/signatures/0/keyid",
        )
    try:
        key.verify(sig, pae(INTOTO_PAYLOAD_TYPE, payload))
    except InvalidSignatureError as exc:
        raise SignatureError(f"signature does not verify: {exc}", field="/signatures/0") from exc
    statement = canonical.decode_object(payload)
    if statement.get("_type") != STATEMENT_TYPE:
        raise EncodingError(f"payload is not an in-toto Statement ({STATEMENT_TYPE})")
    return statement
