"""Response helpers: orjson bodies, NDJSON streams, strong ETags and cache lifetimes.

Cache policy (docs/architecture/api.md): what can never change (a raw entry, a proof for a fixed
tree size, a full page of entries) is ``immutable`` for a year; the checkpoint lives 5 seconds;
mutable views must be revalidated (``no-cache``). Every ``GET`` body carries a strong ETag (a hash
of the exact body), and ``If-None-Match`` is answered with ``304``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from enum import Enum
from typing import Any

import orjson
from fastapi import Request
from starlette.responses import Response, StreamingResponse

__all__ = [
    "NDJSON",
    "Cache",
    "bytes_response",
    "json_response",
    "ndjson_line",
    "ndjson_response",
    "text_response",
]

NDJSON = "application/x-ndjson"
_CHUNK = 64 * 1024


class Cache(Enum):
    """A ``Cache-Control`` policy."""

    IMMUTABLE = "public, max-age=31536000, immutable"
    SHORT = "public, max-age=5"
    NO_CACHE = "no-cache"
    NO_STORE = "no-store"


def _etag(digest: bytes) -> str:
    return '"' + digest[:16].hex() + '"'


def _not_modified(request: Request, etag: str) -> bool:
    """RFC 9110 §13.1.2: weak comparison of ``If-None-Match`` against ``etag``."""
    header = request.headers.get("if-none-match")
    if header is None:
        return False
    if header.strip() == "*":
        return True
    tags = {t.strip().removeprefix("W/") for t in header.split(",")}
    return etag in tags


def _finish(
    request: Request,
    digest: bytes,
    cache: Cache,
    headers: dict[str, str] | None,
) -> tuple[dict[str, str], Response | None]:
    etag = _etag(digest)
    out = {"ETag": etag, "Cache-Control": cache.value, **(headers or {})}
    if _not_modified(request, etag):
        return out, Response(status_code=304, headers=out)
    return out, None


def json_response(
    request: Request,
    content: Any,
    *,
    cache: Cache = Cache.NO_CACHE,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> Response:
    """A JSON body (orjson) with a strong ETag; ``304`` when the client has it already."""
    body = orjson.dumps(content)
    if status_code != 200:
        return Response(
            body,
            status_code=status_code,
            media_type="application/json",
            headers={"Cache-Control": Cache.NO_STORE.value, **(headers or {})},
        )
    out, not_modified = _finish(request, hashlib.sha256(body).digest(), cache, headers)
    if not_modified is not None:
        return not_modified
    return Response(body, media_type="application/json", headers=out)


def text_response(
    request: Request,
    text: bytes,
    *,
    cache: Cache,
    headers: dict[str, str] | None = None,
) -> Response:
    """A ``text/plain; charset=utf-8`` body with a strong ETag."""
    out, not_modified = _finish(request, hashlib.sha256(text).digest(), cache, headers)
    if not_modified is not None:
        return not_modified
    return Response(text, media_type="text/plain; charset=utf-8", headers=out)


def bytes_response(
    request: Request,
    body: bytes,
    *,
    media_type: str,
    cache: Cache,
    headers: dict[str, str] | None = None,
) -> Response:
    """A body of any media type (an Atom feed...) with a strong ETag."""
    out, not_modified = _finish(request, hashlib.sha256(body).digest(), cache, headers)
    if not_modified is not None:
        return not_modified
    return Response(body, media_type=media_type, headers=out)


def ndjson_line(obj: Any) -> bytes:
    """One NDJSON line: compact JSON and a newline."""
    return orjson.dumps(obj) + b"\n"


def _chunks(lines: list[bytes]) -> Iterator[bytes]:
    buf: list[bytes] = []
    size = 0
    for line in lines:
        buf.append(line)
        size += len(line)
        if size >= _CHUNK:
            yield b"".join(buf)
            buf, size = [], 0
    if buf:
        yield b"".join(buf)


def ndjson_response(
    request: Request,
    lines: Iterable[bytes],
    *,
    cache: Cache,
    headers: dict[str, str] | None = None,
) -> Response:
    """A bounded NDJSON page, streamed in chunks, with a strong ETag over all of its bytes.

    Pages are bounded by the routers, so the lines are built first: the ETag must cover the
    whole body before the first byte is sent.
    """
    h = hashlib.sha256()
    kept = []
    for line in lines:
        h.update(line)
        kept.append(line)
    out, not_modified = _finish(request, h.digest(), cache, headers)
    if not_modified is not None:
        return not_modified
    return StreamingResponse(_chunks(kept), media_type=NDJSON, headers=out)
