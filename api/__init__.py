"""The HTTP shell: a FastAPI application over the ledger (docs/architecture/api.md).

Two ways in:

- :func:`create_app` wraps a :class:`~ledger.Ledger` the caller opened (tests, embedding);
- :func:`app_from_env` is a uvicorn factory (``uvicorn api:app_from_env --factory``) that reads
  ``CLAIMLEDGER_DB`` (required), ``CLAIMLEDGER_LOG_KEY`` (the log's encrypted key file; without
  it the server is read-only), ``CLAIMLEDGER_NEXT_LOG_KEY`` (the key a log key rotation
  names, same passphrase; docs/operating/log-key-rotation.md), ``CLAIMLEDGER_LOG_VKEYS`` (log
  vkeys trusted for snapshots by a server without the key), ``CLAIMLEDGER_PASSPHRASE``,
  ``CLAIMLEDGER_OPEN_WORKERS`` and
  ``CLAIMLEDGER_WITNESS_POLICY`` (a tlog-policy file) and ``CLAIMLEDGER_FOLLOW_S`` (how often to
  look for entries other servers appended; default 0.1, 0: never); it accepts connections at once,
  opens the ledger in the background (routes answer ``503 starting`` until it is open:
  :mod:`api.lifecycle`) and closes it at shutdown.

``/metrics`` (:mod:`api.metrics`), ``/healthz`` and ``/readyz`` are for operators
(docs/operating/monitoring.md).

Every server follows its database (:class:`ledger.Following`): several servers over one
PostgreSQL database (or one SQLite file) all serve what any of them appended.

With a witness policy, a writable server has each new checkpoint cosigned by the policy's
witnesses in a background thread (:class:`ledger.Witnessing`) and serves the newest one that
meets the quorum at ``/v1/log/checkpoint/cosigned`` (docs/architecture/witness.md).

With ``open_workers`` ≥ 2 a writable server opens submitted envelopes in that many worker
processes (:mod:`api.opener`), started and stopped with the application's lifespan.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.openapi.utils import get_openapi
from starlette.concurrency import run_in_threadpool

from api import problems, web
from api.deps import Settings
from api.lifecycle import Lifecycle, in_background
from api.metrics import Metrics, MetricsMiddleware
from api.middleware import BodyLimitMiddleware
from api.opener import Opener
from api.routers import (
    entries,
    exports,
    feeds,
    health,
    log,
    parties,
    scorecard,
    streams,
    tiles,
    verifiers,
)
from attest.checkpoint import NoteVerifier
from attest.dsse import MAX_ENVELOPE_BYTES
from attest.errors import VerificationError
from attest.policy import Policy, parse_policy
from keys import KeysError, PrivateKey, PublicKey
from ledger import (
    DEFAULT_FOLLOW_S,
    RESIDENT_ENTRIES,
    Following,
    Ledger,
    LedgerError,
    StoreError,
    Witnessing,
    tune_gc,
)

__all__ = [
    "DEFAULT_MAX_BATCH",
    "DEFAULT_MAX_BATCH_BYTES",
    "DEFAULT_MAX_BODY_BYTES",
    "DEFAULT_OPEN_WORKERS",
    "ServerConfigError",
    "app_from_env",
    "create_app",
]

_log = logging.getLogger(__name__)

DEFAULT_MAX_BODY_BYTES = MAX_ENVELOPE_BYTES
"""Largest request body (one envelope): the same limit :mod:`attest` applies to an envelope."""

DEFAULT_MAX_BATCH = 1000
"""Most envelopes in one ``POST /v1/entries:batch``."""

DEFAULT_MAX_BATCH_BYTES = 16 * 1024 * 1024
"""Largest ``POST /v1/entries:batch`` body."""

DEFAULT_OPEN_WORKERS = 0
"""Worker processes that open single submissions (0 or 1: in the server process)."""

OPEN_WORKERS_ENV = "CLAIMLEDGER_OPEN_WORKERS"

WITNESS_POLICY_ENV = "CLAIMLEDGER_WITNESS_POLICY"

FOLLOW_ENV = "CLAIMLEDGER_FOLLOW_S"

RESIDENT_ENV = "CLAIMLEDGER_RESIDENT_ENTRIES"
"""The server's memory budget for provider streams' state, in entries (ledger.RESIDENT_ENTRIES by
default; ``all`` keeps every stream it reads or writes)."""

BATCH_PATH = "/v1/entries:batch"


class ServerConfigError(RuntimeError):
    """The server's environment is incomplete or wrong (no database URL, unreadable key...)."""


