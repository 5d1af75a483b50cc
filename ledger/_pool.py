"""Parallel signature checking: open many envelopes in worker processes.

See docs/architecture/verification.md.

An Ed25519 verify in ``cryptography`` holds the GIL, so threads do not make it faster; processes
do. :class:`SignaturePool` parses envelopes, checks each signature with the public key its key id
names and parses the statement, in chunks, in worker processes, and returns the results in order.
This is the stateless half of opening an entry (:func:`attest.rules.open_envelope`); whether the
key belonged to the signer, unrevoked, at that log position is for the rules, in order, after.

IPC is kept small: a task carries raw envelope bytes and only the public keys its envelopes name
(found with a regular expression on the bytes; a key the expression missed is looked up again in
the caller's process). Each worker caches the keys it has seen. A task returns, per envelope, the
:class:`~attest.rules.Signed` (statement included: re-parsing a statement costs about four times
more than unpickling it, see docs/BENCHMARKS.md) or the :class:`VerificationError`, pickled by
:mod:`ledger._pickling` (its slotted dataclasses rebuilt from their fields: unpickling them in the
caller's one process is the larger share of the work there).

Workers are started with ``spawn`` by default: fresh interpreters that import the ``ledger``
package and inherit no threads, locks or database connections of the caller (a ledger runs a
sequencer thread and a PostgreSQL connection pool, which ``fork`` would copy in whatever state
they were in), and the behaviour is the same on every platform. The start-up cost (≈0.3 s, in
parallel) is paid once per pool; keep a pool open across calls.
"""

from __future__ import annotations

import multiprocessing
import os
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from itertools import islice
from typing import Any, TypeVar

from attest import canonical
from attest.dsse import Envelope
from attest.entry import LogEntry
from attest.errors import UnknownKeyError, VerificationError
from attest.rules import Signed, open_envelope
from attest.statements import REGISTRY_STREAM
from keys import KeyId, PublicKey
from keys.errors import KeysError
from ledger._gc import tune_gc
from ledger._pickling import dumps, loads
from ledger.errors import LedgerError

__all__ = [
    "DEFAULT_CHUNK",
    "DEFAULT_TASK_SIZE",
    "Opened",
    "PendingOpen",
    "SignaturePool",
    "WorkerError",
    "open_log",
    "registry_keys",
]

DEFAULT_TASK_SIZE = 256
"""Envelopes per task sent to a worker (≈0.5 MB of 2 KB envelopes: IPC stays a small share)."""

DEFAULT_CHUNK = 2048
"""Entries per step of :func:`open_log`: read, dispatched to the workers, then yielded."""

Opened = Signed | VerificationError
"""What opening one envelope gives: the verified, parsed entry, or why it failed."""

_KEYID_RE = re.compile(rb'"keyid"\s*:\s*"([0-9a-f]{64})"')
_MAX_CACHED_KEYS = 1 << 18
"""Keys a worker keeps built (a few hundred bytes each): a national regime registers ≈ 100,000.
A key is checked against the KEY rule as it is built (≈ 50 µs); with fewer than a log's entries
name, a worker would clear and rebuild them over and over."""


class WorkerError(LedgerError):
    """A signature worker process died or failed unexpectedly; the results are unknown."""


@dataclass(frozen=True, slots=True)
class _MissingKey:
    """The task did not carry the key this envelope names (the caller may still know it)."""

    keyid: str


@dataclass(frozen=True, slots=True)
class _BoxedError:
    """A :class:`VerificationError` in a form that pickles whatever its ``__init__`` takes."""

    cls: type[VerificationError]
    args: tuple[Any, ...]
    attrs: dict[str, Any]

    def unbox(self) -> VerificationError:
        exc = self.cls.__new__(self.cls, *self.args)
        exc.args = self.args
        exc.__dict__.update(self.attrs)
        return exc


_Result = Signed | VerificationError | _MissingKey


