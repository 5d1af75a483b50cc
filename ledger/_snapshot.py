"""Checked snapshots of what :meth:`Ledger.open` rebuilds, so that an open replays only the
entries after the newest one (issue 10 §1; docs/SPEC.md §16; docs/architecture/storage.md).

A snapshot is the derived state at one size: the rules' state (:class:`attest.rules.LogState`,
with the state map), the read views, the Merkle frontier, and two small indexes of the ledger.
It is stored in the ledger's own database (``claimledger_snapshots``: one row, written in one
transaction, so a kill while writing leaves the previous snapshot or none, never half of one).

It is never trusted silently. Before its data is read, its layout tag must be this code's, and
the log key's signature over its binding (:class:`attest.snapshot.SnapshotBinding`: origin, size,
tree root, state root, the data's SHA-256 and the layout tag) must verify under the log key the
genesis entry names, with the digest recomputed from the data. After reading, the
state must be the one signed (its size, frontier root and state root) and must agree with the
stored entry at the snapshot's size. Any failure refuses the snapshot with one warning naming
the reason, and the ledger replays the log from genesis instead. The data is a pickle read by an
unpickler that resolves only classes of this project's core packages (a second line of defence:
the signature already ties the bytes to the log key's holder).

The layout tag is the SHA-256 of the source of those packages, so a snapshot written by other code
(an upgrade) is never read into classes whose fields may differ: the first open after an upgrade
replays the log and writes a fresh snapshot.
"""

from __future__ import annotations

import dataclasses
import gc
import hashlib
import importlib
import io
import pickle
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Final

from attest.entry import LogEntry
from attest.errors import VerificationError
from attest.merkle import MerkleFrontier
from attest.rules import LogState
from attest.snapshot import SnapshotBinding
from keys import PrivateKey, PublicKey
from ledger._views import Views

__all__ = [
    "SNAPSHOT_PACKAGES",
    "Derived",
    "SnapshotRefused",
    "StoredSnapshot",
    "layout_tag",
    "read_snapshot",
    "take_snapshot",
]

SNAPSHOT_PACKAGES: Final = ("attest", "keys", "ledger")
"""The packages whose classes a snapshot may hold; their source makes the layout tag."""

_BUILTINS: Final = frozenset({"frozenset", "set", "bytearray", "complex", "slice", "range"})


class SnapshotRefused(Exception):
    """A stored snapshot that cannot be used; the message says why."""


@dataclass(frozen=True, slots=True)
class StoredSnapshot:
    """One row of ``claimledger_snapshots``: the signed binding's fields, signature and data."""

    size: int
    root: bytes
    state_root: bytes
    tag: bytes
    signature: bytes
    data: bytes


@dataclass(slots=True)
class Derived:
    """What a ledger rebuilds by replaying its log, and a snapshot saves.

    Attributes:
        state: the rules' state (with the state commitment).
        views: the read views.
        frontier: the Merkle tree's right edge.
        about: party id -> positions of the registry entries about it.
        recent: entry hash -> index, for the newest entries (repeat detection).
    """

    state: LogState
    views: Views
    frontier: MerkleFrontier
    about: dict[str, list[int]]
    recent: dict[bytes, int]


@cache
def layout_tag() -> bytes:
    """SHA-256 of the source of every module of :data:`SNAPSHOT_PACKAGES` (each file's path
    within its package, its length and its bytes, in path order)."""
    h = hashlib.sha256()
    for name in SNAPSHOT_PACKAGES:
        root = Path(importlib.import_module(name).__file__ or "").parent
        for path in sorted(root.rglob("*.py")):
            source = path.read_bytes()
            h.update(f"{name}/{path.relative_to(root).as_posix()}\n{len(source)}\n".encode())
            h.update(source)
    return h.digest()


def take_snapshot(derived: Derived, origin: str, log_key: PrivateKey) -> StoredSnapshot:
    """A signed snapshot of ``derived`` (at ``derived.state.size`` entries).

    Raises:
        ValueError: the state, frontier and views are not at one size, or nothing to save.
    """
    state = derived.state
    if state.size == 0 or derived.frontier.size != state.size:
        raise ValueError(
            f"cannot snapshot: rules at {state.size} entries, tree at {derived.frontier.size}"
        )
    out = io.BytesIO()
    with _collector_paused():
        _Pickler(out, protocol=pickle.HIGHEST_PROTOCOL).dump(derived)
    data = out.getvalue()
    binding = SnapshotBinding(
        origin=origin,
        size=state.size,
        root=derived.frontier.root(),
        state_root=state.state_root,
        digest=hashlib.sha256(data).digest(),
        tag=layout_tag(),
    )
    return StoredSnapshot(
        size=binding.size,
        root=binding.root,
        state_root=binding.state_root,
        tag=binding.tag,
        signature=binding.sign(log_key),
        data=data,
    )


