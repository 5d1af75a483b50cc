"""``/healthz`` (alive), ``/readyz`` (ready for traffic) and ``/metrics`` (Prometheus), for
operators, load balancers and orchestrators (docs/operating/monitoring.md).

- ``/healthz``: ``200 {"status": "ok", ...}`` once the ledger is open; ``503 {"status":
  "starting"}`` while the server opens (verifies again) its ledger. It asks nothing of the store.
- ``/readyz``: ``200 {"status": "ready", ...}`` when the ledger is open, the server is not
  stopping, the store answers a cheap query (the log's size), this server is not more than
  :data:`BEHIND_S` seconds behind what the store holds, and its follower (if any) has not stopped;
  otherwise a ``503`` problem (``starting``, ``not-ready`` or ``store-unavailable``).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

from fastapi import APIRouter, Request
from prometheus_client.exposition import choose_encoder
from starlette.responses import Response

from api.deps import LedgerDep, SettingsDep
from api.lifecycle import Lifecycle
from api.params import committed_size
from api.problems import RETRY_AFTER_S, NotReadyError
from api.responses import Cache, json_response
from api.schemas import HealthOut, ReadyOut, problem_docs
from ledger import Ledger

__all__ = ["BEHIND_S", "router"]

router = APIRouter(tags=["health"])

BEHIND_S = 5.0
"""``/readyz`` fails once this server has not reached, for this long, a size the store held."""


@router.get(
    "/healthz",
    response_model=HealthOut,
    summary="Liveness",
    responses={503: {"description": 'starting: {"status": "starting"} while the ledger opens'}},
)
def healthz(request: Request, settings: SettingsDep) -> Response:
    """``ok``, the log's size, and whether this server can append; ``503 starting`` while the
    ledger is being opened."""
    ledger: Ledger | None = request.app.state.ledger
    if ledger is None:
        return json_response(
            request,
            {"status": "starting", "writable": settings.writable},
            status_code=503,
            cache=Cache.NO_STORE,
            headers={"Retry-After": str(RETRY_AFTER_S)},
        )
    body = {"status": "ok", "size": committed_size(ledger), "writable": settings.writable}
    return json_response(request, body, cache=Cache.NO_STORE)


@dataclass
class _Behind:
    """The oldest store size this server had not reached when a probe looked, and when."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    target: int = 0
    since: float = 0.0


@router.get(
    "/readyz",
    response_model=ReadyOut,
    summary="Readiness",
    responses={
        **problem_docs((503, "starting, not ready (stopping, behind) or store unavailable"))
    },
)
def readyz(request: Request, ledger: LedgerDep) -> Response:
    """``ready`` when this server may take traffic: open, not stopping, the store reachable, and
    current with it (within ``BEHIND_S``)."""
    state = request.app.state
    life: Lifecycle = state.lifecycle
    if life.stopping:
        raise NotReadyError("the server is shutting down")
    following = state.following
    if following is not None and following.stopped:
        raise NotReadyError(f"the server stopped following its database: {following.stats.error}")
    stored = ledger.store.size()  # the cheap query; a StoreError answers 503 store-unavailable
    size = ledger.size
    behind = getattr(state, "behind", None)
    if behind is None:
        behind = state.behind = _Behind()
    now = time.monotonic()
    with behind.lock:
        if size >= stored:
            behind.target = 0
        elif behind.target == 0 or size >= behind.target:
            behind.target, behind.since = stored, now  # behind now: give it BEHIND_S to catch up
        elif now - behind.since > BEHIND_S:
            raise NotReadyError(
                f"this server holds {size} entries; the store held {behind.target} "
                f"{now - behind.since:.0f} s ago",
                extra={"size": size, "storeSize": stored},
            )
    body = {"status": "ready", "size": size, "storeSize": stored}
    return json_response(request, body, cache=Cache.NO_STORE)


@router.get(
    "/metrics",
    summary="Prometheus metrics",
    response_class=Response,
    responses={
        200: {
            "content": {"text/plain": {}, "application/openmetrics-text": {}},
            "description": "the Prometheus text format 0.0.4, or OpenMetrics if asked for",
        }
    },
)
def metrics(request: Request) -> Response:
    """Every metric of this server (docs/operating/monitoring.md); never cached."""
    registry = request.app.state.metrics.registry
    encode, media_type = choose_encoder(request.headers.get("accept", ""))
    return Response(
        encode(registry), headers={"Content-Type": media_type, "Cache-Control": "no-store"}
    )
