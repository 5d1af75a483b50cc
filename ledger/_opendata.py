"""Open data: the scorecard and every record as CSV, JSON and JSON Lines, built at one checkpoint.

Four files, each a function of the log at a checkpoint (size and root) and, for the scorecard,
of the instant verdict expiry is judged at: the server streams them (``/v1/open-data/...``) and
``claimledger open-data DIR`` writes the same bytes, with a ``SHA256SUMS`` file, for daily dumps.

- ``scorecard.csv`` / ``scorecard.json``: one row per provider and measure it has an active
  claim for, as the scorecard shows it (:meth:`ledger.Views.scorecard`);
- ``records.csv`` / ``records.jsonl``: one row per log entry, in index order: the views' facts
  (:meth:`ledger.Views.search`) and the signed statement's ``signedAt`` and ``body``.

Every row of every file carries the checkpoint's size and root (base64, as in the checkpoint
note), so a row taken out of its file still says which log it came from. A CSV cell is the JSON
value written plainly: a string as is, an integer in decimal, ``true``/``false``, an empty cell
for ``null``, and an array or object as its canonical JSON text (docs/architecture/api.md).
"""

from __future__ import annotations

import csv
import hashlib
import io
import os
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from attest import canonical
from attest.dsse import Envelope
from attest.statements import format_timestamp
from ledger._ledger import Ledger
from ledger._views import EntryFact, ScorecardCell, ScorecardRow, Views

__all__ = [
    "OPEN_DATA_FILES",
    "OPEN_DATA_LICENCE",
    "RECORD_COLUMNS",
    "RECORD_DOCS",
    "SCORECARD_COLUMNS",
    "SCORECARD_DOCS",
    "OpenDataCut",
    "check_dump",
    "dump_body",
    "open_data_cut",
    "open_data_file",
    "write_open_data",
]

OPEN_DATA_LICENCE = "CC-BY-4.0"
"""The licence the open data is published under (SPDX id), stated in the JSON and on /data."""

_CHECKPOINT_DOCS = (
    ("checkpointSize", "integer", "the size of the checkpoint the file was built from"),
    ("checkpointRoot", "string", "its root hash, base64, as in the signed checkpoint note"),
)

SCORECARD_DOCS: tuple[tuple[str, str, str], ...] = (
    *_CHECKPOINT_DOCS,
    ("at", "string", "RFC 3339: the time verdict expiry is judged at"),
    ("provider", "string", "the company's party id"),
    ("name", "string", "the company's registered name"),
    ("jurisdiction", "string", "the company's registered country (ISO 3166-1 alpha-2)"),
    ("measure", "string", "the measure type (SPEC §3.3)"),
    (
        "status",
        "string",
        "the public status: contradicted, no_evidence_found, verifiers_disagree, unverified, "
        "inconclusive, confirmed_with_comments or confirmed (a company and measure with no "
        "active claim has no row)",
    ),
    (
        "verifierSuspended",
        "boolean",
        "the status rests on a verdict whose verifier was suspended since",
    ),
    ("keyRevoked", "boolean", "the status rests on a verdict whose signing key was revoked since"),
    (
        "keyCompromised",
        "boolean",
        "a latest verdict here was signed with a key since stated compromised at the time: not to "
        "be relied on, so its claim counts as unverified",
    ),
    ("claims", "array", "digests of the active claim versions for the measure, newest first"),
    ("services", "array", "the services those claim versions name"),
    ("verdicts", "array", "digests of the latest verdict on each of those claim versions"),
    ("verifiers", "array", "the verifiers who signed those verdicts"),
)
"""The scorecard's columns: name, JSON type (``null`` when empty) and meaning."""

