"""Standard exports: open-data downloads (``/v1/open-data/...``) and in-toto Statements of test
records and verdicts (``/v1/entries/{index}/in-toto``).

The open-data files are built at one checkpoint (``size``, default the latest) and, for the
scorecard, judge verdict expiry at ``at`` (default: the last second of the current minute, as
the scorecard does); they are streamed, stated by ``Claimledger-Checkpoint-*`` headers and by
columns in every row (ledger/_opendata.py). The ETag is bound to the checkpoint note, the URL
and ``at``, so it is known before the first byte; with both ``size`` and ``at`` given the bytes
can never change (immutable).

The in-toto Statements are unsigned here: a consumer who trusts the ledger checks the entry
itself (the statement and its ledger signature are in the predicate, the entry's inclusion is
proved by ``/v1/log/proof/inclusion``); ``claimledger export-intoto --key`` is how a verifier
publishes them re-signed in DSSE (docs/SPEC.md §17).
"""

from __future__ import annotations

import time
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Request
from starlette.responses import Response, StreamingResponse

from api.deps import LedgerDep
from api.params import committed_size, parse_as_of, present_ms
from api.problems import InvalidParameterError, NotFoundError
from api.responses import NDJSON, Cache, checkpoint_etag, json_response, not_modified
from api.schemas import Responses, problem_docs
from attest.intoto import LoggedStatement, intoto_statements, vsa_statement
from ledger import Ledger, LedgerError, open_data_cut, open_data_file

__all__ = ["router"]

router = APIRouter(prefix="/v1", tags=["exports"])

_MEDIA = {
    "scorecard.csv": "text/csv; charset=utf-8; header=present",
    "scorecard.json": "application/json",
    "records.csv": "text/csv; charset=utf-8; header=present",
    "records.jsonl": NDJSON,
}

_OPEN_DATA_DOC: Responses = {
    200: {
        "description": "the file, streamed; Claimledger-Checkpoint-Size and -Root state the "
        "checkpoint it was built from",
        "content": {
            "text/csv": {"schema": {"type": "string"}},
            "application/json": {"schema": {"type": "object"}},
            NDJSON: {"schema": {"type": "string"}},
        },
    },
    **problem_docs((400, "invalid parameters"), (404, "no checkpoint of this size to serve")),
}


@router.get(
    "/open-data/{name}",
    summary="Open data: the scorecard or every record, as CSV, JSON or JSON Lines",
    response_class=Response,
    responses=_OPEN_DATA_DOC,
)
def get_open_data(
    request: Request,
    ledger: LedgerDep,
    name: Annotated[
        Literal["scorecard.csv", "scorecard.json", "records.csv", "records.jsonl"],
        Path(description="the file"),
    ],
    size: Annotated[
        int | None,
        Query(ge=1, le=2**63 - 1, description="build at the checkpoint of this size"),
    ] = None,
    at: Annotated[
        str | None,
        Query(description="RFC 3339: judge verdict expiry at this time (default: now)"),
    ] = None,
) -> Response:
    """One open-data file at a checkpoint (licence CC BY 4.0; columns in docs/architecture/api.md).

    Every row carries the checkpoint's size and root. With ``size`` and ``at`` the bytes never
    change (immutable); otherwise they are bound to the latest checkpoint and the minute."""
    at_ms = parse_as_of(at, parameter="at")
    if size is not None and size > committed_size(ledger):
        raise InvalidParameterError(
            f"size {size} is larger than the log ({committed_size(ledger)})", parameter="size"
        )
    fixed = size is not None and at_ms is not None
    if at_ms is None:
        at_ms = present_ms(time.time_ns() // 1_000_000)
    try:
        cut = open_data_cut(ledger, at_ms, size)
    except LedgerError as exc:
        raise NotFoundError(str(exc)) from None
    cache = Cache.IMMUTABLE if fixed else Cache.LATEST
    etag = checkpoint_etag(request, cut.note, cut.at)
    headers = {
        **cut.headers(),
        "Content-Disposition": f'attachment; filename="{name}"',
    }
    if hit := not_modified(request, etag, cache, headers):
        return hit
    return StreamingResponse(
        open_data_file(ledger, name, cut),
        media_type=_MEDIA[name],
        headers={"ETag": etag, "Cache-Control": cache.value, **headers},
    )


_INTOTO_DOC: Responses = problem_docs((404, "no test record or verdict at this index"))


def _logged(ledger: Ledger, index: int) -> LoggedStatement:
    if index >= committed_size(ledger):
        raise NotFoundError(f"no entry at index {index}")
    (fact,) = ledger.views.search(limit=1, after_index=index - 1 if index else None)
    if fact.kind not in ("test.record", "verdict.issue") or fact.measure is None:
        raise NotFoundError(f"entry {index} ({fact.kind}) is not a test record or verdict")
    (entry,) = ledger.log_entries(index, index + 1)
    return LoggedStatement.from_entry(ledger.origin, entry, fact.measure)


@router.get(
    "/entries/{index}/in-toto",
    summary="A test record or verdict as an in-toto Statement v1 (unsigned)",
    responses=_INTOTO_DOC,
)
def get_intoto(
    request: Request, ledger: LedgerDep, index: Annotated[int, Path(ge=0, le=2**63 - 1)]
) -> Response:
    """The Statement of predicate type ``https://claimledger.dev/test-record/v1`` or
    ``https://claimledger.dev/verdict/v1`` (docs/SPEC.md §17); immutable."""
    statement = intoto_statements(_logged(ledger, index))[0]
    return json_response(request, statement, cache=Cache.IMMUTABLE)


@router.get(
    "/entries/{index}/in-toto/vsa",
    summary="A verdict as a SLSA Verification Summary Attestation (unsigned in-toto Statement)",
    responses=_INTOTO_DOC,
)
def get_vsa(
    request: Request, ledger: LedgerDep, index: Annotated[int, Path(ge=0, le=2**63 - 1)]
) -> Response:
    """The Statement of predicate type ``https://slsa.dev/verification_summary/v1`` of a
    verdict whose result is not ``INCONCLUSIVE`` (docs/SPEC.md §17); immutable."""
    logged = _logged(ledger, index)
    if logged.statement["kind"] != "verdict.issue":
        raise NotFoundError(f"entry {index} is not a verdict")
    vsa = vsa_statement(logged)
    if vsa is None:
        raise NotFoundError(f"verdict {index} is INCONCLUSIVE: it has no verification summary")
    return json_response(request, vsa, cache=Cache.IMMUTABLE)
