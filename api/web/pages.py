"""Server-rendered public pages: the comparison, a company's timeline, the log.

Everything a reader needs is in the HTML (no JavaScript needed to read); ``static/page.js`` only
adds the in-browser verification. The pages read the ledger's views (:mod:`ledger`), the same
projections the ``/v1`` scorecard and replay endpoints serve, and turn them into plain words:
``PUBLIC_STATUSES`` are shown with a label, an icon shape and a colour, never colour alone.

Every page is sent with a strict Content-Security-Policy (scripts and styles from this origin
only, no inline script) and rendered by Jinja2 with autoescaping on: every string from the
ledger is text, never markup.
"""

from __future__ import annotations

import functools
import hashlib
import re
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import orjson
from fastapi import APIRouter, Request
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup
from starlette.responses import HTMLResponse, Response

from api.deps import LedgerDep
from api.params import Latest, latest, present_ms, still_latest
from api.problems import InvalidParameterError
from api.responses import Cache, not_modified
from api.routers.scorecard import MAX_COMPARE, find_names, name_hits_json, scorecard_page
from api.web.i18n import LANGUAGES, N_, Translated, _, current, ngettext
from attest import AttestError, Envelope, Kind
from attest.measures import MEASURES
from attest.reconcile import describe, unit_words
from ledger import (
    PUBLIC_STATUSES,
    ClaimVersion,
    EntryFact,
    Ledger,
    Party,
    Scorecard,
    ScorecardCell,
    StreamReplay,
    VerdictFlags,
)

__all__ = [
    "CSP",
    "STATIC_DIR",
    "STATUS_LABELS",
    "TEMPLATES_DIR",
    "router",
]

HERE = Path(__file__).resolve().parent
STATIC_DIR = HERE / "static"
TEMPLATES_DIR = HERE / "templates"

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; form-action 'self'; base-uri 'none'; "
    "frame-ancestors 'none'"
)
"""The pages' Content-Security-Policy: nothing inline, nothing from another origin."""

SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    # A page is in the language its request negotiated (api/web/i18n.py): caches keep one copy
    # per language (the ETag includes it too).
    "Vary": "Accept-Language",
}

DAY_MS = 86_400_000
DASH = "\u2013"  # an en dash, for ranges

VERDICT_WORDS: Mapping[str, Any] = orjson.loads((STATIC_DIR / "verdict-words.json").read_bytes())
"""The one table of verdict wording (``static/verdict-words.json``): per state a label, what it
means and what a parent can do next; the assurance levels and scope matches in words. The
templates read it from here, ``static/page.js`` fetches the same file."""

STATES: Mapping[str, Mapping[str, str]] = VERDICT_WORDS["states"]

STATUS_LABELS: Mapping[str, str] = Translated(
    {s: w["label"] for s, w in STATES.items() if s in PUBLIC_STATUSES}
)
"""The public words for each status of :data:`PUBLIC_STATUSES` (``../shared/DOMAIN.md``), in
the request's language (the English words are the catalog's message ids)."""

STATUS_MEANINGS: Mapping[str, str] = Translated(
    {s: STATES[s]["meaning"] for s in PUBLIC_STATUSES if s in STATES}
)

SURFACE_LABELS: Mapping[str, str] = Translated(
    {
        "public_posts": N_("public posts"),
        "profiles": N_("profiles"),
        "comments": N_("comments"),
        "dm_unencrypted": N_("direct messages (not end-to-end encrypted)"),
        "dm_e2ee": N_("end-to-end encrypted messages"),
        "group_chat": N_("group chats"),
        "livestream": N_("live streams"),
        "video_call": N_("video calls"),
        "cloud_storage": N_("cloud storage"),
        "file_sharing": N_("file sharing"),
        "search": N_("search"),
        "genai": N_("AI features"),
    }
)

DEPLOYMENT_NOTES: Mapping[str, str] = Translated(
    {
        "deployed": N_("in use"),
        "pilot": N_("a pilot only"),
        "planned": N_("planned, not yet in use"),
        "discontinued": N_("discontinued"),
    }
)

KIND_LABELS: Mapping[str, str] = Translated(
    {
        Kind.CLAIM_PUBLISH.value: N_("Claim published"),
        Kind.CLAIM_SUPERSEDE.value: N_("Claim updated"),
        Kind.CLAIM_WITHDRAW.value: N_("Claim withdrawn"),
        Kind.TEST_RECORD.value: N_("Test record"),
        Kind.VERDICT_ISSUE.value: N_("Verdict"),
        Kind.PROVIDER_REPLY.value: N_("Company's reply"),
        Kind.ENGAGEMENT_OPEN.value: N_("Engagement opened"),
        Kind.ENGAGEMENT_CLOSE.value: N_("Engagement closed"),
        Kind.ENGAGEMENT_WITHDRAW.value: N_("Engagement withdrawn"),
    }
)

TEST_RESULT_LABELS: Mapping[str, str] = Translated(
    {
        "PASSED": N_("passed"),
        "WARNED": N_("passed with warnings"),
        "FAILED": N_("failed"),
        "NOT_RUN": N_("not run"),
    }
)

METHOD_LABELS: Mapping[str, str] = Translated(
    {
        "seeded_canary_hash": N_("seeded test images (benign media placed in a test hash bank)"),
        "test_account_probe": N_("test accounts registered with child ages"),
        "reporting_flow_review": N_("review of the reporting flow"),
        "takedown_latency": N_("time to take down reported test content"),
        "data_reconciliation": N_("reported numbers checked against published figures"),
        "document_review": N_("document review"),
        "config_inspection": N_("inspection of the configuration"),
    }
)

router = APIRouter(include_in_schema=False)

_env = Environment(
    loader=FileSystemLoader(TEMPLATES_DIR),
    autoescape=select_autoescape(["html", "svg"], default_for_string=True, default=True),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    extensions=["jinja2.ext.i18n"],
)
_env.policies["ext.i18n.trimmed"] = True  # {% trans %} text: whitespace collapsed (one msgid)
# {% trans %} and _() in the templates translate into the request's language (api/web/i18n.py);
# newstyle: %(name)s placeholders are filled after translation, with autoescaping.
_env.install_gettext_callables(  # type: ignore[attr-defined]
    lambda message: _(message), lambda one, many, n: ngettext(one, many, n), newstyle=True
)

TRANSLATED_TEMPLATES = frozenset(
    {
        "case_file.html",
        "provider.html",
        "not_found.html",
        "comparison.html",
        "compare.html",
        "search.html",
        "verifier.html",
        "log.html",
        "data.html",
    }
)
"""The templates whose text goes through the catalog (all, so far); another one would be marked
``lang="en"`` when the page is in another language, its text English until it is translated."""


# -- small formatting helpers --------------------------------------------------------------------


