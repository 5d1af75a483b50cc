"""Checked snapshots of what :meth:`Ledger.open` rebuilds, so that an open replays only the
entries after the newest one (issue 10 §1; docs/SPEC.md §16; docs/architecture/storage.md).

A snapshot is the derived state at one size: the rules' state (:class:`attest.rules.LogState`,
with the state map), the read views, the Merkle frontier, and two small indexes of the ledger.
It is stored in the ledger's own database, in one transaction (a kill while writing leaves the
previous snapshot or none, never half of one), as a *core* (``claimledger_snapshots``, one row)
and *parts* (``claimledger_snapshot_parts``, by SHA-256): each provider stream's rules state and
its views, apart, so that an open reads the core — O(streams + parties) —
and a stream's part only when something first touches it (a submission, a company page). The
core holds every part's SHA-256, so the signature over the core's digest covers the parts; a
part unchanged since the last snapshot is not written again.

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

import hashlib
import importlib
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from itertools import repeat
from pathlib import Path
from typing import Any, Final

from attest.entry import LogEntry
from attest.errors import VerificationError
from attest.merkle import MerkleFrontier
from attest.rules import LogState
from attest.snapshot import SnapshotBinding
from keys import PrivateKey, PublicKey
from ledger._gc import collector_paused
from ledger._pickling import PACKAGES, dumps, loads, loads_lasting
from ledger._views import PartKey, Views
from ledger.errors import CorruptionError

__all__ = [
    "SNAPSHOT_PACKAGES",
    "Derived",
    "PartReader",
    "SnapshotRefused",
    "StoredSnapshot",
    "TakenSnapshot",
    "layout_tag",
    "named_parts",
    "read_core",
    "read_snapshot",
    "take_snapshot",
]

SNAPSHOT_PACKAGES: Final = PACKAGES
"""The packages whose classes a snapshot may hold; their source makes the layout tag."""


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
        parts: each part's SHA-256 in the newest snapshot stored or read (``("r", stream)``:
            the rules' state of a provider stream; ``("s", stream)``: its views; see
            :data:`ledger._views.PartKey`); empty for a state replayed from genesis.
    """

    state: LogState
    views: Views
    frontier: MerkleFrontier
    about: dict[str, list[int]]
    recent: dict[bytes, int]
    parts: dict[PartKey, bytes] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class TakenSnapshot:
    """A snapshot to store: the core row, the parts it stores anew (SHA-256 -> bytes; a
    spilled part's bytes are read when its item is), every part's SHA-256, and the views' parts
    it took anew (whose change marks to clear once stored)."""

    stored: StoredSnapshot
    parts: Mapping[bytes, bytes]
    digests: dict[PartKey, bytes]
    taken: frozenset[PartKey]


class _NewParts(Mapping[bytes, bytes]):
    """The parts a snapshot stores anew: those pickled now, and those spilled (read, and
    checked against the SHA-256 kept for them, one at a time as the store writes them)."""

    def __init__(
        self,
        pickled: dict[bytes, bytes],
        spilled: dict[bytes, PartKey],
        read: Callable[[PartKey], bytes | None],
    ) -> None:
        self._pickled, self._spilled, self._read = pickled, spilled, read

    def __getitem__(self, digest: bytes) -> bytes:
        data = self._pickled.get(digest)
        if data is not None:
            return data
        key = self._spilled[digest]
        data = self._read(key)
        if data is None or hashlib.sha256(data).digest() != digest:
            raise CorruptionError(f"the spilled part of {key[1]!r} is gone or altered")
        return data

    def __iter__(self) -> Iterator[bytes]:
        yield from self._pickled
        yield from self._spilled

    def __len__(self) -> int:
        return len(self._pickled) + len(self._spilled)


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


