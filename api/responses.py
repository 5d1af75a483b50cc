"""Response helpers: orjson bodies, NDJSON streams, strong ETags and cache lifetimes.

Cache policy (docs/architecture/api.md, docs/operating/caching.md): what can never change (a raw
entry, a proof for a fixed tree size, a full page of entries, a bundle at a fixed size) is
``immutable`` for a year; what shows the latest checkpoint (the checkpoint itself, stream heads,
the scorecard, bundles, the pages) is ``LATEST``: fresh for 5 seconds, then served stale for up to
30 more while a cache revalidates; other mutable views must be revalidated (``no-cache``).

Every ``GET`` body carries a strong ETag and ``If-None-Match`` is answered with ``304``. The tag is
a hash of the exact body, or, for a "latest" response, a hash of what the body is a function of
(:func:`checkpoint_etag`: the checkpoint note it was rendered at, the URL, the renderer's code and
the minute for views that judge expiry at the present), so a ``304`` needs no rendering.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from enum import Enum
from pathlib import Path
from typing import Any

import orjson
from fastapi import Request
from starlette.responses import Response, StreamingResponse

__all__ = [
    "NDJSON",
    "Cache",
    "bytes_response",
    "checkpoint_etag",
    "json_response",
    "ndjson_line",
    "ndjson_response",
    "not_modified",
    "text_response",
]

NDJSON = "application/x-ndjson"
_CHUNK = 64 * 1024


class Cache(Enum):
    """A ``Cache-Control`` policy."""

    IMMUTABLE = "public, max-age=31536000, immutable"
    LATEST = "public, max-age=5, stale-while-revalidate=30"
    SHORT = "public, max-age=5"
    NO_CACHE = "no-cache"
    NO_STORE = "no-store"


def _etag(digest: bytes) -> str:
    return '"' + digest[:16].hex() + '"'


def _renderer_fingerprint() -> bytes:
    """A hash of the code and templates that turn a log prefix into a response body.

    A checkpoint-bound ETag must change when the bytes rendered for the same checkpoint change,
    which a new release may do; servers running the same release agree on it (unlike a start
    time), so a load balancer's servers answer each other's tags with ``304``.
    """
    h = hashlib.sha256(b"claimledger renderer\n")
    for package in ("api", "ledger", "attest"):
        root = Path(__file__).resolve().parent.parent / package
        for path in sorted(root.rglob("*")):
            # .mo and .json: the message catalogs and the verdict words the pages are written in
            if path.suffix in (".py", ".html", ".svg", ".mo", ".json") and path.is_file():
                h.update(str(path.relative_to(root.parent)).encode() + b"\0")
                h.update(path.read_bytes())
    return h.digest()


_RENDERER = _renderer_fingerprint()


def checkpoint_etag(request: Request, note: bytes, *parts: str) -> str:
    """A strong ETag bound to the checkpoint ``note`` a "latest" response is rendered at.

    The body of such a response is a function of the log prefix the note signs (size and root),
    the request's URL (host, path and query), the code that renders it and ``parts`` (the
    minute, for views judging expiry at the present): so is this tag, computed before rendering.
    The caller must render at the note's size (views cut at it) or fall back to a body hash.
    """
    h = hashlib.sha256(_RENDERER)
    for part in (str(request.url).encode("utf-8"), note, *(p.encode("utf-8") for p in parts)):
        h.update(len(part).to_bytes(8, "big") + part)
    return _etag(h.digest())


def not_modified(
    request: Request, etag: str, cache: Cache, headers: dict[str, str] | None = None
) -> Response | None:
    """``304`` when the client holds ``etag`` already, else ``None`` (render the body)."""
    if not _not_modified(request, etag):
        return None
    return Response(
        status_code=304, headers={"ETag": etag, "Cache-Control": cache.value, **(headers or {})}
    )


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
    digest: bytes | str,
    cache: Cache,
    headers: dict[str, str] | None,
) -> tuple[dict[str, str], Response | None]:
    etag = digest if isinstance(digest, str) else _etag(digest)
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
    etag: str | None = None,
) -> Response:
    """A JSON body (orjson) with a strong ETag (``etag`` if given, see :func:`checkpoint_etag`,
    else a hash of the body); ``304`` when the client has it already."""
    body = orjson.dumps(content)
    if status_code != 200:
        return Response(
            body,
            status_code=status_code,
            media_type="application/json",
            headers={"Cache-Control": Cache.NO_STORE.value, **(headers or {})},
        )
    tag = etag if etag is not None else hashlib.sha256(body).digest()
    out, unchanged = _finish(request, tag, cache, headers)
    if unchanged is not None:
        return unchanged
    return Response(body, media_type="application/json", headers=out)


def text_response(
    request: Request,
    text: bytes,
    *,
    cache: Cache,
    headers: dict[str, str] | None = None,
) -> Response:
    """A ``text/plain; charset=utf-8`` body with a strong ETag."""
    out, unchanged = _finish(request, hashlib.sha256(text).digest(), cache, headers)
    if unchanged is not None:
        return unchanged
    return Response(text, media_type="text/plain; charset=utf-8", headers=out)


def bytes_response(
    request: Request,
    body: bytes,
    *,
    media_type: str,
    cache: Cache,
    headers: dict[str, str] | None = None,
    etag: str | None = None,
) -> Response:
    """A body of any media type (an Atom feed, a page...) with a strong ETag (``etag`` if given,
    else a hash of the body)."""
    tag = etag if etag is not None else hashlib.sha256(body).digest()
    out, unchanged = _finish(request, tag, cache, headers)
    if unchanged is not None:
        return unchanged
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
    out, unchanged = _finish(request, h.digest(), cache, headers)
    if unchanged is not None:
        return unchanged
    return StreamingResponse(_chunks(kept), media_type=NDJSON, headers=out)
