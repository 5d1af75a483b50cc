"""``tiles export`` and the read side from a static tile URL (``verify --tiles URL``).

:class:`TilesBackend` reads a log served as C2SP tlog-tiles (SPEC §14) by any static server: the
checkpoint, hash tiles, entry and envelope bundles, and the evidence bundles ``tiles export``
writes (``bundle/<provider>.json``). Nothing it reads is trusted: entries are rebuilt from the
bundles and checked against the level-0 tiles, every hash tile is recomputed from the leaves, and
proofs are computed from tiles and verified against signed checkpoints.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click
import httpx

from attest import (
    REGISTRY_STREAM,
    Checkpoint,
    LogEntry,
    NoteVerifier,
    VerificationError,
    verify_checkpoint,
)
from attest.dsse import Envelope
from attest.entry import parse_leaf_data
from attest.errors import ProofError
from attest.merkle import leaf_hash
from attest.policy import check_consistent
from attest.rules import open_genesis
from attest.statements import Genesis
from attest.tiles import (
    TILE_WIDTH,
    TileBuilder,
    TileHashReader,
    TileRef,
    bundle_log_entries,
    decode_entry_bundle,
    root_with_leaves,
)
from cli._backend import Backend
from cli._common import db_option
from cli._errors import EXIT_FAILED, CliError
from cli._i18n import _
from cli._verifying import Outcome, checkpoint_size, verify_bundle_bytes
from keys import PublicKey
from ledger import Ledger, export_tiles, open_store

__all__ = ["TilesBackend", "tiles_group", "verify_record_from_tiles"]


class TilesBackend(Backend):
    """A log read from a tlog-tiles URL prefix (read-only; see the module docstring)."""

    def __init__(self, url: str, *, timeout: float = 30.0) -> None:
        self.url = url.rstrip("/") + "/"
        self.source = f"tiles {self.url}"
        self._http = httpx.Client(
            base_url=self.url,
            timeout=timeout,
            headers={"Accept-Encoding": "gzip, identity"},
        )
        self._note: bytes | None = None
        self.fetched = 0

    def get(self, path: str) -> bytes:
        """The bytes at ``path`` below the prefix.

        Raises:
            CliError: not found (exit 1: the log does not serve what its checkpoint needs) or
                an HTTP error (exit 2).
        """
        try:
            response = self._http.get(path)
        except httpx.HTTPError as exc:
            raise CliError(
                _("cannot fetch %(url)s%(path)s: %(exc)s")
                % {"url": self.url, "path": path, "exc": exc}
            ) from exc
        self.fetched += 1
        if response.status_code == 404:
            raise CliError(
                _("%(url)s%(path)s is not served (404)") % {"url": self.url, "path": path},
                EXIT_FAILED,
            )
        if response.status_code != 200:
            raise CliError(
                _("%(url)s%(path)s answered %(status_code)s")
                % {"url": self.url, "path": path, "status_code": response.status_code}
            )
        return response.content

    def tile(self, level: int, index: int, width: int) -> bytes:
        """Hash tile ``tile/<level>/<index>[.p/<width>]``."""
        return self.get(TileRef("hash", level, index, width).path)

    def reader(self, size: int) -> TileHashReader:
        """Node hashes and proofs of the tree of ``size`` from this prefix's tiles."""
        return TileHashReader(size, self.tile)

    def checkpoint(self) -> bytes:
        self._note = self.get("checkpoint")
        return self._note

    def log_vkey(self) -> str:
        """The log key the genesis entry (entry 0) names; untrusted until the log verifies."""
        size = checkpoint_size(self._note if self._note is not None else self.checkpoint())
        if size == 0:
            raise CliError(_("the log at %(url)s is empty") % {"url": self.url}, EXIT_FAILED)
        (raw,) = self._bundle(0, min(size, TILE_WIDTH))[:1]
        try:
            body = open_genesis(Envelope.parse_stored(raw.envelope)).statement.body
            if not isinstance(body, Genesis):  # pragma: no cover - open_genesis checks
                raise CliError(_("entry 0 is not a genesis entry"), EXIT_FAILED)
            return NoteVerifier.for_key(body.origin, PublicKey.from_b64(body.log_key)).vkey()
        except VerificationError as exc:
            raise CliError(
                _("entry 0 of %(url)s is not a genesis entry: %(exc)s")
                % {"url": self.url, "exc": exc},
                EXIT_FAILED,
            ) from exc

    def _bundle(self, index: int, width: int, tile: bytes | None = None) -> list[LogEntry]:
        ref = TileRef("entries", 0, index, width)
        envelopes = self.get(TileRef("envelopes", 0, index, width).path)
        return bundle_log_entries(index, self.get(ref.path), envelopes, width, tile)

    def log_entries(self, start: int, end: int) -> Iterator[LogEntry]:
        """Entries ``[start, end)`` of the tree of ``end`` leaves (its checkpoint's size), each
        leaf checked against ``tile/0``; from 0, every hash tile of the tree is recomputed
        from the leaves and must equal the one served.

        Raises:
            VerificationError: a bundle or tile disagrees with the leaves (located).
        """
        builder = TileBuilder() if start == 0 else None
        for index in range(start // TILE_WIDTH, -(-end // TILE_WIDTH)):
            width = min(TILE_WIDTH, end - index * TILE_WIDTH)
            tile = self.tile(0, index, width)
            entries = self._bundle(index, width, tile)
            if builder is not None:
                for i in range(width):
                    for ref, data in builder.add(tile[32 * i : 32 * i + 32]):
                        if ref.level:
                            self._same_tile(ref, data)
            yield from (e for e in entries if start <= e.index < end)
        if builder is not None:
            for ref, data in builder.finish():
                if ref.level:
                    self._same_tile(ref, data)

    def _same_tile(self, ref: TileRef, data: bytes) -> None:
        if self.get(ref.path) != data:
            raise ProofError(f"{ref.path} is not the tile the log's leaves make")

    def leaves(self, start: int, end: int) -> list[bytes]:
        """The leaf data ``[start, end)`` of the tree of ``end`` leaves (unauthenticated)."""
        out: list[bytes] = []
        for index in range(start // TILE_WIDTH, -(-end // TILE_WIDTH)):
            width = min(TILE_WIDTH, end - index * TILE_WIDTH)
            datas = decode_entry_bundle(self.get(TileRef("entries", 0, index, width).path), width)
            lo = index * TILE_WIDTH
            out += [d for i, d in enumerate(datas) if start <= lo + i < end]
        return out

    def bundle(self, stream: str, size: int | None = None) -> bytes:
        if size is not None:
            raise CliError(_("tiles serve each provider's bundle at the exported checkpoint only"))
        return self.get(f"bundle/{stream}.json")

    def consistency_proof(self, old: int, new: int) -> list[bytes]:
        return list(self.reader(new).consistency_proof(old))

    def inclusion_proof(self, index: int, size: int) -> list[bytes]:
        return list(self.reader(size).inclusion_proof(index))

    def cosigned_checkpoint(self) -> bytes:
        raise CliError(_("a tile URL serves no cosigned checkpoint: use --server for --policy"))

    def replay(self, stream: str, *, as_of_ms: int | None, size: int | None) -> dict[str, Any]:
        raise CliError(_("replay needs --server or --db (or verify --bundle)"))

    def head(self, stream: str) -> tuple[str, int]:
        raise CliError(_("a tile URL is read-only"))

    def submit(self, envelope: bytes) -> dict[str, Any]:
        raise CliError(_("a tile URL is read-only"))

    def close(self) -> None:
        self._http.close()


def verify_record_from_tiles(
    backend: TilesBackend,
    stream: str,
    *,
    genesis_hash: bytes | None,
    trusted: Any,
) -> Outcome:
    """Verify ``stream``'s record from a tile URL: its evidence bundle (at size ``m``), then the
    tiles' checkpoint (size ``n``): ``n`` extends ``m`` (a consistency proof from tiles), and no
    leaf in ``[m, n)`` (authenticated by recomputing the root of ``n`` from them) is on the
    company's stream or the registry, so the record proved complete at ``m`` is the record at
    ``n``. ``trusted(vkey)`` gives the remembered checkpoint, which ``n`` must extend (or, when
    the tiles are older, be a prefix of).

    Raises:
        VerificationError: any check fails.
        CliError: a needed file is not served.
    """
    data = backend.bundle(stream)
    record = verify_bundle_bytes(data, genesis_hash=genesis_hash, trusted_for=lambda _: None)
    verifier = NoteVerifier.from_vkey(record.vkey)
    at_m: Checkpoint = record.checkpoint
    note = backend.checkpoint()
    cp = verify_checkpoint(note, verifier)
    if cp.size < at_m.size:  # the bundle was written, the checkpoint not yet: use the bundle's
        cp, note = at_m, record.note
    m, n = at_m.size, cp.size
    if n > m:
        check_consistent(at_m, cp, backend.consistency_proof(m, n))
        datas = backend.leaves(m, n)
        if root_with_leaves(backend.reader(n), m, [leaf_hash(d) for d in datas]) != cp.root:
            raise ProofError(f"the leaves {m}..{n - 1} served are not those of the checkpoint")
        for entry in map(parse_leaf_data, datas):
            if entry.stream in (stream, REGISTRY_STREAM):
                raise VerificationError(
                    f"the bundle of {stream} is at tree size {m}, but the checkpoint's entry "
                    f"{entry.index} is on {entry.stream!r}: the tiles withhold a newer bundle",
                    stream=entry.stream,
                    position=entry.position,
                    index=entry.index,
                )
    held: Checkpoint | None = trusted(record.vkey)
    if held is not None:
        if held.size <= n:
            proof = backend.consistency_proof(held.size, n) if held.size < n else []
            check_consistent(held, cp, proof)
        else:
            check_consistent(cp, held, backend.consistency_proof(n, held.size))
    return dataclasses.replace(record, checkpoint=cp, note=note)


@click.group("tiles")
def tiles_group() -> None:
    """The log as static files (C2SP tlog-tiles): export them; verify from them with
    'claimledger verify --tiles URL' (SPEC §14)."""


@tiles_group.command("export")
@db_option("Ledger database")
@click.option(
    "--bundles/--no-bundles",
    default=True,
    show_default=True,
    help="Also write each changed provider's evidence bundle (opens the ledger: a replay of "
    "the log) or tiles only (opens the database alone, O(new entries)).",
)
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
def tiles_export_cmd(db: str, bundles: bool, directory: Path) -> None:
    """Write the log's newest kept checkpoint, its tiles and entry bundles, and each changed
    provider's evidence bundle into DIRECTORY, incrementally (only what is new; the checkpoint
    last). Serve DIRECTORY with any static web server (docs/operating/static-read-side.md)."""
    if bundles:
        with Ledger.open(db) as ledger:
            done = export_tiles(ledger, directory)
    else:
        store = open_store(db)
        try:
            done = export_tiles(store, directory)
        finally:
            store.close()
    if done.files == 0:
        click.echo(f"{directory}: up to date at tree size {done.size}")
    else:
        click.echo(
            f"{directory}: tree size {done.old_size} -> {done.size}: {done.files} files, "
            f"{done.bundles} evidence bundles, {done.bytes} bytes"
        )
