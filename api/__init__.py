"""The HTTP shell: a FastAPI application over the ledger (docs/architecture/api.md).

Two ways in:

- :func:`create_app` wraps a :class:`~ledger.Ledger` the caller opened (tests, embedding);
- :func:`app_from_env` is a uvicorn factory (``uvicorn api:app_from_env --factory``) that reads
  ``CLAIMLEDGER_DB`` (required), ``CLAIMLEDGER_LOG_KEY`` (the log's encrypted key file; without
  it the server is read-only) and ``CLAIMLEDGER_PASSPHRASE``, opens the ledger at startup and
  closes it at shutdown.
"""

from __future__ import annotations

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
from api.middleware import BodyLimitMiddleware
from api.routers import entries, health, log, parties, scorecard, streams
from attest.dsse import MAX_ENVELOPE_BYTES
from keys import KeysError, PrivateKey
from ledger import Ledger, LedgerError

__all__ = [
    "DEFAULT_MAX_BATCH",
    "DEFAULT_MAX_BATCH_BYTES",
    "DEFAULT_MAX_BODY_BYTES",
    "ServerConfigError",
    "app_from_env",
    "create_app",
]

DEFAULT_MAX_BODY_BYTES = MAX_ENVELOPE_BYTES
"""Largest request body (one envelope): the same limit :mod:`attest` applies to an envelope."""

DEFAULT_MAX_BATCH = 1000
"""Most envelopes in one ``POST /v1/entries:batch``."""

DEFAULT_MAX_BATCH_BYTES = 16 * 1024 * 1024
"""Largest ``POST /v1/entries:batch`` body."""

BATCH_PATH = "/v1/entries:batch"


class ServerConfigError(RuntimeError):
    """The server's environment is incomplete or wrong (no database URL, unreadable key...)."""


def _new_app(settings: Settings, lifespan: Any = None, ledger: Ledger | None = None) -> FastAPI:
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
    if ledger is not None:
        app.state.ledger = ledger
    problems.install(app)
    for module in (entries, streams, log, parties, scorecard, health):
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
) -> FastAPI:
    """The API over an open ledger (the caller closes it).

    Args:
        ledger: the ledger to serve.
        max_body_bytes: largest request body (other than a batch); larger ones get ``413``.
        max_batch: most envelopes in one batch.
        max_batch_bytes: largest batch body.
        writable: whether the ledger can append and sign (default: found out by asking it for a
            checkpoint, which needs the log key).
    """
    settings = Settings(
        max_body_bytes=max_body_bytes,
        max_batch=max_batch,
        max_batch_bytes=max_batch_bytes,
        writable=_is_writable(ledger) if writable is None else writable,
    )
    return _new_app(settings, ledger=ledger)


def app_from_env() -> FastAPI:
    """A uvicorn factory: the API over the ledger named by the environment.

    Raises:
        ServerConfigError: ``CLAIMLEDGER_DB`` is unset, or the log key cannot be read.
    """
    url = os.environ.get("CLAIMLEDGER_DB", "").strip()
    if not url:
        raise ServerConfigError(
            "CLAIMLEDGER_DB is not set: give the ledger's database URL "
            "(sqlite:///path/to/ledger.db or postgresql://user@host/db)"
        )
    log_key = _load_log_key()
    settings = Settings(
        max_body_bytes=DEFAULT_MAX_BODY_BYTES,
        max_batch=DEFAULT_MAX_BATCH,
        max_batch_bytes=DEFAULT_MAX_BATCH_BYTES,
        writable=log_key is not None,
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        ledger = await run_in_threadpool(lambda: Ledger.open(url, log_key=log_key))
        app.state.ledger = ledger
        try:
            yield
        finally:
            await run_in_threadpool(ledger.close)

    return _new_app(settings, lifespan=lifespan)


def _load_log_key() -> PrivateKey | None:
    path = os.environ.get("CLAIMLEDGER_LOG_KEY", "").strip()
    if not path:
        return None
    passphrase = os.environ.get("CLAIMLEDGER_PASSPHRASE")
    try:
        return PrivateKey.load(path, None if passphrase is None else passphrase.encode("utf-8"))
    except (KeysError, OSError) as exc:
        raise ServerConfigError(f"cannot read the log key {path}: {exc}") from exc
