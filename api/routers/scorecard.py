"""``/v1/scorecard`` and ``/v1/search``: providers x measures, and a search over entries."""

from __future__ import annotations

import dataclasses
import time
from typing import Annotated

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from api.deps import LedgerDep
from api.params import history_cut, latest, parse_as_of, present_ms, still_latest
from api.responses import Cache, json_response, not_modified
from api.schemas import Responses, ViewOut, problem_docs

__all__ = ["router"]

router = APIRouter(prefix="/v1", tags=["views"])

_ERRORS: Responses = {
    **problem_docs((400, "invalid parameters")),
}
MAX_SEARCH = 1000
Text = Annotated[str | None, Query(min_length=1, max_length=200)]


@router.get("/scorecard", response_model=ViewOut, summary="Providers x measures", responses=_ERRORS)
def get_scorecard(
    request: Request,
    ledger: LedgerDep,
    at: Annotated[
        str | None,
        Query(description="RFC 3339: judge verdict expiry at this time (default: now)"),
    ] = None,
    as_of: Annotated[
        str | None, Query(description="RFC 3339: the record as it stood then (by log time)")
    ] = None,
    size: Annotated[
        int | None, Query(ge=1, le=2**63 - 1, description="the record at this size")
    ] = None,
) -> Response:
    """The latest verdict per provider and measure; no verdict or an expired one is *unverified*.

    At a ``size`` with an ``at`` it can never change (immutable); otherwise it is bound to the
    latest checkpoint and to the minute (expiry in the present is judged at its last second)."""
    as_of_ms, cut = history_cut(ledger, as_of, size)
    at_ms = parse_as_of(at, parameter="at")
    if cut is not None and at_ms is not None:
        card = ledger.views.scorecard(at_ms=at_ms, as_of_ms=as_of_ms, size=cut)
        return json_response(request, card.to_dict(), cache=Cache.IMMUTABLE)
    now = present_ms(time.time_ns() // 1_000_000)
    pinned = latest(ledger, request, str(now))
    if pinned.etag is not None and (hit := not_modified(request, pinned.etag, Cache.LATEST)):
        return hit
    if at_ms is None:
        at_ms = as_of_ms if as_of_ms is not None else now
    limit = pinned.size if cut is None else min(cut, pinned.size)
    card = ledger.views.scorecard(at_ms=at_ms, as_of_ms=as_of_ms, size=limit)
    card = dataclasses.replace(card, size=cut)  # the cut asked for, as before
    return json_response(
        request, card.to_dict(), cache=Cache.LATEST, etag=still_latest(ledger, pinned)
    )


@router.get("/search", response_model=ViewOut, summary="Search entries", responses=_ERRORS)
def search(
    request: Request,
    ledger: LedgerDep,
    company: Text = None,
    measure: Text = None,
    verifier: Text = None,
    result: Text = None,
    kind: Text = None,
    after: Annotated[
        int | None, Query(ge=0, le=2**63 - 1, description="only entries after this log index")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_SEARCH)] = 100,
) -> Response:
    """Entries matching every given filter, in index order; page on with ``after``."""
    facts = ledger.views.search(
        company=company,
        measure=measure,
        verifier=verifier,
        result=result,
        kind=kind,
        limit=limit,
        after_index=after,
    )
    out: dict[str, object] = {"results": [f.to_dict() for f in facts]}
    if len(facts) == limit:
        out["nextAfter"] = facts[-1].index
    return json_response(request, out)