def read_snapshot(
    stored: StoredSnapshot,
    *,
    origin: str,
    log_key: PublicKey,
    last: LogEntry,
    held: Sequence[PublicKey] = (),
) -> Derived:
    """Check ``stored`` and return the state it holds.

    Args:
        stored: the row read from the database.
        origin, log_key: the log's, from its genesis entry.
        held: other log keys the caller trusts because it holds their private keys: after a
            rotation (SPEC §7.6) the snapshot is signed by the key in force at its size, which
            must then be the one its state puts in force there.
        last: the stored entry at index ``stored.size - 1`` (its leaf's state root must be the
            snapshot's).

    Raises:
        SnapshotRefused: the snapshot is not this log's at that size, was altered, was written
            by other code, or does not hold the state it claims; the message says which.
    """
    if stored.tag != layout_tag():
        # First: a snapshot of other code may differ in its signed bytes too, so its signature
        # failing would not say why. The tag is signed; changing it only gets the same refusal.
        raise SnapshotRefused("written by another version of claimledger")
    try:
        binding = SnapshotBinding(
            origin=origin,
            size=stored.size,
            root=stored.root,
            state_root=stored.state_root,
            digest=hashlib.sha256(stored.data).digest(),
            tag=stored.tag,
        )
    except VerificationError as exc:
        raise SnapshotRefused(f"not signed by the log key as it is stored ({exc})") from None
    signer: PublicKey | None = None
    failure: VerificationError | None = None
    for candidate in (log_key, *held):
        try:
            binding.verify(stored.signature, candidate)
        except VerificationError as exc:
            failure = failure or exc
            continue
        signer = candidate
        break
    if signer is None:
        # The digest is recomputed from the data, so altered data fails here too.
        raise SnapshotRefused(f"not signed by the log key as it is stored ({failure})")
    if last.index != stored.size - 1 or last.state_root != stored.state_root:
        raise SnapshotRefused(
            f"the stored entry {stored.size - 1} does not commit to the snapshot's state root"
        )
    try:
        with _collector_paused():
            derived = _Unpickler(io.BytesIO(stored.data)).load()
    except Exception as exc:  # any failure to read is a refusal, whatever raised it
        raise SnapshotRefused(f"unreadable data ({type(exc).__name__}: {exc})") from None
    if not isinstance(derived, Derived):
        raise SnapshotRefused(f"data holds a {type(derived).__name__}, not a snapshot")
    state, frontier = derived.state, derived.frontier
    if not isinstance(state, LogState) or not isinstance(frontier, MerkleFrontier):
        raise SnapshotRefused("data does not hold a rules state and a tree")
    if state.size != stored.size or frontier.size != stored.size:
        raise SnapshotRefused(f"data is at {state.size} entries, signed at {stored.size}")
    if frontier.root() != stored.root or state.state_root != stored.state_root:
        raise SnapshotRefused("data does not have the roots the log key signed")
    if state.origin != origin or state.log_key != signer or state.sparse:
        raise SnapshotRefused("data is the state of another log")
    return derived


@contextmanager
def _collector_paused() -> Iterator[None]:
    """No cyclic garbage collection while a snapshot is written or read.

    Both make or walk millions of objects (and the pickler a tuple per dataclass); each
    collection of the oldest generation walks every object alive, so with the collector on,
    reading a snapshot of 100,000 entries took 3x as long. Nothing made here is garbage.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


class _Pickler(pickle.Pickler):
    """Pickles slotted dataclasses as a call of the class with their fields.

    The default for a dataclass with ``slots=True`` restores each object through
    ``dataclasses._dataclass_setstate``, which looks the fields up again per object: most of the
    time of reading a snapshot (8 of 11 s for 100,000 entries). Calling the class runs its
    generated ``__init__`` instead. Classes with their own ``__reduce__`` (``PublicKey``) or with
    fields outside ``__init__`` keep the default.
    """

    def reducer_override(self, obj: Any) -> Any:
        cls = type(obj)
        names = _init_fields(cls)
        if names is None:
            return NotImplemented
        return cls, tuple(getattr(obj, n) for n in names)


_INIT_FIELDS: dict[type, tuple[str, ...] | None] = {}


def _init_fields(cls: type) -> tuple[str, ...] | None:
    """The field names to call a slotted dataclass with, or None to pickle it by default."""
    try:
        return _INIT_FIELDS[cls]
    except KeyError:
        pass
    names: tuple[str, ...] | None = None
    own = cls.__dict__
    if (
        dataclasses.is_dataclass(cls)
        and "__slots__" in own
        and not {"__reduce__", "__reduce_ex__", "__post_init__"} & own.keys()
    ):
        fields = dataclasses.fields(cls)
        if all(f.init for f in fields):
            names = tuple(f.name for f in fields)
    _INIT_FIELDS[cls] = names
    return names


class _Unpickler(pickle.Unpickler):
    """Resolves only classes of :data:`SNAPSHOT_PACKAGES` (and a few plain builtins)."""

    def find_class(self, module: str, name: str) -> Any:
        if module == "builtins" and name in _BUILTINS:
            return super().find_class(module, name)
        if module.partition(".")[0] in SNAPSHOT_PACKAGES:
            found = super().find_class(module, name)
            if isinstance(found, type):
                return found
        raise pickle.UnpicklingError(f"{module}.{name} may not be in a snapshot")