def _new_app(settings: Settings, lifespan: Any, ledger: Ledger | None = None) -> FastAPI:
    app = FastAPI(
        title="claimledger",
        version="1",
        summary="A public, tamper-evident ledger of signed child-safety claims and verdicts.",
        description=(
            "Everything served here can be verified client-side from signatures and hashes "
            "(docs/SPEC.md). Every error is an RFC 9457 application/problem+json object with a "
            "stable `type` URI under https://claimledger.dev/problems/."
        ),
        lifespan=lifespan,
        # The OpenAPI document is served at /openapi.json. FastAPI's /docs and /redoc pages load
        # their scripts from a CDN; nothing this server serves depends on a third party.
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.opener = None  # set by the lifespan when envelopes are opened in workers
    app.state.witnessing = None  # set by the lifespan when checkpoints are sent to witnesses
    app.state.following = None  # set by the lifespan: the thread that reads others' appends
    # None while app_from_env's lifespan opens it in the background (routes answer 503 starting)
    app.state.ledger = ledger
    app.state.lifecycle = Lifecycle()
    app.state.metrics = metrics = Metrics(app.state)
    if ledger is not None:
        metrics.watch(ledger)
    problems.install(app)
    routers = (entries, streams, log, parties, verifiers, scorecard, feeds, health, tiles, exports)
    for module in routers:
        app.include_router(module.router)
    web.mount(app)

    def limit_for(path: str) -> int:
        return settings.max_batch_bytes if path == BATCH_PATH else settings.max_body_bytes

    app.add_middleware(BodyLimitMiddleware, limit_for=limit_for)
    # Everything readable is public and verifiable: let pages on other origins fetch it too.
    app.add_middleware(
        CORSMiddleware,
        allow_origins=["*"],
        allow_methods=["GET"],
        expose_headers=["ETag", "Link", "Location"],
    )
    app.add_middleware(MetricsMiddleware, metrics=metrics)  # outermost: times all of the above

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = _problem_openapi(
                get_openapi(
                    title=app.title,
                    version=app.version,
                    summary=app.summary,
                    description=app.description,
                    routes=app.routes,
                )
            )
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app


def _problem_openapi(schema: dict[str, Any]) -> dict[str, Any]:
    """Say what the server does: errors are problem+json; bad parameters are 400, not 422."""
    problem = {"$ref": "#/components/schemas/ProblemOut"}
    for item in schema.get("paths", {}).values():
        for op in item.values():
            responses = op.get("responses", {})
            auto = responses.get("422", {})
            if "HTTPValidationError" in str(auto.get("content", "")):
                del responses["422"]
                if op.get("parameters"):
                    responses.setdefault(
                        "400",
                        {
                            "description": "invalid parameters",
                            "content": {"application/problem+json": {"schema": problem}},
                        },
                    )
            for status, response in responses.items():
                content = response.get("content", {})
                if status[0] in "45" and "application/json" in content:
                    content["application/problem+json"] = content.pop("application/json")
    components = schema.get("components", {}).get("schemas", {})
    for name in ("HTTPValidationError", "ValidationError"):
        components.pop(name, None)
    return schema


@asynccontextmanager
async def _opening(app: FastAPI, ledger: Ledger, settings: Settings) -> AsyncIterator[None]:
    """Run an :class:`Opener` while the application serves, if configured and writable."""
    if settings.open_workers < 2 or not settings.writable:
        yield
        return
    opener = Opener(ledger, settings.open_workers)
    await opener.start()
    app.state.opener = opener
    try:
        yield
    finally:
        app.state.opener = None
        await opener.close()


@asynccontextmanager
async def _checking_parts(ledger: Ledger) -> AsyncIterator[None]:
    """Check, in a thread while the application serves, that every part of the snapshot the
    server opened from is stored (``Ledger.open_to_serve`` leaves it for then: ≈ 0.3 s at
    100,000 companies). A missing one drops the snapshot with an error line
    (``Ledger.check_snapshot_parts``)."""

    def check() -> None:
        try:
            ledger.check_snapshot_parts()
        except StoreError as exc:  # the server goes on: each part is hashed when read
            _log.warning("could not check that the snapshot's parts are stored: %s", exc)

    task = asyncio.create_task(asyncio.to_thread(check))
    try:
        yield
    finally:
        await task  # before the ledger closes


def _policy(data: bytes | None) -> Policy | None:
    if data is None:
        return None
    try:
        return parse_policy(data)
    except VerificationError as exc:
        raise ServerConfigError(f"the witness policy is invalid: {exc}") from exc


@asynccontextmanager
async def _witnessing(
    app: FastAPI, ledger: Ledger, settings: Settings, policy: Policy | None
) -> AsyncIterator[None]:
    """Run a :class:`Witnessing` thread while the application serves, if it has a policy."""
    if policy is None or not settings.writable:
        yield
        return
    try:
        witnessing = Witnessing(ledger, policy)
    except LedgerError as exc:
        raise ServerConfigError(str(exc)) from exc
    async with _thread(app, "witnessing", witnessing):
        yield


@asynccontextmanager
async def _following(app: FastAPI, ledger: Ledger, settings: Settings) -> AsyncIterator[None]:
    """Run a :class:`Following` thread while the application serves (unless ``follow_s`` is 0):
    entries other processes append to the same database are served within about ``follow_s``."""
    if settings.follow_s <= 0:
        yield
        return
    async with _thread(app, "following", Following(ledger, settings.follow_s)):
        yield


@asynccontextmanager
async def _thread(app: FastAPI, name: str, worker: Witnessing | Following) -> AsyncIterator[None]:
    """Start ``worker``'s thread, show it as ``app.state.<name>`` while serving, then stop it."""
    worker.start()
    setattr(app.state, name, worker)
    try:
        yield
    finally:
        setattr(app.state, name, None)
        await run_in_threadpool(worker.close)


def _is_writable(ledger: Ledger) -> bool:
    try:
        ledger.checkpoint()
    except LedgerError:
        return False
    return True


def create_app(
    ledger: Ledger,
    *,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    max_batch: int = DEFAULT_MAX_BATCH,
    max_batch_bytes: int = DEFAULT_MAX_BATCH_BYTES,
    writable: bool | None = None,
    open_workers: int = DEFAULT_OPEN_WORKERS,
    witness_policy: bytes | None = None,
    follow_s: float = DEFAULT_FOLLOW_S,
) -> FastAPI:
    """The API over an open ledger (the caller closes it).

    Args:
        ledger: the ledger to serve.
        max_body_bytes: largest request body (other than a batch); larger ones get ``413``.
        max_batch: most envelopes in one batch.
        max_batch_bytes: largest batch body.
        writable: whether the ledger can append and sign (default: found out by asking it for a
            checkpoint, which needs the log key).
        open_workers: worker processes that open single submissions (``POST /v1/entries``),
            started and stopped by the application's lifespan (so only when it runs: a
            ``TestClient`` used as a context manager, a server); 0 or 1: in the event loop.
        witness_policy: a tlog-policy file: served at ``/v1/log/witness-policy``; a writable
            server has its checkpoints cosigned by its witnesses while the lifespan runs.
        follow_s: while the lifespan runs, how often to look for entries other processes
            appended to the ledger's database (:class:`ledger.Following`); 0: never.

    Raises:
        ServerConfigError: the witness policy is malformed, or does not list this log's key.
    """
    if open_workers < 0:
        raise ValueError(f"open_workers must be >= 0, not {open_workers}")
    policy = _policy(witness_policy)
    settings = Settings(
        max_body_bytes=max_body_bytes,
        max_batch=max_batch,
        max_batch_bytes=max_batch_bytes,
        writable=_is_writable(ledger) if writable is None else writable,
        open_workers=open_workers,
        witness_policy=witness_policy,
        follow_s=follow_s,
    )
    if policy is not None and settings.writable:
        try:
            Witnessing.check(ledger, policy)
        except LedgerError as exc:
            raise ServerConfigError(str(exc)) from exc

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with (
            _opening(app, ledger, settings),
            _witnessing(app, ledger, settings, policy),
            _following(app, ledger, settings),
        ):
            yield

    return _new_app(settings, lifespan, ledger=ledger)


def app_from_env() -> FastAPI:
    """A uvicorn factory: the API over the ledger named by the environment.

    Raises:
        ServerConfigError: ``CLAIMLEDGER_DB`` is unset, the log key cannot be read, or
            ``CLAIMLEDGER_OPEN_WORKERS`` is not a whole number ≥ 0.
    """
    url = os.environ.get("CLAIMLEDGER_DB", "").strip()
    if not url:
        raise ServerConfigError(
            "CLAIMLEDGER_DB is not set: give the ledger's database URL "
            "(sqlite:///path/to/ledger.db or postgresql://user@host/db)"
        )
    log_key = _load_log_key()
    next_log_key = _load_log_key(NEXT_LOG_KEY_ENV)
    snapshot_keys = _snapshot_keys()
    if next_log_key is not None and log_key is None:
        raise ServerConfigError(f"{NEXT_LOG_KEY_ENV} is set but CLAIMLEDGER_LOG_KEY is not")
    # The published-checkpoint floor (ledger/_published.py, docs/operating/backup.md).
    published = os.environ.get("CLAIMLEDGER_PUBLISHED_CHECKPOINT", "").strip() or None
    witness_policy = _load_witness_policy()
    policy = _policy(witness_policy)
    resident = _resident_entries()
    settings = Settings(
        max_body_bytes=DEFAULT_MAX_BODY_BYTES,
        max_batch=DEFAULT_MAX_BATCH,
        max_batch_bytes=DEFAULT_MAX_BATCH_BYTES,
        writable=log_key is not None,
        open_workers=_open_workers(),
        witness_policy=witness_policy,
        follow_s=_follow_s(),
    )

    def open_ledger() -> Ledger:
        return Ledger.open_to_serve(
            url,
            log_key=log_key,
            next_log_keys=() if next_log_key is None else (next_log_key,),
            snapshot_keys=snapshot_keys,
            published_checkpoint=published,
            resident_entries=resident,
        )

    @asynccontextmanager
    async def serving(app: FastAPI, ledger: Ledger) -> AsyncIterator[None]:
        """What runs while the open ledger is served (entered after the open, left before the
        ledger is closed)."""
        app.state.metrics.watch(ledger)
        async with (
            _checking_parts(ledger),
            _opening(app, ledger, settings),
            _witnessing(app, ledger, settings, policy),
            _following(app, ledger, settings),
        ):
            yield

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Accept connections at once; open (and re-verify) the ledger in the background
        # (api/lifecycle.py): until then routes answer 503 starting.
        tune_gc()
        async with in_background(app, open_ledger, lambda ledger: serving(app, ledger)):
            yield

    return _new_app(settings, lifespan)


def _open_workers() -> int:
    raw = os.environ.get(OPEN_WORKERS_ENV, "").strip()
    if not raw:
        return DEFAULT_OPEN_WORKERS
    try:
        n = int(raw)
    except ValueError:
        n = -1
    if n < 0:
        raise ServerConfigError(f"{OPEN_WORKERS_ENV} must be a whole number >= 0, not {raw!r}")
    return n


def _follow_s() -> float:
    raw = os.environ.get(FOLLOW_ENV, "").strip()
    if not raw:
        return DEFAULT_FOLLOW_S
    try:
        seconds = float(raw)
    except ValueError:
        seconds = -1.0
    if not 0 <= seconds <= 60:
        raise ServerConfigError(f"{FOLLOW_ENV} must be a number of seconds in [0, 60], not {raw!r}")
    return seconds


def _resident_entries() -> int | None:
    raw = os.environ.get(RESIDENT_ENV, "").strip()
    if not raw:
        return RESIDENT_ENTRIES
    if raw == "all":
        return None
    if not (raw.isdigit() and int(raw) >= 1):
        raise ServerConfigError(
            f"{RESIDENT_ENV} must be a whole number of entries or 'all', not {raw!r}"
        )
    return int(raw)


def _load_witness_policy() -> bytes | None:
    path = os.environ.get(WITNESS_POLICY_ENV, "").strip()
    if not path:
        return None
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError as exc:
        raise ServerConfigError(f"cannot read the witness policy {path}: {exc}") from exc


NEXT_LOG_KEY_ENV = "CLAIMLEDGER_NEXT_LOG_KEY"
"""The log key a ``log.key.rotate`` names (SPEC §7.6), held beside the one in force."""


LOG_VKEYS_ENV = "CLAIMLEDGER_LOG_VKEYS"
"""Log vkeys (space-separated) a server without the private key trusts to have signed a stored
snapshot: after a log key rotation, a read-only replica given the new vkey starts from the
snapshot instead of replaying the log (SPEC §16.1, docs/operating/log-key-rotation.md)."""


def _snapshot_keys() -> tuple[PublicKey, ...]:
    text = os.environ.get(LOG_VKEYS_ENV, "").strip()
    try:
        return tuple(NoteVerifier.from_vkey(v).key for v in text.split())
    except VerificationError as exc:
        raise ServerConfigError(f"{LOG_VKEYS_ENV}: {exc}") from exc


def _load_log_key(env: str = "CLAIMLEDGER_LOG_KEY") -> PrivateKey | None:
    path = os.environ.get(env, "").strip()
    if not path:
        return None
    passphrase = os.environ.get("CLAIMLEDGER_PASSPHRASE")
    try:
        return PrivateKey.load(path, None if passphrase is None else passphrase.encode("utf-8"))
    except (KeysError, OSError) as exc:
        raise ServerConfigError(f"cannot read the log key {path}: {exc}") from exc
