"""``/healthz``: liveness for load balancers and the test harness."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from api.deps import LedgerDep, SettingsDep
from api.params import committed_size
from api.responses import Cache, json_response
from api.schemas import HealthOut

__all__ = ["router"]

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=HealthOut, summary="Liveness")
def healthz(request: Request, ledger: LedgerDep, settings: SettingsDep) -> Response:
    """``ok``, the log's size, and whether this server can append."""
    body = {"status": "ok", "size": committed_size(ledger), "writable": settings.writable}
    return json_response(request, body, cache=Cache.NO_STORE)
