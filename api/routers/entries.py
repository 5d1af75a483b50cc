"""``/v1/entries``: submit envelopes (one, or a batch) and read one raw entry and its receipt.

Status of a submission: ``201 Created`` when this request appended the entry, ``200 OK`` with the
original receipt (against the current checkpoint) when the identical entry was already in the log
(same entry hash: same payload and signature). Submitting is idempotent, so a client that lost a
response simply sends the envelope again.
"""

from __future__ import annotations

import asyncio
import json
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from api.deps import LedgerDep, SettingsDep
from api.metrics import count_submission
from api.opener import Opener, open_inline, parse_envelope
from api.params import committed_size, log_entry_json
from api.problems import (
    InvalidEnvelopeError,
    NotFoundError,
    ReadOnlyError,
    TooLargeError,
    UnavailableError,
    UnsupportedMediaTypeError,
    refusal,
)
from api.responses import NDJSON, Cache, json_response
from api.schemas import ENVELOPE_SCHEMA, BatchOut, LogEntryOut, ReceiptOut, Responses, problem_docs
from attest.errors import EncodingError
from ledger import Ledger, Receipt

__all__ = ["router"]

router = APIRouter(prefix="/v1", tags=["entries"])

_SUBMIT_ERRORS: Responses = problem_docs(
    (400, "invalid envelope or non-canonical payload"),
    (403, "revoked key, or signer not authorised for this stream"),
    (409, "chain conflict: prev is not the head (the problem carries head and length)"),
    (413, "body too large"),
    (415, "not application/json"),
    (422, "schema error, bad signature, unknown key or dangling reference"),
    (503, "read-only server"),
)


def _is_json(content_type: str) -> bool:
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or (
        media.startswith("application/") and media.endswith("+json")
    )


def _require_writable(writable: bool) -> None:
    if not writable:
        raise ReadOnlyError(
            "this server was started without the log key (CLAIMLEDGER_LOG_KEY); "
            "it serves reads only"
        )


@router.post(
    "/entries",
    status_code=201,
    response_model=ReceiptOut,
    summary="Submit one DSSE envelope",
    responses={
        200: {"model": ReceiptOut, "description": "already in the log: the original receipt"},
        **_SUBMIT_ERRORS,
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": ENVELOPE_SCHEMA}},
        }
    },
)
async def submit(request: Request, ledger: LedgerDep, settings: SettingsDep) -> Response:
    """Append one envelope; ``201`` with its receipt, or ``200`` with the original receipt.

    The ``Location`` header names the entry (``/v1/entries/{index}``).
    """
    _require_writable(settings.writable)
    if not _is_json(request.headers.get("content-type", "")):
        raise UnsupportedMediaTypeError("send the envelope as application/json")
    body = await request.body()
    opener: Opener | None = request.app.state.opener
    if opener is not None:
        signed = await opener.open(body)
    else:
        signed = await open_inline(ledger, body)
    (future,) = ledger.submit_signed([signed], wait=False)
    # Shielded: a client that goes away must not cancel the ledger's future (the entry is
    # decided anyway, and the sequencer answers every future it was given).
    receipt = await asyncio.shield(asyncio.wrap_future(future))
    count_submission(request.app.state, "accepted" if receipt.appended else "repeat")
    return json_response(
        request,
        receipt.to_dict(),
        status_code=201 if receipt.appended else 200,
        headers={"Location": f"/v1/entries/{receipt.index}"},
    )


