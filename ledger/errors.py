"""Errors raised by :mod:`ledger`.

::

    LedgerError
     └── StoreError                the event store failed (database unreachable, I/O error...)
          ├── DatabaseURLError      the database URL is unset, malformed or of an unknown kind
          ├── LedgerExistsError     ``init`` on a database that already holds a ledger
          ├── LedgerNotFoundError   the database holds no ledger (run ``claimledger init``)
          ├── CorruptionError       stored rows contradict each other (edited or damaged database)
          └── ConflictError         another writer took a place this append wanted
               ├── StreamConflictError  that stream position is taken (``stream``, ``position``)
               └── IndexConflictError   that global log index is taken (``index``)

Foreign errors (eventsourcing's ``IntegrityError``, ``sqlite3`` and ``psycopg`` errors) are wrapped
where they are first caught; the original is the ``__cause__``.
"""

from __future__ import annotations

__all__ = [
    "ConflictError",
    "CorruptionError",
    "DatabaseURLError",
    "IndexConflictError",
    "LedgerError",
    "LedgerExistsError",
    "LedgerNotFoundError",
    "LogKeyNotHeldError",
    "StoreError",
    "StreamConflictError",
]


class LedgerError(Exception):
    """Root of every error raised by :mod:`ledger`."""


class LogKeyNotHeldError(LedgerError):
    """This ledger object does not hold the private log key in force at a size it must sign
    (another writer rotated the key, SPEC §7.6): it appends nothing more until it is opened
    with that key."""


class StoreError(LedgerError):
    """The event store failed: the database is unreachable, refused a statement, or similar."""


class DatabaseURLError(StoreError):
    """The database URL is unset, malformed, or names an unsupported kind of database."""


class LedgerExistsError(StoreError):
    """``create=True`` on a database that already holds a ledger with at least one entry."""


class LedgerNotFoundError(StoreError):
    """The database holds no ledger; it must be created first with ``claimledger init``."""


class CorruptionError(StoreError):
    """Stored rows contradict each other or cannot be decoded.

    Attributes:
        stream: the stream of the damaged entry, when known.
        position: its position in that stream, when known.
        index: its global log index, when known.
    """

    def __init__(
        self,
        message: str,
        *,
        stream: str | None = None,
        position: int | None = None,
        index: int | None = None,
    ) -> None:
        super().__init__(message)
        self.stream = stream
        self.position = position
        self.index = index


class ConflictError(StoreError):
    """Another writer appended first; nothing of this append was written."""


class StreamConflictError(ConflictError):
    """Position ``position`` of ``stream`` is already taken (by a concurrent writer, or stale).

    Attributes:
        stream: the stream name.
        position: the first position of this append that was already taken.
    """

    def __init__(self, stream: str, position: int) -> None:
        super().__init__(f"stream {stream!r} already has an entry at position {position}")
        self.stream = stream
        self.position = position


class IndexConflictError(ConflictError):
    """Global log index ``index`` is already taken by another writer.

    Attributes:
        index: the first global index of this append that was already taken.
    """

    def __init__(self, index: int) -> None:
        super().__init__(f"the log already has an entry at index {index}")
        self.index = index