RECORD_DOCS: tuple[tuple[str, str, str], ...] = (
    *_CHECKPOINT_DOCS,
    ("index", "integer", "the entry's place in the log (0 is genesis)"),
    ("logTime", "string", "RFC 3339: when the log appended it"),
    ("stream", "string", "registry, or the company's party id whose record it is in"),
    ("position", "integer", "its place in that stream"),
    ("kind", "string", "the statement kind (SPEC §3.3)"),
    ("signer", "string", "the party that signed it"),
    ("digest", "string", "the statement digest (SPEC §3.4) by which others refer to it"),
    ("measure", "string", "the measure of the claim it is or concerns"),
    ("claim", "string", "the claim version a test record, verdict or withdrawal concerns"),
    ("supersedes", "string", "the claim version a new version replaces"),
    ("verdict", "string", "the verdict a provider's reply answers"),
    ("tests", "array", "the test records a verdict rests on"),
    ("result", "string", "a test record's or verdict's result"),
    ("validUntil", "string", "RFC 3339: when a verdict expires"),
    ("party", "string", "the party a registry statement is about"),
    ("keyId", "string", "the key id that signed a verdict"),
    ("engagement", "string", "the engagement a test record, verdict, close or withdrawal names"),
    ("signedAt", "string", "RFC 3339: the signer's clock"),
    ("body", "object", "the statement's body exactly as signed (SPEC §3.3)"),
)
"""The records' columns: name, JSON type (``null`` when empty) and meaning."""

SCORECARD_COLUMNS = tuple(c for c, _t, _d in SCORECARD_DOCS)
"""The scorecard's columns, in order."""

RECORD_COLUMNS = tuple(c for c, _t, _d in RECORD_DOCS)
"""The records' columns, in order."""

_PAGE = 1000
_FORMAT = "claimledger-open-data/v1"


@dataclass(frozen=True, slots=True)
class OpenDataCut:
    """What a set of files is built from.

    Attributes:
        origin: the log's checkpoint origin.
        size: the checkpoint's tree size: entries ``0..size-1`` are in the files.
        root: the checkpoint's root hash, base64 (as in the note).
        at_ms: the instant the scorecard judges verdict expiry at (ms since the epoch).
        note: the signed checkpoint note (written beside the files as ``checkpoint``).
    """

    origin: str
    size: int
    root: str
    at_ms: int
    note: bytes

    @property
    def at(self) -> str:
        """:attr:`at_ms` in RFC 3339, whole seconds."""
        return format_timestamp(self.at_ms - self.at_ms % 1000)

    def headers(self) -> dict[str, str]:
        """The HTTP headers that state the cut (the API sends them with each file)."""
        return {
            "Claimledger-Checkpoint-Size": str(self.size),
            "Claimledger-Checkpoint-Root": self.root,
            "Claimledger-Open-Data-At": self.at,
        }


def open_data_cut(ledger: Ledger, at_ms: int, size: int | None = None) -> OpenDataCut:
    """The cut at the checkpoint of ``size`` (default: the latest), judging expiry at ``at_ms``.

    Raises:
        LedgerError: no checkpoint of that size can be had (see :meth:`Ledger.checkpoint_at`).
    """
    note = ledger.checkpoint() if size is None else ledger.checkpoint_at(size)
    origin, n, root = note.decode("utf-8").split("\n", 3)[:3]
    return OpenDataCut(origin, int(n), root, at_ms, note)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, list | dict):
        return canonical.encode(value).decode("utf-8")
    return str(value)


def _csv(columns: Sequence[str], rows: Iterator[dict[str, Any]]) -> Iterator[bytes]:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_cell(row[c]) for c in columns])
        if buf.tell() >= 64 * 1024:
            yield buf.getvalue().encode("utf-8")
            buf.seek(0)
            buf.truncate()
    yield buf.getvalue().encode("utf-8")


def _jsonl(rows: Iterator[dict[str, Any]]) -> Iterator[bytes]:
    for row in rows:
        yield orjson.dumps(row) + b"\n"


