"""``/data``: the open-data downloads, their licence, their columns, and the verifier's in-toto
exports, on one public page (linked from every page's footer)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import HTMLResponse, Response

from api.deps import LedgerDep
from api.web.i18n import _
from api.web.pages import _pin, _render
from ledger import OPEN_DATA_FILES, OPEN_DATA_LICENCE, RECORD_DOCS, SCORECARD_DOCS

__all__ = ["router"]

router = APIRouter(include_in_schema=False)


@router.get("/data", response_class=HTMLResponse)
def data_page(request: Request, ledger: LedgerDep) -> Response:
    """The downloads (at the latest checkpoint), the licence and a description of each column."""
    pinned, _now, hit = _pin(request, ledger)
    if hit is not None:
        return hit
    note = None if pinned.note is None else pinned.note.decode("utf-8").split("\n")
    return _render(
        request,
        "data.html",
        {
            "nav": "data",
            "title": _("Open data"),
            "files": OPEN_DATA_FILES,
            "licence": OPEN_DATA_LICENCE,
            "size": pinned.size,
            "root": None if note is None else note[2],
            "scorecard_docs": SCORECARD_DOCS,
            "record_docs": RECORD_DOCS,
            "base": str(request.base_url).rstrip("/"),
            "dumps": tuple(reversed(ledger.views.dumps(size=pinned.size))),
        },
        ledger=ledger,
        pinned=pinned,
    )