def _open_one(data: bytes, lookup: Callable[[str], PublicKey | None], stored: bool) -> _Result:
    """Parse, find the key, verify, parse the statement: :meth:`Ledger.prepare` without state."""
    try:
        env = Envelope.parse_stored(data) if stored else Envelope.parse(data)
        keyid = env.signature.keyid
        key = lookup(keyid)
        if key is None:
            return _MissingKey(keyid)
        return open_envelope(env, key)
    except VerificationError as exc:
        return exc


# -- in the worker process ---------------------------------------------------------------------

_worker_keys: dict[str, PublicKey] = {}


def _worker_open(envelopes: list[bytes], keys: dict[str, bytes], stored: bool) -> bytes:
    """Open ``envelopes``; the results pickled by :func:`ledger._pickling.dumps` (the caller's
    one process unpickles every result: the default's ≈ 100 µs an entry became ≈ 70)."""
    cache = _worker_keys
    if len(cache) > _MAX_CACHED_KEYS:
        cache.clear()
    for keyid, raw in keys.items():
        if keyid not in cache:
            try:
                cache[keyid] = PublicKey(raw)
            except KeysError:
                continue  # an unusable key opens nothing; the envelope reports a missing key
    out: list[Signed | _BoxedError | _MissingKey] = []
    for data in envelopes:
        r = _open_one(data, cache.get, stored)
        if isinstance(r, VerificationError):
            out.append(_BoxedError(type(r), r.args, dict(r.__dict__)))
        else:
            out.append(r)
    return dumps(out)


def _noop() -> None:
    return None


# -- in the caller's process ---------------------------------------------------------------------


class PendingOpen:
    """Envelopes submitted to a :class:`SignaturePool`; :meth:`result` waits for them."""

    def __init__(
        self,
        envelopes: Sequence[bytes],
        keys: Mapping[str, bytes],
        stored: bool,
        futures: list[Future[bytes]] | None,
        inline: list[_Result] | None,
    ) -> None:
        self._envelopes = envelopes
        self._keys = keys
        self._stored = stored
        self._futures = futures
        self._inline = inline

    def result(self) -> list[Opened]:
        """One result per envelope, in order.

        Raises:
            WorkerError: a worker process died (killed, out of memory) or failed unexpectedly.
        """
        raw: list[Signed | _BoxedError | _MissingKey | VerificationError] = []
        if self._inline is not None:
            raw.extend(self._inline)
        else:
            assert self._futures is not None  # noqa: S101 - one of the two is set
            for fut in self._futures:
                try:
                    raw.extend(loads(fut.result()))
                except BrokenProcessPool as exc:
                    raise WorkerError(
                        "a signature worker process died; the pool cannot be used any more"
                    ) from exc
                except Exception as exc:
                    raise WorkerError(f"a signature worker failed: {exc!r}") from exc
        out: list[Opened] = []
        for data, r in zip(self._envelopes, raw, strict=True):
            if isinstance(r, _BoxedError):
                out.append(r.unbox())
            elif isinstance(r, _MissingKey):
                out.append(self._open_missing(data, r.keyid))
            else:
                out.append(r)
        return out

    def _open_missing(self, data: bytes, keyid: str) -> Opened:
        raw = self._keys.get(keyid)
        key: PublicKey | None = None
        if raw is not None:
            try:
                key = PublicKey(raw)
            except KeysError:
                key = None
        if key is not None:
            r = _open_one(data, {keyid: key}.get, self._stored)
            if not isinstance(r, _MissingKey):
                return r
        return UnknownKeyError(f"key {keyid} is not registered", field="/signatures/0/keyid")