def _now_ms(request: Request) -> int:
    """The present as the pages judge it: the last second of the current minute (an app may set
    ``state.clock`` for tests), so a page reads the same all minute (``api.params.present_ms``)."""
    clock = getattr(request.app.state, "clock", None)
    ms = int(clock()) if callable(clock) else time.time_ns() // 1_000_000
    return present_ms(ms)


def fmt_time(ms: int) -> str:
    """``2026-09-06 10:00 UTC``."""
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M UTC")


def iso_time(ms: int) -> str:
    """RFC 3339 UTC, whole seconds (for ``<time datetime>``)."""
    return datetime.fromtimestamp(ms // 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def fmt_date(ms: int) -> str:
    """``2026-09-06``."""
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d")


def measure_title(measure: str) -> str:
    """The plain-language title of a measure (its type if unknown)."""
    spec = MEASURES.get(measure)
    return _(spec.title) if spec is not None else measure


_OUTSIDE_WORDS: tuple[tuple[re.Pattern[str], str], ...] = (
    (
        re.compile(
            r"made in a gap in its verifier's accreditation, from (?P<start>\S+) to (?P<end>\S+)"
        ),
        N_("made in a gap in its verifier's accreditation, from %(start)s to %(end)s"),
    ),
    (
        re.compile(r"made before its verifier's accreditation period began \((?P<start>\S+)\)"),
        N_("made before its verifier's accreditation period began (%(start)s)"),
    ),
    (
        re.compile(r"made after its verifier's accreditation period ended \((?P<end>\S+)\)"),
        N_("made after its verifier's accreditation period ended (%(end)s)"),
    ),
)
"""The ledger's reasons why a verdict is not current (``ledger._views.out_of_accreditation``,
English as in the API), each with its catalog message."""


def outside_words(reason: str) -> str:
    """Why a verdict is not current (the ledger's English reason), in the page's language; a
    reason this table does not know stays as the ledger wrote it."""
    for pattern, message in _OUTSIDE_WORDS:
        m = pattern.fullmatch(reason)
        if m is not None:
            return _(message) % m.groupdict()
    return reason


def reconciliation_words(check: Any) -> tuple[str, str]:
    """A reconciliation's label and sentence (a ``DatasetCheck``: ``attest/reconciliation.json``,
    as its ``words``) in the page's language."""
    return describe(check.result, check.dataset, _)


def unit_label(unit: str) -> str:
    """A reference table's unit (``reports``...) in the page's language."""
    return unit_words(unit, _)


def surface_label(surface: str) -> str:
    """A surface in plain words."""
    return SURFACE_LABELS.get(surface, surface.replace("_", " "))


def population_label(population: str) -> str:
    """``all_users`` / ``under_18`` / ``ages_13-15`` in plain words."""
    if population == "all_users":
        return _("all users")
    if population == "under_18":
        return _("users under 18")
    if population.startswith("ages_"):
        return _("users aged %(ages)s") % {"ages": population[5:].replace("-", DASH)}
    return population


def is_web_link(uri: str) -> bool:
    """Whether ``uri`` may be an ``href`` (only http and https: never ``javascript:``)."""
    lower = uri.lower()
    return lower.startswith(("https://", "http://"))


def parse_day(text: str) -> int:
    """The last millisecond (UTC) of the day ``YYYY-MM-DD``: the record "as it stood that day".

    Raises:
        ValueError: not a date in that form.
    """
    day = date.fromisoformat(text)
    if len(text) != 10:
        raise ValueError(text)
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    return int(start.timestamp() * 1000) + DAY_MS - 1


_env.filters["time"] = fmt_time
_env.filters["iso"] = iso_time
_env.filters["date"] = fmt_date
_env.filters["measure"] = measure_title
_env.filters["surface"] = surface_label
_env.filters["population"] = population_label
_env.filters["outside"] = outside_words
_env.filters["reconciliation"] = reconciliation_words
_env.filters["unit"] = unit_label
_env.globals["STATUS_LABELS"] = STATUS_LABELS
_env.globals["STATUS_MEANINGS"] = STATUS_MEANINGS
_env.globals["PUBLIC_ORDER"] = (
    "confirmed",
    "confirmed_with_comments",
    "inconclusive",
    "no_evidence_found",
    "contradicted",
    "verifiers_disagree",
    "unverified",
    "no_claim",
)
_env.globals["is_web_link"] = is_web_link
_env.globals["LANGUAGES"] = LANGUAGES
_env.filters["tr"] = _  # a message marked elsewhere (a data table), read in the page's language


@dataclass(frozen=True, slots=True)
class LanguageLink:
    """One entry of the page's language selector."""

    code: str
    name: str
    href: str
    current: bool


def _language_links(request: Request) -> list[LanguageLink]:
    """This page in each shipped language (its URL with ``?lang=`` set)."""
    here = current().code
    query = [(k, v) for k, v in request.query_params.multi_items() if k != "lang"]
    return [
        LanguageLink(
            code,
            lang.name,
            request.url.path + "?" + urlencode([*query, ("lang", code)]),
            code == here,
        )
        for code, lang in LANGUAGES.items()
    ]


@functools.cache
def _browser_catalog(code: str) -> Markup:
    """The browser's part of ``code``'s catalog as JSON for a ``<script type="application/json">``
    (``<`` escaped, so no ``</script>`` can end it early); empty in English."""
    browser = LANGUAGES[code].browser
    if not browser:
        return Markup("")
    text = orjson.dumps({"lang": code, **browser}).decode().replace("<", "\\u003c")
    return Markup(text)  # noqa: S704 (JSON with every "<" escaped)


_LOCAL_HREF = re.compile(r'href="(/(?!/|static/|v1/)[^"#]*)(#[^"]*)?"')
_GET_FORM = re.compile(r'(<form\b[^>]*method="get"[^>]*>)')


def _keep_language(html: str, code: str) -> str:
    """Carry an explicit ``?lang=`` over to the page's own links and forms, so the reader
    stays in the language chosen (the negotiated language needs no help)."""

    def link(m: re.Match[str]) -> str:
        path, frag = m.group(1), m.group(2) or ""
        if "lang=" in path:
            return m.group(0)
        sep = "&amp;" if "?" in path else "?"
        return f'href="{path}{sep}lang={code}{frag}"'

    html = _LOCAL_HREF.sub(link, html)
    hidden = f'<input type="hidden" name="lang" value="{code}">'
    return _GET_FORM.sub(lambda m: m.group(1) + hidden, html)


def _pin(request: Request, ledger: Ledger) -> tuple[Latest, int, Response | None]:
    """The checkpoint and the minute a page is rendered at, and ``304`` if the client has it."""
    now = _now_ms(request)
    choice = current()
    if choice.invalid is not None:
        raise InvalidParameterError(
            f"lang={choice.invalid!r} is not a language of these pages; use one of "
            + ", ".join(LANGUAGES),
            parameter="lang",
        )
    # The URL holds an explicit ?lang=; the language negotiated from Accept-Language is not in
    # it, so it is part of the tag (two languages never share an ETag).
    pinned = latest(ledger, request, str(now), choice.code)
    hit = None
    if pinned.etag is not None:
        hit = not_modified(request, pinned.etag, Cache.LATEST, SECURITY_HEADERS)
    return pinned, now, hit


def _render(
    request: Request,
    template: str,
    context: dict[str, Any],
    *,
    status: int = 200,
    ledger: Ledger | None = None,
    pinned: Latest | None = None,
) -> HTMLResponse:
    """The page; a ``200`` is cacheable for as long as the latest checkpoint (``Cache.LATEST``),
    with the ETag bound to the checkpoint it was rendered at if the log did not move meanwhile
    (else a hash of the page). Other statuses must be revalidated."""
    nav = context.pop("nav", "")
    choice = current()
    html = _env.get_template(template).render(
        request=request,
        nav=nav,
        lang=choice.code,
        content_lang=choice.code if template in TRANSLATED_TEMPLATES else "en",
        language_links=_language_links(request),
        browser_catalog=_browser_catalog(choice.code),
        **context,
    )
    if choice.explicit:
        html = _keep_language(html, choice.code)
    if status != 200 or ledger is None or pinned is None:
        headers = {**SECURITY_HEADERS, "Cache-Control": Cache.NO_CACHE.value}
        return HTMLResponse(html, status_code=status, headers=headers)
    body = html.encode("utf-8")
    etag = still_latest(ledger, pinned) or '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    headers = {**SECURITY_HEADERS, "ETag": etag, "Cache-Control": Cache.LATEST.value}
    return HTMLResponse(body, headers=headers)


# -- the comparison ------------------------------------------------------------------------------


_RANK = {s: i for i, s in enumerate(PUBLIC_STATUSES)}


def covers(claim: ClaimVersion, jurisdiction: str) -> bool:
    """Whether a claim version's scope covers ``jurisdiction`` (``GLOBAL`` covers every one)."""
    scope = claim.entry.scope
    if scope is None:
        return False
    return jurisdiction in scope.jurisdictions or "GLOBAL" in scope.jurisdictions


def cell_status(claims: Sequence[ClaimVersion]) -> str:
    """The least favourable public status of ``claims`` (the scorecard's rule), else no claim."""
    if not claims:
        return "no_claim"
    return min((c.public_status for c in claims), key=_RANK.__getitem__)


@dataclass(frozen=True, slots=True)
class VerdictGist:
    """What a verdict states beside its result (SPEC §3 ``verdict.issue``): how sure the verifier
    is (``assurance``) and what its tests covered (``scopeTested``, ``scopeMatch``)."""

    assurance: str
    surfaces: tuple[str, ...]
    jurisdictions: tuple[str, ...]
    scope_match: str

    @property
    def assurance_label(self) -> str:
        """``reasonable assurance`` / ``limited assurance``."""
        words = VERDICT_WORDS["assurance"].get(self.assurance)
        return _(str(words["label"])) if words else self.assurance

    @property
    def assurance_meaning(self) -> str:
        """What that level means, in plain words."""
        words = VERDICT_WORDS["assurance"].get(self.assurance)
        return _(str(words["meaning"])) if words else ""

    @property
    def match_words(self) -> str:
        """How much of the claim's scope was tested, in plain words."""
        words = VERDICT_WORDS["scopeMatch"].get(self.scope_match)
        return _(str(words)) if words else self.scope_match


def verdict_gist(statement: Mapping[str, Any] | None) -> VerdictGist | None:
    """The :class:`VerdictGist` of a verdict's statement (``None`` if it cannot be read)."""
    if statement is None or statement.get("kind") != Kind.VERDICT_ISSUE.value:
        return None
    body = statement.get("body")
    if not isinstance(body, Mapping) or not isinstance(body.get("scopeTested"), Mapping):
        return None
    tested: Mapping[str, Any] = body["scopeTested"]
    return VerdictGist(
        str(body.get("assurance", "")),
        tuple(str(x) for x in tested.get("surfaces", ())),
        tuple(str(x) for x in tested.get("jurisdictions", ())),
        str(body.get("scopeMatch", "")),
    )


def read_gist(ledger: Ledger, verdict: EntryFact) -> VerdictGist | None:
    """The gist of the verdict logged at ``verdict.index``, read from its stored bytes."""
    stored = ledger.log_entries(verdict.index, verdict.index + 1)
    return verdict_gist(_statement(stored[0].envelope)) if stored else None


def scope_words(
    services: Sequence[str], surfaces: Sequence[str], jurisdictions: Sequence[str]
) -> str:
    """``Chatter: direct messages, comments in AU, GB``: what a verdict confirmed."""
    where = ", ".join(_("everywhere") if j == "GLOBAL" else j for j in jurisdictions)
    what = ", ".join(surface_label(s) for s in surfaces) or _("the features the claim names")
    head = ", ".join(services) + ": " if services else ""
    if not where:
        return f"{head}{what}"
    return _("%(what)s in %(where)s") % {"what": f"{head}{what}", "where": where}


def parent_state(status: str, *, expired: bool = False, compromised: bool = False) -> str:
    """The key of :data:`STATES` a reader is in: ``expired`` and ``key_compromised`` are read
    as unverified by the scorecard, but say different things to a parent."""
    if compromised:
        return "key_compromised"
    if expired and status == "unverified":
        return "expired"
    return status if status in STATES else "unverified"


def next_step(state: str, scope: str) -> str:
    """What a parent can do next in ``state`` (:data:`STATES`), ``{scope}`` filled in."""
    return _(STATES[state]["next"]).replace("{scope}", scope)


@dataclass(frozen=True, slots=True)
class ClaimNote:
    """One active claim version behind a cell, with what the public needs to read it."""

    claim: ClaimVersion
    verifier: str | None
    deployment: str
    gist: VerdictGist | None = None

    @property
    def confirmed_scope(self) -> str:
        """What the latest verdict confirmed: the claim's services, and the surfaces and places
        its tests covered (the claim's own scope if the verdict cannot be read)."""
        sc = self.claim.entry.scope
        services = sc.services if sc is not None else ()
        if self.gist is not None:
            return scope_words(services, self.gist.surfaces, self.gist.jurisdictions)
        if sc is None:
            return scope_words(services, (), ())
        return scope_words(services, sc.surfaces, sc.jurisdictions)

    @property
    def state(self) -> str:
        """This claim's :func:`parent_state`."""
        c = self.claim
        return parent_state(
            c.public_status,
            expired=bool(c.latest_verdict_expired),
            compromised=c.latest_verdict is not None
            and c.latest_verdict_flags.key_compromised
            and not c.latest_verdict_expired,
        )

    @property
    def next_step(self) -> str:
        """What a parent can do next about this claim, in plain words."""
        return next_step(self.state, self.confirmed_scope)

    @property
    def scope_caveats(self) -> int:
        """How many caveats the scope carries (excluded surfaces, non-deployed status)."""
        scope = self.claim.entry.scope
        n = 0 if scope is None else len(scope.excluded_surfaces)
        return n + (self.deployment != "deployed")


@dataclass(frozen=True, slots=True)
class CellView:
    """One provider x measure cell as shown."""

    provider: str
    measure: str
    status: str
    notes: tuple[ClaimNote, ...]

    @property
    def label(self) -> str:
        """The public word for the status."""
        return STATUS_LABELS[self.status]

    @property
    def lead(self) -> ClaimNote | None:
        """The claim version the cell's status comes from (its least favourable one)."""
        return next((n for n in self.notes if n.claim.public_status == self.status), None)

    @property
    def next_step(self) -> str:
        """What a parent can do next about this cell, in plain words."""
        lead = self.lead
        if lead is None:
            return next_step(parent_state(self.status, expired=self.expired), "")
        return lead.next_step

    @property
    def expired(self) -> bool:
        """Unverified because the latest verdict expired (not merely missing)."""
        return self.status == "unverified" and any(
            n.claim.public_status == "unverified" and n.claim.latest_verdict_expired
            for n in self.notes
        )

    def _counted(self) -> Iterable[VerdictFlags]:
        # The scorecard's rule (ScorecardCell): flags of the unexpired latest verdicts shown.
        return (
            n.claim.latest_verdict_flags
            for n in self.notes
            if n.claim.latest_verdict is not None and not n.claim.latest_verdict_expired
        )

    @property
    def verifier_suspended(self) -> bool:
        """A status here rests on a verdict whose verifier was suspended after it."""
        return any(f.verifier_suspended for f in self._counted())

    @property
    def key_revoked(self) -> bool:
        """A status here rests on a verdict whose signing key was revoked after it."""
        return any(f.key_revoked for f in self._counted())

    @property
    def key_compromised(self) -> bool:
        """A claim here reads unverified: its latest verdict's key was since stated compromised."""
        return any(f.key_compromised for f in self._counted())

    @property
    def out_of_accreditation(self) -> bool:
        """A claim here reads unverified: its latest verdict was made outside every accreditation
        period of its verifier (SPEC §8.2)."""
        return any(f.outside is not None for f in self._counted())

    @property
    def verifiers_disagree(self) -> bool:
        """Verifiers disagree on a claim version here (each note's claim links both verdicts)."""
        return any(n.claim.disagreement for n in self.notes)


@dataclass(frozen=True, slots=True)
class ProviderColumn:
    """A provider (or one of its services) shown in the comparison.

    Attributes:
        id: the provider's party id.
        name: the company's name.
        jurisdiction: where it is based.
        service: the service's name, for a service's column.
        overdue_engagements: the company's engagements past their window with no verdict or
            withdrawal (issue 17 §1).
        overdue_commitments: the company's commitments past due while their finding is open
            (issue 17 §2).
    """

    id: str
    name: str
    jurisdiction: str | None
    service: str | None = None
    overdue_engagements: int = 0
    overdue_commitments: int = 0

    @property
    def key(self) -> str:
        """The column's id in links: the party id, or ``PROVIDER/SERVICE``."""
        return self.id if self.service is None else f"{self.id}/{self.service}"


@dataclass
class Comparison:
    """What the comparison page shows."""

    providers: list[ProviderColumn] = field(default_factory=list)
    rows: list[tuple[str, list[CellView]]] = field(default_factory=list)
    hidden_measures: int = 0


def _cell_view(
    cell: ScorecardCell, names: Mapping[str, str], ledger: Ledger | None = None
) -> CellView:
    notes = tuple(
        ClaimNote(
            c,
            None
            if c.latest_verdict is None
            else names.get(c.latest_verdict.signer, c.latest_verdict.signer),
            "deployed" if c.entry.scope is None else c.entry.scope.status,
            None
            if ledger is None or c.latest_verdict is None
            else read_gist(ledger, c.latest_verdict),
        )
        for c in cell.claims
    )
    return CellView(cell.provider, cell.measure, cell.status, notes)


def build_comparison(
    card: Scorecard,
    names: Mapping[str, str],
    *,
    measure: str | None,
    all_measures: bool,
    ledger: Ledger | None = None,
) -> Comparison:
    """Measures x the rows of one scorecard page (companies or services), as the page shows it.

    The views did the filtering (a country keeps, in each cell, only the claim versions whose
    scope covers it, ``GLOBAL`` included, and only rows with such a claim). Without
    ``all_measures``, measures no shown row claims are left out (and counted).
    """
    out = Comparison()
    cells: dict[tuple[str, str], CellView] = {}
    for row in card.rows:
        col = ProviderColumn(
            row.provider,
            row.name,
            row.jurisdiction,
            row.service,
            len(row.overdue_engagements),
            row.overdue_commitments,
        )
        out.providers.append(col)
        for c in row.cells:
            cells[(col.key, c.measure)] = _cell_view(c, names, ledger)
    for m in card.measures:
        if measure is not None and m != measure:
            continue
        row_views = [cells[(p.key, m)] for p in out.providers]
        claimed = any(c.status != "no_claim" for c in row_views)
        if not (claimed or all_measures or measure is not None):
            out.hidden_measures += 1
            continue
        out.rows.append((m, row_views))
    return out


HOME_LIMIT = 10
"""Companies (or services) per page of the home page's comparison."""
SEARCH_LIMIT = 20
"""Names per page of the search results."""


def _verifier_names(ledger: Ledger) -> dict[str, str]:
    return {p.id: p.name for p in ledger.views.parties(role="verifier")}


def _query(params: Mapping[str, str | None]) -> str:
    return urlencode({k: v for k, v in params.items() if v})


@router.get("/", response_class=HTMLResponse)
def comparison_page(request: Request, ledger: LedgerDep) -> Response:
    """The home page: search, summary counts, and one page of companies (or services) x
    measures with the latest verdict in plain words (filters and paging: GET parameters)."""
    pinned, at_ms, hit = _pin(request, ledger)
    if hit is not None:
        return hit
    q = request.query_params
    views = ledger.views
    jurisdictions = views.jurisdictions(size=pinned.size)
    problems: list[str] = []
    jurisdiction = (q.get("jurisdiction") or "").strip().upper() or None
    if jurisdiction is not None and jurisdiction not in jurisdictions:
        problems.append(
            _("No claim names the jurisdiction %(value)s; showing all.")
            % {"value": repr(jurisdiction)}
        )
        jurisdiction = None
    measure = (q.get("measure") or "").strip() or None
    if measure is not None and measure not in MEASURES:
        problems.append(_("There is no measure %(value)s; showing all.") % {"value": repr(measure)})
        measure = None
    verdict = (q.get("verdict") or "").strip() or None
    if verdict is not None and verdict not in STATUS_LABELS:
        problems.append(_("There is no verdict %(value)s; showing all.") % {"value": repr(verdict)})
        verdict = None
    by = "service" if q.get("by") == "service" else "company"
    all_measures = q.get("all") in ("1", "on", "true")
    cursor = (q.get("cursor") or "").strip() or None
    page = functools.partial(
        scorecard_page,
        ledger,
        at_ms=at_ms,
        as_of_ms=None,
        size=pinned.size,
        by=by,
        measure=measure,
        country=jurisdiction,
        verdict=verdict,
        limit=HOME_LIMIT,
    )
    try:
        card, nxt = page(cursor=cursor)
    except InvalidParameterError:
        problems.append(_("That page link is out of date; showing the first page."))
        card, nxt = page(cursor=None)
        cursor = None
    names = _verifier_names(ledger)
    comparison = build_comparison(
        card, names, measure=measure, all_measures=all_measures, ledger=ledger
    )
    filters = {
        "jurisdiction": jurisdiction,
        "measure": measure,
        "verdict": verdict,
        "by": None if by == "company" else by,
        "all": "1" if all_measures else None,
    }
    verifiers = [p for p in views.parties(role="verifier") if p.registered_at < pinned.size]
    return _render(
        request,
        "comparison.html",
        {
            "nav": "compare",
            "title": _("Which services do what they say?"),
            "comparison": comparison,
            "jurisdictions": jurisdictions,
            "jurisdiction": jurisdiction,
            "measures": list(MEASURES.values()),
            "measure": measure,
            "verdict": verdict,
            "by": by,
            "all_measures": all_measures,
            "problems": problems,
            "at_ms": at_ms,
            "verifiers": verifiers,
            "names": names,
            "size": pinned.size,
            "summary": views.summary(),
            "first_link": "/?" + _query(filters) if cursor else None,
            "next_link": None if nxt is None else "/?" + _query({**filters, "cursor": nxt}),
            "filtered": any(filters.values()),
            "max_compare": MAX_COMPARE,
        },
        status=400 if problems else 200,
        ledger=ledger,
        pinned=pinned,
    )


@router.get("/search", response_class=HTMLResponse)
def search_page(request: Request, ledger: LedgerDep) -> Response:
    """Companies and services by name (``?q=``; prefix of any word, then similar names)."""
    pinned, _now, hit = _pin(request, ledger)
    if hit is not None:
        return hit
    query = (request.query_params.get("q") or "").strip()[:200]
    cursor = (request.query_params.get("cursor") or "").strip() or None
    problems: list[str] = []
    hits: list[dict[str, Any]] = []
    nxt = None
    if query:
        try:
            found, nxt = find_names(ledger, query, cursor, SEARCH_LIMIT, pinned.size)
        except InvalidParameterError:
            problems.append(_("That page link is out of date; showing the first results."))
            found, nxt = find_names(ledger, query, None, SEARCH_LIMIT, pinned.size)
            cursor = None
        hits = name_hits_json(ledger, found, pinned.size)
    return _render(
        request,
        "search.html",
        {
            "nav": "search",
            "title": _("Search: %(query)s") % {"query": query} if query else _("Search"),
            "q": query,
            "hits": hits,
            "problems": problems,
            "max_compare": MAX_COMPARE,
            "next_link": None if nxt is None else "/search?" + _query({"q": query, "cursor": nxt}),
            "first_link": "/search?" + _query({"q": query}) if cursor else None,
        },
        status=400 if problems else 200,
        ledger=ledger,
        pinned=pinned,
    )


@router.get("/compare", response_class=HTMLResponse)
def compare_page(request: Request, ledger: LedgerDep) -> Response:
    """Chosen services side by side (``?s=PROVIDER/SERVICE``, repeated, at most
    :data:`api.routers.scorecard.MAX_COMPARE`): measures x services."""
    pinned, at_ms, hit = _pin(request, ledger)
    if hit is not None:
        return hit
    views = ledger.views
    problems: list[str] = []
    chosen = [v for v in request.query_params.getlist("s") if v.strip()]
    if len(chosen) > MAX_COMPARE:
        problems.append(
            _("At most %(count)d services side by side; showing the first ones.")
            % {"count": MAX_COMPARE}
        )
        chosen = chosen[:MAX_COMPARE]
    keys: list[tuple[str, str]] = []
    for v in chosen:
        provider, _sep, service = v.partition("/")
        if service and service in views.services(provider, size=pinned.size):
            if (provider, service) not in keys:
                keys.append((provider, service))
        else:
            problems.append(_("There is no service “%(name)s”.") % {"name": v[:200]})
    all_measures = request.query_params.get("all") in ("1", "on", "true")
    card, _cursor = scorecard_page(
        ledger,
        at_ms=at_ms,
        as_of_ms=None,
        size=pinned.size,
        by="service",
        measure=None,
        country=None,
        verdict=None,
        cursor=None,
        limit=MAX_COMPARE,
        only=keys,
    )
    names = _verifier_names(ledger)
    comparison = build_comparison(
        card, names, measure=None, all_measures=all_measures, ledger=ledger
    )
    title = _(" vs ").join(p.service or p.name for p in comparison.providers) or _(
        "Compare services"
    )
    return _render(
        request,
        "compare.html",
        {
            "nav": "",
            "title": title,
            "comparison": comparison,
            "names": names,
            "problems": problems,
            "at_ms": at_ms,
            "all_measures": all_measures,
            "chosen": [f"{p}/{s}" for p, s in keys],
            "all_link": "/compare?"
            + urlencode([*(("s", f"{p}/{s}") for p, s in keys), ("all", "1")]),
            "max_compare": MAX_COMPARE,
            "size": pinned.size,
        },
        status=400 if problems and keys else 404 if chosen and not keys else 200,
        ledger=ledger,
        pinned=pinned,
    )


# -- a company's record --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Doc:
    """A document an entry points to: its URI (if any) and SHA-256."""

    uri: str | None
    sha256: str
    title: str | None = None
    role: str = "evidence"


@dataclass
class EntryView:
    """One entry of a company's stream, with what its statement says, in plain words."""

    fact: EntryFact
    kind_label: str
    headline: str
    signer_name: str
    signed_at: str
    status: str | None = None
    text: list[tuple[str, str]] = field(default_factory=list)
    facts: list[tuple[str, str]] = field(default_factory=list)
    refs: list[tuple[str, str, int | None]] = field(default_factory=list)
    docs: list[Doc] = field(default_factory=list)
    trials: list[dict[str, Any]] = field(default_factory=list)
    metrics: list[dict[str, Any]] = field(default_factory=list)
    unreadable: bool = False
    flags: VerdictFlags | None = None


def _docs(items: Iterable[Mapping[str, Any]], role: str) -> list[Doc]:
    return [
        Doc(d.get("uri"), str(d["digest"]["sha256"]), d.get("title"), role)
        for d in items
        if isinstance(d, Mapping) and isinstance(d.get("digest"), Mapping)
    ]


def _range(period: Mapping[str, Any]) -> str:
    return f"{period.get('start')} {DASH} {period.get('end')}"


def _statement(envelope: bytes) -> dict[str, Any] | None:
    """The statement of a stored envelope, for display; ``None`` if it cannot be read.

    The ledger verified every entry when it opened, but the page reads the stored bytes again
    (the database may have changed since): an unreadable entry is shown as such, and the
    reader is pointed to the verification, rather than the page failing.
    """
    try:
        decoded = orjson.loads(Envelope.parse_stored(envelope).payload)
    except (AttestError, ValueError):
        return None
    return decoded if isinstance(decoded, dict) else None


def _entry_view(
    fact: EntryFact,
    st: Mapping[str, Any] | None,
    names: Mapping[str, str],
    where: Mapping[str, int],
    at_ms: int,
) -> EntryView:
    kind = fact.kind
    what = measure_title(fact.measure or "")
    view = EntryView(
        fact=fact,
        kind_label=KIND_LABELS.get(kind, kind),
        headline=what,
        signer_name=names.get(fact.signer, fact.signer),
        signed_at="" if st is None else str(st.get("signedAt", "")),
    )
    if st is None:
        view.unreadable = True
        return view
    body: Mapping[str, Any] = st.get("body", {})

    def ref(label: str, digest: str | None) -> None:
        if digest:
            view.refs.append((label, digest, where.get(digest)))

    if kind in (Kind.CLAIM_PUBLISH.value, Kind.CLAIM_SUPERSEDE.value):
        scope = fact.scope
        view.facts.append((_("Services"), ", ".join(body.get("services", ()))))
        if scope is not None:
            view.facts.append((_("Covers"), ", ".join(surface_label(s) for s in scope.surfaces)))
            for surface, reason in scope.excluded_surfaces:
                label = _("Not covered: %(surface)s") % {"surface": surface_label(surface)}
                view.facts.append((label, reason))
            view.facts.append((_("Where"), ", ".join(scope.jurisdictions)))
            view.facts.append((_("Who"), population_label(scope.population)))
            view.facts.append((_("Status"), DEPLOYMENT_NOTES.get(scope.status, scope.status)))
            dates = _("from %(start)s") % {"start": scope.effective_from}
            if scope.effective_until:
                dates = _("from %(start)s until %(end)s") % {
                    "start": scope.effective_from,
                    "end": scope.effective_until,
                }
            view.facts.append((_("Effective"), dates))
        refs = body.get("frameworkRefs") or ()
        if refs:
            view.facts.append((_("Framework references"), ", ".join(refs)))
        ref(_("Replaces claim"), body.get("supersedes"))
        view.metrics = [
            {
                "name": m.get("name"),
                "value": f"{m.get('value')} {m.get('unit', '')}".strip(),
                "period": _range(m.get("period", {})),
                "method": m.get("method"),
            }
            for m in body.get("metrics", ())
        ]
        view.docs = _docs(body.get("evidence", ()), _("evidence"))
    elif kind == Kind.CLAIM_WITHDRAW.value:
        view.text.append((_("Reason"), str(body.get("reason", ""))))
        ref(_("Withdraws claim"), body.get("claim"))
    elif kind == Kind.TEST_RECORD.value:
        result = str(body.get("result", ""))
        view.headline = _("%(measure)s — test %(result)s") % {
            "measure": what,
            "result": TEST_RESULT_LABELS.get(result, result),
        }
        view.text.append((_("Summary"), str(body.get("summary", ""))))
        method = str(body.get("method", ""))
        view.facts.append((_("Method"), METHOD_LABELS.get(method, method)))
        env = body.get("environment", {})
        view.facts.append(
            (
                _("Tested on"),
                f"{env.get('service')}, {surface_label(str(env.get('surface')))}, "
                f"{env.get('jurisdiction')}",
            )
        )
        window = body.get("window", {})
        view.facts.append((_("Window"), _range(window)))
        view.facts.append((_("Company's cooperation"), str(body.get("cooperation", ""))))
        for limitation in body.get("limitations", ()):
            view.facts.append((_("Limitation"), str(limitation)))
        for item in body.get("notTested", ()):
            view.facts.append((_("Not tested"), str(item)))
        if "engagement" not in body:
            view.facts.append((_("Engagement"), _("none (recorded without one)")))
        ref(_("Tests claim"), body.get("claim"))
        ref(_("Under engagement"), body.get("engagement"))
        protocol = body.get("protocol")
        if isinstance(protocol, Mapping):
            view.docs = _docs([protocol], _("protocol"))
        view.trials = [
            {
                "name": t.get("name"),
                "expected": t.get("expected"),
                "observed": t.get("observed"),
                "outcome": t.get("outcome"),
                "evidence": [str(d.get("sha256")) for d in t.get("evidence", ())],
            }
            for t in body.get("trials", ())
        ]
    elif kind == Kind.VERDICT_ISSUE.value:
        result = str(body.get("result", "")).lower()
        view.status = result if result in STATUS_LABELS else None
        expired = fact.expired_at(at_ms)
        view.headline = f"{what} — {STATUS_LABELS.get(result, result)}"
        if body.get("comments"):
            view.text.append((_("Comments"), str(body["comments"])))
        for r in body.get("recommendations", ()):
            view.text.append((_("Recommendation"), str(r)))
        view.facts.append((_("Assurance"), str(body.get("assurance", ""))))
        tested = body.get("scopeTested", {})
        view.facts.append(
            (
                _("Scope tested"),
                ", ".join(surface_label(s) for s in tested.get("surfaces", ()))
                + " "
                + _("in %(where)s (%(match)s match with the claim)")
                % {
                    "where": ", ".join(tested.get("jurisdictions", ())),
                    "match": body.get("scopeMatch", ""),
                },
            )
        )
        until = str(body.get("validUntil", ""))
        view.facts.append((_("Valid until"), until + (" — " + _("expired") if expired else "")))
        view.facts.append((_("Conflicts of interest"), str(body.get("conflictsOfInterest", ""))))
        if "engagement" not in body:
            view.facts.append((_("Engagement"), _("none (issued without one)")))
        ref(_("Verdict on claim"), body.get("claim"))
        ref(_("Under engagement"), body.get("engagement"))
        for t in body.get("tests", ()):
            ref(_("Rests on test"), t)
    elif kind == Kind.PROVIDER_REPLY.value:
        view.text.append((_("Reply"), str(body.get("text", ""))))
        ref(_("Answers verdict"), body.get("verdict"))
        view.docs = _docs(body.get("evidence", ()), _("evidence"))
    elif kind == Kind.ENGAGEMENT_OPEN.value:
        view.headline = _("Engagement registered before testing")
        view.facts.append((_("Testing window"), _range(body.get("window", {}))))
        for m in body.get("methods", ()):
            method = str(m.get("method", ""))
            view.facts.append((_("Planned method"), METHOD_LABELS.get(method, method)))
        for member, label in (("commissionedBy", _("Commissioned by")), ("paidBy", _("Paid by"))):
            who = body.get(member, {})
            party = who.get("party")
            view.facts.append((label, names.get(party, party) if party else who.get("name", "")))
        for c in body.get("conflicts", ()) or (_("none declared"),):
            view.facts.append((_("Declared conflict"), str(c)))
        for c in body.get("claims", ()):
            ref(_("Covers claim"), c)
        view.docs = _docs([m["protocol"] for m in body.get("methods", ())], _("protocol"))
    elif kind == Kind.ENGAGEMENT_CLOSE.value:
        ref(_("Closes engagement"), body.get("engagement"))
        ref(_("With verdict"), body.get("verdict"))
    elif kind == Kind.ENGAGEMENT_WITHDRAW.value:
        view.headline = (
            _("Engagement withdrawn by the company")
            if fact.signer == fact.stream
            else _("Engagement withdrawn by the verifier")
        )
        view.text.append((_("Reason"), str(body.get("reason", ""))))
        ref(_("Withdraws engagement"), body.get("engagement"))
    return view


@dataclass(frozen=True, slots=True)
class ChartMark:
    """A marker on the history chart: a test or verdict at a time on a claim's lane."""

    x: float
    y: float
    kind: str
    status: str
    label: str
    index: int


@dataclass(frozen=True, slots=True)
class ChartLane:
    """One claim version's life on the history chart."""

    y: float
    x0: float
    x1: float
    label: str
    status: str
    ended: bool
    marks: tuple[ChartMark, ...]
    index: int

    @property
    def lines(self) -> tuple[str, ...]:
        """The label in at most two lines that fit left of the lanes (:func:`label_lines`)."""
        return label_lines(self.label)


LABEL_CHARS = 34
"""Characters per line of a lane's label: 12 px text in the chart's 242 units left of the lanes."""


def label_lines(text: str, width: int = LABEL_CHARS) -> tuple[str, ...]:
    """``text`` broken at spaces into at most two lines of at most ``width`` characters, the
    second shortened with an ellipsis if the text is longer (the full text is the link's title)."""
    lines: list[str] = []
    line = ""
    for word in text.split():
        if line and len(line) + 1 + len(word) > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}" if line else word
    lines.append(line)
    lines = [ln if len(ln) <= width else ln[: width - 1] + "…" for ln in lines]
    if len(lines) > 2:
        lines = [lines[0], lines[1][: width - 1].rstrip() + "…"]
    return tuple(lines)


