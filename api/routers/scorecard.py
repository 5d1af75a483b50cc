"""``/v1/scorecard`` and ``/v1/search``: providers (or services) x measures, paged and filtered;
the search of companies and services by name, and the search over entries."""

from __future__ import annotations

import dataclasses
import functools
import time
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from api.cursors import decode_cursor, encode_cursor
from api.deps import LedgerDep
from api.params import history_cut, latest, parse_as_of, present_ms, still_latest
from api.problems import InvalidParameterError
from api.responses import Cache, json_response, not_modified
from api.schemas import Responses, ViewOut, problem_docs
from attest.measures import MEASURES
from attest.statements import format_timestamp
from ledger import PUBLIC_STATUSES, Ledger, NameHit, NameResults, Scorecard, fold

__all__ = [
    "MAX_COMPARE",
    "MAX_NAMES",
    "MAX_SCORECARD",
    "NAMES_LIMIT",
    "SCORECARD_LIMIT",
    "find_names",
    "name_hit_json",
    "name_hits_json",
    "router",
    "scorecard_page",
]

router = APIRouter(prefix="/v1", tags=["views"])

_ERRORS: Responses = {
    **problem_docs((400, "invalid parameters")),
}
MAX_SEARCH = 1000
Text = Annotated[str | None, Query(min_length=1, max_length=200)]


SCORECARD_LIMIT = 100
"""Rows per scorecard page by default."""
MAX_SCORECARD = 500
"""Most rows per scorecard page."""
NAMES_LIMIT = 20
"""Names per search page by default (``q``)."""
MAX_NAMES = 100
"""Most names per search page (``q``)."""
MAX_COMPARE = 6
"""Most services compared side by side (``/compare``; also ``service`` on the scorecard)."""
Country = Annotated[
    str | None,
    Query(
        pattern="^[A-Z]{2}$",
        description="ISO 3166-1 alpha-2: only claims covering it (GLOBAL claims included)",
    ),
]


def scorecard_page(
    ledger: Ledger,
    *,
    at_ms: int,
    as_of_ms: int | None,
    size: int | None,
    by: str,
    measure: str | None,
    country: str | None,
    verdict: str | None,
    cursor: str | None,
    limit: int,
    only: list[tuple[str, str]] | None = None,
) -> tuple[Scorecard, str | None]:
    """One page of the scorecard and the cursor of the next (shared with the pages).

    Raises:
        InvalidParameterError: an unknown measure or verdict, or a cursor of another listing.
    """
    if measure is not None and measure not in MEASURES:
        raise InvalidParameterError(f"there is no measure {measure!r}", parameter="measure")
    if verdict is not None and verdict not in PUBLIC_STATUSES:
        raise InvalidParameterError(
            f"verdict must be one of {', '.join(PUBLIC_STATUSES)}", parameter="verdict"
        )
    tag = "scorecard-" + by
    after = None
    if cursor is not None:
        shape = (str,) if by == "company" else (str, str)
        after = [str(p) for p in decode_cursor(cursor, tag, shape)]
    card = ledger.views.scorecard(
        at_ms=at_ms,
        as_of_ms=as_of_ms,
        size=size,
        by=by,
        measure=measure,
        country=country,
        verdict=verdict,
        after=after,
        limit=limit,
        only=only,
    )
    return card, None if card.next is None else encode_cursor(tag, *card.next)


