"""The published-checkpoint floor: the newest checkpoint a log let out, kept outside its database.

A database restored from a backup older than a checkpoint the log has already published holds
fewer entries than that checkpoint (or other entries at its size). A log that went on signing
from there would sign two different trees for the sizes between: a fork, which every client
holding the newer checkpoint, and every witness that cosigned it, detects — too late. The
database cannot know this about itself (the backup holds the old kept checkpoint), so the writer
records each checkpoint in a file *before* the checkpoint (or a receipt carrying it) leaves the
process, and a ledger opened with that file refuses a database that does not reach it.

The file is two slots of :data:`SLOT_BYTES` bytes, each a signed checkpoint note (C2SP
signed-note text) padded with NUL bytes; the larger one that verifies counts. Each write
overwrites the older slot in place and syncs it (``fdatasync``). A write torn by a power cut
leaves the other slot: the previous checkpoint, whose receipts are the only ones out. An in-place
overwrite of a file whose size does not change costs one data sync, like a database commit; a
temporary file renamed over the old one, with the directory synced, cost about 35 times that on
a loaded 2-core VM (the file system's journal commits for the new inode and the rename; see
docs/operating/backup.md). The file is created that way once. A file holding one plain note
(written by hand) is read as slot 0.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from attest import canonical
from attest.checkpoint import Checkpoint, NoteVerifier, parse_note, verify_checkpoint
from attest.dsse import Envelope
from attest.errors import CheckpointError, VerificationError
from attest.merkle import subtree_hash
from attest.rules import open_genesis
from attest.statements import REGISTRY_STREAM, Genesis, Kind
from keys import KeysError, PublicKey
from ledger._store import EntryStore, StoredEntry, open_store
from ledger.errors import CorruptionError, LedgerError, LedgerNotFoundError, StoreError

__all__ = ["PublishedCheckpoint", "check_against_published", "check_published_checkpoint"]


SLOT_BYTES = 4096
"""Bytes per slot; a checkpoint note is 200 to 300 bytes (origin, size, root, signature)."""


class PublishedCheckpoint:
    """The floor file of one log writer (``serve --published-checkpoint FILE``).

    One writer (process) per file: the slots alternate per object.

    Args:
        path: the file; absent means nothing was published through it yet.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path).absolute()
        self.size = 0  # the size the file holds, once read or written
        self._newest = 1  # the slot holding ``size`` (the next write goes to the other)

    def __repr__(self) -> str:
        return f"PublishedCheckpoint({str(self.path)!r})"

    def read(self, verify: Callable[[bytes], Checkpoint]) -> Checkpoint | None:
        """The checkpoint in the file, verified by ``verify`` (with the log key in force at its
        size, SPEC §7.6); None if there is no file.

        Raises:
            LedgerError: the file cannot be read, or no slot holds a checkpoint signed by this
                log (another log's file, or a damaged one).
        """
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise LedgerError(f"cannot read the published checkpoint {self.path}: {exc}") from exc
        best: tuple[Checkpoint, int] | None = None
        why = "it is empty"
        for slot in (0, 1):
            note = data[slot * SLOT_BYTES : (slot + 1) * SLOT_BYTES].rstrip(b"\0")
            if not note:
                continue
            try:
                cp = verify(note)
            except VerificationError as exc:
                why = str(exc)  # a torn slot: the other one holds the previous checkpoint
                continue
            if best is None or cp.size > best[0].size:
                best = (cp, slot)
        if best is None:
            raise LedgerError(f"{self.path} holds no checkpoint published by this log: {why}")
        cp, self._newest = best
        self.size = max(self.size, cp.size)
        return cp

    def write(self, size: int, note: bytes) -> None:
        """Record ``note`` (a signed checkpoint of ``size``) if it is larger than the file's.

        Returns once it is on disk.

        Raises:
            StoreError: the file cannot be written (nothing of that size may be published).
        """
        if size <= self.size:
            return
        if len(note) > SLOT_BYTES or b"\0" in note:
            raise StoreError(f"a checkpoint note of {len(note)} bytes does not fit {self.path}")
        slot = 1 - self._newest
        try:
            if not self.path.exists():
                self._create(note)
                slot = 0
            else:
                fd = os.open(self.path, os.O_WRONLY)
                try:
                    os.pwrite(fd, note.ljust(SLOT_BYTES, b"\0"), slot * SLOT_BYTES)
                    os.fdatasync(fd)
                finally:
                    os.close(fd)
        except OSError as exc:
            raise StoreError(
                f"cannot record the published checkpoint in {self.path}: {exc}"
            ) from exc
        self.size, self._newest = size, slot

    def _create(self, note: bytes) -> None:
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            try:
                os.write(fd, note.ljust(2 * SLOT_BYTES, b"\0"))
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(tmp, self.path)
            dfd = os.open(self.path.parent, os.O_RDONLY)
            try:
                os.fsync(dfd)  # the new name itself must survive a power cut
            finally:
                os.close(dfd)
        finally:
            tmp.unlink(missing_ok=True)


