"""Completeness proofs: what the state commitment says about a stream or a party at a checkpoint
(docs/SPEC.md §11.3 to §11.5).

A :class:`StateProof` for a checkpoint of size ``n`` carries the leaf of entry ``n - 1`` (whose
``state_root`` is the state after the whole tree), its inclusion proof, and one map proof per
stream or party asked about. :func:`verify_state` checks it against a verified checkpoint and
returns each record — or None where the stream or party provably has none at ``n``. A client
that then holds a stream's entries, or a party's registry entries, compares them with the record
(:func:`check_stream`, :func:`check_party`): anything left out, cut off or swapped is refused.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from attest._members import hash_b64, members, string, uint
from attest.checkpoint import Checkpoint
from attest.entry import Leaf
from attest.errors import EncodingError, IncompleteRecordError, ProofError
from attest.merkle import verify_inclusion
from attest.statemap import (
    FOLD_START,
    KEY_PARTY,
    KEY_STREAM,
    MapLeaf,
    MapProof,
    Record,
    fold,
    map_key,
    verify_map_proof,
)

__all__ = [
    "RecordProof",
    "StateProof",
    "check_party",
    "check_stream",
    "verify_state",
]

RecordKind = Literal["party", "stream"]
_KINDS: dict[str, int] = {"stream": KEY_STREAM, "party": KEY_PARTY}
_MAX_PROOF = 64
_MAX_SIBLINGS = 256
_MAX_RECORDS = 4096
_HEX64 = re.compile(r"[0-9a-f]{64}")
_HEX96 = re.compile(r"[0-9a-f]{96}")
_ID = re.compile(r"[a-z][a-z0-9-]{0,61}[a-z0-9]")
_LEAF_MEMBERS = frozenset({"entryHash", "index", "logTimeMs", "position", "stateRoot", "stream"})
_STATE_MEMBERS = frozenset({"inclusionProof", "leaf", "records"})
_RECORD_MEMBERS = frozenset({"id", "kind", "leaf", "siblings"})
_MAP_LEAF_MEMBERS = frozenset({"key", "value"})


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _hex(v: object, where: str, pattern: re.Pattern[str] = _HEX64) -> bytes:
    text = string(v, where)
    if pattern.fullmatch(text) is None:
        raise EncodingError("must be lowercase hex of the right length", field=where)
    return bytes.fromhex(text)


def _hashes(v: object, where: str, limit: int) -> tuple[bytes, ...]:
    if type(v) is not list:
        raise EncodingError("must be an array", field=where)
    if len(v) > limit:
        raise EncodingError(f"at most {limit} hashes", field=where)
    return tuple(hash_b64(h, f"{where}/{i}") for i, h in enumerate(v))


def _leaf_to_dict(leaf: Leaf) -> dict[str, Any]:
    """A leaf's JSON object in a state proof (SPEC §11.4)."""
    return {
        "entryHash": leaf.entry_hash.hex(),
        "index": leaf.index,
        "logTimeMs": leaf.log_time_ms,
        "position": leaf.position,
        "stateRoot": leaf.state_root.hex(),
        "stream": leaf.stream,
    }


def _leaf_from_dict(obj: object, where: str) -> Leaf:
    d = members(obj, where, _LEAF_MEMBERS)
    return Leaf(
        index=uint(d["index"], f"{where}/index"),
        stream=string(d["stream"], f"{where}/stream"),
        position=uint(d["position"], f"{where}/position"),
        log_time_ms=uint(d["logTimeMs"], f"{where}/logTimeMs"),
        entry_hash=_hex(d["entryHash"], f"{where}/entryHash"),
        state_root=_hex(d["stateRoot"], f"{where}/stateRoot"),
    )


@dataclass(frozen=True, slots=True)
class RecordProof:
    """The map proof of one stream's or party's record."""

    kind: RecordKind
    ident: str
    proof: MapProof

    def to_dict(self) -> dict[str, Any]:
        """The record proof's JSON object (SPEC §11.4)."""
        leaf = self.proof.leaf
        return {
            "id": self.ident,
            "kind": self.kind,
            "leaf": None if leaf is None else {"key": leaf.key.hex(), "value": leaf.value.hex()},
            "siblings": [_b64(s) for s in self.proof.siblings],
        }

    @classmethod
    def from_dict(cls, obj: object, where: str) -> RecordProof:
        """Parse a record proof's JSON object strictly.

        Raises:
            EncodingError: a missing, unknown or ill-typed member.
        """
        d = members(obj, where, _RECORD_MEMBERS)
        kind = string(d["kind"], f"{where}/kind")
        if kind not in _KINDS:
            raise EncodingError("kind must be party or stream", field=f"{where}/kind")
        ident = string(d["id"], f"{where}/id")
        if _ID.fullmatch(ident) is None:
            raise EncodingError(f"{ident[:80]!r} is not a party id", field=f"{where}/id")
        raw_leaf = d["leaf"]
        leaf = None
        if raw_leaf is not None:
            lm = members(raw_leaf, f"{where}/leaf", _MAP_LEAF_MEMBERS)
            leaf = MapLeaf(
                _hex(lm["key"], f"{where}/leaf/key"),
                _hex(lm["value"], f"{where}/leaf/value", _HEX96),
            )
        siblings = _hashes(d["siblings"], f"{where}/siblings", _MAX_SIBLINGS)
        return cls(kind, ident, MapProof(siblings, leaf))  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True)
