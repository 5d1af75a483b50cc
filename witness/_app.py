"""The witness's HTTP interface (C2SP tlog-witness), one prefix for submission and monitoring.

``POST /add-checkpoint``, the optional ``POST /sign-subtree`` and the monitoring
``GET /<origin hash>/checkpoint``. Bodies are plain text; errors are one line of text.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable

from fastapi import FastAPI, Request, Response
from fastapi.concurrency import run_in_threadpool

from attest import AttestError
from witness._core import MAX_REQUEST_SIZE, Witness
from witness.errors import RequestError, WitnessError

__all__ = ["create_app"]

_TEXT = "text/plain; charset=utf-8"
_HASH_RE = re.compile(r"[0-9a-f]{64}")


def create_app(witness: Witness) -> FastAPI:
    """The ASGI application serving ``witness``."""
    app = FastAPI(title="claimledger witness", docs_url=None, redoc_url=None, openapi_url=None)

    async def read_body(request: Request) -> bytes | None:
        length = request.headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > MAX_REQUEST_SIZE):
            return None
        chunks: list[bytes] = []
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > MAX_REQUEST_SIZE:
                return None
            chunks.append(chunk)
        return b"".join(chunks)

    @app.post("/add-checkpoint")
    async def add_checkpoint(request: Request) -> Response:
        body = await read_body(request)
        if body is None:
            return Response(b"request body too large\n", 413, media_type=_TEXT)
        return await answer(witness.add_checkpoint, body, int(time.time()))

    @app.post("/sign-subtree")
    async def sign_subtree(request: Request) -> Response:
        body = await read_body(request)
        if body is None:
            return Response(b"request body too large\n", 413, media_type=_TEXT)
        return await answer(witness.sign_subtree, body)

    async def answer(call: Callable[..., bytes], *args: object) -> Response:
        try:
            lines = await run_in_threadpool(call, *args)
        except RequestError as exc:
            # Set verbatim: Starlette would append "; charset=utf-8" to a text/* media type,
            # and the spec's 409 is exactly "text/x.tlog.size".
            return Response(exc.body, exc.status, headers={"content-type": exc.content_type})
        except (WitnessError, AttestError) as exc:
            return Response(f"witness error: {exc}\n".encode(), 500, media_type=_TEXT)
        return Response(lines, 200, media_type=_TEXT)

    @app.get("/{origin_hash}/checkpoint")
    async def checkpoint(origin_hash: str) -> Response:
        if _HASH_RE.fullmatch(origin_hash) is None:
            return Response(b"not a lowercase hex SHA-256 origin hash\n", 404, media_type=_TEXT)
        note = await run_in_threadpool(witness.latest_note, origin_hash)
        if note is None:
            return Response(b"no checkpoint cosigned for this log\n", 404, media_type=_TEXT)
        return Response(note, 200, media_type=_TEXT)

    return app