@dataclass(frozen=True, slots=True)
class Chart:
    """The claim/verdict history, laid out for the SVG template (user units)."""

    width: int
    height: int
    left: int
    right: int
    lanes: tuple[ChartLane, ...]
    ticks: tuple[tuple[float, str], ...]
    summary: str


CHART_WIDTH = 760
MONTHS = (
    N_("Jan"),
    N_("Feb"),
    N_("Mar"),
    N_("Apr"),
    N_("May"),
    N_("Jun"),
    N_("Jul"),
    N_("Aug"),
    N_("Sep"),
    N_("Oct"),
    N_("Nov"),
    N_("Dec"),
)
CHART_LEFT = 250
CHART_RIGHT = 16
LANE = 30
CHART_TOP = 8


def build_chart(replay: StreamReplay, start_ms: int, end_ms: int) -> Chart:
    """Lay out each claim version as a bar (published to withdrawn, superseded or now) with its
    tests (ticks) and verdicts (shapes by result) on it."""
    span = max(end_ms - start_ms, 1)
    inner = CHART_WIDTH - CHART_LEFT - CHART_RIGHT

    def x(ms: int) -> float:
        return round(CHART_LEFT + inner * (min(max(ms, start_ms), end_ms) - start_ms) / span, 1)

    lanes = []
    counts: dict[str, int] = {}
    for i, c in enumerate(replay.claims):
        y = CHART_TOP + i * LANE + LANE / 2
        marks = [
            ChartMark(
                x(t.log_time_ms),
                y,
                "test",
                "test",
                _("Test %(result)s on %(date)s")
                % {
                    "result": TEST_RESULT_LABELS.get(t.result or "", t.result),
                    "date": fmt_date(t.log_time_ms),
                },
                t.index,
            )
            for t in c.tests
        ]
        for v in c.verdicts:
            status = (v.result or "").lower()
            counts[status] = counts.get(status, 0) + 1
            marks.append(
                ChartMark(
                    x(v.log_time_ms),
                    y,
                    "verdict",
                    status,
                    _("Verdict %(result)s on %(date)s")
                    % {
                        "result": STATUS_LABELS.get(status, status),
                        "date": fmt_date(v.log_time_ms),
                    },
                    v.index,
                )
            )
        end = c.ended_by.log_time_ms if c.ended_by is not None else end_ms
        label = measure_title(c.measure)
        lanes.append(
            ChartLane(
                y,
                x(c.entry.log_time_ms),
                x(end),
                label,
                c.public_status if c.status == "active" else c.status,
                c.ended_by is not None,
                tuple(marks),
                c.entry.index,
            )
        )
    height = CHART_TOP + max(len(lanes), 1) * LANE + 28
    ticks = []
    first = datetime.fromtimestamp(start_ms / 1000, UTC)
    month = datetime(first.year, first.month, 1, tzinfo=UTC)
    while True:
        month = (
            datetime(month.year + 1, 1, 1, tzinfo=UTC)
            if month.month == 12
            else datetime(month.year, month.month + 1, 1, tzinfo=UTC)
        )
        ms = int(month.timestamp() * 1000)
        if ms > end_ms:
            break
        ticks.append((x(ms), f"{_(MONTHS[month.month - 1])} {month.year}"))
    active = sum(1 for c in replay.claims if c.status == "active")
    ended = len(replay.claims) - active
    verdicts = ", ".join(f"{n} {STATUS_LABELS.get(s, s).lower()}" for s, n in counts.items())
    summary = _(
        "%(claims)d claim versions (%(active)d active, %(ended)d withdrawn or replaced) "
        "from %(start)s to %(end)s; verdicts: %(verdicts)s."
    ) % {
        "claims": len(replay.claims),
        "active": active,
        "ended": ended,
        "start": fmt_date(start_ms),
        "end": fmt_date(end_ms),
        "verdicts": verdicts or _("none"),
    }
    return Chart(
        CHART_WIDTH,
        height,
        CHART_LEFT,
        CHART_WIDTH - CHART_RIGHT,
        tuple(lanes),
        tuple(ticks),
        summary,
    )


