"""Atom feeds (RFC 4287): ``/v1/log/feed.atom`` for the whole log, ``/v1/streams/{s}/feed.atom``
for one company.

A feed is the newest :data:`FEED_LIMIT` items of ``ledger.views.feed`` at the committed log size:
new and updated claims, withdrawals, test records, verdicts, the company's replies, accreditation
suspensions and key revocations, and verdicts that expire within 30 days. Its time is the log time
of the last entry (never the server's clock), so the same log prefix always gives the same bytes
(for one base URL) and the ETag only changes when the log grows.

Every string from a statement or the registry is untrusted: the XML is built with
:mod:`xml.etree.ElementTree`, which escapes markup, and the few characters the statement schema
lets through but XML 1.0 cannot carry (U+FFFE, U+FFFF) become U+FFFD.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Path, Request
from starlette.responses import Response

from api.deps import LedgerDep
from api.params import committed_size
from api.problems import NotFoundError
from api.responses import Cache, bytes_response
from api.schemas import Responses, problem_docs
from api.web.pages import (
    DEPLOYMENT_NOTES,
    STATUS_LABELS,
    fmt_date,
    measure_title,
    population_label,
    surface_label,
)
from attest import AttestError, Envelope, Kind
from ledger import EntryFact, Feed, FeedItem, Ledger

__all__ = ["ATOM", "FEED_LIMIT", "TAG_AUTHORITY", "router"]

router = APIRouter(prefix="/v1", tags=["feeds"])

ATOM = "application/atom+xml"
ATOM_NS = "http://www.w3.org/2005/Atom"
FEED_LIMIT = 100
"""Most items in a feed: the newest ones (older history: ``/v1/search``, the NDJSON pages)."""

TAG_AUTHORITY = "claimledger.dev,2026"
"""The RFC 4151 tagging entity of entry ids: ``tag:claimledger.dev,2026:<genesis hash>/...``."""

_DOC: Responses = {
    200: {
        "description": "an Atom 1.0 feed, newest first",
        "content": {ATOM: {"schema": {"type": "string"}}},
    },
}

# XML 1.0 Char: tab, newline, carriage return, U+0020..U+D7FF, U+E000..U+FFFD, U+10000..U+10FFFF.
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")

_TEST_RESULTS = {
    "PASSED": "passed",
    "WARNED": "passed with warnings",
    "FAILED": "failed",
    "NOT_RUN": "not run",
}


def _clean(text: str) -> str:
    return _NOT_XML.sub("\ufffd", text)


def _iso(ms: int) -> str:
    """RFC 3339 UTC with milliseconds (an Atom date construct): the exact log time."""
    whole = datetime.fromtimestamp(ms // 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{whole}.{ms % 1000:03d}Z"


def _sub(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
    el = ET.SubElement(parent, tag, {k: _clean(v) for k, v in attrs.items()})
    if text is not None:
        el.text = _clean(text)
    return el


def _statement(envelope: bytes) -> dict[str, Any] | None:
    """The statement of a stored envelope, for display; ``None`` if it cannot be read."""
    try:
        decoded = orjson.loads(Envelope.parse_stored(envelope).payload)
    except (AttestError, ValueError):
        return None
    return decoded if isinstance(decoded, dict) else None


def _statements(ledger: Ledger, items: Iterable[FeedItem]) -> dict[int, dict[str, Any] | None]:
    """The stored statements of the items' entries, read in runs of consecutive indexes."""
    wanted = sorted({i.fact.index for i in items if not i.expiring})
    out: dict[int, dict[str, Any] | None] = {}
    start = 0
    while start < len(wanted):
        end = start
        while end + 1 < len(wanted) and wanted[end + 1] == wanted[end] + 1:
            end += 1
        for e in ledger.log_entries(wanted[start], wanted[end] + 1):
            out[e.index] = _statement(e.envelope)
        start = end + 1
    return out


