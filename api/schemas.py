"""Request and response schemas, one per direction, for the served OpenAPI document.

Request bodies are read as raw bytes (an envelope is stored exactly as its signed parts were
received, and parsed strictly by :mod:`attest`); :class:`EnvelopeIn` only documents them.
Responses are built as plain JSON by the routers and described here.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "ENVELOPE_SCHEMA",
    "BatchItemOut",
    "BatchOut",
    "ConsistencyProofOut",
    "EnvelopeIn",
    "FieldErrorOut",
    "HealthOut",
    "InclusionProofOut",
    "LogEntryOut",
    "ProblemOut",
    "ReadyOut",
    "ReceiptOut",
    "Responses",
    "SignatureIn",
    "StreamOut",
    "ViewOut",
    "problem_docs",
]


class SignatureIn(BaseModel):
    """One DSSE signature."""

    model_config = ConfigDict(extra="forbid")

    keyid: str = Field(pattern="^[0-9a-f]{64}$", description="hex SHA-256 key id (SPEC §2.3)")
    sig: str = Field(description="base64 Ed25519 signature over PAE(payloadType, payload)")


class EnvelopeIn(BaseModel):
    """A DSSE v1 envelope holding one claimledger statement (docs/SPEC.md §4)."""

    model_config = ConfigDict(extra="forbid")

    payloadType: str = Field(description="application/vnd.claimledger.statement.v1+json")
    payload: str = Field(description="base64 of the canonical statement bytes")
    signatures: list[SignatureIn] = Field(min_length=1, max_length=1)


class ReceiptOut(BaseModel):
    """Where the log put an entry, and the proof that it is there (docs/SPEC.md §6, §7)."""

    index: int = Field(description="global log index")
    stream: str
    position: int = Field(description="position in the stream")
    entryHash: str = Field(description="hex entry hash (SPEC §5.1)")
    logTime: str = Field(description="the log time, RFC 3339, whole seconds")
    logTimeMs: int = Field(description="the log time in ms since the epoch")
    stateRoot: str = Field(description="hex root of the state commitment after it (SPEC §11)")
    treeSize: int = Field(description="size of the tree the proof and checkpoint are for")
    inclusionProof: list[str] = Field(description="base64 RFC 9162 inclusion proof")
    checkpoint: str = Field(description="the signed checkpoint note (C2SP signed-note)")


class FieldErrorOut(BaseModel):
    """One field of a problem's ``errors`` list."""

    model_config = ConfigDict(extra="allow")

    pointer: str | None = Field(default=None, description="JSON pointer into the statement")
    parameter: str | None = Field(default=None, description="the query or path parameter")
    detail: str


class ProblemOut(BaseModel):
    """An RFC 9457 problem object (``application/problem+json``)."""

    model_config = ConfigDict(extra="allow")

    type: str = Field(description="stable URI of the kind of problem")
    title: str
    status: int
    detail: str | None = None
    pointer: str | None = Field(default=None, description="JSON pointer of the offending field")
    errors: list[FieldErrorOut] | None = None
    head: str | None = Field(default=None, description="chain-conflict: the stream's head")
    length: int | None = Field(default=None, description="chain-conflict: the stream's length")


class BatchItemOut(BaseModel):
    """The outcome of one envelope of a batch: a receipt or a problem."""

    item: int = Field(description="0-based position of the envelope in the request")
    status: int = Field(description="201 appended, 200 already there, else the problem's status")
    receipt: ReceiptOut | None = None
    problem: ProblemOut | None = None


class BatchOut(BaseModel):
    """Per-envelope outcomes of a batch, in request order."""

    accepted: int
    rejected: int
    results: list[BatchItemOut]


class StreamOut(BaseModel):
    """A stream's head: the ``prev`` its next statement must name, and its length."""

    stream: str
    head: str = Field(description="hex hash of the last entry, or the stream's genesis value")
    length: int


class LogEntryOut(BaseModel):
    """One raw log entry, as stored: nothing here is to be trusted before verification."""

    index: int
    stream: str
    position: int
    logTimeMs: int
    stateRoot: str = Field(description="hex state root its Merkle leaf commits to (SPEC §11)")
    envelope: str = Field(
        description="the stored envelope bytes (ASCII canonical JSON), as a string; hash these"
    )


class InclusionProofOut(BaseModel):
    """An RFC 9162 inclusion proof of leaf ``index`` in the tree of ``treeSize`` leaves."""

    index: int
    treeSize: int
    hashes: list[str] = Field(description="base64 node hashes, leaf side first")


class ConsistencyProofOut(BaseModel):
    """An RFC 9162 consistency proof between trees of ``from`` and ``to`` leaves."""

    model_config = ConfigDict(populate_by_name=True)

    from_: int = Field(alias="from")
    to: int
    hashes: list[str] = Field(description="base64 node hashes")


class ViewOut(BaseModel):
    """A read view computed by the ledger (replay, scorecard, party, search results)."""

    model_config = ConfigDict(extra="allow")


class HealthOut(BaseModel):
    """Liveness: the log's size and whether this server can append."""

    status: str
    size: int
    writable: bool


class ReadyOut(BaseModel):
    """Readiness: this server's log size and the store's."""

    status: str
    size: int
    storeSize: int


ENVELOPE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "A DSSE v1 envelope holding one claimledger statement (docs/SPEC.md §4).",
    "additionalProperties": False,
    "required": ["payloadType", "payload", "signatures"],
    "properties": {
        "payloadType": {
            "type": "string",
            "example": "application/vnd.claimledger.statement.v1+json",
        },
        "payload": {"type": "string", "description": "base64 of the canonical statement bytes"},
        "signatures": {
            "type": "array",
            "minItems": 1,
            "maxItems": 1,
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["keyid", "sig"],
                "properties": {
                    "keyid": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
                    "sig": {"type": "string", "description": "base64 Ed25519 signature"},
                },
            },
        },
    },
}
"""The request body schema of ``POST /v1/entries`` (inline: the body is read as raw bytes)."""


Responses = dict[int | str, dict[str, Any]]


def problem_docs(*items: tuple[int, str]) -> Responses:
    """OpenAPI ``responses`` entries for problem statuses, each with its description."""
    return {
        status: {
            "model": ProblemOut,
            "description": text,
            "content": {"application/problem+json": {}},
        }
        for status, text in items
    }
