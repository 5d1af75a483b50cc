"""Shared test fixtures: the location of the external vectors in ../shared/vectors/, waiting for a
real server process."""

from __future__ import annotations

import functools
import gc
import os
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

import ledger._gc

REPO = Path(__file__).resolve().parent.parent
SHARED_VECTORS = REPO.parent / "shared" / "vectors"
OWN_VECTORS = REPO / "tests" / "vectors"


def shared_vectors() -> Path:
    """The external vectors folder; fails (never skips) when it is missing.

    Tests that need ../shared/vectors/ call this. In CI (CI=true) and locally alike a missing
    folder is a test failure, so a run without the vectors can never pass silently.
    """
    if not SHARED_VECTORS.is_dir():
        pytest.fail(
            f"external test vectors not found at {SHARED_VECTORS} "
            f"(CI={os.environ.get('CI', '')!r}); they must sit beside the repository",
            pytrace=False,
        )
    return SHARED_VECTORS


@contextmanager
def loopback_http(handler: Callable[..., BaseHTTPRequestHandler]) -> Iterator[str]:
    """Serve ``handler`` on 127.0.0.1 (a free port) in a thread; yield the base URL; stop it."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@contextmanager
def reading_meanwhile(read: Callable[[], None], threads: int = 3) -> Iterator[None]:
    """Run ``read`` over and over in ``threads`` threads while the block runs; stop and join
    them when it ends. Whatever ``read`` raises is raised here (the first), after the join."""
    stop = threading.Event()
    failures: list[BaseException] = []

    def loop() -> None:
        try:
            while not stop.is_set():
                read()
        except BaseException as exc:
            failures.append(exc)

    readers = [threading.Thread(target=loop) for _ in range(threads)]
    for t in readers:
        t.start()
    try:
        yield
    finally:
        stop.set()
        for t in readers:
            t.join()
    if failures:
        raise failures[0]


def wait_ready(
    process: subprocess.Popen[Any], base: str, path: str, log: Path | None = None
) -> None:
    """Wait until a real server process answers ``base + path`` with 200, for up to 30 s; fail
    (with its log) if it exits or does not answer by then."""

    def said() -> str:
        return "" if log is None else f":\n{log.read_text(errors='replace')}"

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"the server exited ({process.returncode}){said()}")
        try:
            if httpx.get(base + path, timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    process.kill()
    pytest.fail(f"the server did not answer {path} with 200 in 30 s{said()}")


@pytest.fixture(scope="session")
def vectors_dir() -> Path:
    """Path to ../shared/vectors/, failing the test when it is missing."""
    return shared_vectors()


@pytest.fixture
def restore_gc() -> Iterator[None]:
    """Put the collector's thresholds back and unfreeze, for tests that change them (a server's
    open, ``Ledger.open_to_serve``, freezes the heap)."""
    saved = gc.get_threshold()
    yield
    gc.set_threshold(*saved)
    gc.unfreeze()
    ledger._gc._frozen = False  # parts read later would freeze the heap again


def revalidated(get: Callable[..., Any], url: str, headers: dict[str, str] | None = None) -> Any:
    """``get(url)``, then the same request with ``If-None-Match`` of its ETag; the second answer.

    A view of the present names the minute in its ETag (verdict expiry is judged once a minute,
    ``api.params.TICK_MS``): if a minute turned between the two requests the tag moved on, which
    is right, so both are made once more (a minute cannot turn twice in a few milliseconds).
    """
    base = dict(headers or {})
    for _ in range(2):
        first = get(url, headers=base)
        again = get(url, headers={**base, "if-none-match": first.headers["etag"]})
        if again.status_code == 304 or again.headers.get("etag") == first.headers["etag"]:
            break
    return again


def within_a_minute(test: Callable[..., None]) -> Callable[..., None]:
    """Run a read-only test once more if it failed while the wall-clock minute turned.

    Views of the present are judged once a minute and name the minute in their ETag
    (``api.params.TICK_MS``), so two requests a few milliseconds apart may straddle a minute
    and rightly differ. Only for tests that change nothing (they can run twice).
    """

    @functools.wraps(test)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        minute = time.time() // 60
        try:
            test(*args, **kwargs)
        except AssertionError:
            if time.time() // 60 == minute:
                raise
            test(*args, **kwargs)

    return wrapper


def small_log_chunks(monkeypatch: pytest.MonkeyPatch, chunk: int = 4, resident: int = 1) -> None:
    """Make the views' log index come in chunks of ``chunk`` entries and keep ``resident`` of
    them under a memory budget, so that a small log reads most of them back from its leaves."""
    from ledger import _views

    assert chunk & (chunk - 1) == 0, "a power of two"
    monkeypatch.setattr(_views, "LOG_CHUNK", chunk)
    monkeypatch.setattr(_views, "_LOG_SHIFT", chunk.bit_length() - 1)
    monkeypatch.setattr(_views, "_LOG_MASK", chunk - 1)
    monkeypatch.setattr(_views, "LOG_CHUNKS_RESIDENT", resident)
