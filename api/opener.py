"""Opening submitted envelopes off the event loop: micro-batches in signature worker processes.

``POST /v1/entries`` must *open* each envelope (parse it, find its key, verify the signature,
decode and parse the statement: ≈ 0.35 ms of pure Python) before the sequencer decides it. Done
inline, that work holds the GIL the event loop and the sequencer need. An :class:`Opener` takes
it elsewhere: each request queues its body; whatever is queued when the event loop gets to it (at
most :data:`MAX_GROUP` bodies) goes as one group to a :class:`ledger.SignaturePool`, whose worker
processes return the :class:`~attest.rules.Signed` entries or the errors
:meth:`Ledger.prepare <ledger.Ledger.prepare>` would raise. At most ``workers`` groups are in the
workers at once; what arrives meanwhile waits and makes the next group larger (under load, groups
grow; when idle, one envelope goes at once).

The outcome of a request is exactly the inline one (the same checks in the same order, the same
errors): an envelope-level encoding error is reported as ``invalid-envelope``, a payload one as
``non-canonical-payload``; a key the workers do not know is looked up again by
:meth:`Ledger.prepare` in a thread (it may have been registered by another writer: ``prepare``
may read the store). If a worker process dies, the group and everything after it are opened in
this process, as without an opener.

The opener belongs to the application: started and closed by its lifespan
(:func:`api.create_app`, :func:`api.app_from_env`), never on a read-only server.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor

from starlette.concurrency import run_in_threadpool

from api.problems import InvalidEnvelopeError
from attest.dsse import Envelope
from attest.errors import EncodingError, UnknownKeyError, VerificationError
from attest.rules import Signed, open_envelope
from ledger import Ledger, SignaturePool, WorkerError

__all__ = ["MAX_GROUP", "Opener", "open_inline", "parse_envelope"]

log = logging.getLogger("claimledger.api")

MAX_GROUP = 64
"""Most envelopes sent to the workers as one group."""

_Outcome = Signed | VerificationError | None
"""What a group gives one request: its entry, its error, or ``None`` (open it in this process)."""


def parse_envelope(raw: bytes) -> Envelope:
    """Parse a submitted envelope; an encoding error is an ``invalid-envelope`` problem."""
    try:
        return Envelope.parse(raw)
    except EncodingError as exc:
        raise InvalidEnvelopeError(exc) from exc


async def open_inline(ledger: Ledger, body: bytes) -> Signed:
    """Open one envelope in this process: :meth:`Ledger.prepare`, parsing the body once.

    The envelope is opened on the event loop when its key is known (CPU only): a thread hop
    costs as much as the opening. An unknown key may make ``prepare`` read the store, which must
    not block the event loop: that case goes to the thread pool.

    Raises:
        InvalidEnvelopeError: the body is not a DSSE envelope.
        VerificationError: unknown key, bad signature, non-canonical payload, schema error.
    """
    env = parse_envelope(body)
    key = ledger.state.key(env.signature.keyid)
    if key is not None:
        return open_envelope(env, key)
    return await run_in_threadpool(ledger.prepare, body)


class _LedgerKeys(Mapping[str, bytes]):
    """The ledger's known public keys (key id → raw key), read live, for the pool."""

    def __init__(self, ledger: Ledger) -> None:
        self._ledger = ledger

    def __getitem__(self, keyid: str) -> bytes:
        key = self._ledger.state.key(keyid)
        if key is None:
            raise KeyError(keyid)
        return key.raw

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._ledger.state.keys))

    def __len__(self) -> int:
        return len(self._ledger.state.keys)