class _Writer:
    """Titles, links and text of the items of one feed."""

    def __init__(self, base: str, genesis: str, names: Mapping[str, str], roles: Mapping[str, str]):
        self.base = base
        self.genesis = genesis
        self.names = names
        self.roles = roles

    def name(self, party: str | None) -> str:
        return self.names.get(party or "", party or "")

    def tag(self, specific: str) -> str:
        return f"tag:{TAG_AUTHORITY}:{self.genesis}/{specific}"

    def page(self, stream: str | None, fact: EntryFact | None = None) -> str:
        """The public page an item points to."""
        if stream is None:
            return f"{self.base}/"
        anchor = "" if fact is None or fact.stream != stream else f"#entry-{fact.index}"
        return f"{self.base}/providers/{stream}{anchor}"

    def link_for(self, item: FeedItem, company: str | None) -> str:
        f = item.fact
        if f.stream != "registry":
            return self.page(f.stream, f)
        if company is not None:
            return self.page(company)
        if self.roles.get(f.party or "") == "provider":
            return self.page(f.party)
        if (
            f.kind == Kind.ACCREDITATION_SUSPEND.value
            or self.roles.get(f.party or "") == "verifier"
        ):
            return f"{self.base}/#verifiers"
        return f"{self.base}/log"

    def title(self, item: FeedItem) -> str:
        f = item.fact
        what = measure_title(f.measure or "")
        company = self.name(f.stream)
        result = (f.result or "").lower()
        word = STATUS_LABELS.get(result, f.result or "")
        if item.expiring:
            until = fmt_date(f.valid_until_ms or 0)
            return f"Verdict expires on {until}: {company} — {what} ({word})"
        k = f.kind
        if k == Kind.CLAIM_PUBLISH.value:
            return f"{company} claims: {what}"
        if k == Kind.CLAIM_SUPERSEDE.value:
            return f"{company} updated its claim: {what}"
        if k == Kind.CLAIM_WITHDRAW.value:
            return f"{company} withdrew its claim: {what}"
        if k == Kind.TEST_RECORD.value:
            outcome = _TEST_RESULTS.get(f.result or "", f.result or "")
            return f"{self.name(f.signer)} tested {company}: {what} — {outcome}"
        if k == Kind.VERDICT_ISSUE.value:
            return f"Verdict on {company}: {what} — {word} (by {self.name(f.signer)})"
        if k == Kind.PROVIDER_REPLY.value:
            return f"{company} replied to a verdict: {what}"
        if k == Kind.ACCREDITATION_SUSPEND.value:
            return f"Accreditation of {self.name(f.party)} suspended"
        if k == Kind.KEY_REVOKE.value:
            return f"A signing key of {self.name(f.party)} was revoked"
        if k == Kind.PARTY_RETIRE.value:
            return f"{self.name(f.party)} was retired"
        return f.title  # pragma: no cover - feeds carry only the kinds above

    def text(self, item: FeedItem, st: Mapping[str, Any] | None) -> str:
        f = item.fact
        signer = self.name(f.signer)
        where = f"Log index {f.index}, signed by {signer} ({f.signer})."
        if item.expiring:
            result = STATUS_LABELS.get((f.result or "").lower(), f.result or "")
            return (
                f"The verdict by {signer} ({result}, log index {f.index}) on this claim is valid "
                f"until {fmt_date(f.valid_until_ms or 0)}. Unless a new verdict is issued by "
                "then, the claim will read Unverified."
            )
        if st is None:
            return (
                f"{where} The stored bytes of this entry can no longer be read as the statement "
                "the ledger accepted: verify the record."
            )
        body: Mapping[str, Any] = st.get("body", {})
        if not isinstance(body, Mapping):  # pragma: no cover - the ledger accepted a schema
            body = {}
        parts: list[str] = []
        k = f.kind
        if k in (Kind.CLAIM_PUBLISH.value, Kind.CLAIM_SUPERSEDE.value) and f.scope is not None:
            sc = f.scope
            parts.append(f"Services: {', '.join(str(s) for s in body.get('services', ()))}.")
            parts.append(f"Covers: {', '.join(surface_label(x) for x in sc.surfaces)}.")
            for surface, reason in sc.excluded_surfaces:
                parts.append(f"Not covered: {surface_label(surface)}. Reason: {reason}")
            parts.append(
                f"Where: {', '.join(sc.jurisdictions)}. Who: {population_label(sc.population)}. "
                f"Status: {DEPLOYMENT_NOTES.get(sc.status, sc.status)}."
            )
        elif k in (Kind.CLAIM_WITHDRAW.value, Kind.ACCREDITATION_SUSPEND.value):
            parts.append(f"Reason: {body.get('reason', '')}")
            if k == Kind.ACCREDITATION_SUSPEND.value:
                parts.append(
                    "Its earlier verdicts stay on the record and are marked as coming from a "
                    "verifier since suspended."
                )
        elif k == Kind.KEY_REVOKE.value:
            parts.append(
                f"Key {body.get('keyId', '')} signs nothing after this entry. "
                f"Reason: {body.get('reason', '')}"
            )
            since = body.get("compromisedSince")
            if isinstance(since, Mapping):
                start = (
                    f"log index {since['index']}" if "index" in since else f"{since.get('time')}"
                )
                parts.append(
                    f"The authority states it was compromised from {start}: what it signed from "
                    "then on stays in the log but is not to be relied on."
                )
        elif k == Kind.PARTY_RETIRE.value:
            parts.append(
                "It signs nothing after this entry; its past entries stay on the record. "
                f"Reason: {body.get('reason', '')}"
            )
        elif k == Kind.TEST_RECORD.value:
            parts.append(f"Summary: {body.get('summary', '')}")
        elif k == Kind.VERDICT_ISSUE.value:
            result = STATUS_LABELS.get((f.result or "").lower(), f.result or "")
            parts.append(
                f"{signer} found the claim {result}, valid until {fmt_date(f.valid_until_ms or 0)}."
            )
            if body.get("comments"):
                parts.append(f"Comments: {body['comments']}")
        elif k == Kind.PROVIDER_REPLY.value:
            parts.append(f"Reply: {body.get('text', '')}")
        parts.append(where)
        return "\n".join(parts)