def _not_found(request: Request, what: str) -> HTMLResponse:
    return _render(request, "not_found.html", {"title": _("Not found"), "what": what}, status=404)


@router.get("/verifiers/{verifier_id}", response_class=HTMLResponse)
def verifier_page(request: Request, ledger: LedgerDep, verifier_id: str) -> Response:
    """A verifier's accreditation record and track record (``views.verifier``)."""
    views = ledger.views
    missing = _("There is no verifier with the id “%(id)s”.") % {"id": verifier_id[:128]}
    if len(verifier_id) > 128:
        return _not_found(request, missing)
    pinned, now, hit = _pin(request, ledger)
    if hit is not None:
        return hit
    record = views.verifier(verifier_id, at_ms=now, size=pinned.size)
    if record is None:
        return _not_found(request, missing)
    # Only the names this page shows: the companies it judged and the verifiers who differed.
    shown = {verifier_id, *(e.opened.stream for e in record.engagements)}
    shown.update(v.stream for v in record.verdicts)
    shown.update(w.signer for o in record.second_opinions for w in o.disagreed_by)
    shown.update(
        o.provider
        for a in record.accreditations
        if a.independence is not None
        for o in a.independence.other_services
    )
    return _render(
        request,
        "verifier.html",
        {
            "nav": "",
            "title": record.party.name,
            "record": record,
            "names": views.names(shown),
            "at_ms": now,
        },
        ledger=ledger,
        pinned=pinned,
    )