def take_snapshot(
    derived: Derived,
    origin: str,
    log_key: PrivateKey,
    *,
    spilled: Mapping[PartKey, bytes] | None = None,
    read_spilled: Callable[[PartKey], bytes | None] = lambda _: None,
) -> TakenSnapshot:
    """A signed snapshot of ``derived`` (at ``derived.state.size`` entries), with the parts
    that changed since ``derived.parts`` was stored (every part, when it is empty).

    A part in ``spilled`` (its SHA-256 by key) is the one ``read_spilled`` returns: its bytes
    are copied as they are, read when the store writes them (so keep the writer's lock until
    then), and it is not read back into memory.

    Call it with the writer's lock held (no entry applied meanwhile); it holds the views' lock.

    Raises:
        ValueError: the state, frontier and views are not at one size, or nothing to save.
    """
    state = derived.state
    if state.size == 0 or derived.frontier.size != state.size:
        raise ValueError(
            f"cannot snapshot: rules at {state.size} entries, tree at {derived.frontier.size}"
        )
    views, known = derived.views, derived.parts
    spilled = spilled or {}
    with views.lock, collector_paused():
        taken = views.take_parts(known.__contains__)
        streams = {n for k, n in views.part_keys() if k == "s"}
        fresh = {n for k, n in taken if k == "s"} | {n for n in streams if ("r", n) not in known}
        objects: dict[PartKey, Any] = {k: v for k, v in taken.items() if v is not None}
        rules = state.stream_rules({n for n in fresh if ("r", n) not in spilled})
        objects.update((("r", n), r) for n, r in rules.items())
        copied = {k: spilled[k] for k in taken.keys() | {("r", n) for n in fresh} if k in spilled}
        if (
            not known
            and not copied
            and sum(len(objects[("r", n)][0]) for n in streams) != len(state.claims)
        ):
            raise ValueError("cannot snapshot: a claim is on no provider stream")
        pickled: dict[bytes, bytes] = {}
        digests = {k: d for k, d in known.items() if k not in objects and k not in copied}
        for key, obj in objects.items():
            data = _dumps(obj)
            digests[key] = digest = hashlib.sha256(data).digest()
            pickled[digest] = data
        digests.update(copied)
        parts = _NewParts(pickled, {d: k for k, d in copied.items()}, read_spilled)
        core = Derived(
            state.without_stream_rules(),
            views,
            derived.frontier,
            derived.about,
            derived.recent,
            digests,
        )
        data = _dumps(core)
    binding = SnapshotBinding(
        origin=origin,
        size=state.size,
        root=derived.frontier.root(),
        state_root=state.state_root,
        digest=hashlib.sha256(data).digest(),
        tag=layout_tag(),
    )
    stored = StoredSnapshot(
        size=binding.size,
        root=binding.root,
        state_root=binding.state_root,
        tag=binding.tag,
        signature=binding.sign(log_key),
        data=data,
    )
    return TakenSnapshot(stored, parts, digests, frozenset(taken))


def named_parts(
    stored: StoredSnapshot, *, origin: str, log_key: PublicKey | None
) -> frozenset[bytes] | None:
    """The SHA-256 of every part the snapshot ``stored`` names, for a writer about to replace
    it with its own (another writer's, or one of another version), so that the replacement keeps
    them for the servers that opened from it; ``None`` when it cannot be read here (another
    version's layout, or not signed by ``log_key``, the key in force at its size): then every
    stored part is kept."""
    core = read_core(stored, origin=origin, log_key=log_key)
    return None if core is None else frozenset(core.parts.values())


def read_core(stored: StoredSnapshot, *, origin: str, log_key: PublicKey | None) -> Derived | None:
    """The core of the snapshot ``stored`` (its parts unread), if this version can read it and
    ``log_key`` (the key in force at its size) signed it; else ``None``."""
    if stored.tag != layout_tag() or log_key is None:
        return None
    try:
        _binding(stored, origin).verify(stored.signature, log_key)
        derived = _loads(stored.data)
    except Exception:  # unreadable or unsigned: say so rather than guess
        return None
    if not isinstance(derived, Derived) or not isinstance(derived.parts, dict):
        return None
    if not all(isinstance(d, bytes) for d in derived.parts.values()):
        return None
    return derived


def _binding(stored: StoredSnapshot, origin: str) -> SnapshotBinding:
    """What the log key signed about ``stored``, with its data's digest recomputed."""
    return SnapshotBinding(
        origin=origin,
        size=stored.size,
        root=stored.root,
        state_root=stored.state_root,
        digest=hashlib.sha256(stored.data).digest(),
        tag=stored.tag,
    )


_dumps = dumps


def _loads(data: bytes) -> Any:
    with collector_paused():
        return loads(data)


_SHAPES: Final = {"r": 5, "s": 4}
"""How many values each kind of part holds."""


