"""Dependencies: the shared ledger and the server's settings, read from the application state."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from api.problems import StartingError
from ledger import Ledger

__all__ = ["LedgerDep", "Settings", "SettingsDep", "get_ledger", "get_settings"]


@dataclass(frozen=True, slots=True)
class Settings:
    """Limits and mode of one server.

    Attributes:
        max_body_bytes: largest request body, except on the batch endpoint.
        max_batch: most envelopes in one batch.
        max_batch_bytes: largest batch request body.
        writable: the server holds the log key (may append and sign checkpoints).
        open_workers: worker processes that open single submissions (< 2: none, inline).
        witness_policy: the tlog-policy file the server's checkpoints are witnessed under (its
            bytes, served as they are), if any.
        follow_s: how often the server looks for entries other processes appended to its
            database (:class:`ledger.Following`); 0: never (it sees only its own appends).
    """

    max_body_bytes: int
    max_batch: int
    max_batch_bytes: int
    writable: bool
    open_workers: int = 0
    witness_policy: bytes | None = None
    follow_s: float = 0.1


# Both are ``async`` although they do no I/O: FastAPI runs a plain ``def`` dependency in the
# threadpool, and two thread hops per request cost more than the rest of a simple read
# (docs/BENCHMARKS.md, HTTP ingest).


async def get_ledger(request: Request) -> Ledger:
    """The ledger this server serves, once it is open.

    Raises:
        StartingError: the server is still opening it (every route that needs it answers
            ``503 starting`` with ``Retry-After`` until then).
    """
    ledger: Ledger | None = request.app.state.ledger
    if ledger is None:
        raise StartingError("the ledger is being opened and verified; try again shortly")
    return ledger


async def get_settings(request: Request) -> Settings:
    """This server's settings."""
    settings: Settings = request.app.state.settings
    return settings


LedgerDep = Annotated[Ledger, Depends(get_ledger)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