class SignaturePool:
    """Worker processes that open envelopes: parse, verify the signature, parse the statement.

    Use as a context manager, or call :meth:`close`. Thread-safe (submissions are queued).

    Args:
        workers: worker processes; ``None`` means ``os.cpu_count()``; ``0`` or ``1`` opens
            everything in the calling process (no processes, no pickling).
        task_size: at most this many envelopes per task sent to a worker (a smaller batch is
            split evenly over the workers).
        start_method: a :mod:`multiprocessing` start method; ``spawn`` by default (see the
            module docstring).
    """

    def __init__(
        self,
        workers: int | None = None,
        *,
        task_size: int = DEFAULT_TASK_SIZE,
        start_method: str = "spawn",
    ) -> None:
        n = (os.cpu_count() or 1) if workers is None else workers
        if n < 0:
            raise ValueError(f"workers must be >= 0, not {n}")
        if task_size < 1:
            raise ValueError(f"task_size must be >= 1, not {task_size}")
        self._workers = n if n > 1 else 0
        self._task_size = task_size
        self._executor: ProcessPoolExecutor | None = None
        if self._workers:
            self._executor = ProcessPoolExecutor(
                self._workers,
                mp_context=multiprocessing.get_context(start_method),
                initializer=tune_gc,
            )

    @property
    def workers(self) -> int:
        """Worker processes (0: everything runs in the calling process)."""
        return self._workers

    def __enter__(self) -> SignaturePool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop the workers (waiting for queued tasks to finish)."""
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None

    def start(self) -> None:
        """Start every worker now rather than at the first task (e.g. before timing)."""
        if self._executor is not None:
            for f in [self._executor.submit(_noop) for _ in range(self._workers * 2)]:
                f.result()

    def worker_pids(self) -> list[int]:
        """Process ids of the running workers (for monitoring and tests)."""
        ex = self._executor
        procs: dict[int, Any] = getattr(ex, "_processes", None) or {}
        return sorted(procs)

    def submit(
        self, envelopes: Sequence[bytes], keys: Mapping[str, bytes], *, stored: bool = False
    ) -> PendingOpen:
        """Start opening ``envelopes``; returns at once (inline pools open them first).

        Args:
            envelopes: raw envelope bytes (not the genesis entry: see
                :func:`attest.rules.open_genesis`).
            keys: key id → raw 32-byte public key, for any key the envelopes may name. Only the
                ones named are sent. Public data: a key id is a hash of its key, and
                :meth:`Envelope.verify <attest.dsse.Envelope.verify>` checks that they match.
            stored: require the stored (canonical) envelope form, as when reading a log; else
                accept any form :meth:`Envelope.parse <attest.dsse.Envelope.parse>` accepts.
        """
        envelopes = list(envelopes)
        if self._executor is None:
            cache: dict[str, PublicKey | None] = {}

            def lookup(keyid: str) -> PublicKey | None:
                if keyid not in cache:
                    raw = keys.get(keyid)
                    try:
                        cache[keyid] = None if raw is None else PublicKey(raw)
                    except KeysError:
                        cache[keyid] = None
                return cache[keyid]

            inline = [_open_one(data, lookup, stored) for data in envelopes]
            return PendingOpen(envelopes, keys, stored, None, inline)
        futures = []
        # Spread a small batch over every worker rather than filling one task.
        size = max(1, min(self._task_size, -(-len(envelopes) // self._workers)))
        for start in range(0, len(envelopes), size):
            part = envelopes[start : start + size]
            needed: dict[str, bytes] = {}
            for data in part:
                m = _KEYID_RE.search(data)
                if m is not None:
                    keyid = KeyId(m.group(1).decode("ascii"))
                    raw = keys.get(keyid)
                    if raw is not None:
                        needed[keyid] = raw
            try:
                futures.append(self._executor.submit(_worker_open, part, needed, stored))
            except BrokenProcessPool as exc:
                raise WorkerError(
                    "a signature worker process died; the pool cannot be used any more"
                ) from exc
            except RuntimeError as exc:  # submit after shutdown
                raise WorkerError(f"the signature pool is closed: {exc}") from exc
        return PendingOpen(envelopes, keys, stored, futures, None)

    def open_many(
        self, envelopes: Sequence[bytes], keys: Mapping[str, bytes], *, stored: bool = False
    ) -> list[Opened]:
        """Open ``envelopes`` in the workers and wait: one result per envelope, in order.

        Each result is the :class:`~attest.rules.Signed` entry, or the error
        :meth:`Ledger.prepare <ledger.Ledger.prepare>` would raise for it: ``EncodingError``,
        ``UnknownKeyError`` (no key with that id in ``keys``), ``SignatureError``,
        ``SchemaError``.

        Raises:
            WorkerError: a worker process died or failed unexpectedly.
        """
        return self.submit(envelopes, keys, stored=stored).result()


# -- opening a whole log in order ---------------------------------------------------------------

T = TypeVar("T")


def open_log(
    pool: SignaturePool,
    items: Iterable[T],
    raw_of: Callable[[T], LogEntry],
    *,
    known: Mapping[str, bytes] | None = None,
    chunk: int = DEFAULT_CHUNK,
) -> Iterator[tuple[list[T], list[Opened | None]]]:
    """Open a log's entries in ``pool``, one chunk ahead of the caller; yield chunks in order.

    Each step reads ``chunk`` items, hands their envelopes to the workers and then yields the
    previous chunk with its results, so the caller checks chunk k (in index order, with the
    rules) while the workers open chunk k + 1. The genesis entry (index 0) is not sent (its
    result is ``None``: it is signed by the key it introduces, so the caller opens it itself).

    The workers are given every public key in ``known`` and every key a registry entry read so
    far introduces (:func:`registry_keys`: unverified, which is harmless — a key id is the hash
    of its key, so a key map can only say "the key with this id is this key"; whether it
    belonged to the signer, unrevoked, at that index is for the caller's rules). A result is the
    :class:`~attest.rules.Signed` entry or an error; on an error, or a key the caller's state
    does not know at that index, the caller must open the entry itself so the error it reports
    is the one the sequential rules give.

    Raises:
        WorkerError: a worker process died.
        ValueError: ``chunk`` is below 1.
    """
    if chunk < 1:
        raise ValueError(f"chunk must be >= 1, not {chunk}")
    keys: dict[str, bytes] = dict(known or {})
    it = iter(items)
    pending: tuple[list[T], list[LogEntry], PendingOpen] | None = None
    while True:
        part = list(islice(it, chunk))
        job: tuple[list[T], list[LogEntry], PendingOpen] | None = None
        if part:
            raws = [raw_of(item) for item in part]
            for raw in raws:
                if raw.stream == REGISTRY_STREAM:
                    keys.update(registry_keys(raw.envelope))
            envelopes = [raw.envelope for raw in raws if raw.index != 0]
            job = (part, raws, pool.submit(envelopes, keys, stored=True))
        if pending is not None:
            yield pending[0], _in_place(pending[1], pending[2].result())
        if job is None:
            return
        pending = job


def _in_place(raws: list[LogEntry], opened: list[Opened]) -> list[Opened | None]:
    results = iter(opened)
    return [None if raw.index == 0 else next(results) for raw in raws]


def registry_keys(envelope: bytes) -> dict[str, bytes]:
    """The public keys a registry entry introduces, by key id (unverified; see :func:`open_log`).

    Malformed bytes give none: the rules reject the entry in order.
    """
    try:
        statement = canonical.decode_object(Envelope.parse_stored(envelope).payload)
    except VerificationError:
        return {}
    body = statement.get("body")
    if not isinstance(body, dict):
        return {}
    candidates: list[object] = [body.get("authorityKey"), body.get("key")]
    listed = body.get("keys")
    if isinstance(listed, list):
        candidates.extend(listed)
    found: dict[str, bytes] = {}
    for c in candidates:
        if isinstance(c, str):
            try:
                key = PublicKey.from_b64(c)
            except KeysError:
                continue
            found[key.key_id] = key.raw
    return found
