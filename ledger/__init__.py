"""The stateful layer: event store, sequencer, Merkle log, checkpoints and read views.

Open a ledger with :meth:`Ledger.init` (new) or :meth:`Ledger.open` (existing), by database URL:
``sqlite:///path/to/file.db`` (the default kind) or ``postgresql://user@host:port/dbname``.
"""

from ledger._backup import BackupResult, backup_sqlite
from ledger._bundle import export_bundle, record_views
from ledger._following import DEFAULT_FOLLOW_S, Following, FollowingStats
from ledger._gc import freeze_heap, tune_gc
from ledger._ledger import Clock, Ledger, Receipt, system_clock
from ledger._opendata import (
    OPEN_DATA_FILES,
    OPEN_DATA_LICENCE,
    RECORD_COLUMNS,
    RECORD_DOCS,
    SCORECARD_COLUMNS,
    SCORECARD_DOCS,
    OpenDataCut,
    open_data_cut,
    open_data_file,
    write_open_data,
)
from ledger._pool import SignaturePool, WorkerError
from ledger._published import PublishedCheckpoint, check_published_checkpoint
from ledger._report import (
    REPORT_COLUMNS,
    REPORT_FORMAT,
    Report,
    ReportClaim,
    SignerKey,
    build_report,
)
from ledger._search import NameHit, SearchItem, fold
from ledger._store import EntryStore, StoredEntry, open_store, parse_database_url
from ledger._tiles import TileExport, export_tiles, read_tile, serve_tile, tile_available
from ledger._verify import verify_ledger, verify_log
from ledger._views import (
    PUBLIC_STATUSES,
    Accreditation,
    ClaimScope,
    ClaimVersion,
    EntryFact,
    Feed,
    FeedItem,
    NameResults,
    Party,
    PartyKey,
    Scorecard,
    ScorecardCell,
    ScorecardRow,
    StreamReplay,
    VerdictFlags,
    VerifierRecord,
    Views,
)
from ledger._witnessing import WitnessEndpoint, Witnessing, WitnessingError
from ledger.errors import (
    ConflictError,
    CorruptionError,
    DatabaseURLError,
    IndexConflictError,
    LedgerError,
    LedgerExistsError,
    LedgerNotFoundError,
    LogKeyNotHeldError,
    StoreError,
    StreamConflictError,
)

__all__ = [
    "DEFAULT_FOLLOW_S",
    "OPEN_DATA_FILES",
    "OPEN_DATA_LICENCE",
    "PUBLIC_STATUSES",
    "RECORD_COLUMNS",
    "RECORD_DOCS",
    "REPORT_COLUMNS",
    "REPORT_FORMAT",
    "SCORECARD_COLUMNS",
    "SCORECARD_DOCS",
    "Accreditation",
    "BackupResult",
    "ClaimScope",
    "ClaimVersion",
    "Clock",
    "ConflictError",
    "CorruptionError",
    "DatabaseURLError",
    "EntryFact",
    "EntryStore",
    "Feed",
    "FeedItem",
    "Following",
    "FollowingStats",
    "IndexConflictError",
    "Ledger",
    "LedgerError",
    "LedgerExistsError",
    "LedgerNotFoundError",
    "LogKeyNotHeldError",
    "NameHit",
    "NameResults",
    "OpenDataCut",
    "Party",
    "PartyKey",
    "PublishedCheckpoint",
    "Receipt",
    "Report",
    "ReportClaim",
    "Scorecard",
    "ScorecardCell",
    "ScorecardRow",
    "SearchItem",
    "SignaturePool",
    "SignerKey",
    "StoreError",
    "StoredEntry",
    "StreamConflictError",
    "StreamReplay",
    "TileExport",
    "VerdictFlags",
    "VerifierRecord",
    "Views",
    "WitnessEndpoint",
    "Witnessing",
    "WitnessingError",
    "WorkerError",
    "backup_sqlite",
    "build_report",
    "check_published_checkpoint",
    "export_bundle",
    "export_tiles",
    "fold",
    "freeze_heap",
    "open_data_cut",
    "open_data_file",
    "open_store",
    "parse_database_url",
    "read_tile",
    "record_views",
    "serve_tile",
    "system_clock",
    "tile_available",
    "tune_gc",
    "verify_ledger",
    "verify_log",
    "write_open_data",
]
