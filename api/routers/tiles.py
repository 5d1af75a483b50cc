"""The static read API of C2SP tlog-tiles (SPEC §14): ``/checkpoint``, ``/tile/...``.

The same bytes ``claimledger tiles export`` writes as files, served from the database: hash tiles
from the stored Merkle nodes, entry bundles (leaf data) and envelope bundles from the stored
entries. A full tile is served once the newest kept checkpoint covers it; a partial tile only for
a size the log kept a checkpoint of (tlog-tiles: clients fetch partial tiles only for a checkpoint
they verified). Every tile is immutable at its URL, so it is cacheable for a year; the checkpoint
is fresh for 5 seconds.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from api.deps import LedgerDep
from api.problems import NotFoundError, UnavailableError
from api.responses import Cache, bytes_response, text_response
from api.schemas import problem_docs
from attest.tiles import parse_tile_path
from ledger import serve_tile

__all__ = ["router"]

router = APIRouter(tags=["tiles"])

OCTETS = "application/octet-stream"


@router.get(
    "/checkpoint",
    summary="The newest kept checkpoint (C2SP tlog-tiles)",
    response_class=Response,
    responses={
        200: {"description": "the signed note, text/plain; charset=utf-8"},
        **problem_docs((503, "no checkpoint kept yet")),
    },
)
def get_tiles_checkpoint(request: Request, ledger: LedgerDep) -> Response:
    """The newest checkpoint kept in the database with its Merkle nodes: every tile it needs
    is served. It may lag ``/v1/log/checkpoint`` by one persist interval."""
    note = ledger.store.latest_checkpoint()
    if note is None:
        raise UnavailableError("no checkpoint of this log has been kept yet")
    return text_response(request, note, cache=Cache.SHORT)


@router.get(
    "/tile/{path:path}",
    summary="A hash tile, entry bundle or envelope bundle (C2SP tlog-tiles)",
    response_class=Response,
    responses={
        200: {"description": "the tile's bytes, application/octet-stream"},
        **problem_docs((404, "not a tile path, or no checkpoint needs this tile")),
    },
)
def get_tile(path: str, request: Request, ledger: LedgerDep) -> Response:
    """``/tile/<L>/<N>[.p/<W>]``, ``/tile/entries/<N>[.p/<W>]``, ``/tile/envelopes/<N>[.p/<W>]``
    with ``<N>`` in tlog-tiles' 3-digit groups (SPEC §14)."""
    try:
        ref = parse_tile_path("tile/" + path)
    except ValueError as exc:
        raise NotFoundError(str(exc)) from None
    data = serve_tile(ledger.store, ref)
    if data is None:
        raise NotFoundError(f"no checkpoint this log kept needs {ref.path}")
    return bytes_response(request, data, media_type=OCTETS, cache=Cache.IMMUTABLE)