def _scorecard_json(cut: OpenDataCut, rows: Iterator[dict[str, Any]]) -> Iterator[bytes]:
    head = {
        "format": _FORMAT,
        "licence": OPEN_DATA_LICENCE,
        "checkpoint": {"origin": cut.origin, "size": cut.size, "root": cut.root},
        "at": cut.at,
        "columns": list(SCORECARD_COLUMNS),
    }
    yield orjson.dumps(head)[:-1] + b',"rows":['
    sep = b""
    for row in rows:
        yield sep + orjson.dumps(row)
        sep = b","
    yield b"]}\n"


def _scorecard_row(cut: OpenDataCut, row: ScorecardRow, cell: ScorecardCell) -> dict[str, Any]:
    services: list[str] = []
    for c in cell.claims:
        for s in () if c.entry.scope is None else c.entry.scope.services:
            if s not in services:
                services.append(s)
    latest = [c.latest_verdict for c in cell.claims if c.latest_verdict is not None]
    verifiers: list[str] = []
    for v in latest:
        if v.signer not in verifiers:
            verifiers.append(v.signer)
    return {
        "checkpointSize": cut.size,
        "checkpointRoot": cut.root,
        "at": cut.at,
        "provider": row.provider,
        "name": row.name,
        "jurisdiction": row.jurisdiction,
        "measure": cell.measure,
        "status": cell.status,
        "verifierSuspended": cell.verifier_suspended,
        "keyRevoked": cell.key_revoked,
        "keyCompromised": cell.key_compromised,
        "claims": [c.digest.hex() for c in cell.claims],
        "services": services,
        "verdicts": [v.digest.hex() for v in latest],
        "verifiers": verifiers,
    }


def scorecard_rows(views: Views, cut: OpenDataCut) -> Iterator[dict[str, Any]]:
    """Every provider x measure cell of the scorecard at the cut that has a claim, by provider
    then measure (a ``no_claim`` cell has no row: a national scorecard is mostly empty cells)."""
    after: tuple[str, ...] | None = None
    while True:
        card = views.scorecard(at_ms=cut.at_ms, size=cut.size, after=after, limit=500)
        for row in card.rows:
            for cell in row.cells:
                if cell.status != "no_claim":
                    yield _scorecard_row(cut, row, cell)
        if card.next is None:
            return
        after = card.next


def _record_row(cut: OpenDataCut, f: EntryFact, statement: dict[str, Any]) -> dict[str, Any]:
    return {
        "checkpointSize": cut.size,
        "checkpointRoot": cut.root,
        "index": f.index,
        "logTime": format_timestamp(f.log_time_ms - f.log_time_ms % 1000),
        "stream": f.stream,
        "position": f.position,
        "kind": f.kind,
        "signer": f.signer,
        "digest": f.digest.hex(),
        "measure": f.measure,
        "claim": None if f.claim is None else f.claim.hex(),
        "supersedes": None if f.supersedes is None else f.supersedes.hex(),
        "verdict": None if f.verdict is None else f.verdict.hex(),
        "tests": [t.hex() for t in f.tests] if f.tests else None,
        "result": f.result,
        "validUntil": None if f.valid_until_ms is None else format_timestamp(f.valid_until_ms),
        "party": f.party,
        "keyId": f.key_id,
        "engagement": None
        if f.engagement is None or f.engagement.ref is None
        else f.engagement.ref.hex(),
        "signedAt": statement["signedAt"],
        "body": statement["body"],
    }


def record_rows(ledger: Ledger, cut: OpenDataCut) -> Iterator[dict[str, Any]]:
    """One row per entry ``0..size-1`` of the cut, in index order: the views' fact and the
    signed statement (read from the stored envelope: its payload is canonical JSON)."""
    after: int | None = None
    while after is None or after + 1 < cut.size:
        facts = ledger.views.search(limit=_PAGE, after_index=after)
        facts = [f for f in facts if f.index < cut.size]
        if not facts:
            return
        entries = {e.index: e for e in ledger.log_entries(facts[0].index, facts[-1].index + 1)}
        for f in facts:
            payload = Envelope.parse_stored(entries[f.index].envelope).payload
            yield _record_row(cut, f, canonical.decode_object(payload))
        after = facts[-1].index