def check_against_published(
    published: PublishedCheckpoint,
    cp: Checkpoint,
    db_size: int,
    root_at: Callable[[int], bytes | None],
) -> None:
    """Refuse a database that does not reach the checkpoint the log published.

    Args:
        published: the floor file (for the message).
        cp: the checkpoint read from it.
        db_size: the entries the database holds.
        root_at: the database's tree root at a size, or None if it cannot tell cheaply.

    Raises:
        CorruptionError: the database holds fewer entries than the published checkpoint, or other
            entries at its size.
    """
    if cp.size > db_size:
        raise CorruptionError(
            f"this database holds {db_size} entries but this log published a checkpoint of "
            f"{cp.size} entries ({published.path}): it was restored from an older backup, and "
            f"signing from here would fork the log; restore a backup holding at least {cp.size} "
            "entries (or recover the missing entries from a replica) before serving it "
            "(docs/operating/backup.md)"
        )
    root = root_at(cp.size)
    if root is not None and root != cp.root:
        raise CorruptionError(
            f"this database's entries at size {cp.size} are not the ones this log published "
            f"({published.path}): it holds another history; serve the database that published "
            "it (docs/operating/backup.md)"
        )


def stored_checkpoint_verifier(
    store: EntryStore, genesis: NoteVerifier
) -> Callable[[bytes], Checkpoint]:
    """A check of checkpoint notes of the log in ``store`` without replaying it, for the
    operator's consistency checks (published file, tiles export): a note verifies under the
    genesis's log key, or, after a rotation (SPEC §7.6), under the key that the registry's
    ``log.key.rotate`` entries, as stored, put in force at its size. Clients never rely on this:
    they verify the entries (SPEC §8.3)."""

    def verify(note: bytes) -> Checkpoint:
        try:
            return verify_checkpoint(note, genesis)
        except CheckpointError:
            size = Checkpoint.parse_body(parse_note(note)[0]).size
            key = rotated_log_key(_payloads(store.stream_entries(REGISTRY_STREAM)), size)
            if key is None:
                raise
            return verify_checkpoint(note, NoteVerifier.for_key(genesis.name, key))

    return verify


def _payloads(entries: Iterable[StoredEntry]) -> Iterator[bytes]:
    for e in entries:
        try:
            yield Envelope.parse_stored(e.envelope).payload
        except VerificationError:
            continue


def rotated_log_key(payloads: Iterable[bytes], size: int) -> PublicKey | None:
    """The key of the last ``log.key.rotate`` among the registry's statement ``payloads`` (in
    log order, as stored: not verified) in force at ``size``, if any (SPEC §7.6)."""
    key = None
    for raw in payloads:
        try:
            payload = canonical.decode_object(raw)
        except VerificationError:
            continue
        body = payload.get("body")
        if payload.get("kind") != Kind.LOG_KEY_ROTATE or not isinstance(body, dict):
            continue
        from_size, text = body.get("fromSize"), body.get("key")
        if isinstance(from_size, int) and isinstance(text, str) and from_size <= size:
            try:
                key = PublicKey.from_b64(text)
            except KeysError:
                continue
    return key


def check_published_checkpoint(url: str, path: str | os.PathLike[str]) -> Checkpoint | None:
    """Check a database against a published-checkpoint file without opening it as a ledger.

    For a server's start, so that a database restored from an older backup is refused in one
    line, in milliseconds: the file's checkpoint is verified under the log key the genesis entry
    names, compared with the database's size, and its root with the stored Merkle nodes (when
    they reach its size). :meth:`Ledger.open` runs the full check again on the verified entries.

    Returns:
        The published checkpoint, or None if the file does not exist yet.

    Raises:
        LedgerError: the file is unreadable or not this log's checkpoint, or absent and cannot
            be created (no such directory); the database cannot be opened or holds no ledger.
        CorruptionError: the database does not reach the published checkpoint.
    """
    published = PublishedCheckpoint(path)
    with open_store(url) as store:
        first = store.log_entries(0, 1)
        if not first:
            raise LedgerNotFoundError(f"no ledger in {store!r}")
        try:
            body = open_genesis(Envelope.parse(first[0].envelope)).statement.body
            if not isinstance(body, Genesis):  # pragma: no cover - open_genesis checks it
                raise CorruptionError("the first entry is not the genesis")
            verifier = NoteVerifier.for_key(body.origin, PublicKey.from_b64(body.log_key))
        except (VerificationError, KeysError) as exc:
            raise CorruptionError(f"the genesis entry does not verify: {exc}", index=0) from exc
        verify = stored_checkpoint_verifier(store, verifier)
        cp = published.read(verify)
        if cp is None:
            # Found out now, not at the first receipt (which could then not be given).
            parent = published.path.parent
            if not parent.is_dir() or not os.access(parent, os.W_OK | os.X_OK):
                raise LedgerError(
                    f"cannot create the published checkpoint {published.path}: "
                    f"{parent} is not a writable directory"
                )
            return None

        def root_at(n: int) -> bytes | None:
            if store.nodes_size() < n:
                return None  # Ledger.open compares it with the entries themselves
            try:
                return subtree_hash(0, n, store.get_node)
            except StoreError:
                return None

        check_against_published(published, cp, store.size(), root_at)
        return cp
