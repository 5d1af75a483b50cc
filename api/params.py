"""Parsing and checking of query parameters shared by several routers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from fastapi import Request

from api.problems import InvalidParameterError, NotFoundError
from api.responses import checkpoint_etag
from attest import LogEntry
from ledger import Ledger, LedgerError

__all__ = [
    "MAX_TIME_MS",
    "TICK_MS",
    "Latest",
    "committed_size",
    "history_cut",
    "latest",
    "log_entry_json",
    "parse_as_of",
    "present_ms",
    "require_stream",
    "still_latest",
]


MAX_TIME_MS = 253_402_300_799_000
"""9999-12-31T23:59:59Z, the last instant a statement timestamp can name."""


def parse_as_of(value: str | None, *, parameter: str = "as_of") -> int | None:
    """Milliseconds since the epoch of an RFC 3339 date-time with an offset (``Z`` or ``±hh:mm``).

    Raises:
        InvalidParameterError: not such a date-time.
    """
    if value is None:
        return None
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        when = None
    if when is None or "T" not in value.upper() or when.tzinfo is None:
        raise InvalidParameterError(
            f"{parameter} must be an RFC 3339 date-time with an offset, e.g. 2026-11-20T10:00:00Z",
            parameter=parameter,
        )
    ms = int(when.timestamp() * 1000)
    if not 0 <= ms <= MAX_TIME_MS:
        raise InvalidParameterError(
            f"{parameter} must be in 1970-01-01T00:00:00Z..9999-12-31T23:59:59Z",
            parameter=parameter,
        )
    return ms


def committed_size(ledger: Ledger) -> int:
    """The size of the log's committed tree (what the latest checkpoint covers).

    ``Ledger.size`` is the rules' state, which runs ahead of the commit while the sequencer
    decides a batch; the checkpoint is only signed over committed entries. A read-only ledger
    has no sequencer, so there its size is the committed size.
    """
    try:
        note = ledger.checkpoint()
    except LedgerError:
        return ledger.size
    return int(note.split(b"\n", 2)[1])


TICK_MS = 60_000
"""Views of the present judge verdict expiry once a minute (:func:`present_ms`)."""


def present_ms(now_ms: int) -> int:
    """The instant "now" is judged at by views of the present: the last whole second of the
    current minute.

    A verdict is then shown expired up to a minute early, never late, and a view of the present
    reads the same for a whole minute, so its checkpoint-bound ETag (with the minute) holds and
    a cache's revalidation gets ``304`` (docs/operating/caching.md).
    """
    return now_ms - now_ms % TICK_MS + TICK_MS - 1000


@dataclass(frozen=True, slots=True)
class Latest:
    """The checkpoint a "latest" response is rendered at, and its ETag.

    Attributes:
        note: the signed checkpoint note (``None`` when the server has none to show: then the
            body's hash is the ETag).
        size: its tree size (the ledger's size without a note): render views cut at it.
        etag: the checkpoint-bound ETag, or ``None``.
    """

    note: bytes | None
    size: int
    etag: str | None


def _latest_note(ledger: Ledger) -> bytes | None:
    try:
        return ledger.checkpoint()
    except LedgerError:
        return None


def latest(ledger: Ledger, request: Request, *parts: str) -> Latest:
    """Pin the latest checkpoint for a response: render at ``size``, tag it ``etag``."""
    note = _latest_note(ledger)
    if note is None:
        return Latest(None, ledger.size, None)
    size = int(note.split(b"\n", 2)[1])
    return Latest(note, size, checkpoint_etag(request, note, *parts))


def still_latest(ledger: Ledger, pinned: Latest) -> str | None:
    """``pinned.etag`` if the log has not moved since it was pinned, else ``None``.

    Parts of a body that are not cut at the pinned size (the registry's parties, a stream's
    head) may already show a newer entry if one was committed while it was rendered: the tag
    would then name a checkpoint the body does not match, so the body's own hash is used.
    The ledger updates its tree and views together under one lock, and ``checkpoint()`` waits
    for it: an unchanged note means nothing was committed in between. A read-only server's
    state may also run ahead of the newest checkpoint the writers kept (by the batch being
    written): then too the body's hash is used.
    """
    if pinned.etag is None or _latest_note(ledger) != pinned.note or ledger.size != pinned.size:
        return None
    return pinned.etag


def history_cut(
    ledger: Ledger, as_of: str | None, size: int | None
) -> tuple[int | None, int | None]:
    """Check the ``as_of``/``size`` pair that cuts a history: at most one, ``size`` not ahead.

    Raises:
        InvalidParameterError: both are given, ``as_of`` is malformed or ``size`` is too large.
    """
    if as_of is not None and size is not None:
        raise InvalidParameterError("give as_of or size, not both", parameter="size")
    as_of_ms = parse_as_of(as_of)
    if size is not None:
        current = committed_size(ledger)
        if size > current:
            raise InvalidParameterError(
                f"size {size} is larger than the log ({current})", parameter="size"
            )
    return as_of_ms, size


def require_stream(ledger: Ledger, stream: str) -> tuple[str, int]:
    """The head and length of a stream that exists: it has entries, or is a provider's.

    Raises:
        NotFoundError: no such stream.
    """
    head, length = ledger.head(stream)
    if length == 0:
        party = ledger.views.party(stream)
        if party is None or party.role != "provider":
            raise NotFoundError(f"no stream {stream!r}")
    return head, length


def log_entry_json(e: LogEntry) -> dict[str, Any]:
    """A raw log entry as JSON; ``envelope`` is the stored bytes as a string (ASCII), and
    ``stateRoot`` the state root its leaf commits to (SPEC §11), hex."""
    return {
        "index": e.index,
        "stream": e.stream,
        "position": e.position,
        "logTimeMs": e.log_time_ms,
        "stateRoot": None if e.state_root is None else e.state_root.hex(),
        "envelope": e.envelope.decode("utf-8"),
    }
