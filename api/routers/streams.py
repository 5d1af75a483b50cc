"""``/v1/streams/{stream}``: a stream's head, its entries (NDJSON), its replayed state, its bundle.

A stream exists once it has an entry, or as soon as its provider is registered (then with length
0 and the genesis ``prev``, so a new provider can sign its first statement). History can be cut
at a past log time (``as_of``, RFC 3339) or log size (``size``): only entries with a log time at
or before ``as_of``, or a global index below ``size``, are served.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from api.deps import LedgerDep, SettingsDep
from api.params import (
    committed_size,
    history_cut,
    latest,
    log_entry_json,
    parse_as_of,
    present_ms,
    require_stream,
    still_latest,
)
from api.problems import InvalidParameterError, NotFoundError, UnavailableError
from api.responses import (
    NDJSON,
    Cache,
    checkpoint_etag,
    json_response,
    ndjson_line,
    ndjson_response,
    not_modified,
)
from api.schemas import Responses, StreamOut, ViewOut, problem_docs
from ledger import LedgerError, export_bundle

__all__ = ["router"]

router = APIRouter(prefix="/v1/streams", tags=["streams"])

MAX_PAGE = 1000
"""Most entries in one page of ``/entries``."""

_NOT_FOUND: Responses = {**problem_docs((404, "no such stream"))}
_BAD: Responses = {**problem_docs((400, "invalid parameters"))}

Stream = Annotated[str, Path(min_length=1, max_length=128, description="the stream's name")]
AsOf = Annotated[
    str | None,
    Query(description="RFC 3339 date-time: the history as it stood then (by log time)"),
]
Size = Annotated[
    int | None, Query(ge=1, le=2**63 - 1, description="the history as of this log size")
]


@router.get("/{stream}", response_model=StreamOut, summary="A stream's head", responses=_NOT_FOUND)
def get_stream(request: Request, ledger: LedgerDep, stream: Stream) -> Response:
    """The stream's head (the ``prev`` its next statement must name) and length.

    Bound to the latest checkpoint: fresh for 5 seconds (a writer that gets a stale head is
    answered ``409 chain-conflict`` with the current one, and rebases)."""
    pinned = latest(ledger, request)
    # The head is read from the ledger's state, not cut at the checkpoint: a tag is only
    # answered while the state is at the checkpoint (a read-only server may run ahead of it).
    current = pinned.etag is not None and ledger.size == pinned.size
    if current and (hit := not_modified(request, pinned.etag or "", Cache.LATEST)):
        return hit
    head, length = require_stream(ledger, stream)
    return json_response(
        request,
        {"stream": stream, "head": head, "length": length},
        cache=Cache.LATEST,
        etag=still_latest(ledger, pinned),
    )


@router.get(
    "/{stream}/entries",
    summary="A stream's raw entries (NDJSON)",
    response_class=Response,
    responses={
        200: {
            "description": "one raw log entry per line (the LogEntryOut schema), by position; "
            'a full page has a Link rel="next" header',
            "content": {NDJSON: {"schema": {"type": "string"}}},
        },
        **_BAD,
        **_NOT_FOUND,
    },
)
def get_stream_entries(
    request: Request,
    ledger: LedgerDep,
    stream: Stream,
    start: Annotated[int, Query(ge=0, le=2**63 - 1, description="first position")] = 0,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE, description="most entries")] = 100,
    as_of: AsOf = None,
    size: Size = None,
) -> Response:
    """Entries of the stream from position ``start``, at most ``limit``, as NDJSON.

    A full page can never change and is cached for a year; a short one must be revalidated.
    """
    _, length = require_stream(ledger, stream)
    as_of_ms, cut = history_cut(ledger, as_of, size)
    end = min(start + limit, length)
    page = ledger.stream_entries(stream, start, end) if start < end else []
    kept = []
    for e in page:
        if (as_of_ms is not None and e.log_time_ms > as_of_ms) or (
            cut is not None and e.index >= cut
        ):
            break
        kept.append(e)
    full = len(kept) == limit
    headers = {}
    if full:
        query = request.url.include_query_params(start=start + limit, limit=limit)
        headers["Link"] = f'<{query.path}?{query.query}>; rel="next"'
    lines = (ndjson_line(log_entry_json(e)) for e in kept)
    return ndjson_response(
        request, lines, cache=Cache.IMMUTABLE if full else Cache.NO_CACHE, headers=headers
    )


@router.get(
    "/{stream}/state",
    response_model=ViewOut,
    summary="A stream replayed (as of a date or log size)",
    responses={**_BAD, **_NOT_FOUND},
)
def get_stream_state(
    request: Request,
    ledger: LedgerDep,
    stream: Stream,
    as_of: AsOf = None,
    size: Size = None,
    at: Annotated[
        str | None,
        Query(
            description="RFC 3339: judge verdict expiry at this time (default: as_of, "
            "else now for the present record, else the log time at the cut)"
        ),
    ] = None,
) -> Response:
    """The stream's claims, tests, verdicts and replies as they stood (a replay of the log).

    Cut at a ``size``, the replay can never change (immutable); otherwise it is bound to the
    latest checkpoint and, judging expiry at the present, to the minute."""
    require_stream(ledger, stream)
    as_of_ms, cut = history_cut(ledger, as_of, size)
    at_ms = parse_as_of(at, parameter="at")
    if cut is not None:
        replay = ledger.views.replay(stream, as_of_ms=as_of_ms, size=cut, at_ms=at_ms)
        return json_response(request, replay.to_dict(), cache=Cache.IMMUTABLE)
    now = present_ms(time.time_ns() // 1_000_000)
    pinned = latest(ledger, request, str(now))
    if pinned.etag is not None and (hit := not_modified(request, pinned.etag, Cache.LATEST)):
        return hit
    if at_ms is None and as_of_ms is None:
        at_ms = now
    replay = ledger.views.replay(stream, as_of_ms=as_of_ms, size=pinned.size, at_ms=at_ms)
    replay = dataclasses.replace(replay, size=None)  # the latest record, not a cut asked for
    return json_response(
        request, replay.to_dict(), cache=Cache.LATEST, etag=still_latest(ledger, pinned)
    )


@router.get(
    "/{stream}/bundle",
    summary="The offline evidence bundle of a stream",
    response_class=Response,
    responses={
        200: {
            "description": "a self-contained bundle that verifies offline (a download)",
            "content": {"application/json": {"schema": {"type": "object"}}},
        },
        **problem_docs(
            (404, "no such provider, or no checkpoint kept of that size or by that time"),
            (400, "invalid parameters: size beyond the log, size and as_of both given"),
            (503, "read-only server: no checkpoint to export against"),
        ),
    },
)
async def get_bundle(
    request: Request,
    ledger: LedgerDep,
    settings: SettingsDep,
    stream: Stream,
    size: Annotated[
        int | None,
        Query(
            ge=1,
            le=2**63 - 1,
            description="export against the checkpoint of this log size: the cosigned one "
            "(with its witnesses' cosignature lines) if the server keeps one of that size",
        ),
    ] = None,
    as_of: Annotated[
        str | None,
        Query(
            description="RFC 3339 date-time: export against the newest checkpoint the log kept "
            "whose log time (its last entry's) is at or before it: the record as it stood then",
        ),
    ] = None,
) -> Response:
    """Everything needed to verify a provider's record offline (``claimledger verify --bundle``).

    Made against the latest checkpoint, or with ``size`` against the checkpoint of that size
    (``/v1/log/checkpoint/cosigned`` names the newest cosigned size), or with ``as_of`` against
    the newest checkpoint the log kept by then; the file is named ``<stream>.bundle.json``. A
    bundle at an older size is the same format (SPEC §10), with the completeness proof at that
    size: nothing about it is new bytes. A read-only server exports only against checkpoints it
    keeps (``404`` for a size it does not keep). The bundle is a function of its checkpoint
    note, so its ETag is bound to the note and a ``304`` is answered without building it. At a
    fixed ``size`` it is immutable once it carries the witnesses' cosignatures, or when the
    server has no witness policy (nothing will be added to it); otherwise it lives as long as
    the latest checkpoint. With ``as_of`` it must be revalidated (a checkpoint kept later may
    still fall at or before that time while it is the present).
    """
    party = ledger.views.party(stream)
    if party is None or party.role != "provider":
        raise NotFoundError(f"no provider {stream!r} (bundles are made for providers' records)")
    if size is not None and as_of is not None:
        raise InvalidParameterError("give size or as_of, not both", parameter="as_of")
    as_of_ms = parse_as_of(as_of)
    if as_of_ms is not None:
        try:
            size, note = await run_in_threadpool(ledger.checkpoint_as_of, as_of_ms)
        except LedgerError as exc:
            raise NotFoundError(str(exc)) from exc
        # A later checkpoint kept by the same time would change the answer: revalidate.
        cache = Cache.NO_CACHE
    elif size is not None:
        if size > committed_size(ledger):
            raise InvalidParameterError(
                f"size={size} is larger than the log ({committed_size(ledger)})", parameter="size"
            )
        try:
            note = await run_in_threadpool(ledger.checkpoint_at, size)
        except LedgerError as exc:
            raise NotFoundError(
                f"{exc}: this server keeps no checkpoint of size {size} (export at a kept size, "
                "or with as_of)"
            ) from exc
        final = settings.witness_policy is None or _cosigned(note)
        cache = Cache.IMMUTABLE if final else Cache.LATEST
    else:
        try:  # read-only: the newest checkpoint the writers published
            note, cache = ledger.checkpoint(), Cache.LATEST
        except LedgerError as exc:
            raise UnavailableError(
                "no signed checkpoint of this log has been published yet"
            ) from exc
    etag = checkpoint_etag(request, note)
    headers = {"Content-Disposition": f'attachment; filename="{stream}.bundle.json"'}
    if hit := not_modified(request, etag, cache, headers):
        return hit
    data = await run_in_threadpool(lambda: export_bundle(ledger, stream, checkpoint=note))
    return Response(
        data,
        media_type="application/json",
        headers={"ETag": etag, "Cache-Control": cache.value, **headers},
    )


def _cosigned(note: bytes) -> bool:
    """Whether a checkpoint note carries signature lines besides the log's own."""
    return note.split(b"\n\n", 1)[-1].count("\u2014 ".encode()) > 1