def atom_feed(ledger: Ledger, feed: Feed, *, base: str, company: str | None) -> bytes:
    """The Atom document of ``feed`` (absolute links under ``base``)."""
    views = ledger.views
    parties = views.parties()
    names = {p.id: p.name for p in parties}
    roles = {p.id: p.role for p in parties}
    genesis = (ledger.state.genesis_hash or b"").hex()
    w = _Writer(base, genesis, names, roles)
    authority = ledger.state.authority or ""
    # Unqualified names under a default namespace declared on the root: every element is in the
    # Atom namespace and attributes in none (ElementTree's default_namespace refuses those).
    root = ET.Element("feed", {"xmlns": ATOM_NS})
    if company is None:
        _sub(root, "id", w.tag("feed"))
        _sub(root, "title", "claimledger: new claims, tests, verdicts and suspensions")
        self_href = f"{base}/v1/log/feed.atom"
    else:
        _sub(root, "id", w.tag(f"feed/{company}"))
        _sub(root, "title", f"{w.name(company)}: claims, tests and verdicts on claimledger")
        self_href = f"{base}/v1/streams/{company}/feed.atom"
    _sub(
        root,
        "subtitle",
        f"The newest {FEED_LIMIT} events of the log at size {feed.size}; verdicts expiring "
        "within 30 days of the log's last entry.",
    )
    _sub(root, "updated", _iso(feed.time_ms))
    author = _sub(root, "author")
    _sub(author, "name", w.name(authority) or "claimledger")
    _sub(root, "generator", "claimledger")
    _sub(root, "link", rel="self", type=ATOM, href=self_href)
    _sub(root, "link", rel="alternate", type="text/html", href=w.page(company))
    statements = _statements(ledger, feed.items)
    for item in feed.items:
        f = item.fact
        entry = _sub(root, "entry")
        specific = f"expiring/{f.index}" if item.expiring else f"entry/{f.index}"
        _sub(entry, "id", w.tag(specific))
        _sub(entry, "title", w.title(item))
        _sub(entry, "updated", _iso(item.log_time_ms))
        if not item.expiring:
            _sub(entry, "published", _iso(f.log_time_ms))
        who = _sub(entry, "author")
        _sub(who, "name", w.name(f.signer))
        _sub(entry, "link", rel="alternate", type="text/html", href=w.link_for(item, company))
        _sub(
            entry,
            "link",
            rel="related",
            type="application/json",
            href=f"{base}/v1/entries/{f.index}",
        )
        _sub(entry, "category", term="verdict.expiring" if item.expiring else f.kind)
        _sub(entry, "content", w.text(item, statements.get(f.index)), type="text")
    data: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return data


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/")


@router.get(
    "/log/feed.atom",
    summary="Atom feed of the whole log",
    response_class=Response,
    responses=_DOC,
)
def log_feed(request: Request, ledger: LedgerDep) -> Response:
    """The newest claims, withdrawals, tests, verdicts, replies, suspensions, key revocations and
    verdicts expiring within 30 days, across all companies (at most 100, newest first)."""
    feed = ledger.views.feed(size=committed_size(ledger), limit=FEED_LIMIT)
    body = atom_feed(ledger, feed, base=_base(request), company=None)
    return bytes_response(request, body, media_type=f"{ATOM}; charset=utf-8", cache=Cache.NO_CACHE)


@router.get(
    "/streams/{stream}/feed.atom",
    summary="Atom feed of one company",
    response_class=Response,
    responses={**_DOC, **problem_docs((404, "no such company"))},
)
def stream_feed(
    request: Request,
    ledger: LedgerDep,
    stream: Annotated[str, Path(min_length=1, max_length=128, description="a provider's id")],
) -> Response:
    """The company's newest entries, what happened to the verifiers who signed on its stream
    (suspensions, key revocations), its own key revocations, and its verdicts expiring within
    30 days (at most 100, newest first)."""
    party = ledger.views.party(stream)
    if party is None or party.role != "provider":
        raise NotFoundError(f"no company {stream!r} (feeds are made for providers' records)")
    feed = ledger.views.feed(stream, size=committed_size(ledger), limit=FEED_LIMIT)
    body = atom_feed(ledger, feed, base=_base(request), company=stream)
    return bytes_response(request, body, media_type=f"{ATOM}; charset=utf-8", cache=Cache.NO_CACHE)