def _service_keys(values: list[str]) -> list[tuple[str, str]]:
    if len(values) > MAX_COMPARE:
        raise InvalidParameterError(
            f"at most {MAX_COMPARE} services at a time", parameter="service"
        )
    out = []
    for v in values:
        provider, sep, name = v.partition("/")
        if not sep or not provider or not name:
            raise InvalidParameterError(
                f"a service is PROVIDER/NAME, not {v!r}", parameter="service"
            )
        out.append((provider, name))
    return out


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
    by: Annotated[
        Literal["company", "service"],
        Query(description="one row per company, or per service a company's claims name"),
    ] = "company",
    measure: Annotated[
        str | None, Query(min_length=1, max_length=200, description="only this measure's cells")
    ] = None,
    country: Country = None,
    verdict: Annotated[
        str | None,
        Query(min_length=1, max_length=40, description="only rows with a cell in this status"),
    ] = None,
    service: Annotated[
        list[str] | None,
        Query(
            max_length=400,
            description=f"PROVIDER/NAME: only these services (at most {MAX_COMPARE}, by=service)",
        ),
    ] = None,
    cursor: Annotated[
        str | None, Query(min_length=1, max_length=1024, description="'next' of the last page")
    ] = None,
    limit: Annotated[
        int, Query(ge=1, le=MAX_SCORECARD, description=f"rows per page (max {MAX_SCORECARD})")
    ] = SCORECARD_LIMIT,
) -> Response:
    """The latest verdict per provider (or service) and measure; no verdict or an expired one is
    *unverified*. Paged: ``next`` is the cursor of the next page (``null`` after the last); a
    page holds at most ``limit`` rows and may hold fewer under narrow filters (each page
    examines a bounded number of rows), so follow ``next`` until it is ``null``.

    At a ``size`` with an ``at`` it can never change (immutable); otherwise it is bound to the
    latest checkpoint and to the minute (expiry in the present is judged at its last second)."""
    as_of_ms, cut = history_cut(ledger, as_of, size)
    at_ms = parse_as_of(at, parameter="at")
    only = None
    if service:
        if by != "service":
            raise InvalidParameterError("service needs by=service", parameter="service")
        only = _service_keys(service)
    page = functools.partial(
        scorecard_page,
        ledger,
        by=by,
        measure=measure,
        country=country,
        verdict=verdict,
        cursor=cursor,
        limit=limit,
        only=only,
    )
    if cut is not None and at_ms is not None:
        card, nxt = page(at_ms=at_ms, as_of_ms=as_of_ms, size=cut)
        return json_response(request, _card_json(card, by, nxt, limit), cache=Cache.IMMUTABLE)
    now = present_ms(time.time_ns() // 1_000_000)
    pinned = latest(ledger, request, str(now))
    if pinned.etag is not None and (hit := not_modified(request, pinned.etag, Cache.LATEST)):
        return hit
    if at_ms is None:
        at_ms = as_of_ms if as_of_ms is not None else now
    limit_size = pinned.size if cut is None else min(cut, pinned.size)
    card, nxt = page(at_ms=at_ms, as_of_ms=as_of_ms, size=limit_size)
    card = dataclasses.replace(card, size=cut)  # the cut asked for, as before
    return json_response(
        request,
        _card_json(card, by, nxt, limit),
        cache=Cache.LATEST,
        etag=still_latest(ledger, pinned),
    )


def _card_json(card: Scorecard, by: str, nxt: str | None, limit: int) -> dict[str, Any]:
    return {**card.to_dict(), "by": by, "limit": limit, "next": nxt}


@router.get("/search", response_model=ViewOut, summary="Search names or entries", responses=_ERRORS)
def search(
    request: Request,
    ledger: LedgerDep,
    q: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=200,
            description="a company's or service's name, or part of it: prefix of any word, "
            "then names a few typing errors away; accents and case ignored",
        ),
    ] = None,
    cursor: Annotated[
        str | None,
        Query(min_length=1, max_length=1024, description="with q: 'next' of the last page"),
    ] = None,
    company: Text = None,
    measure: Text = None,
    verifier: Text = None,
    result: Text = None,
    kind: Text = None,
    after: Annotated[
        int | None, Query(ge=0, le=2**63 - 1, description="only entries after this log index")
    ] = None,
    limit: Annotated[
        int | None,
        Query(
            ge=1,
            le=MAX_SEARCH,
            description=f"with q: names per page ({NAMES_LIMIT} by default, at most {MAX_NAMES});"
            f" else entries per page (100 by default, at most {MAX_SEARCH})",
        ),
    ] = None,
) -> Response:
    """With ``q``: companies and services by name, paged by ``cursor`` (``next``). Without it:
    entries matching every given filter, in index order; page on with ``after``."""
    if q is not None:
        return _names(request, ledger, q, cursor, limit, company, measure, verifier, result, kind)
    if cursor is not None:
        raise InvalidParameterError("cursor pages a name search (q)", parameter="cursor")
    n = 100 if limit is None else limit
    facts = ledger.views.search(
        company=company,
        measure=measure,
        verifier=verifier,
        result=result,
        kind=kind,
        limit=n,
        after_index=after,
    )
    out: dict[str, object] = {"results": [f.to_dict() for f in facts]}
    if len(facts) == n:
        out["nextAfter"] = facts[-1].index
    return json_response(request, out)


def name_hit_json(hit: NameHit, retired_ms: int | None = None) -> dict[str, Any]:
    """One name found, as JSON (``id``: ``PROVIDER/NAME`` for a service, the party id for a
    company; ``retiredSince``: when the company was retired, or ``null``)."""
    item = hit.item
    return {
        "kind": item.kind,
        "id": item.provider if item.kind == "company" else f"{item.provider}/{item.name}",
        "name": item.name,
        "provider": item.provider,
        "match": hit.match,
        "distance": hit.distance,
        "retiredSince": None if retired_ms is None else format_timestamp(retired_ms),
    }


def name_hits_json(ledger: Ledger, found: NameResults, size: int | None) -> list[dict[str, Any]]:
    """The hits of a name search as JSON, each company marked if it was retired by ``size``."""
    views = ledger.views
    return [name_hit_json(h, views.retired_since(h.item.provider, size=size)) for h in found.hits]


def find_names(
    ledger: Ledger, q: str, cursor: str | None, limit: int, size: int | None
) -> tuple[NameResults, str | None]:
    """One page of a name search and the cursor of the next (shared with the pages).

    Raises:
        InvalidParameterError: a cursor of another listing or query.
    """
    after = None
    if cursor is not None:
        mode, key, n, folded = decode_cursor(cursor, "names", (str, str, int, str))
        if folded != fold(q) or mode not in ("p", "f"):
            raise InvalidParameterError(
                "cursor belongs to another query (pass back 'next' with the same q)",
                parameter="cursor",
            )
        after = (str(mode), str(key), int(n))
    try:
        found = ledger.views.find_names(q, limit=limit, after=after, size=size)
    except ValueError as exc:
        raise InvalidParameterError(str(exc), parameter="cursor") from None
    nxt = None if found.next is None else encode_cursor("names", *found.next, found.query)
    return found, nxt


def _names(
    request: Request,
    ledger: Ledger,
    q: str,
    cursor: str | None,
    limit: int | None,
    *filters: str | None,
) -> Response:
    if any(f is not None for f in filters):
        raise InvalidParameterError(
            "q searches names; company, measure, verifier, result and kind search entries",
            parameter="q",
        )
    n = NAMES_LIMIT if limit is None else limit
    if n > MAX_NAMES:
        raise InvalidParameterError(f"with q, limit is at most {MAX_NAMES}", parameter="limit")
    pinned = latest(ledger, request, "names")
    found, nxt = find_names(ledger, q, cursor, n, pinned.size)
    out = {
        "query": found.query,
        "results": name_hits_json(ledger, found, pinned.size),
        "next": nxt,
        "limit": n,
    }
    return json_response(request, out)
