"""Errors raised by :mod:`attest`.

Every failed trust check raises :class:`VerificationError` (or a subclass, for diagnostics).
Each carries *what* failed and *where*: the stream, the position in that stream, the global log
index and the field (a JSON pointer), when known::

    AttestError
     └── VerificationError        any failed trust or validity check
          ├── EncodingError        bytes are malformed or not in their one canonical form
          ├── SchemaError          a statement field is missing, unknown or of the wrong shape
          ├── SignatureError       a signature does not verify under the strict rule
          ├── UnknownKeyError      the signing key is not an active key of the signer
          ├── RevokedKeyError      the signing key was revoked before this entry
          ├── NotAuthorisedError   the signer may not write this kind of statement to this stream
          ├── ChainError           ``prev`` is not the current head of the stream
          ├── DanglingReferenceError  a referenced claim, test, verdict or party is not there
          ├── EngagementError      a test record or verdict does not fit its engagement, or an
          │                        engagement is opened, closed or withdrawn against the rules
          ├── OutOfScopeError      a test record tested outside the scope of its claim
          ├── ProofError           a Merkle inclusion or consistency proof does not verify
          ├── IncompleteRecordError  a record leaves out entries the state commitment counts
          └── CheckpointError      a checkpoint or signed note is malformed or not signed by the log
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "AttestError",
    "ChainError",
    "CheckpointError",
    "DanglingReferenceError",
    "EncodingError",
    "EngagementError",
    "FieldProblem",
    "IncompleteRecordError",
    "NotAuthorisedError",
    "OutOfScopeError",
    "ProofError",
    "RevokedKeyError",
    "SchemaError",
    "SignatureError",
    "UnknownKeyError",
    "VerificationError",
]


class AttestError(Exception):
    """Root of every error raised by :mod:`attest`."""


class VerificationError(AttestError):
    """A trust or validity check failed.

    Attributes:
        what: a one-line description of what failed.
        stream: the stream of the entry concerned, if known.
        position: the entry's position in its stream (0-based), if known.
        index: the entry's global log index (0-based), if known.
        field: a JSON pointer to the offending field, if any.
    """

    def __init__(
        self,
        what: str,
        *,
        stream: str | None = None,
        position: int | None = None,
        index: int | None = None,
        field: str | None = None,
    ) -> None:
        self.what = what
        self.stream = stream
        self.position = position
        self.index = index
        self.field = field
        super().__init__(what)

    def located(
        self,
        *,
        stream: str | None = None,
        position: int | None = None,
        index: int | None = None,
    ) -> VerificationError:
        """Fill in the location where it is still unknown, and return ``self`` for re-raising."""
        if self.stream is None:
            self.stream = stream
        if self.position is None:
            self.position = position
        if self.index is None:
            self.index = index
        return self

    def where(self) -> str:
        """Human-readable location, e.g. ``stream acme, position 3, index 17, field /body/x``."""
        parts = []
        if self.stream is not None:
            parts.append(f"stream {self.stream}")
        if self.position is not None:
            parts.append(f"position {self.position}")
        if self.index is not None:
            parts.append(f"index {self.index}")
        if self.field is not None:
            parts.append(f"field {self.field}")
        return ", ".join(parts)

    def __str__(self) -> str:
        where = self.where()
        return f"{self.what} ({where})" if where else self.what


class EncodingError(VerificationError):
    """Bytes are malformed (JSON, base64, text) or not in their one canonical form."""


@dataclass(frozen=True, slots=True)
class FieldProblem:
    """One schema problem: a JSON pointer into the statement and what is wrong there."""

    pointer: str
    message: str


class SchemaError(VerificationError):
    """A statement does not match the schema of its kind.

    One problem reads as its message (its pointer is the ``field``); several are all listed,
    each after its pointer: ``3 problems: /v: ...; /body/x: ...; /extra: ...`` (``field`` is still
    the first one's pointer, but the location no longer repeats it).

    Attributes:
        problems: every problem found, each with a JSON pointer (``/body/metrics/0/value``).
    """

    def __init__(self, problems: list[FieldProblem], **where: str | int | None) -> None:
        if not problems:
            raise ValueError("SchemaError needs at least one problem")
        self.problems = tuple(problems)
        first = problems[0]
        what = first.message
        if len(problems) > 1:
            what = f"{len(problems)} problems: " + "; ".join(
                f"{p.pointer}: {p.message}" for p in problems
            )
        super().__init__(
            what,
            stream=_opt_str(where.get("stream")),
            position=_opt_int(where.get("position")),
            index=_opt_int(where.get("index")),
            field=first.pointer,
        )

    def where(self) -> str:
        """As :meth:`VerificationError.where`, but without the field when there are several
        problems: each names its own."""
        if len(self.problems) == 1:
            return super().where()
        located = (("stream", self.stream), ("position", self.position), ("index", self.index))
        return ", ".join(f"{k} {v}" for k, v in located if v is not None)


def _opt_str(v: str | int | None) -> str | None:
    return None if v is None else str(v)


def _opt_int(v: str | int | None) -> int | None:
    return None if v is None else int(v)


class SignatureError(VerificationError):
    """A signature does not verify under the strict acceptance rule."""


class UnknownKeyError(VerificationError):
    """The signing key id is not an active key of the statement's signer."""


class RevokedKeyError(VerificationError):
    """The signing key was revoked at an earlier log position."""


class NotAuthorisedError(VerificationError):
    """The signer may not write this kind of statement to this stream at this log position."""


class ChainError(VerificationError):
    """``prev`` does not name the current head of the stream.

    Attributes:
        head: the current head (hex entry hash, or the stream's genesis value).
        length: the number of entries in the stream now.
    """

    def __init__(self, what: str, *, head: str, length: int, **kw: object) -> None:
        self.head = head
        self.length = length
        super().__init__(what, **kw)  # type: ignore[arg-type]


class DanglingReferenceError(VerificationError):
    """A statement refers to a claim version, test record or verdict that does not exist."""


class EngagementError(VerificationError):
    """A test record or verdict does not fit the engagement it names (not open, another
    verifier's, a claim version, window or method it does not cover), or an engagement is
    opened after its window began, or closed or withdrawn when it is no longer open (SPEC §8.2)."""


class OutOfScopeError(VerificationError):
    """A test record's environment (service, surface, jurisdiction) lies outside the scope of
    the claim version it tests (SPEC §8.2)."""


class ProofError(VerificationError):
    """A Merkle inclusion or consistency proof does not verify."""


class IncompleteRecordError(VerificationError):
    """A record (a stream, a party's registry record) is not the whole record that the state
    commitment of the checkpoint counts: entries were left out or cut off (SPEC §11)."""


class CheckpointError(VerificationError):
    """A checkpoint or signed note is malformed, or not validly signed by the expected key."""