@router.get("/providers/{provider_id}", response_class=HTMLResponse)
def provider_page(request: Request, ledger: LedgerDep, provider_id: str) -> Response:
    """A company's record: claims with their verdicts, a history chart, every entry in order."""
    views = ledger.views
    party: Party | None = views.party(provider_id) if len(provider_id) <= 128 else None
    if party is None or party.role != "provider":
        return _not_found(
            request, _("There is no company with the id “%(id)s”.") % {"id": provider_id[:128]}
        )
    pinned, now, hit = _pin(request, ledger)
    if hit is not None:
        return hit
    if party.registered_at >= pinned.size:  # registered after the checkpoint the page shows
        return _not_found(
            request, _("There is no company with the id “%(id)s”.") % {"id": provider_id[:128]}
        )
    as_of_text = (request.query_params.get("as_of") or "").strip()
    as_of_ms: int | None = None
    problem = None
    if as_of_text:
        try:
            as_of_ms = parse_day(as_of_text)
        except ValueError:
            problem = _("“%(text)s” is not a date (YYYY-MM-DD); showing the present record.") % {
                "text": as_of_text
            }
            as_of_text = ""
    if as_of_ms is not None and as_of_ms >= now:
        as_of_ms, as_of_text = None, ""
    replay = views.replay(provider_id, as_of_ms=as_of_ms, size=pinned.size, at_ms=as_of_ms or now)
    # Only the names this record shows: the page costs the same among 100 or 100,000 companies.
    names = views.names({provider_id, *(f.signer for f in replay.timeline)})
    stored = ledger.stream_entries(provider_id, 0, replay.length)
    where = {f.digest.hex(): f.index for f in replay.timeline}
    bodies = [_statement(e.envelope) for e in stored]
    entries = [
        _entry_view(f, body, names, where, replay.evaluated_at_ms)
        for f, body in zip(replay.timeline, bodies, strict=True)
    ]
    gists = {f.digest: verdict_gist(b) for f, b in zip(replay.timeline, bodies, strict=True)}
    notes = {
        c.digest: ClaimNote(
            c,
            None,
            "deployed" if c.entry.scope is None else c.entry.scope.status,
            None if c.latest_verdict is None else gists.get(c.latest_verdict.digest),
        )
        for c in replay.claims
        if c.status == "active"
    }
    flags = {
        v.digest: fl
        for c in replay.claims
        for v, fl in zip(c.verdicts, c.verdict_flags, strict=True)
    }
    for view in entries:
        view.flags = flags.get(view.fact.digest)
    registered = views.log_time(party.registered_at)
    start = (
        registered
        if registered is not None
        else replay.timeline[0].log_time_ms
        if replay.timeline
        else now
    )
    end = as_of_ms if as_of_ms is not None else now
    chart = build_chart(replay, min(start, end), end)
    genesis = (ledger.state.genesis_hash or b"").hex()
    retired_ms = views.retired_since(provider_id, size=pinned.size)
    if retired_ms is not None and as_of_ms is not None and retired_ms > as_of_ms:
        retired_ms = None  # retired after the date shown
    return _render(
        request,
        "provider.html",
        {
            "nav": "",
            "title": party.name,
            "party": party,
            "replay": replay,
            "notes": notes,
            "entries": entries,
            "chart": chart,
            "as_of": as_of_text,
            "as_of_ms": as_of_ms,
            "now_ms": now,
            "today": fmt_date(now),
            "problem": problem,
            "genesis": genesis,
            "names": names,
            "where": where,
            "registered_ms": start,
            "retired_ms": retired_ms,
        },
        status=400 if problem else 200,
        ledger=ledger,
        pinned=pinned,
    )


# -- the log -------------------------------------------------------------------------------------


@router.get("/log", response_class=HTMLResponse)
def log_page(request: Request, ledger: LedgerDep) -> Response:
    """The latest checkpoint, the log's key, the fingerprints, and how to verify with the CLI."""
    pinned, _now, hit = _pin(request, ledger)
    if hit is not None:
        return hit
    checkpoint = None if pinned.note is None else pinned.note.decode("utf-8")
    state = ledger.state
    authority = ledger.views.party(state.authority or "")
    base = str(request.base_url).rstrip("/")
    return _render(
        request,
        "log.html",
        {
            "nav": "log",
            "title": _("The log"),
            "checkpoint": checkpoint,
            "size": pinned.size,
            "origin": ledger.origin,
            "vkey": ledger.note_verifier.vkey(),
            "authority": authority,
            "genesis": (state.genesis_hash or b"").hex(),
            "base": base,
            "providers": [ledger.views.party(p) for p in ledger.views.provider_ids(limit=1)],
        },
        ledger=ledger,
        pinned=pinned,
    )