class PartReader:
    """Reads a snapshot's parts on first touch, each checked against the SHA-256 the signed
    core holds for it.

    Args:
        digests: every part's SHA-256, from the core.
        fetch: the stored bytes of the part with this key and SHA-256, or ``None``.
        on_corrupt: called before a part that fails its check is refused (the ledger then
            drops the stored snapshot, so that the next open replays the log).
    """

    def __init__(
        self,
        digests: dict[PartKey, bytes],
        fetch: Callable[[PartKey, bytes], bytes | None],
        on_corrupt: Callable[[], None] = lambda: None,
    ) -> None:
        self._digests = digests
        self._fetch = fetch
        self._on_corrupt = on_corrupt

    def rules(self, stream: str) -> tuple[Any, ...]:
        """The values of the rules' part of ``stream`` (see :meth:`__call__`)."""
        return self(("r", stream))

    def __call__(self, key: PartKey) -> tuple[Any, ...]:
        """The values of part ``key``.

        Raises:
            CorruptionError: the part is gone from the database or is not what the core's
                digest says (the database changed under a running ledger).
        """
        digest = self._digests[key]
        data = self._fetch(key, digest)
        if data is None or hashlib.sha256(data).digest() != digest:
            self._on_corrupt()
            raise CorruptionError(
                f"the snapshot part of {key[1]!r} is {'gone' if data is None else 'altered'} "
                "in the database; restart the server to replay the log"
            )
        try:
            values = loads_lasting(data)  # lives as long as the ledger: frozen if its heap is
        except Exception as exc:  # a part the log key signed, yet unreadable: still refused
            self._on_corrupt()
            raise CorruptionError(
                f"the snapshot part of {key[1]!r} is unreadable ({type(exc).__name__})"
            ) from None
        if not isinstance(values, tuple) or len(values) != _SHAPES[key[0]]:
            self._on_corrupt()
            raise CorruptionError(f"the snapshot part of {key[1]!r} is not a part")
        return values


def read_snapshot(
    stored: StoredSnapshot,
    *,
    origin: str,
    log_key: PublicKey,
    last: LogEntry,
    held: Sequence[PublicKey] = (),
    parts: Callable[[frozenset[bytes]], Collection[bytes]] | None = None,
    fetch: Callable[[bytes], bytes | None] = lambda _: None,
    on_corrupt: Callable[[], None] = lambda: None,
) -> Derived:
    """Check ``stored`` and return the state it holds, its parts to be read on first touch.

    Args:
        stored: the row read from the database.
        origin, log_key: the log's, from its genesis entry.
        held: other log keys the caller trusts because it holds their private keys: after a
            rotation (SPEC §7.6) the snapshot is signed by the key in force at its size, which
            must then be the one its state puts in force there.
        last: the stored entry at index ``stored.size - 1`` (its leaf's state root must be the
            snapshot's).
        parts: given the keys of the parts the core names, those of them stored: each must be
            there (``None``: not checked here; the caller checks later). Their bytes are not
            read here (that would be O(log), not O(companies)): a part is checked against its
            SHA-256 when first read, and one that fails then calls ``on_corrupt`` and is
            refused.
        fetch: the stored bytes of one part by SHA-256 (to read it when first touched).

    Raises:
        SnapshotRefused: the snapshot is not this log's at that size, was altered, was written
            by other code, or does not hold the state it claims; the message says which.
    """
    if stored.tag != layout_tag():
        # First: a snapshot of other code may differ in its signed bytes too, so its signature
        # failing would not say why. The tag is signed; changing it only gets the same refusal.
        raise SnapshotRefused("written by another version of claimledger")
    try:
        binding = _binding(stored, origin)
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
        derived = _loads(stored.data)
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
    _check_parts(derived, parts)
    reader = PartReader(derived.parts, lambda _key, digest: fetch(digest), on_corrupt)
    derived.views.attach(reader)
    state.defer(dict.fromkeys((n for k, n in derived.parts if k == "r"), reader.rules))
    return derived


def _check_parts(
    derived: Derived, stored: Callable[[frozenset[bytes]], Collection[bytes]] | None
) -> None:
    """Refuse a snapshot whose parts do not match its core: each part the views and the rules
    need must be named, and (unless ``stored`` is ``None``) each named must be stored."""
    digests = derived.parts
    # Its keys equal to the views' and rules' part keys (below) are well formed; its values
    # must be bytes (a type check in C, not a pass in Python: 200,000 parts).
    if not isinstance(digests, dict) or not set(map(type, digests.values())) <= {bytes}:
        raise SnapshotRefused("data does not list its parts")
    views = derived.views.part_keys()
    rules = zip(repeat("r"), (n for _, n in views))
    if digests.keys() != {*views, *rules}:
        raise SnapshotRefused("data lists other parts than its views hold")
    if stored is None:
        return
    wanted = frozenset(digests.values())
    missing = wanted.difference(stored(wanted))
    if missing:
        raise SnapshotRefused(f"{len(missing)} of its parts are missing")
