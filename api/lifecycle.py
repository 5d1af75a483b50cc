"""The server's life: open the ledger in the background, serve, stop (docs/operating/monitoring.md).

``uvicorn`` accepts connections only once the application's lifespan has started. Opening a
ledger re-verifies the whole log (minutes at 10^6 entries), so :func:`in_background` starts the
lifespan at once and opens the ledger on a thread of its own; until it is open,
``app.state.ledger`` is ``None``, every route that needs it answers ``503 starting`` (with
``Retry-After``) and ``/healthz`` answers ``503 {"status": "starting"}``. Once open, the
context managers that need the ledger (opener workers, witnessing, ...) are entered, *then* the
ledger is published to the routes. At shutdown they are left and the ledger is closed (which
lets the sequencer finish every queued entry first).

An open that fails (a corrupt database, a wrong key, a bad witness policy) is logged in one line
and stops the process at once with exit code 3 (uvicorn's own code for a failed startup): a
server that cannot serve its ledger must not linger answering ``503``.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import threading
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass

from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool

from ledger import Ledger

__all__ = ["STARTUP_FAILURE", "Lifecycle", "exit_process", "in_background"]

log = logging.getLogger("claimledger.api")

STARTUP_FAILURE = 3
"""The exit code of a server whose ledger could not be opened (as uvicorn's failed startup)."""


@dataclass
class Lifecycle:
    """Where the server is in its life (``app.state.lifecycle``).

    Attributes:
        stopping: the server is shutting down (``/readyz`` answers ``503``).
        open_seconds: how long the ledger took to open (``None`` until it is open, or when the
            caller opened it: :func:`api.create_app`).
        error: why the open failed, if it did.
    """

    stopping: bool = False
    open_seconds: float | None = None
    error: str = ""


def exit_process(exc: BaseException) -> None:
    """Stop the server process at once with :data:`STARTUP_FAILURE`, the reason logged.

    At once, not through uvicorn's shutdown: nothing was served from the ledger (it is published
    to the routes only once everything is running), so there is nothing to finish, and the
    lifespan's cancellation would only add tracebacks to the one line that says why.
    """
    logging.shutdown()  # flush every handler
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(STARTUP_FAILURE)


class _Opening:
    """The open on its own daemon thread: a shutdown need not wait for it (minutes, maybe)."""

    def __init__(self, open_ledger: Callable[[], Ledger]) -> None:
        self._open = open_ledger
        self._lock = threading.Lock()
        self._abandoned = False
        self._ledger: Ledger | None = None
        self._error: BaseException | None = None
        self._loop = asyncio.get_running_loop()
        self._done = asyncio.Event()
        threading.Thread(target=self._run, name="claimledger-open", daemon=True).start()

    def _run(self) -> None:
        try:
            ledger = self._open()
        except BaseException as exc:
            self._error = exc
        else:
            with self._lock:
                if self._abandoned:
                    ledger.close()  # the server stopped while it opened
                    return
                self._ledger = ledger
        try:
            self._loop.call_soon_threadsafe(self._done.set)
        except RuntimeError:  # the event loop is gone
            self.abandon()

    async def wait(self) -> Ledger:
        await self._done.wait()
        if self._error is not None:
            raise self._error
        with self._lock:  # the caller owns it now: it closes it
            ledger, self._ledger = self._ledger, None
        assert ledger is not None  # noqa: S101 - set before _done
        return ledger

    def abandon(self) -> None:
        """The server stops before the open finished: close the ledger whenever it is open."""
        with self._lock:
            self._abandoned = True
            ledger, self._ledger = self._ledger, None
        if ledger is not None:
            ledger.close()


@asynccontextmanager
async def in_background(
    app: FastAPI,
    open_ledger: Callable[[], Ledger],
    serving: Callable[[Ledger], AbstractAsyncContextManager[None]],
    *,
    on_failure: Callable[[BaseException], None] = exit_process,
) -> AsyncIterator[None]:
    """A lifespan body: return at once, open the ledger on a thread, serve it, close it.

    Args:
        app: the application (its ``state.ledger`` is set once the ledger is open and
            ``serving`` has been entered).
        open_ledger: opens the ledger (runs on a thread of its own).
        serving: the context managers that need the open ledger, entered in the event loop
            after the open and left at shutdown, before the ledger is closed.
        on_failure: called in the event loop with the error when the open or ``serving``
            fails (default: :func:`exit_process`).
    """
    life: Lifecycle = app.state.lifecycle
    stop = asyncio.Event()
    opening = _Opening(open_ledger)
    began = time.monotonic()

    async def run() -> None:
        try:
            ledger = await opening.wait()
        except asyncio.CancelledError:
            raise  # stopped while opening
        except BaseException as exc:
            _failed(life, exc)
            on_failure(exc)
            return
        try:
            async with serving(ledger):
                life.open_seconds = time.monotonic() - began
                app.state.ledger = ledger
                log.info(
                    "ledger open: %d entries verified in %.1f s; serving",
                    ledger.size,
                    life.open_seconds,
                )
                await stop.wait()
        except Exception as exc:
            if stop.is_set():
                raise  # reported below, after the ledger is closed
            await run_in_threadpool(ledger.close)
            _failed(life, exc)
            on_failure(exc)
            return
        finally:
            if stop.is_set():
                await run_in_threadpool(ledger.close)

    task = asyncio.create_task(run(), name="claimledger-serving")
    try:
        yield
    finally:
        life.stopping = True
        stop.set()
        if app.state.ledger is None:
            opening.abandon()
            task.cancel()
        await asyncio.wait([task])
        error = None if task.cancelled() else task.exception()
        if isinstance(error, Exception):
            log.error("stopping the server failed", exc_info=error)


def _failed(life: Lifecycle, exc: BaseException) -> None:
    life.error = str(exc) or type(exc).__name__
    ours = ("keys", "attest", "ledger", "api")
    if isinstance(exc, Exception) and type(exc).__module__.split(".")[0] in ours:
        log.error("cannot serve the ledger: %s", life.error)  # a located, one-line reason
    else:
        log.error("cannot serve the ledger", exc_info=exc)
