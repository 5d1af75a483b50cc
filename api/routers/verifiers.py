"""``/v1/verifiers/{verifier}``: a verifier's accreditation and track record (issue 17 §3)."""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from starlette.responses import Response

from api.deps import LedgerDep
from api.params import committed_size, latest, present_ms, still_latest
from api.problems import InvalidParameterError, NotFoundError
from api.responses import Cache, json_response, not_modified
from api.schemas import ViewOut, problem_docs

__all__ = ["router"]

router = APIRouter(prefix="/v1/verifiers", tags=["parties"])


@router.get(
    "/{verifier}",
    response_model=ViewOut,
    summary="A verifier's accreditation record and track record",
    responses={**problem_docs((400, "invalid parameters"), (404, "no such verifier"))},
)
def get_verifier(
    request: Request,
    ledger: LedgerDep,
    verifier: Annotated[str, Path(min_length=1, max_length=128)],
    size: Annotated[
        int | None, Query(ge=1, le=2**63 - 1, description="the record as of this log size")
    ] = None,
) -> Response:
    """Accreditations (grants, scope, validity, suspensions), engagements by status, verdicts by
    result, and how often a later verdict by another verifier on the same claim version
    disagreed (``ledger.views.verifier``). Cut at a ``size`` it never changes (immutable, overdue
    judged at the log time at the cut); otherwise it is bound to the latest checkpoint and the
    minute, like the other reads of the present."""
    views = ledger.views
    if size is not None:
        current = committed_size(ledger)
        if size > current:
            raise InvalidParameterError(
                f"size {size} is larger than the log ({current})", parameter="size"
            )
        record = views.verifier(verifier, at_ms=views.time_at(size), size=size)
        if record is None:
            raise NotFoundError(f"no verifier {verifier!r} at size {size}")
        return json_response(request, record.to_dict(), cache=Cache.IMMUTABLE)
    now = present_ms(time.time_ns() // 1_000_000)
    pinned = latest(ledger, request, str(now))
    if pinned.etag is not None and (hit := not_modified(request, pinned.etag, Cache.LATEST)):
        return hit
    record = views.verifier(verifier, at_ms=now, size=pinned.size)
    if record is None:
        raise NotFoundError(f"no verifier {verifier!r}")
    return json_response(
        request, record.to_dict(), cache=Cache.LATEST, etag=still_latest(ledger, pinned)
    )