class Opener:
    """Opens envelopes for one application in a pool of ``workers`` processes (``workers`` ≥ 2).

    Call :meth:`start` and :meth:`close` from the event loop that serves the requests.
    """

    def __init__(self, ledger: Ledger, workers: int, *, max_group: int = MAX_GROUP) -> None:
        if workers < 2:
            raise ValueError(f"an opener needs at least 2 worker processes, not {workers}")
        self._ledger = ledger
        self._workers = workers
        self._max_group = max_group
        self._keys = _LedgerKeys(ledger)
        self._pool: SignaturePool | None = None
        self._waiter: ThreadPoolExecutor | None = None
        self._queue: list[tuple[bytes, asyncio.Future[_Outcome]]] = []
        self._in_flight = 0
        self._scheduled = False
        self._idle: asyncio.Event | None = None
        self._closed = False

    @property
    def workers(self) -> int:
        """Worker processes."""
        return self._workers

    @property
    def running(self) -> bool:
        """Whether envelopes go to the workers (started, not closed, no worker died)."""
        return self._pool is not None and not self._closed

    async def start(self) -> None:
        """Start the worker processes (≈ 0.3 s, in a thread) and wait until they answer.

        If they cannot start, the error is logged and envelopes are opened in this process.
        """

        def start_pool() -> SignaturePool:
            pool = SignaturePool(self._workers)
            try:
                pool.start()
            except BaseException:
                pool.close()
                raise
            return pool

        try:
            self._pool = await run_in_threadpool(start_pool)
        except Exception as exc:  # the server still works: inline
            log.error(
                "could not start %d signature workers; opening envelopes in this process: %r",
                self._workers,
                exc,
            )
            return
        # One thread per group in the workers, to wait for its results without blocking the loop.
        self._waiter = ThreadPoolExecutor(self._workers, thread_name_prefix="claimledger-opener")
        self._idle = asyncio.Event()
        self._idle.set()

    def worker_pids(self) -> list[int]:
        """Process ids of the running workers (for monitoring and tests)."""
        return [] if self._pool is None else self._pool.worker_pids()

    async def close(self) -> None:
        """Let the groups in the workers finish, then stop the workers.

        Requests still queued (or arriving later) are opened in this process.
        """
        self._closed = True
        if self._idle is not None:
            await self._idle.wait()
        self._release_queue()
        pool, waiter = self._pool, self._waiter
        self._pool = self._waiter = None
        if waiter is not None:
            waiter.shutdown(wait=False)
        if pool is not None:
            await run_in_threadpool(pool.close)

    async def open(self, body: bytes) -> Signed:
        """Open one envelope: what :func:`open_inline` gives, computed in a worker process.

        Raises:
            InvalidEnvelopeError: the body is not a DSSE envelope.
            VerificationError: unknown key, bad signature, non-canonical payload, schema error.
        """
        if not self.running:
            return await open_inline(self._ledger, body)
        fut: asyncio.Future[_Outcome] = asyncio.get_running_loop().create_future()
        self._queue.append((body, fut))
        self._kick()
        outcome = await fut
        if isinstance(outcome, Signed):
            return outcome
        if outcome is None or isinstance(outcome, UnknownKeyError):
            # Opened here after all (the pool was closed or failed), or a key the workers were
            # not given: `prepare` finds it if another writer registered it meanwhile.
            return await open_inline(self._ledger, body)
        if isinstance(outcome, EncodingError):
            parse_envelope(
                body
            )  # an envelope-level error is reported as such (same error, same words)
        raise outcome

    def _release_queue(self) -> None:
        """Send every queued request back to be opened in this process."""
        queued, self._queue = self._queue, []
        for _, fut in queued:
            if not fut.done():
                fut.set_result(None)

    def _kick(self) -> None:
        """Send a group soon, after the requests the event loop is handling now have queued."""
        if not self._scheduled and self._queue and self._in_flight < self._workers:
            self._scheduled = True
            asyncio.get_running_loop().call_soon(self._flush)

    def _flush(self) -> None:
        self._scheduled = False
        while self._queue and self._in_flight < self._workers:
            group = self._queue[: self._max_group]
            del self._queue[: self._max_group]
            self._in_flight += 1
            assert self._idle is not None  # noqa: S101 - set by start
            self._idle.clear()
            asyncio.get_running_loop().create_task(self._run(group))

    async def _run(self, group: list[tuple[bytes, asyncio.Future[_Outcome]]]) -> None:
        outcomes: list[_Outcome]
        try:
            outcomes = list(await self._open_group([body for body, _ in group]))
        except WorkerError as exc:
            log.error("signature workers failed; opening envelopes in this process: %s", exc)
            self._closed = True
            outcomes = [None] * len(group)
            self._release_queue()
        except Exception:
            log.exception("opening a group of envelopes failed; opening them in this process")
            outcomes = [None] * len(group)
        except BaseException:  # cancelled (the loop is stopping): nobody may wait forever
            for _, fut in group:
                if not fut.done():
                    fut.set_result(None)
            raise
        finally:
            self._in_flight -= 1
            if self._in_flight == 0 and self._idle is not None:
                self._idle.set()
            if not self._closed:
                self._kick()
        for (_, fut), outcome in zip(group, outcomes, strict=True):
            if not fut.done():  # the request may have been cancelled
                fut.set_result(outcome)

    async def _open_group(self, bodies: list[bytes]) -> list[Signed | VerificationError]:
        pool, waiter = self._pool, self._waiter
        if pool is None or waiter is None:
            raise WorkerError("the signature pool is closed")
        pending = pool.submit(bodies, self._keys)
        return await asyncio.get_running_loop().run_in_executor(waiter, pending.result)