def open_data_file(ledger: Ledger, name: str, cut: OpenDataCut) -> Iterator[bytes]:
    """The bytes of one file (``name`` in :data:`OPEN_DATA_FILES`), in chunks.

    Raises:
        KeyError: no such file.
    """
    return _FILES[name](ledger, cut)


_FILES: dict[str, Callable[[Ledger, OpenDataCut], Iterator[bytes]]] = {
    "scorecard.csv": lambda lg, cut: _csv(SCORECARD_COLUMNS, scorecard_rows(lg.views, cut)),
    "scorecard.json": lambda lg, cut: _scorecard_json(cut, scorecard_rows(lg.views, cut)),
    "records.csv": lambda lg, cut: _csv(RECORD_COLUMNS, record_rows(lg, cut)),
    "records.jsonl": lambda lg, cut: _jsonl(record_rows(lg, cut)),
}

OPEN_DATA_FILES = tuple(_FILES)
"""The files, by name: what ``/v1/open-data/{name}`` serves and ``open-data DIR`` writes."""


def write_open_data(directory: Path, files: dict[str, Iterable[bytes]]) -> dict[str, str]:
    """Write each file (its chunks) and ``SHA256SUMS`` (``sha256sum -c SHA256SUMS`` checks it)
    into ``directory``; each file is written beside its name, synced, and renamed into place
    (an error while writing one leaves the files before it, and no partial file).

    Returns:
        Each file's name and hex SHA-256.
    """
    directory.mkdir(parents=True, exist_ok=True)
    sums: dict[str, str] = {}
    for name, chunks in [*files.items(), ("SHA256SUMS", None)]:
        if chunks is None:
            chunks = ["".join(f"{d}  {n}\n" for n, d in sums.items()).encode("ascii")]
        h = hashlib.sha256()
        tmp = directory / f".{name}.tmp"
        try:
            with tmp.open("wb") as out:
                for chunk in chunks:
                    h.update(chunk)
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
            tmp.replace(directory / name)
        finally:
            tmp.unlink(missing_ok=True)  # a failed download leaves no partial file behind
        sums[name] = h.hexdigest()
    del sums["SHA256SUMS"]
    return sums


def dump_body(directory: Path, day: str, size: int, sums: Mapping[str, str]) -> dict[str, Any]:
    """The ``dump.publish`` body pinning the files of ``directory`` whose SHA-256 ``sums``
    (:func:`write_open_data`'s, hex, by name) gives (SPEC §3.3): the date, the checkpoint size the
    dump was cut at, each file's name, SHA-256 and size (the files are not read again)."""
    files = [
        {"name": name, "sha256": sha256, "size": (directory / name).stat().st_size}
        for name, sha256 in sums.items()
    ]
    return {"date": day, "checkpointSize": size, "files": files}


def check_dump(directory: Path, files: Sequence[tuple[str, str, int]]) -> list[str]:
    """What differs between ``directory`` and the logged files ``(name, sha256, size)``: one
    line per file missing or changed, empty when every logged file is there as logged."""
    problems = []
    for name, sha256, size in files:
        path = directory / name
        if not path.is_file():
            problems.append(f"{name}: missing (logged: {size} bytes, SHA-256 {sha256})")
            continue
        h = hashlib.sha256()
        got = 0
        with path.open("rb") as f:
            while chunk := f.read(1 << 20):
                h.update(chunk)
                got += len(chunk)
        if got != size or h.hexdigest() != sha256:
            problems.append(
                f"{name}: {got} bytes, SHA-256 {h.hexdigest()}; logged: {size} bytes, "
                f"SHA-256 {sha256}"
            )
    return problems
