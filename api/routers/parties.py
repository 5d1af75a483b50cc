"""``/v1/parties``: the registered parties (authority, providers, verifiers) and their keys."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request
from starlette.responses import Response

from api.deps import LedgerDep
from api.problems import NotFoundError
from api.responses import json_response
from api.schemas import ViewOut, problem_docs

__all__ = ["router"]

router = APIRouter(prefix="/v1/parties", tags=["parties"])


@router.get("", response_model=ViewOut, summary="Every registered party")
def list_parties(request: Request, ledger: LedgerDep) -> Response:
    """Every party with its role, name and keys (``ledger.views.parties``)."""
    parties = ledger.views.parties()
    return json_response(request, {"parties": [p.to_dict() for p in parties]})


@router.get(
    "/{party}",
    response_model=ViewOut,
    summary="One party",
    responses={**problem_docs((404, "no such party"))},
)
def get_party(
    request: Request,
    ledger: LedgerDep,
    party: Annotated[str, Path(min_length=1, max_length=128)],
) -> Response:
    """One party: role, name, keys (with revocations), accreditation (``ledger.views.party``)."""
    found = ledger.views.party(party)
    if found is None:
        raise NotFoundError(f"no party {party!r}")
    return json_response(request, found.to_dict())
