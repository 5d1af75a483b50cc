"""The stateful layer: event store, sequencer, Merkle log, checkpoints and read views.

Open a ledger with :meth:`Ledger.init` (new) or :meth:`Ledger.open` (existing), by database URL:
``sqlite:///path/to/file.db`` (the default kind) or ``postgresql://user@host:port/dbname``.
"""

from ledger._ledger import Clock, Ledger, Receipt, system_clock
from ledger._store import EntryStore, StoredEntry, open_store, parse_database_url
from ledger.errors import (
    ConflictError,
    CorruptionError,
    DatabaseURLError,
    IndexConflictError,
    LedgerError,
    LedgerExistsError,
    LedgerNotFoundError,
    StoreError,
    StreamConflictError,
)

__all__ = [
    "Clock",
    "ConflictError",
    "CorruptionError",
    "DatabaseURLError",
    "EntryStore",
    "IndexConflictError",
    "Ledger",
    "LedgerError",
    "LedgerExistsError",
    "LedgerNotFoundError",
    "Receipt",
    "StoreError",
    "StoredEntry",
    "StreamConflictError",
    "open_store",
    "parse_database_url",
    "system_clock",
]