def _split_array(body: bytes) -> list[bytes]:
    """The exact bytes of each element of a JSON array (so envelopes are parsed as sent)."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidEnvelopeError(EncodingError("the batch is not UTF-8")) from exc
    decoder = json.JSONDecoder()
    ws = " \t\r\n"
    i = len(text) - len(text.lstrip(ws))
    if text[i : i + 1] != "[":
        raise InvalidEnvelopeError(EncodingError("the batch is not a JSON array"))
    i += 1
    items: list[bytes] = []
    while True:
        while i < len(text) and text[i] in ws:
            i += 1
        if text[i : i + 1] == "]" and not items:
            i += 1
            break
        try:
            _, end = decoder.raw_decode(text, i)
        except (ValueError, RecursionError) as exc:  # RecursionError: nested too deeply
            why = "nested too deeply" if isinstance(exc, RecursionError) else str(exc)
            raise InvalidEnvelopeError(
                EncodingError(f"the batch is not valid JSON: {why}", field=f"/{len(items)}")
            ) from exc
        items.append(text[i:end].encode("utf-8"))
        i = end
        while i < len(text) and text[i] in ws:
            i += 1
        sep = text[i : i + 1]
        i += 1
        if sep == "]":
            break
        if sep != ",":
            raise InvalidEnvelopeError(EncodingError("the batch is not a valid JSON array"))
    if text[i:].strip(ws):
        raise InvalidEnvelopeError(EncodingError("data after the end of the batch array"))
    return items


def _split_lines(body: bytes) -> list[bytes]:
    return [line for line in body.split(b"\n") if line.strip(b" \t\r")]


@router.post(
    "/entries:batch",
    response_model=BatchOut,
    summary="Submit several envelopes",
    responses={
        200: {"description": "one outcome per envelope (each a receipt or a problem object)"},
        **problem_docs((400, "the body is not a JSON array or NDJSON of objects")),
        **problem_docs((413, "body too large, or more envelopes than the limit")),
        **problem_docs((415, "neither application/json nor application/x-ndjson")),
        **problem_docs((503, "read-only server")),
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": {"type": "array", "items": ENVELOPE_SCHEMA}},
                NDJSON: {"schema": {"type": "string", "description": "one envelope per line"}},
            },
        }
    },
)
async def submit_batch(request: Request, ledger: LedgerDep, settings: SettingsDep) -> Response:
    """Append envelopes in order: a JSON array, or NDJSON (one envelope per line).

    At most ``max_batch`` envelopes (1000 by default). The response is ``200`` with one result per
    envelope in request order: ``status`` 201 (appended) or 200 (already there) with a
    ``receipt``, or the status and ``problem`` object a single submission would have received.
    Envelopes are independent: one refused entry does not stop the others.
    """
    _require_writable(settings.writable)
    ctype = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    body = await request.body()
    if ctype == NDJSON or ctype == "application/ndjson":
        raws = _split_lines(body)
    elif _is_json(ctype):
        raws = _split_array(body)
    else:
        raise UnsupportedMediaTypeError("send a JSON array (application/json) or NDJSON")
    if len(raws) > settings.max_batch:
        raise TooLargeError(f"{len(raws)} envelopes; at most {settings.max_batch} per batch")
    results: list[dict[str, Any] | None] = [None] * len(raws)
    valid: list[bytes] = []
    slots: list[int] = []
    for i, raw in enumerate(raws):
        try:
            parse_envelope(raw)
        except InvalidEnvelopeError as exc:
            results[i] = _failure(request, i, exc)
            continue
        valid.append(raw)
        slots.append(i)
    if valid:
        outcomes = await run_in_threadpool(ledger.submit_many, valid)
        for i, outcome in zip(slots, outcomes, strict=True):
            if isinstance(outcome, Receipt):
                status = 201 if outcome.appended else 200
                results[i] = {"item": i, "status": status, "receipt": outcome.to_dict()}
            else:
                results[i] = _failure(request, i, outcome)
    done = [r for r in results if r is not None]
    accepted = sum(1 for r in done if "receipt" in r)
    appended = sum(1 for r in done if r["status"] == 201)
    count_submission(request.app.state, "accepted", appended)
    count_submission(request.app.state, "repeat", accepted - appended)
    return json_response(
        request,
        {"accepted": accepted, "rejected": len(done) - accepted, "results": done},
        cache=Cache.NO_STORE,
    )


def _failure(request: Request, i: int, exc: BaseException) -> dict[str, Any]:
    problem = refusal(request, exc)
    return {"item": i, "status": problem["status"], "problem": problem}


def _entry_or_404(ledger: Ledger, index: int) -> dict[str, Any]:
    if index >= committed_size(ledger):
        raise NotFoundError(f"no entry at index {index}")
    (e,) = ledger.log_entries(index, index + 1)
    return log_entry_json(e)


@router.get(
    "/entries/{index}",
    response_model=LogEntryOut,
    summary="One raw log entry",
    responses={**problem_docs((404, "no entry at this index"))},
)
def get_entry(
    request: Request, ledger: LedgerDep, index: Annotated[int, Path(ge=0, le=2**63 - 1)]
) -> Response:
    """The raw entry at a global index (immutable: cached for a year)."""
    return json_response(request, _entry_or_404(ledger, index), cache=Cache.IMMUTABLE)


@router.get(
    "/entries/{index}/receipt",
    response_model=ReceiptOut,
    summary="A fresh receipt for an entry",
    responses={
        **problem_docs((404, "no entry at this index")),
        **problem_docs((503, "read-only server: no checkpoint to prove against")),
    },
)
def get_receipt(
    request: Request,
    ledger: LedgerDep,
    settings: SettingsDep,
    index: Annotated[int, Path(ge=0, le=2**63 - 1)],
) -> Response:
    """The entry's receipt against the current checkpoint (changes as the log grows)."""
    if index >= committed_size(ledger):
        raise NotFoundError(f"no entry at index {index}")
    if not settings.writable:
        raise UnavailableError("a read-only server cannot sign a checkpoint to prove against")
    return json_response(request, ledger.receipt(index).to_dict(), cache=Cache.NO_CACHE)
