"""The printable case file: a company's verified record as of a checkpoint
(``/companies/{id}/case-file?size=N`` or ``?as_of=DATE``).

The page is built the way an auditor would build it offline: the company's evidence bundle is
exported against the chosen checkpoint (the checkpoint of ``size``; the newest one the log kept
by ``as_of``; else the latest), verified from its bytes (:func:`attest.verify_bundle`, the
ledger's fingerprint pinned), and rendered from :func:`ledger.build_report`, the same report
``claimledger report`` prints. It shows the checkpoint (origin, size, root in base64 as the
note writes it, log time, the note itself) and the key id of every signer, and prints well
(``static/case-file.css``, ``@media print``): no navigation, no script.
"""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Request
from starlette.responses import HTMLResponse, Response

from api.deps import LedgerDep
from api.params import committed_size
from api.web.i18n import N_, _
from api.web.pages import STATUS_LABELS, _not_found, _render, parse_day
from attest import VerificationError, verify_bundle
from ledger import LedgerError, ReportClaim, build_report, export_bundle

__all__ = ["router"]

router = APIRouter(include_in_schema=False)

CASE_WORDS = (
    # the words of the report (ledger.build_report) the case file shows, read with |tr
    N_("no verdict"),
    N_("latest verdict expired"),
    N_("active"),
    N_("withdrawn"),
    N_("superseded"),
    N_("authority"),
    N_("provider"),
    N_("verifier"),
)


def _bad(request: Request, what: str, status: int = 400) -> HTMLResponse:
    return _render(
        request, "not_found.html", {"title": _("No case file"), "what": what}, status=status
    )


def _as_of_ms(text: str) -> int:
    """``YYYY-MM-DD`` (the end of that day, UTC) or an RFC 3339 date-time with an offset.

    Raises:
        ValueError: neither.
    """
    if len(text) == 10:
        return parse_day(text)
    when = datetime.fromisoformat(text)
    if when.tzinfo is None or "T" not in text.upper():
        raise ValueError(text)
    return int(when.timestamp() * 1000)


@router.get("/companies/{company_id}/case-file", response_class=HTMLResponse)
def case_file_page(request: Request, ledger: LedgerDep, company_id: str) -> Response:
    """A company's verified record as of a checkpoint, for printing."""
    party = ledger.views.party(company_id) if len(company_id) <= 128 else None
    if party is None or party.role != "provider":
        return _not_found(
            request, _("There is no company with the id “%(id)s”.") % {"id": company_id[:128]}
        )
    q = request.query_params
    size_text = (q.get("size") or "").strip()
    as_of_text = (q.get("as_of") or "").strip()
    if size_text and as_of_text:
        return _bad(request, _("Give a log size or a date, not both."))
    try:
        if size_text:
            size = int(size_text) if size_text.isdigit() else 0
            current = committed_size(ledger)
            if not 0 < size <= current:
                return _bad(
                    request,
                    _("“%(text)s” is not a log size from 1 to %(size)s.")
                    % {"text": size_text[:40], "size": current},
                )
            note = ledger.checkpoint_at(size)
        elif as_of_text:
            try:
                as_of_ms = _as_of_ms(as_of_text)
            except ValueError:
                return _bad(
                    request, _("“%(text)s” is not a date (YYYY-MM-DD).") % {"text": as_of_text[:40]}
                )
            size, note = ledger.checkpoint_as_of(as_of_ms)
        else:
            note = ledger.checkpoint()
            size = int(note.split(b"\n", 2)[1])
    except LedgerError as exc:
        return _bad(request, _("No checkpoint to show: %(why)s.") % {"why": exc}, 404)
    if party.registered_at >= size:
        return _bad(
            request,
            _("%(name)s was not registered yet at log size %(size)s.")
            % {"name": party.name, "size": size},
            404,
        )
    genesis = ledger.state.genesis_hash
    try:
        record = verify_bundle(
            export_bundle(ledger, company_id, checkpoint=note), genesis_hash=genesis
        )
    except VerificationError as exc:
        # The database no longer matches what the log signed: say so, never show it as verified.
        return _bad(request, _("This record FAILED verification: %(why)s") % {"why": exc}, 500)
    report = build_report(record, note)
    by_measure: dict[str, list[ReportClaim]] = {}
    for rc in report.claims:
        by_measure.setdefault(rc.version.measure, []).append(rc)
    names = {p.id: p.name for p in ledger.views.parties()}
    return _render(
        request,
        "case_file.html",
        {
            "title": _("Case file: %(name)s") % {"name": report.name},
            "report": report,
            "by_measure": by_measure,
            "names": names,
            "labels": STATUS_LABELS,
        },
    )
