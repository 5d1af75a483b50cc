"""``/v1/parties``: the registered parties (authority, providers, verifiers) and their keys."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request
from starlette.responses import Response

from api.deps import LedgerDep
from api.params import view
from api.problems import NotFoundError
from api.responses import json_response
from api.schemas import Responses, ViewOut, problem_docs

__all__ = ["router"]

router = APIRouter(prefix="/v1/parties", tags=["parties"])

_NOT_BUILT: Responses = {**problem_docs((501, "not built yet"))}


@router.get("", response_model=ViewOut, summary="Every registered party", responses=_NOT_BUILT)
def list_parties(request: Request, ledger: LedgerDep) -> Response:
    """Every party with its role, name and keys (``ledger.views.parties``)."""
    parties = view(ledger, "parties")()
    return json_response(request, {"parties": [_json(p) for p in parties]})


@router.get(
    "/{party}",
    response_model=ViewOut,
    summary="One party",
    responses={**problem_docs((404, "no such party")), **_NOT_BUILT},
)
def get_party(
    request: Request,
    ledger: LedgerDep,
    party: Annotated[str, Path(min_length=1, max_length=128)],
) -> Response:
    """One party: role, name, keys (with revocations), accreditation (``ledger.views.party``)."""
    try:
        found = view(ledger, "party")(party)
    except KeyError:
        found = None
    if found is None:
        raise NotFoundError(f"no party {party!r}")
    return json_response(request, _json(found))


def _json(obj: object) -> object:
    to_dict = getattr(obj, "to_dict", None)
    return to_dict() if callable(to_dict) else obj