class StateProof:
    """The state of some streams and parties at a checkpoint, with the proofs that show it.

    Attributes:
        leaf: the leaf of the tree's last entry (index ``size - 1``).
        inclusion_proof: its inclusion proof in the tree of the checkpoint's size.
        records: one map proof per stream or party.
    """

    leaf: Leaf
    inclusion_proof: tuple[bytes, ...]
    records: tuple[RecordProof, ...]

    def to_dict(self) -> dict[str, Any]:
        """The proof's JSON object (SPEC §11.4)."""
        return {
            "inclusionProof": [_b64(h) for h in self.inclusion_proof],
            "leaf": _leaf_to_dict(self.leaf),
            "records": [r.to_dict() for r in self.records],
        }

    @classmethod
    def from_dict(cls, obj: object, where: str = "") -> StateProof:
        """Parse a state proof's JSON object strictly.

        Raises:
            EncodingError: a missing, unknown or ill-typed member.
        """
        d = members(obj, where, _STATE_MEMBERS)
        records = d["records"]
        if type(records) is not list or len(records) > _MAX_RECORDS:
            raise EncodingError(
                f"records must be an array of at most {_MAX_RECORDS}", field=f"{where}/records"
            )
        return cls(
            leaf=_leaf_from_dict(d["leaf"], f"{where}/leaf"),
            inclusion_proof=_hashes(d["inclusionProof"], f"{where}/inclusionProof", _MAX_PROOF),
            records=tuple(
                RecordProof.from_dict(r, f"{where}/records/{i}") for i, r in enumerate(records)
            ),
        )


def verify_state(cp: Checkpoint, proof: StateProof) -> dict[tuple[RecordKind, str], Record | None]:
    """Verify ``proof`` against a verified checkpoint; return each record it proves.

    Returns:
        ``(kind, id)`` → the record at the checkpoint's size, or None where there is none.

    Raises:
        ProofError: the leaf is not the tree's last, its inclusion proof or a map proof fails,
            or a record is proved twice.
        EncodingError: a map value is not a record.
    """
    leaf = proof.leaf
    if cp.size == 0 or leaf.index != cp.size - 1:
        raise ProofError(
            f"the state proof's leaf has index {leaf.index}, not the last index of the "
            f"checkpoint's tree ({cp.size - 1})",
            field="/leaf/index",
        )
    try:
        verify_inclusion(leaf.leaf_hash(), leaf.index, cp.size, proof.inclusion_proof, cp.root)
    except ProofError as exc:
        raise ProofError(
            f"the state proof's leaf is not in the checkpoint's tree: {exc.what}"
        ) from None
    out: dict[tuple[RecordKind, str], Record | None] = {}
    for i, r in enumerate(proof.records):
        name = (r.kind, r.ident)
        if name in out:
            raise ProofError(f"the record of {r.kind} {r.ident} is proved twice")
        try:
            value = verify_map_proof(leaf.state_root, map_key(_KINDS[r.kind], r.ident), r.proof)
        except ProofError as exc:
            raise ProofError(
                f"the proof of the record of {r.kind} {r.ident} fails: {exc.what}",
                field=f"/records/{i}",
            ) from None
        out[name] = None if value is None else Record.from_bytes(value)
    return out


def check_stream(
    stream: str, record: Record | None, entries: Sequence[tuple[int, bytes]], size: int
) -> None:
    """Require ``entries`` (index, entry hash), positions 0, 1, … of ``stream``, to be the whole
    stream that ``record`` describes at tree size ``size``.

    Raises:
        IncompleteRecordError: entries are missing at the end (or the stream has none at all).
    """
    count = 0 if record is None else record.count
    if len(entries) != count:
        raise IncompleteRecordError(
            f"the record of {stream} is incomplete: the log's state at size {size} counts "
            f"{count} entries in stream {stream}, and {len(entries)} were given",
            stream=stream,
        )
    if record is not None and entries[-1] != (record.last_index, record.digest):
        index, ehash = entries[-1]
        raise IncompleteRecordError(
            f"the head of stream {stream} at size {size} is entry {record.digest.hex()} at index "
            f"{record.last_index}, not the entry {ehash.hex()} at index {index} given",
            stream=stream,
        )


def check_party(
    party: str, record: Record | None, entries: Sequence[tuple[int, bytes]], size: int
) -> None:
    """Require ``entries`` (index, entry hash), in index order, to be every registry entry about
    ``party`` that ``record`` counts at tree size ``size``.

    Raises:
        IncompleteRecordError: an entry about the party is missing, or one is not its.
    """
    count = 0 if record is None else record.count
    acc = FOLD_START
    for _, ehash in entries:
        acc = fold(acc, ehash)
    if len(entries) != count or (
        record is not None and (acc != record.digest or entries[-1][0] != record.last_index)
    ):
        raise IncompleteRecordError(
            f"the registry record of {party} is incomplete: the log's state at size {size} "
            f"counts {count} registry entries about {party}"
            + ("" if record is None else f", the last at index {record.last_index}")
            + f"; the {len(entries)} given do not match it",
            stream="registry",
        )
