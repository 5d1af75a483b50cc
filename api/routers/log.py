"""``/v1/log``: the signed checkpoint, the log's key, proofs and raw entries by index range.

Nothing here needs trust: a client checks the checkpoint with the log's key (pinned from the
genesis entry), entries against the checkpoint with inclusion proofs, and two checkpoints against
each other with consistency proofs (docs/SPEC.md §6, §7), with :mod:`attest`.
"""

from __future__ import annotations

import base64
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from api.deps import LedgerDep, SettingsDep
from api.params import committed_size, latest, log_entry_json
from api.problems import InvalidParameterError, NotFoundError, UnavailableError
from api.responses import NDJSON, Cache, json_response, ndjson_line, ndjson_response, text_response
from api.schemas import ConsistencyProofOut, InclusionProofOut, Responses, problem_docs
from ledger import LedgerError

__all__ = ["router"]

router = APIRouter(prefix="/v1/log", tags=["log"])

MAX_PAGE = 1000
"""Most entries in one page of ``/v1/log/entries``."""

_BAD: Responses = {**problem_docs((400, "invalid parameters"))}
_TEXT: dict[str, Any] = {"content": {"text/plain": {"schema": {"type": "string"}}}}
Index = Annotated[int, Query(ge=0, le=2**63 - 1)]
TreeSize = Annotated[int, Query(ge=1, le=2**63 - 1)]


class CheckpointOut(BaseModel):
    """A checkpoint's size and root, read from its note (verify the note itself to trust them)."""

    size: int
    root: str = Field(
        description="the root hash in standard base64, as in the note (SPEC §7) and as the CLI "
        "and the pages show it"
    )


class LogOut(BaseModel):
    """What identifies this log."""

    origin: str = Field(description="the checkpoint origin line")
    size: int
    key: str = Field(description="the log's note verifier key (C2SP vkey)")
    authority: str = Field(description="the authority's party id")
    genesisHash: str = Field(description="hex entry hash of the genesis entry: pin it")
    checkpoint: CheckpointOut | None = Field(
        description="the latest signed checkpoint's size and root (null before the first)"
    )


def _b64(hashes: list[bytes]) -> list[str]:
    return [base64.b64encode(h).decode("ascii") for h in hashes]


def _check_size(current: int, size: int, name: str) -> None:
    if size > current:
        raise InvalidParameterError(
            f"{name}={size} is larger than the log ({current})", parameter=name
        )


@router.get("", response_model=LogOut, summary="The log's identity and size")
def get_log(request: Request, ledger: LedgerDep) -> Response:
    """Origin, size, key and the genesis entry hash of the log."""
    state = ledger.state
    return json_response(
        request,
        {
            "origin": ledger.origin,
            "size": committed_size(ledger),
            "key": ledger.note_verifier.vkey(),
            "authority": state.authority,
            "genesisHash": (state.genesis_hash or b"").hex(),
            "checkpoint": _size_and_root(latest(ledger, request).note),
        },
    )


def _size_and_root(note: bytes | None) -> dict[str, Any] | None:
    """The size and root lines of a checkpoint note (SPEC §7: the root already in base64)."""
    if note is None:
        return None
    _, size, root = note.split(b"\n", 3)[:3]
    return {"size": int(size), "root": root.decode("ascii")}


@router.get(
    "/checkpoint",
    summary="The latest signed checkpoint (C2SP signed note)",
    response_class=Response,
    responses={
        200: {"description": "the signed note, text/plain; charset=utf-8", **_TEXT},
        **problem_docs((503, "no checkpoint published yet")),
    },
)
def get_checkpoint(request: Request, ledger: LedgerDep) -> Response:
    """The latest checkpoint, signed by the log key; fresh for 5 seconds (then served stale for
    up to 30 more while a cache revalidates: clients check that a newer one extends it).

    A read-only server (no log key) serves the newest checkpoint the log's writers published,
    kept with the log in the database."""
    try:
        note = ledger.checkpoint()
    except LedgerError as exc:
        raise UnavailableError("no signed checkpoint of this log has been published yet") from exc
    return text_response(request, note, cache=Cache.LATEST)


@router.get(
    "/checkpoint/cosigned",
    summary="The newest checkpoint cosigned to the witness policy's quorum",
    response_class=Response,
    responses={
        200: {
            "description": "the signed note with the log's signature and the witnesses' "
            "cosignature lines (C2SP tlog-cosignature), text/plain; charset=utf-8",
            **_TEXT,
        },
        **problem_docs((404, "no checkpoint has been cosigned to quorum yet")),
    },
)
async def get_cosigned_checkpoint(request: Request, ledger: LedgerDep) -> Response:
    """The newest checkpoint the server's witnesses cosigned to its policy's quorum (see
    ``/v1/log/witness-policy``): verify it with ``attest.policy.verify_policy``. It lags the
    latest checkpoint by the witnesses' round trip (seconds); fresh for 5 seconds."""
    note = await run_in_threadpool(ledger.cosigned_checkpoint)
    if note is None:
        raise NotFoundError("no checkpoint of this log has been cosigned by its witnesses yet")
    return text_response(request, note, cache=Cache.LATEST)


@router.get(
    "/witness-policy",
    summary="The witness policy (C2SP tlog-policy) the server's checkpoints are cosigned under",
    response_class=Response,
    responses={
        200: {"description": "the policy file, text/plain; charset=utf-8", **_TEXT},
        **problem_docs((404, "the server has no witness policy")),
    },
)
def get_witness_policy(request: Request, settings: SettingsDep) -> Response:
    """The server's tlog-policy file as the operator wrote it: the log's key, its witnesses
    (names, keys, submission URLs) and the quorum. A client may use it, or its own policy."""
    if settings.witness_policy is None:
        raise NotFoundError("this server has no witness policy")
    return text_response(request, settings.witness_policy, cache=Cache.NO_CACHE)


@router.get(
    "/key",
    summary="The log's verifier key (C2SP vkey)",
    response_class=Response,
    responses={200: {"description": "one vkey line", **_TEXT}},
)
def get_key(request: Request, ledger: LedgerDep) -> Response:
    """The note verifier key that checkpoints are signed with: ``<name>+<hash>+<key>``."""
    line = ledger.note_verifier.vkey() + "\n"
    return text_response(request, line.encode("utf-8"), cache=Cache.NO_CACHE)


@router.get(
    "/proof/inclusion",
    response_model=InclusionProofOut,
    summary="RFC 9162 inclusion proof",
    responses=_BAD,
)
def get_inclusion_proof(
    request: Request, ledger: LedgerDep, index: Index, size: TreeSize
) -> Response:
    """Proof that entry ``index`` is in the tree of ``size`` leaves (immutable)."""
    _check_size(committed_size(ledger), size, "size")
    if index >= size:
        raise InvalidParameterError(f"index {index} is not below size {size}", parameter="index")
    hashes = ledger.inclusion_proof(index, size)
    body = {"index": index, "treeSize": size, "hashes": _b64(hashes)}
    return json_response(request, body, cache=Cache.IMMUTABLE)


_ID = Annotated[str, Query(pattern=r"^[a-z][a-z0-9-]{0,61}[a-z0-9]$")]
MAX_RECORDS = 64
"""Most records in one state proof."""


@router.get(
    "/proof/state",
    summary="State proof: streams' heads and parties' records at a tree size (SPEC §11.4)",
    responses=_BAD,
)
def get_state_proof(
    request: Request,
    ledger: LedgerDep,
    size: TreeSize,
    stream: Annotated[list[_ID] | None, Query()] = None,
    party: Annotated[list[_ID] | None, Query()] = None,
) -> Response:
    """The state commitment at ``size``: the leaf of entry ``size - 1`` with its inclusion proof,
    and a map proof of each ``stream``'s head and each ``party``'s registry record — present or
    provably absent. Verify it against a checkpoint of that size (``attest.completeness``;
    immutable)."""
    _check_size(committed_size(ledger), size, "size")
    wanted: list[tuple[Any, str]] = [("stream", s) for s in stream or []]
    wanted += [("party", p) for p in party or []]
    if not wanted or len(wanted) > MAX_RECORDS:
        raise InvalidParameterError(
            f"name 1 to {MAX_RECORDS} streams or parties (stream=…, party=…)", parameter="stream"
        )
    proof = ledger.state_proof(size, wanted)
    return json_response(request, proof.to_dict(), cache=Cache.IMMUTABLE)


@router.get(
    "/proof/consistency",
    response_model=ConsistencyProofOut,
    summary="RFC 9162 consistency proof",
    responses=_BAD,
)
def get_consistency_proof(
    request: Request,
    ledger: LedgerDep,
    from_: Annotated[int, Query(alias="from", ge=1, le=2**63 - 1)],
    to: TreeSize,
) -> Response:
    """Proof that the tree of ``to`` leaves extends the tree of ``from`` leaves (immutable)."""
    _check_size(committed_size(ledger), to, "to")
    if from_ > to:
        raise InvalidParameterError(f"from={from_} is larger than to={to}", parameter="from")
    hashes = ledger.consistency_proof(from_, to) if from_ < to else []
    body = {"from": from_, "to": to, "hashes": _b64(hashes)}
    return json_response(request, body, cache=Cache.IMMUTABLE)


@router.get(
    "/entries",
    summary="Raw log entries by index range (NDJSON)",
    response_class=Response,
    responses={
        200: {
            "description": "one raw entry per line (the LogEntryOut schema), in index order; "
            f'at most {MAX_PAGE}; a cut page has a Link rel="next" header',
            "content": {NDJSON: {"schema": {"type": "string"}}},
        },
        **_BAD,
    },
)
def get_log_entries(
    request: Request,
    ledger: LedgerDep,
    start: Index = 0,
    end: Annotated[int | None, Query(ge=0, le=2**63 - 1, description="exclusive")] = None,
) -> Response:
    """Entries with indexes in ``[start, end)``: the leaves' data and the stored envelopes.

    ``end`` defaults to ``start + 100``; a range is cut at 1000 entries and at the log's size.
    A range wholly below the log's size can never change and is cached for a year.
    """
    if end is None:
        end = start + 100
    if end < start:
        raise InvalidParameterError(f"end={end} is below start={start}", parameter="end")
    current = committed_size(ledger)
    stop = min(end, start + MAX_PAGE, current)
    entries = ledger.log_entries(start, stop) if start < stop else []
    headers = {}
    if stop < end and stop < current:
        headers["Link"] = f'</v1/log/entries?start={stop}&end={end}>; rel="next"'
    lines = (ndjson_line(log_entry_json(e)) for e in entries)
    immutable = end <= current
    return ndjson_response(
        request, lines, cache=Cache.IMMUTABLE if immutable else Cache.NO_CACHE, headers=headers
    )
