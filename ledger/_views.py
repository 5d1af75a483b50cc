"""Read views over the log: replay as of a date or size, scorecards, search, parties.

The views are projections of the accepted entries, fed by :meth:`Views.apply` in index order
(the ledger does so at open, while catching up, and after every committed batch), so they are
rebuilt from the events after any restart and never stored. Memory is what matters at a million
entries, so each entry is kept as one slotted :class:`EntryFact`: its place in the log, its kind,
signer and digest, and only the few body fields the views need — never the statement itself.

For each stream the facts are kept in index order (positions are list indexes), and a *live*
fold of the whole stream (claims, their tests, verdicts and replies) is updated as entries come
in. Replaying as of a date or a log size bisects the stream's facts for the cut and folds the
prefix with the same code; the fold is over small facts, so a 10,000-entry company replays in a
few milliseconds.

The meaning of a verdict for the public (docs/SPEC.md, ``../shared/DOMAIN.md``): an active claim
version with no verdict, or whose latest verdict had expired (``validUntil`` before the time the
view is evaluated at), is *unverified* — never fine.
"""

from __future__ import annotations

import dataclasses
import functools
import sys
import threading
from array import array
from bisect import bisect_left, bisect_right
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from heapq import heappush, heapreplace
from operator import attrgetter
from typing import Any, Concatenate, ParamSpec, TypeVar

from attest import canonical
from attest.measures import MEASURES
from attest.reconcile import Reconciliation, current_datasets, describe, reconcile
from attest.rules import Placed
from attest.statements import (
    REGISTRY_STREAM,
    AccreditationGrant,
    AccreditationSuspend,
    Claim,
    ClaimWithdraw,
    DumpPublish,
    EngagementClose,
    EngagementOpen,
    EngagementWithdraw,
    Genesis,
    Independence,
    KeyAdd,
    KeyRevoke,
    Kind,
    PartyRegister,
    PartyRetire,
    ProviderReply,
    ReferencePublish,
    TestRecord,
    Verdict,
    format_timestamp,
    parse_statement,
    parse_timestamp,
)
from keys import PublicKey
from ledger._engagements import Engagement, EngagementFact, engagement_fact, engagements_of
from ledger._search import LazyNames, NameHit, SortedKeys, fold
from ledger.errors import CorruptionError

__all__ = [
    "PUBLIC_STATUSES",
    "Accreditation",
    "ClaimScope",
    "ClaimVersion",
    "DatasetCheck",
    "EntryFact",
    "Feed",
    "FeedItem",
    "Finding",
    "LoggedDump",
    "NameResults",
    "Party",
    "PartyKey",
    "Scorecard",
    "ScorecardCell",
    "ScorecardRow",
    "SecondOpinion",
    "StreamReplay",
    "VerdictFlags",
    "VerifierRecord",
    "Views",
    "accreditation_gaps",
    "out_of_accreditation",
]

PUBLIC_STATUSES = (
    "contradicted",
    "no_evidence_found",
    "verifiers_disagree",
    "unverified",
    "inconclusive",
    "confirmed_with_comments",
    "confirmed",
    "no_claim",
)
"""The public status words of a scorecard cell, from least to most favourable (``no_claim``
aside: the provider claims nothing for the measure). A cell with several active claim versions
shows the least favourable of their statuses. ``verifiers_disagree``: two verifiers' standing
verdicts on one claim version point different ways (see :func:`disagreement`)."""

_FAVOURABLE = frozenset({"CONFIRMED", "CONFIRMED_WITH_COMMENTS"})
_UNFAVOURABLE = frozenset({"CONTRADICTED", "NO_EVIDENCE_FOUND"})
VERDICT_RESULTS = (
    "CONFIRMED",
    "CONFIRMED_WITH_COMMENTS",
    "INCONCLUSIVE",
    "NO_EVIDENCE_FOUND",
    "CONTRADICTED",
)


def _side(result: str | None) -> int:
    """+1 for a favourable verdict, -1 for an unfavourable one, 0 for one that takes no side."""
    return 1 if result in _FAVOURABLE else -1 if result in _UNFAVOURABLE else 0


_RANK = {s: i for i, s in enumerate(PUBLIC_STATUSES)}

_CLAIM_KINDS = frozenset({Kind.CLAIM_PUBLISH.value, Kind.CLAIM_SUPERSEDE.value})
_ENGAGEMENT_ENDS = frozenset({Kind.ENGAGEMENT_CLOSE.value, Kind.ENGAGEMENT_WITHDRAW.value})
_VERIFIER_KINDS = frozenset({Kind.TEST_RECORD.value, Kind.VERDICT_ISSUE.value})
_FEED_REGISTRY_KINDS = frozenset(
    {Kind.ACCREDITATION_SUSPEND.value, Kind.KEY_REVOKE.value, Kind.PARTY_RETIRE.value}
)
FEED_KINDS = frozenset(
    {
        *_CLAIM_KINDS,
        *_VERIFIER_KINDS,
        *_FEED_REGISTRY_KINDS,
        Kind.CLAIM_WITHDRAW.value,
        Kind.PROVIDER_REPLY.value,
    }
)
"""The kinds of entry a feed carries (besides verdicts about to expire)."""
DAY_MS = 86_400_000
_by_index = attrgetter("index")

_NEWEST = 512
"""How many of the newest entries' facts the views keep apart from their streams' parts."""


def _iso(ms: int) -> str:
    """RFC 3339 UTC, whole seconds (as in receipts; the exact value is in the ``…Ms`` member)."""
    return format_timestamp(ms - ms % 1000)


def _intern(s: str) -> str:
    return sys.intern(s)


# Facts read enum members' ``_value_`` (the member's value, as the enum documentation names it)
# rather than ``.value``, a Python-level property: several reads per entry, on every append and
# at every open.


# -- facts ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ClaimScope:
    """What a claim version covers: the caveats the public page shows next to its verdict.

    Attributes:
        surfaces: surfaces covered.
        excluded_surfaces: ``(surface, reason)`` for each surface the claim says it does not cover.
        jurisdictions: ISO 3166-1 alpha-2 codes or ``GLOBAL``.
        population: ``all_users``, ``under_18`` or ``ages_<min>-<max>``.
        status: the deployment status the provider states: deployed, pilot, planned, discontinued.
        effective_from: date the claim takes effect (``YYYY-MM-DD``).
        effective_until: date it ends, if stated.
        services: the services the claim names (a company runs several; a claim covers some).
    """

    surfaces: tuple[str, ...]
    excluded_surfaces: tuple[tuple[str, str], ...]
    jurisdictions: tuple[str, ...]
    population: str
    status: str
    effective_from: str
    effective_until: str | None
    services: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON, camelCase keys."""
        return {
            "services": list(self.services),
            "surfaces": list(self.surfaces),
            "excludedSurfaces": [{"surface": s, "reason": r} for s, r in self.excluded_surfaces],
            "jurisdictions": list(self.jurisdictions),
            "population": self.population,
            "status": self.status,
            "effectiveFrom": self.effective_from,
            "effectiveUntil": self.effective_until,
        }


@dataclass(frozen=True, slots=True)
class EntryFact:
    """One accepted entry, reduced to what the views need.

    Attributes:
        index: global log index.
        stream: the stream (``registry`` or a provider's party id).
        position: position in the stream.
        log_time_ms: the log's time for the entry.
        kind: the statement kind.
        signer: the signing party.
        digest: SHA-256 of the statement payload (SPEC §3.4), 32 bytes.
        measure: the claim's measure; for withdrawals, tests, verdicts and replies the measure of
            the claim version they concern.
        claim: the claim version a withdrawal, test record or verdict is about.
        supersedes: the claim version a ``claim.supersede`` replaces.
        verdict: the verdict a provider reply answers.
        tests: the test records a verdict rests on.
        result: a test record's or verdict's result.
        valid_until_ms: a verdict's ``validUntil``, or an accreditation's.
        scope: a claim's scope.
        party: the party a registry statement is about (genesis: the authority).
        key_id: the key id that signed a verdict (to flag verdicts whose key was revoked later).
        engagement: an engagement's plan (``engagement.open``), or the engagement a test record,
            verdict, close or withdrawal names (``None`` for a legacy test record or verdict).
        recommendations: a ``CONFIRMED_WITH_COMMENTS`` verdict's recommendations (each opens a
            finding; other verdicts keep none here).
        commitments: a provider reply's commitments: (action, due date, recommendation index
            or ``None``), in order.
        valid_from_ms: an accreditation grant's ``validFrom`` (the start of its period).
    """

    index: int
    stream: str
    position: int
    log_time_ms: int
    kind: str
    signer: str
    digest: bytes
    measure: str | None = None
    claim: bytes | None = None
    supersedes: bytes | None = None
    verdict: bytes | None = None
    tests: tuple[bytes, ...] = ()
    result: str | None = None
    valid_until_ms: int | None = None
    scope: ClaimScope | None = None
    party: str | None = None
    key_id: str | None = None
    engagement: EngagementFact | None = None
    recommendations: tuple[str, ...] = ()
    commitments: tuple[tuple[str, str, int | None], ...] = ()
    valid_from_ms: int | None = None

    @property
    def title(self) -> str:
        """A short plain-language title for timelines."""
        k = self.kind
        spec = MEASURES.get(self.measure or "")
        what = spec.title if spec is not None else (self.measure or "")
        titles = {
            Kind.GENESIS.value: "Ledger created",
            Kind.PARTY_REGISTER.value: f"{self.party} registered",
            Kind.KEY_ADD.value: f"Key added for {self.party}",
            Kind.KEY_REVOKE.value: f"Key of {self.party} revoked",
            Kind.ACCREDITATION_GRANT.value: f"{self.party} accredited",
            Kind.ACCREDITATION_SUSPEND.value: f"Accreditation of {self.party} suspended",
            Kind.PARTY_RETIRE.value: f"{self.party} retired",
            Kind.LOG_KEY_ROTATE.value: "Log key rotated",
            Kind.CLAIM_PUBLISH.value: f"Claim: {what}",
            Kind.CLAIM_SUPERSEDE.value: f"Claim updated: {what}",
            Kind.CLAIM_WITHDRAW.value: f"Claim withdrawn: {what}",
            Kind.TEST_RECORD.value: f"Test {self.result}: {what}",
            Kind.VERDICT_ISSUE.value: f"Verdict {self.result}: {what}",
            Kind.PROVIDER_REPLY.value: f"Reply to a verdict: {what}",
            Kind.ENGAGEMENT_OPEN.value: f"Engagement opened by {self.signer}",
            Kind.ENGAGEMENT_CLOSE.value: f"Engagement closed by {self.signer}",
            Kind.ENGAGEMENT_WITHDRAW.value: f"Engagement withdrawn by {self.signer}",
            Kind.REFERENCE_PUBLISH.value: "Reference dataset logged",
            Kind.DUMP_PUBLISH.value: "Open-data dump logged",
        }
        return titles.get(k, k)

    def expired_at(self, at_ms: int) -> bool:
        """Whether this verdict's ``validUntil`` is before ``at_ms``."""
        return self.valid_until_ms is not None and self.valid_until_ms < at_ms

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON: camelCase keys, hashes as hex, times RFC 3339 (and exact ms)."""
        out: dict[str, Any] = {
            "index": self.index,
            "stream": self.stream,
            "position": self.position,
            "logTime": _iso(self.log_time_ms),
            "logTimeMs": self.log_time_ms,
            "kind": self.kind,
            "signer": self.signer,
            "digest": self.digest.hex(),
            "title": self.title,
        }
        if self.measure is not None:
            out["measure"] = self.measure
        if self.claim is not None:
            out["claim"] = self.claim.hex()
        if self.supersedes is not None:
            out["supersedes"] = self.supersedes.hex()
        if self.verdict is not None:
            out["verdict"] = self.verdict.hex()
        if self.tests:
            out["tests"] = [t.hex() for t in self.tests]
        if self.result is not None:
            out["result"] = self.result
        if self.valid_until_ms is not None:
            out["validUntil"] = _iso(self.valid_until_ms)
        if self.scope is not None:
            out["scope"] = self.scope.to_dict()
        if self.party is not None:
            out["party"] = self.party
        if self.key_id is not None:
            out["keyId"] = self.key_id
        if self.engagement is not None and self.engagement.ref is not None:
            out["engagement"] = self.engagement.ref.hex()
        elif self.kind in _ENGAGED_KINDS:
            out["noEngagement"] = True  # a legacy test record or verdict (SPEC §8.2 rule 7)
        return out


_ENGAGED_KINDS = frozenset({Kind.TEST_RECORD.value, Kind.VERDICT_ISSUE.value})


def _scope(body: Claim) -> ClaimScope:
    pop = body.population
    population = (
        f"ages_{pop.age_band.min}-{pop.age_band.max}"
        if pop.age_band is not None
        else pop.kind._value_
    )
    return ClaimScope(
        surfaces=tuple(_intern(s._value_) for s in body.surfaces),
        excluded_surfaces=tuple(
            (_intern(e.surface._value_), e.reason) for e in body.excluded_surfaces
        ),
        jurisdictions=tuple(_intern(j) for j in body.jurisdictions),
        population=_intern(population),
        status=_intern(body.status._value_),
        effective_from=body.effective_from,
        effective_until=body.effective_until,
        services=tuple(_intern(n) for n in body.services),
    )


# -- the fold of one provider stream ----------------------------------------------------------


class _ClaimState:
    __slots__ = ("ended_by", "fact", "replies", "status", "tests", "verdicts")

    def __init__(self, fact: EntryFact) -> None:
        self.fact = fact
        self.status = "active"
        self.ended_by: EntryFact | None = None
        self.tests: list[EntryFact] = []
        self.verdicts: list[EntryFact] = []
        self.replies: list[EntryFact] = []


class _Record:
    """The state of one provider's record: its claim versions with tests, verdicts, replies."""

    __slots__ = ("claims", "verdict_claim")

    def __init__(self) -> None:
        self.claims: dict[bytes, _ClaimState] = {}
        self.verdict_claim: dict[bytes, bytes] = {}

    def apply(self, f: EntryFact) -> None:
        k = f.kind
        claims = self.claims
        if k in _CLAIM_KINDS:
            if f.supersedes is not None:
                old = claims.get(f.supersedes)
                if old is not None:
                    old.status, old.ended_by = "superseded", f
            claims[f.digest] = _ClaimState(f)
        elif k == Kind.CLAIM_WITHDRAW.value:
            c = claims.get(f.claim)  # type: ignore[arg-type]
            if c is not None:
                c.status, c.ended_by = "withdrawn", f
        elif k == Kind.TEST_RECORD.value:
            c = claims.get(f.claim)  # type: ignore[arg-type]
            if c is not None:
                c.tests.append(f)
        elif k == Kind.VERDICT_ISSUE.value:
            c = claims.get(f.claim)  # type: ignore[arg-type]
            if c is not None:
                c.verdicts.append(f)
                self.verdict_claim[f.digest] = f.claim  # type: ignore[assignment]
        elif k == Kind.PROVIDER_REPLY.value:
            c = claims.get(self.verdict_claim.get(f.verdict, b""))  # type: ignore[arg-type]
            if c is not None:
                c.replies.append(f)

    def measure_of(self, digest: bytes | None) -> str | None:
        c = self.claims.get(digest) if digest is not None else None
        return None if c is None else c.fact.measure

    def versions(
        self, at_ms: int, flags: Callable[[EntryFact], VerdictFlags] | None
    ) -> tuple[ClaimVersion, ...]:
        return tuple(_version(c, at_ms, flags) for c in self.claims.values())


def _public_status(latest: EntryFact | None, at_ms: int) -> str:
    if latest is None or latest.result is None or latest.expired_at(at_ms):
        return "unverified"
    return latest.result.lower()


def disagreement(
    verdicts: Sequence[EntryFact], flags: Sequence[VerdictFlags], at_ms: int
) -> tuple[EntryFact, ...]:
    """The verdicts on one claim version that point different ways, in log order, else ``()``.

    The rule of reading (SPEC §8.2, "verifiers disagree"): each verifier's *standing* verdict
    on the version is its latest one (a verifier that revises itself does not disagree with
    itself); a standing verdict counts unless it expired at ``at_ms`` or its key was stated
    compromised at the time (it confirms nothing). Verifiers disagree when one counted standing
    verdict is ``CONFIRMED``/``CONFIRMED_WITH_COMMENTS`` and another's is ``CONTRADICTED``/
    ``NO_EVIDENCE_FOUND``; then every counted standing verdict of either side is returned, so
    the public sees both and the newest is never silently picked. ``INCONCLUSIVE`` takes no side.
    """
    if len(verdicts) < 2:
        return ()
    standing: dict[str, tuple[EntryFact, VerdictFlags]] = {}
    for v, f in zip(verdicts, flags, strict=True):
        standing[v.signer] = (v, f)
    sides = [
        v
        for v, f in standing.values()
        if (v.result in _FAVOURABLE or v.result in _UNFAVOURABLE)
        and not v.expired_at(at_ms)
        and not f.not_current
    ]
    if not (
        any(v.result in _FAVOURABLE for v in sides)
        and any(v.result in _UNFAVOURABLE for v in sides)
    ):
        return ()
    return tuple(sorted(sides, key=_by_index))


def _version(
    c: _ClaimState, at_ms: int, flags: Callable[[EntryFact], VerdictFlags] | None
) -> ClaimVersion:
    latest = c.verdicts[-1] if c.verdicts else None
    verdict_flags = (
        (NO_FLAGS,) * len(c.verdicts) if flags is None else tuple(map(flags, c.verdicts))
    )
    status = _public_status(latest, at_ms)
    if verdict_flags and verdict_flags[-1].not_current:
        # not to be relied on (SPEC §8.2 rule 5), or made outside its verifier's accreditation
        # periods (SPEC §8.2, "accreditation periods"): it confirms nothing
        status = "unverified"
    disagree = disagreement(c.verdicts, verdict_flags, at_ms)
    if disagree:
        status = "verifiers_disagree"  # never the newest alone (SPEC §8.2, "verifiers disagree")
    return ClaimVersion(
        entry=c.fact,
        status=c.status,
        ended_by=c.ended_by,
        tests=tuple(c.tests),
        verdicts=tuple(c.verdicts),
        replies=tuple(c.replies),
        latest_verdict=latest,
        latest_verdict_expired=None if latest is None else latest.expired_at(at_ms),
        public_status=status,
        verdict_flags=verdict_flags,
        disagreement=disagree,
    )


# -- results ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class VerdictFlags:
    """What the registry recorded about a verdict's signer *after* the verdict, before a cut.

    A verdict stays what it was when it was issued (the rules accepted it from an accredited
    verifier with a valid key), and it still counts as the claim's latest verdict; these flags
    tell the public that its author's standing changed since.

    Attributes:
        suspended: the first ``accreditation.suspend`` of the verdict's signer logged after the
            verdict (and before the view's cut), if any.
        revoked: the ``key.revoke`` of the key that signed the verdict, if it was logged before
            the view's cut (a revoked key signs nothing later, so it is always after).
        compromised: that same revocation, if it states the key compromised since an index or
            time the verdict is at or after (SPEC §8.2 rule 5): the verdict is then not to be
            relied on, and a claim whose latest verdict it is reads ``unverified``.
        outside: why the verdict does not count as current, if its log time lies in no
            accreditation period of its verifier (a gap between periods, or before or after
            them: SPEC §8.2, "accreditation periods"); a claim whose latest verdict it is reads
            ``unverified``.
    """

    suspended: EntryFact | None = None
    revoked: EntryFact | None = None
    compromised: EntryFact | None = None
    outside: str | None = None

    @property
    def not_current(self) -> bool:
        """The verdict confirms nothing: signed with a key since stated compromised, or made
        outside every accreditation period of its verifier."""
        return self.compromised is not None or self.outside is not None

    @property
    def verifier_suspended(self) -> bool:
        """The verifier's accreditation was suspended after the verdict."""
        return self.suspended is not None

    @property
    def key_revoked(self) -> bool:
        """The key that signed the verdict was revoked later."""
        return self.revoked is not None

    @property
    def key_compromised(self) -> bool:
        """The verdict was signed with a key the authority since stated compromised at the time."""
        return self.compromised is not None

    @property
    def flagged(self) -> bool:
        """Any flag is set."""
        return self.suspended is not None or self.revoked is not None or self.outside is not None

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON: the two flags, each with the index and log time of the registry entry."""
        s, r = self.suspended, self.revoked
        return {
            "verifierSuspended": s is not None,
            "verifierSuspendedIndex": None if s is None else s.index,
            "verifierSuspendedAt": None if s is None else _iso(s.log_time_ms),
            "keyRevoked": r is not None,
            "keyRevokedIndex": None if r is None else r.index,
            "keyRevokedAt": None if r is None else _iso(r.log_time_ms),
            "keyCompromised": self.compromised is not None,
            "outOfAccreditation": self.outside,
        }


NO_FLAGS = VerdictFlags()


@dataclass(frozen=True, slots=True)
class ClaimVersion:
    """One claim version as it stood at the cut of a replay.

    Attributes:
        entry: the claim's entry (``claim.publish`` or ``claim.supersede``).
        status: ``active``, ``withdrawn`` or ``superseded``.
        ended_by: the entry that withdrew or superseded it, if any.
        tests: its test records, in log order.
        verdicts: the verdicts on it, in log order.
        replies: the provider's replies to those verdicts.
        latest_verdict: the last verdict on it, if any.
        latest_verdict_expired: whether that verdict's ``validUntil`` is before the time the
            replay was evaluated at (``None`` without a verdict).
        public_status: ``unverified`` (no verdict, or the latest one expired) or the latest
            verdict's result in lower case (``confirmed``, ``confirmed_with_comments``,
            ``no_evidence_found``, ``contradicted``, ``inconclusive``). A flagged verdict (see
            ``verdict_flags``) still counts.
        verdict_flags: for each verdict (same order), whether its verifier was suspended or
            its key revoked later, as the registry stood at the replay's cut.
        disagreement: the verdicts of verifiers that disagree on this version (see
            :func:`disagreement`), in log order; then ``public_status`` is
            ``verifiers_disagree``.
    """

    entry: EntryFact
    status: str
    ended_by: EntryFact | None
    tests: tuple[EntryFact, ...]
    verdicts: tuple[EntryFact, ...]
    replies: tuple[EntryFact, ...]
    latest_verdict: EntryFact | None
    latest_verdict_expired: bool | None
    public_status: str
    verdict_flags: tuple[VerdictFlags, ...] = ()
    disagreement: tuple[EntryFact, ...] = ()

    @property
    def latest_verdict_flags(self) -> VerdictFlags:
        """The flags of the latest verdict (none without a verdict)."""
        return self.verdict_flags[-1] if self.verdict_flags else NO_FLAGS

    @property
    def digest(self) -> bytes:
        """The claim version's digest."""
        return self.entry.digest

    @property
    def measure(self) -> str:
        """The claim's measure."""
        return self.entry.measure or ""

    def _flags(self) -> tuple[VerdictFlags, ...]:
        return self.verdict_flags or (NO_FLAGS,) * len(self.verdicts)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON, camelCase keys."""
        scope = self.entry.scope
        latest = self.latest_verdict
        return {
            "digest": self.digest.hex(),
            "measure": self.measure,
            "title": MEASURES[self.measure].title if self.measure in MEASURES else self.measure,
            "status": self.status,
            "supersededBy": (
                self.ended_by.digest.hex()
                if self.ended_by is not None and self.status == "superseded"
                else None
            ),
            "endedBy": None if self.ended_by is None else self.ended_by.to_dict(),
            "scope": None if scope is None else scope.to_dict(),
            "index": self.entry.index,
            "position": self.entry.position,
            "logTime": _iso(self.entry.log_time_ms),
            "logTimeMs": self.entry.log_time_ms,
            "signer": self.entry.signer,
            "publicStatus": self.public_status,
            "latestVerdict": (
                None
                if latest is None
                else {
                    **latest.to_dict(),
                    "expired": bool(self.latest_verdict_expired),
                    **self.latest_verdict_flags.to_dict(),
                }
            ),
            "tests": [t.to_dict() for t in self.tests],
            "verdicts": [
                {**v.to_dict(), **f.to_dict()}
                for v, f in zip(self.verdicts, self._flags(), strict=True)
            ],
            "replies": [r.to_dict() for r in self.replies],
            "disagreement": [_verdict_link(v) for v in self.disagreement],
        }


def _verdict_link(v: EntryFact) -> dict[str, Any]:
    """A verdict as a cell links it: where it is, who signed it, what it says."""
    return {
        "digest": v.digest.hex(),
        "index": v.index,
        "logTime": _iso(v.log_time_ms),
        "verifier": v.signer,
        "result": v.result,
    }


@dataclass(frozen=True, slots=True)
class Commitment:
    """An action a provider's reply committed to, answering one finding (issue 17 §2).

    Attributes:
        reply: the ``provider.reply`` that made it.
        action: what the provider will do.
        due: the date it is due by (``YYYY-MM-DD``, UTC).
        overdue: its finding is still open and the view's time is on a later day than ``due``
            (SPEC §8.2, findings).
    """

    reply: EntryFact
    action: str
    due: str
    overdue: bool

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON."""
        return {
            "reply": self.reply.digest.hex(),
            "replyIndex": self.reply.index,
            "madeAt": _iso(self.reply.log_time_ms),
            "action": self.action,
            "due": self.due,
            "overdue": self.overdue,
        }


def commitment_overdue(due: str, at_ms: int) -> bool:
    """Whether a commitment due on ``due`` (a date) is past due at ``at_ms``: the whole due day
    (UTC) has passed."""
    return at_ms >= parse_timestamp(f"{due}T00:00:00Z") + DAY_MS


@dataclass(frozen=True, slots=True)
class Finding:
    """A finding opened by a verdict, tracked to closure (issue 17 §2).

    Attributes:
        verdict: the verdict that opened it (``CONTRADICTED``, ``NO_EVIDENCE_FOUND``, or a
            ``CONFIRMED_WITH_COMMENTS`` with recommendations: one finding per recommendation).
        claim: the claim version it is about.
        recommendation: the recommendation it tracks (``None`` for an unfavourable verdict).
        closed_by: the first verdict after ``verdict``, by an accredited verifier, on a newer
            version of that claim (down its supersedes chain), if one was logged by the cut.
        recommendation_index: which of the verdict's recommendations (``None``: unfavourable).
        commitments: what the provider's replies to the verdict committed to for this finding,
            in log order, judged (overdue or not) at the view's time.
        at_ms: the time the view judges it at (its age is counted to it).
    """

    verdict: EntryFact
    claim: bytes
    recommendation: str | None
    closed_by: EntryFact | None
    recommendation_index: int | None = None
    commitments: tuple[Commitment, ...] = ()
    at_ms: int = 0

    @property
    def open(self) -> bool:
        """No verdict on a newer claim version closed it yet."""
        return self.closed_by is None

    @property
    def overdue(self) -> bool:
        """Open with a commitment past its due date."""
        return any(c.overdue for c in self.commitments)

    @property
    def age_days(self) -> int:
        """Whole days from the verdict that opened it to its closing verdict, or to the view's
        time while it is open."""
        end = self.at_ms if self.closed_by is None else self.closed_by.log_time_ms
        return max(0, end - self.verdict.log_time_ms) // DAY_MS

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON: the verdicts as a cell links them."""
        c = self.closed_by
        return {
            "status": "open" if c is None else "closed",
            "claim": self.claim.hex(),
            "measure": self.verdict.measure,
            "verdict": _verdict_link(self.verdict),
            "openedAt": _iso(self.verdict.log_time_ms),
            "ageDays": self.age_days,
            "recommendation": self.recommendation,
            "recommendationIndex": self.recommendation_index,
            "commitments": [x.to_dict() for x in self.commitments],
            "overdue": self.overdue,
            "closedBy": None if c is None else _verdict_link(c),
            "closedAt": None if c is None else _iso(c.log_time_ms),
        }


def findings_of(claims: Sequence[ClaimVersion], at_ms: int = 0) -> tuple[Finding, ...]:
    """The findings of one company's claim versions (a replay's, in log order), by verdict order,
    judged at ``at_ms`` (their age, and whether a commitment is overdue).

    A ``CONTRADICTED`` or ``NO_EVIDENCE_FOUND`` verdict opens one finding, a
    ``CONFIRMED_WITH_COMMENTS`` verdict one per recommendation. A finding closes with the first
    later verdict on a newer version of its claim: one that supersedes it, directly or down the
    chain (a verdict is only accepted from a verifier accredited for the measure, SPEC §8.2
    rule 6).
    A verdict on the same version does not close it: the company has not changed what it claims.
    The provider's replies to the verdict carry its commitments, each naming the finding it
    answers (a recommendation's index, or none for an unfavourable verdict's one finding).
    """
    successor = {c.entry.supersedes: c for c in claims if c.entry.supersedes is not None}
    out: list[Finding] = []
    for c in claims:
        opened: list[tuple[EntryFact, int | None]] = []
        for v in c.verdicts:
            if v.result in _UNFAVOURABLE:
                opened.append((v, None))
            else:
                opened.extend((v, i) for i in range(len(v.recommendations)))
        if not opened:
            continue
        newer: list[EntryFact] = []
        nxt = successor.get(c.digest)
        while nxt is not None:
            newer.extend(nxt.verdicts)
            nxt = successor.get(nxt.digest)
        newer.sort(key=_by_index)
        for v, i in opened:
            closer = next((w for w in newer if w.index > v.index), None)
            promised = tuple(
                Commitment(r, action, due, closer is None and commitment_overdue(due, at_ms))
                for r in c.replies
                if r.verdict == v.digest
                for action, due, answers in r.commitments
                if answers == i
            )
            text = None if i is None else v.recommendations[i]
            out.append(Finding(v, c.digest, text, closer, i, promised, at_ms))
    out.sort(key=_finding_order)
    return tuple(out)


def _finding_order(f: Finding) -> int:
    return f.verdict.index


@dataclass(frozen=True, slots=True)
class StreamReplay:
    """A company's record as it stood at a date or log size.

    Attributes:
        stream: the provider's party id.
        as_of_ms: the date cut (entries with log time ≤ it), if one was asked for.
        size: the log-size cut (entries with index < it), if one was asked for.
        evaluated_at_ms: the time verdict expiry is judged at: the caller's ``at_ms``, else
            ``as_of_ms``, else the log time of the last entry of the log before the cut.
        claims: every claim version published by then, in log order.
        timeline: every entry of the stream before the cut, in order.
        engagements: every engagement opened by then, in log order, judged (overdue or not)
            at ``evaluated_at_ms``.
        findings: every finding opened by then, in log order (:func:`findings_of`).
        reconciliations: each current reference dataset logged by then, compared with the
            provider's active ``report.authority`` claim versions (SPEC §8.4), in log order.
    """

    stream: str
    as_of_ms: int | None
    size: int | None
    evaluated_at_ms: int
    claims: tuple[ClaimVersion, ...]
    timeline: tuple[EntryFact, ...]
    engagements: tuple[Engagement, ...] = ()
    findings: tuple[Finding, ...] = ()
    reconciliations: tuple[DatasetCheck, ...] = ()

    @property
    def length(self) -> int:
        """Entries in the stream before the cut."""
        return len(self.timeline)

    @property
    def finding_counts(self) -> dict[str, int]:
        """Findings open and closed, open ones with a commitment past due (``overdue``), and
        commitments past due (``commitmentsOverdue``), at the replay's time."""
        return {
            "open": sum(f.open for f in self.findings),
            "closed": sum(not f.open for f in self.findings),
            "overdue": sum(f.overdue for f in self.findings),
            "commitmentsOverdue": sum(c.overdue for f in self.findings for c in f.commitments),
        }

    def claim(self, digest: bytes) -> ClaimVersion:
        """The claim version with this digest (``KeyError`` if none)."""
        for c in self.claims:
            if c.digest == digest:
                return c
        raise KeyError(digest.hex())

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON, camelCase keys."""
        return {
            "stream": self.stream,
            "asOf": None if self.as_of_ms is None else _iso(self.as_of_ms),
            "asOfMs": self.as_of_ms,
            "size": self.size,
            "evaluatedAt": _iso(self.evaluated_at_ms),
            "evaluatedAtMs": self.evaluated_at_ms,
            "length": self.length,
            "claims": [c.to_dict() for c in self.claims],
            "timeline": [f.to_dict() for f in self.timeline],
            "engagements": [e.to_dict() for e in self.engagements],
            "findings": [f.to_dict() for f in self.findings],
            "findingCounts": self.finding_counts,
            "reconciliations": [r.to_dict() for r in self.reconciliations],
        }


@dataclass(frozen=True, slots=True)
class DatasetCheck:
    """A reference dataset (``reference.publish``) and its reconciliation with one provider.

    Attributes:
        index: the dataset's log index.
        digest: its statement digest.
        log_time_ms: its log time.
        dataset: the logged body.
        result: the outcome of :func:`attest.reconcile.reconcile` for the provider.
    """

    index: int
    digest: bytes
    log_time_ms: int
    dataset: ReferencePublish
    result: Reconciliation

    @property
    def words(self) -> tuple[str, str]:
        """The outcome's label and sentence (``attest/reconciliation.json``)."""
        return describe(self.result, self.dataset)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON: the dataset's identity and source, the result, and its words."""
        d = self.dataset
        label, text = self.words
        return {
            "index": self.index,
            "digest": self.digest.hex(),
            "logTime": _iso(self.log_time_ms),
            "dataset": d.dataset,
            "recipient": d.recipient,
            "unit": d.unit.value,
            "period": d.period.to_dict(),
            "source": d.source.to_dict(),
            **self.result.to_dict(),
            "label": label,
            "text": text,
        }


@dataclass(frozen=True, slots=True)
class LoggedDump:
    """An open-data dump the authority logged (``dump.publish``): its entry and body."""

    index: int
    digest: bytes
    log_time_ms: int
    dump: DumpPublish

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON: the entry and the pinned files."""
        return {
            "index": self.index,
            "digest": self.digest.hex(),
            "logTime": _iso(self.log_time_ms),
            **self.dump.to_dict(),
        }


@dataclass(frozen=True, slots=True)
class ScorecardCell:
    """One provider x measure cell.

    Attributes:
        provider: the provider's party id.
        measure: the measure type.
        status: one of :data:`PUBLIC_STATUSES`: ``no_claim`` without an active claim version,
            else the least favourable public status of the active versions.
        claims: the active claim versions for the measure, newest first.

    A verdict whose verifier was suspended (or whose key was revoked) after it still decides its
    claim's status: the cell is not silently changed, it is *marked* (:attr:`verifier_suspended`,
    :attr:`key_revoked`) so the public sees the status rests on such a verdict.
    """

    provider: str
    measure: str
    status: str
    claims: tuple[ClaimVersion, ...]

    def _counted(self) -> Iterable[VerdictFlags]:
        """The flags of the latest verdicts that decide a status (not expired)."""
        return (
            c.latest_verdict_flags
            for c in self.claims
            if c.latest_verdict is not None and not c.latest_verdict_expired
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
        """A claim here reads ``unverified`` because its latest verdict was signed with a key since
        stated compromised (SPEC §8.2 rule 5)."""
        return any(f.key_compromised for f in self._counted())

    @property
    def out_of_accreditation(self) -> bool:
        """A claim here reads ``unverified`` because its latest verdict was made outside every
        accreditation period of its verifier (SPEC §8.2, "accreditation periods")."""
        return any(f.outside is not None for f in self._counted())

    @property
    def verifiers_disagree(self) -> bool:
        """Verifiers disagree on a claim version here (its ``disagreement`` links the verdicts)."""
        return any(c.disagreement for c in self.claims)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON: each claim with its scope caveats and latest verdict, compactly."""
        out = []
        for c in self.claims:
            v = c.latest_verdict
            out.append(
                {
                    "digest": c.digest.hex(),
                    "index": c.entry.index,
                    "logTime": _iso(c.entry.log_time_ms),
                    "status": c.public_status,
                    "scope": None if c.entry.scope is None else c.entry.scope.to_dict(),
                    "verdict": None
                    if v is None
                    else {
                        "digest": v.digest.hex(),
                        "index": v.index,
                        "logTime": _iso(v.log_time_ms),
                        "verifier": v.signer,
                        "result": v.result,
                        "validUntil": None if v.valid_until_ms is None else _iso(v.valid_until_ms),
                        "expired": bool(c.latest_verdict_expired),
                        **c.latest_verdict_flags.to_dict(),
                    },
                    "replies": len(c.replies),
                    "disagreement": [_verdict_link(d) for d in c.disagreement],
                }
            )
        return {
            "provider": self.provider,
            "measure": self.measure,
            "status": self.status,
            "verifierSuspended": self.verifier_suspended,
            "keyRevoked": self.key_revoked,
            "keyCompromised": self.key_compromised,
            "outOfAccreditation": self.out_of_accreditation,
            "verifiersDisagree": self.verifiers_disagree,
            "claims": out,
        }


@dataclass(frozen=True, slots=True)
class ScorecardRow:
    """One provider's row (or one of its services'): cells in the order of
    :attr:`Scorecard.measures`.

    A service's row (``service`` set) counts only the provider's active claim versions that name
    the service; ``name`` is still the company's name.

    ``overdue_engagements`` (digests, log order), ``open_findings`` and ``overdue_commitments``
    are the company's (a service's row repeats them), judged at the scorecard's time
    (issue 17 §1, §2): an engagement past its window with no verdict or withdrawal, findings not
    yet closed, commitments past their due date while their finding is open.
    """

    provider: str
    name: str
    jurisdiction: str | None
    cells: tuple[ScorecardCell, ...]
    service: str | None = None
    overdue_engagements: tuple[bytes, ...] = ()
    open_findings: int = 0
    overdue_commitments: int = 0

    @property
    def key(self) -> tuple[str, ...]:
        """Where the row sorts: ``(provider,)`` or ``(provider, service)``."""
        return (self.provider,) if self.service is None else (self.provider, self.service)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON, camelCase keys (``service`` only on a service's row)."""
        out: dict[str, Any] = {
            "provider": self.provider,
            "name": self.name,
            "jurisdiction": self.jurisdiction,
        }
        if self.service is not None:
            out["service"] = self.service
        out["engagementsOverdue"] = [d.hex() for d in self.overdue_engagements]
        out["findingsOpen"] = self.open_findings
        out["commitmentsOverdue"] = self.overdue_commitments
        out["cells"] = [c.to_dict() for c in self.cells]
        return out


@dataclass(frozen=True, slots=True)
class Scorecard:
    """Providers x measures, as the log stood at a cut, with verdict expiry judged at ``at_ms``.

    Attributes:
        at_ms: the time verdict expiry is judged at.
        as_of_ms: the date cut, if any.
        size: the log-size cut, if any.
        measures: the measure vocabulary, in its order (the columns), or the one measure asked.
        rows: one row per provider registered before the cut, by party id (or per service, by
            provider and service name), as many as the page holds.
        next: the key of the last row examined when the page stopped early (more rows may
            follow: pass it as ``after``), else ``None``.
    """

    at_ms: int
    as_of_ms: int | None
    size: int | None
    measures: tuple[str, ...]
    rows: tuple[ScorecardRow, ...]
    next: tuple[str, ...] | None = None

    def cell(self, provider: str, measure: str) -> ScorecardCell:
        """The cell of ``provider`` x ``measure`` (``KeyError`` if none)."""
        for row in self.rows:
            if row.provider == provider:
                for c in row.cells:
                    if c.measure == measure:
                        return c
        raise KeyError((provider, measure))

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON, camelCase keys."""
        return {
            "at": _iso(self.at_ms),
            "atMs": self.at_ms,
            "asOf": None if self.as_of_ms is None else _iso(self.as_of_ms),
            "asOfMs": self.as_of_ms,
            "size": self.size,
            "measures": [{"measure": m, "title": MEASURES[m].title} for m in self.measures],
            "rows": [r.to_dict() for r in self.rows],
        }


@dataclass(frozen=True, slots=True)
class FeedItem:
    """One item of a feed: an entry, or a verdict entering its last days of validity.

    Attributes:
        fact: the entry (for an ``expiring`` item: the verdict).
        expiring: whether the item says the verdict expires soon, rather than reporting the entry.
        index: where the item sits in the log, which orders the feed: the entry's index; for an
            expiring item, the first entry logged once the verdict was within the window of its
            ``validUntil`` (or the verdict itself, if it was issued within it).
        log_time_ms: the log time at ``index`` (the item's ``updated`` time).
    """

    fact: EntryFact
    expiring: bool
    index: int
    log_time_ms: int


@dataclass(frozen=True, slots=True)
class Feed:
    """The newest events of the log (or of one company), as the log stood at a size.

    Attributes:
        stream: the company, or ``None`` for the whole log.
        size: the log size the feed was made at.
        time_ms: the log time of the last entry below ``size``: the feed's time. Expiry is
            judged at it, never at a wall clock, so a feed is a function of the log's prefix.
        items: newest first (by ``index``; an expiring item before the entry at the same index).
    """

    stream: str | None
    size: int
    time_ms: int
    items: tuple[FeedItem, ...]


@dataclass(frozen=True, slots=True)
class NameResults:
    """A page of a name search (:meth:`Views.find_names`).

    Attributes:
        query: the query as folded (no accents, case folded, one space between words).
        hits: companies and services whose name has a word starting with the query (``prefix``,
            by that word), then names a few edits away (``fuzzy``, fewest edits first).
        next: where the next page starts (pass it as ``after``), or ``None`` after the last.
    """

    query: str
    hits: tuple[NameHit, ...]
    next: tuple[str, str, int] | None


@dataclass(frozen=True, slots=True)
class PartyKey:
    """A key of a party: its claimledger key id, the key, and when it was added and revoked."""

    key_id: str
    key: str
    added_at: int
    revoked_at: int | None

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON, camelCase keys."""
        return {
            "keyId": self.key_id,
            "key": self.key,
            "addedAt": self.added_at,
            "revokedAt": self.revoked_at,
        }


@dataclass(frozen=True, slots=True)
class Accreditation:
    """A verifier's accreditation as one grant made it (the latest is its current one), with
    its suspension, disclosures and validity period (issue 17 §3).

    Attributes:
        scheme: the accrediting programme.
        measures: the measures in scope.
        valid_until_ms: the end of its validity period, if it states one.
        granted_at: the grant's log index.
        suspended_at: the log index of the suspension that ended it, if any.
        granted_ms: the grant's log time.
        start_ms: the start of its validity period: ``validFrom``, else its log time.
        suspended_ms: the suspension's log time, if any.
        accrediting_body, methods, qualifications, independence: its disclosures, if stated.
    """

    scheme: str
    measures: tuple[str, ...]
    valid_until_ms: int | None
    granted_at: int
    suspended_at: int | None
    granted_ms: int = 0
    start_ms: int = 0
    suspended_ms: int | None = None
    accrediting_body: str | None = None
    methods: tuple[str, ...] = ()
    qualifications: tuple[str, ...] = ()
    independence: Independence | None = None

    @property
    def suspended(self) -> bool:
        """Whether it was suspended after it was granted."""
        return self.suspended_at is not None

    @property
    def end_ms(self) -> int | None:
        """The end of its period: its ``validUntil`` or its suspension, whichever is first
        (``None``: open-ended)."""
        ends = [e for e in (self.valid_until_ms, self.suspended_ms) if e is not None]
        return min(ends) if ends else None

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON, camelCase keys."""
        end = self.end_ms
        return {
            "scheme": self.scheme,
            "measures": list(self.measures),
            "validUntil": None if self.valid_until_ms is None else _iso(self.valid_until_ms),
            "grantedAt": self.granted_at,
            "suspended": self.suspended,
            "suspendedAt": self.suspended_at,
            "period": {"start": _iso(self.start_ms), "end": None if end is None else _iso(end)},
            "accreditingBody": self.accrediting_body,
            "methods": list(self.methods),
            "qualifications": list(self.qualifications),
            "independence": None if self.independence is None else self.independence.to_dict(),
        }


def accreditation_gaps(grants: Sequence[Accreditation]) -> tuple[tuple[int, int], ...]:
    """The gaps between a verifier's accreditation periods (SPEC §8.2, "accreditation
    periods"): each stretch of time, after its first period began, that no period covers and
    that a later period ends, as (from, to) in ms. Periods may overlap; none is a gap."""
    out: list[tuple[int, int]] = []
    periods = sorted((a.start_ms, a.end_ms) for a in grants)
    if not periods:
        return ()
    reach = periods[0][1]  # the end of the union so far (None: open-ended)
    for start, end in periods[1:]:
        if reach is None:
            break  # an open-ended period covers everything after it
        if start > reach:
            out.append((reach, start))
        if end is None or end > reach:
            reach = end
    return tuple(out)


def out_of_accreditation(grants: Sequence[Accreditation], at_ms: int) -> str | None:
    """Why a verdict a verifier made at ``at_ms`` does not count as current, or ``None``: its
    log time lies inside one of the verifier's accreditation periods (SPEC §8.2)."""
    ends_before: list[int] = []
    starts_after: list[int] = []
    for a in grants:
        end = a.end_ms
        if a.start_ms <= at_ms and (end is None or at_ms <= end):
            return None
        if a.start_ms > at_ms:
            starts_after.append(a.start_ms)
        elif end is not None:
            ends_before.append(end)
    if ends_before and starts_after:
        return (
            f"made in a gap in its verifier's accreditation, from {_iso(max(ends_before))} to "
            f"{_iso(min(starts_after))}"
        )
    if starts_after:
        return f"made before its verifier's accreditation period began ({_iso(min(starts_after))})"
    return f"made after its verifier's accreditation period ended ({_iso(max(ends_before))})"


@dataclass(frozen=True, slots=True)
class Party:
    """A registered party.

    Attributes:
        id: the party id.
        role: ``authority``, ``provider`` or ``verifier``.
        name: display name.
        jurisdiction: alpha-2 code (``None`` for the authority, which the genesis does not place).
        website: its website, if registered.
        registered_at: the index of the entry that registered it (the genesis for the authority).
        keys: its keys, in the order added.
        accreditation: a verifier's accreditation, if it holds one.
        retired: the ``party.retire`` that retired it, if any: it signs nothing since, its past
            entries stay valid and shown.
    """

    id: str
    role: str
    name: str
    jurisdiction: str | None
    website: str | None
    registered_at: int
    keys: tuple[PartyKey, ...]
    accreditation: Accreditation | None
    retired: EntryFact | None = None

    @property
    def retired_at(self) -> int | None:
        """The log index of its retirement, if it was retired."""
        return None if self.retired is None else self.retired.index

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON, camelCase keys."""
        return {
            "id": self.id,
            "role": self.role,
            "name": self.name,
            "jurisdiction": self.jurisdiction,
            "website": self.website,
            "registeredAt": self.registered_at,
            "keys": [k.to_dict() for k in self.keys],
            "accreditation": None if self.accreditation is None else self.accreditation.to_dict(),
            "retiredAt": self.retired_at,
            "retiredSince": None if self.retired is None else _iso(self.retired.log_time_ms),
        }


@dataclass(frozen=True, slots=True)
class SecondOpinion:
    """One of a verifier's verdicts that another verifier later judged too (same claim version).

    Attributes:
        verdict: the verifier's own verdict (it takes a side: see :func:`disagreement`).
        later: the later verdicts of other verifiers on that claim version that take a side.
        disagreed_by: those of them that point the other way.
    """

    verdict: EntryFact
    later: tuple[EntryFact, ...]
    disagreed_by: tuple[EntryFact, ...]

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON: each verdict as a cell links it, with its provider and claim."""
        return {
            "verdict": _verdict_ref(self.verdict),
            "later": [_verdict_ref(v) for v in self.later],
            "disagreedBy": [_verdict_ref(v) for v in self.disagreed_by],
        }


def _verdict_ref(v: EntryFact) -> dict[str, Any]:
    return {
        **_verdict_link(v),
        "provider": v.stream,
        "claim": None if v.claim is None else v.claim.hex(),
        "measure": v.measure,
    }


@dataclass(frozen=True, slots=True)
class VerifierRecord:
    """A verifier's track record at a log size, engagements judged at ``at_ms`` (its page).

    Attributes:
        party: the verifier as registered (keys, current accreditation, retirement).
        at_ms: the time overdue engagements are judged at.
        size: the log size it was read at.
        accreditations: its accreditation grants, oldest first, each with its suspension (if
            one was logged before the cut).
        engagements: the engagements it opened, in log order, across every provider.
        tests: how many test records it logged.
        verdicts: its verdicts, in log order.
        second_opinions: those of its verdicts (taking a side) that another verifier judged
            later on the same claim version, with whether that later verdict disagreed.
        outside: for each verdict, why it does not count as current (made outside every
            accreditation period), else ``None`` (SPEC §8.2, "accreditation periods").
    """

    party: Party
    at_ms: int
    size: int
    accreditations: tuple[Accreditation, ...]
    engagements: tuple[Engagement, ...]
    tests: int
    verdicts: tuple[EntryFact, ...]
    second_opinions: tuple[SecondOpinion, ...]
    outside: tuple[str | None, ...] = ()

    @property
    def gaps(self) -> tuple[tuple[int, int], ...]:
        """The gaps between its accreditation periods (:func:`accreditation_gaps`)."""
        return accreditation_gaps(self.accreditations)

    @property
    def engagement_counts(self) -> dict[str, int]:
        """Engagements by status (open, overdue, closed, withdrawn), zeros included."""
        counts = {"open": 0, "overdue": 0, "closed": 0, "withdrawn": 0}
        for e in self.engagements:
            counts[e.status] += 1
        return counts

    @property
    def verdict_counts(self) -> dict[str, int]:
        """Verdicts by result, every result named (zeros included)."""
        counts = dict.fromkeys(VERDICT_RESULTS, 0)
        for v in self.verdicts:
            counts[v.result or ""] = counts.get(v.result or "", 0) + 1
        return counts

    @property
    def disagreed(self) -> int:
        """How many of its verdicts a later verdict by another verifier disagreed with."""
        return sum(1 for s in self.second_opinions if s.disagreed_by)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON, camelCase keys."""
        return {
            "verifier": self.party.to_dict(),
            "at": _iso(self.at_ms),
            "atMs": self.at_ms,
            "size": self.size,
            "accreditations": [a.to_dict() for a in self.accreditations],
            "periodsContiguous": not self.gaps,
            "accreditationGaps": [{"from": _iso(a), "to": _iso(b)} for a, b in self.gaps],
            "engagementCounts": self.engagement_counts,
            "engagements": [{**e.to_dict(), "provider": e.opened.stream} for e in self.engagements],
            "tests": self.tests,
            "verdictCounts": self.verdict_counts,
            "verdicts": [
                {
                    **_verdict_ref(v),
                    "validUntil": None if v.valid_until_ms is None else _iso(v.valid_until_ms),
                    "outOfAccreditation": why,
                }
                for v, why in zip(
                    self.verdicts, self.outside or (None,) * len(self.verdicts), strict=True
                )
            ],
            "secondOpinions": {
                "judgedAgain": len(self.second_opinions),
                "disagreed": self.disagreed,
                "items": [s.to_dict() for s in self.second_opinions],
            },
        }


class _PartyState:
    __slots__ = ("accreditation", "keys", "party", "retired")

    def __init__(self, party: Party) -> None:
        self.party = party
        self.keys: dict[str, PartyKey] = {}
        self.accreditation: Accreditation | None = None
        self.retired: EntryFact | None = None

    def snapshot(self) -> Party:
        p = self.party
        return Party(
            p.id,
            p.role,
            p.name,
            p.jurisdiction,
            p.website,
            p.registered_at,
            tuple(self.keys.values()),
            self.accreditation,
            self.retired,
        )


PartKey = tuple[str, str]
"""A part of the derived state a snapshot stores apart and reads on first touch: ``("s",
stream)``, a provider stream's views (facts, record, signers, report bodies), or ``("r",
stream)``, its rules' state (ledger/_snapshot.py)."""


def _report_body(payload: bytes) -> Claim:
    """The body of a report.authority claim from its payload (which the rules accepted)."""
    body = parse_statement(canonical.decode_object(payload)).body
    assert isinstance(body, Claim)  # noqa: S101 - only such payloads are kept
    return body


def _unattached(key: PartKey) -> tuple[Any, ...]:
    raise RuntimeError(f"the part of {key[1]!r} was read without a reader attached")


def _never(key: PartKey) -> bool:
    return False


class _VerifierIndex:
    """What one verifier did and what the registry said of it, in index order: its engagement
    opens, tests and verdicts, the closes and withdrawals of its engagements (whoever signed
    them), its accreditation grants and suspensions (as the entries' numbers in the views'
    :class:`_LogIndex`, so a snapshot holds no copy of their facts); and its accreditations as
    granted."""

    __slots__ = ("entries", "grants", "offsets", "streams")

    def __init__(self) -> None:
        self.entries = array("i")
        self.streams = array("i")  # each entry's stream number and offset: where its fact is
        self.offsets = array("i")
        self.grants: list[Accreditation] = []

    def __getstate__(self) -> tuple[Any, ...]:
        return (self.entries.tobytes(), self.streams.tobytes(), self.offsets.tobytes(), self.grants)

    def __setstate__(self, state: tuple[Any, ...]) -> None:
        self.__init__()  # type: ignore[misc]
        entries, streams, offsets, self.grants = state
        self.entries.frombytes(entries)
        self.streams.frombytes(streams)
        self.offsets.frombytes(offsets)


class _Stream:
    """One stream's views. A snapshot stores each provider stream's as a part of its own (issue
    10 §1), so that an open reads O(streams + parties), not O(entries): a stream read from a
    snapshot has the :data:`_PART` slots unset and ``_load`` set to the views' reader of parts,
    which the first read of one of them calls with the part's key, once. A stream fed entries has
    them set and ``_load`` ``None``. (One reader for all, not one closure each: 300,000 fewer
    objects for an open from a snapshot of 100,000 companies.)"""

    __slots__ = ("_load", "_name", "facts", "live", "reports", "signers")
    _PART = ("facts", "live", "signers", "reports")

    def __init__(self, name: str, load: Callable[[PartKey], tuple[Any, ...]] | None = None) -> None:
        self._name = name
        self._load = load
        if load is None:
            self.facts: list[EntryFact] = []
            self.live = _Record()
            self.signers: dict[str, int] = {}  # verifier -> index of its first test or verdict
            # The payload of every report.authority claim version by digest, which SPEC §8.4
            # compares with the reference datasets: bytes, parsed when compared (a part holding
            # parsed bodies took a fifth of its reading time to restore them).
            self.reports: dict[bytes, bytes] = {}

    def __getattr__(self, name: str) -> Any:  # only for slots not yet set
        load = object.__getattribute__(self, "_load")
        if name not in _Stream._PART or load is None:
            raise AttributeError(name)
        for k, v in zip(_Stream._PART, load(("s", self._name)), strict=True):
            object.__setattr__(self, k, v)
        self._load = None
        return object.__getattribute__(self, name)

    @property
    def loaded(self) -> bool:
        """Whether the part is in memory (always, for a stream fed entries)."""
        return self._load is None

    def part(self) -> tuple[Any, ...]:
        """The values a snapshot part stores (reading them loads them)."""
        return (self.facts, self.live, self.signers, self.reports)


SPILL_MAX_SHARE = 64
"""A stream written since the last snapshot is spilled (:meth:`Views.spill_to`) only if it holds
at most a this-th of the memory budget (3,906 entries of the default 250,000): spilling a stream
costs its length, and so does reading it back at its next entry; a longer one stays, and a
snapshot lets it go."""

_SHRINK_EVERY = 256  # entries applied between two checks of the budget by apply

LOG_CHUNK = 4096
"""Entries per chunk of the views' log index (:class:`_LogIndex`): what it reads back at once."""

LOG_CHUNKS_RESIDENT = 64
"""Whole chunks of the log index a server with a memory budget keeps in memory (4 MB), the
least recently read dropped first; the rest are read back from the log's leaves."""

_LOG_SHIFT = LOG_CHUNK.bit_length() - 1
_LOG_MASK = LOG_CHUNK - 1

ReadLeaves = Callable[[int, int], list[tuple[int, str, int]]]
"""``(start, end)`` -> the log time, stream and stream position of entries ``start .. end-1``."""

_Chunk = tuple["array[int]", "array[int]", "array[int]"]  # log times, stream numbers, offsets


class _LogIndex:
    """Every applied entry's global index and log time, and where its fact is (its stream's
    number and its offset in that stream's facts): 16 bytes an entry (24 in a sparse feed, whose
    indexes have gaps), in chunks of :data:`LOG_CHUNK` entries. Fed the whole log, entry ``n``
    has index ``n``: the indexes are then a ``range``, and the log's own leaves hold the rest
    (log time, stream, position: a stream's offset is its position).

    Given the ledger's reader of its leaves (:meth:`read_from`), a snapshot pickles only the
    newest chunk and each chunk's first log time, and the older chunks are read back from the
    log when first touched: an open no longer reads 16 bytes an entry. Held to a budget
    (:meth:`keep`), it drops the least recently read whole chunks past it (issue 10 §2)."""

    __slots__ = ("_chunks", "_firsts", "_index", "_keep", "_n", "_read", "_resident", "streams")

    def __init__(self) -> None:
        self._index: array[int] | None = None  # None: dense, entry n has index n
        self._chunks: list[_Chunk | None] = []  # None: in the log, not in memory
        self._firsts = array("q")  # the log time of each chunk's first entry
        self._n = 0
        self._read: Callable[[int, int], _Chunk] | None = None
        self._keep: int | None = None
        self._resident: dict[int, None] = {}  # whole chunks in memory, least recently read first
        self.streams: list[str] = []  # by number

    @property
    def index(self) -> Sequence[int]:
        """The global index of each entry, ascending (bisect it)."""
        return range(self._n) if self._index is None else self._index

    def __len__(self) -> int:
        return self._n

    def append(self, fact: EntryFact, number: int, offset: int) -> None:
        n = self._n
        if self._index is None and fact.index != n:
            self._index = array("q", range(n))
        if self._index is not None:
            self._index.append(fact.index)
        k = n >> _LOG_SHIFT
        if k == len(self._chunks):
            self._chunks.append((array("q"), array("i"), array("i")))
            self._firsts.append(fact.log_time_ms)
            if k:
                self._touch(k - 1)  # now whole: it may be dropped
        time, stream, off = self._chunk(k)
        time.append(fact.log_time_ms)
        stream.append(number)
        off.append(offset)
        self._n = n + 1

    def time_of(self, n: int) -> int:
        """The log time of entry number ``n``."""
        return self._chunk(n >> _LOG_SHIFT)[0][n & _LOG_MASK]

    def where(self, n: int) -> tuple[int, int]:
        """Entry number ``n``'s stream number and offset in that stream's facts."""
        chunk = self._chunk(n >> _LOG_SHIFT)
        return chunk[1][n & _LOG_MASK], chunk[2][n & _LOG_MASK]

    def count_at_or_before(self, time_ms: int) -> int:
        """How many entries were logged at or before ``time_ms`` (log times never decrease)."""
        return self._count(time_ms, bisect_right)

    def chunk_bound(self, time_ms: int) -> int:
        """At least :meth:`count_before` ``(time_ms)``, found without reading a chunk."""
        return bisect_left(self._firsts, time_ms) * LOG_CHUNK

    def count_before(self, time_ms: int) -> int:
        """How many entries were logged before ``time_ms``."""
        return self._count(time_ms, bisect_left)

    def _count(self, time_ms: int, find: Callable[[Sequence[int], int], int]) -> int:
        """``find`` (a bisection) over the chunks' first times, then within one chunk."""
        k = find(self._firsts, time_ms)
        return (k - 1) * LOG_CHUNK + find(self._chunk(k - 1)[0], time_ms) if k else 0

    def streams_from(self, n: int) -> set[int]:
        """The numbers of the streams of entries ``n`` and later."""
        out: set[int] = set()
        for k in range(n >> _LOG_SHIFT, len(self._chunks)):
            skip = n - k * LOG_CHUNK
            out.update(self._chunk(k)[1][skip:] if skip > 0 else self._chunk(k)[1])
        return out

    # -- paging ------------------------------------------------------------------------------

    def read_from(self, read: ReadLeaves, numbers: dict[str, int]) -> None:
        """Read chunks not in memory from the log's leaves with ``read`` (``numbers``: each
        stream's number)."""

        def chunk(start: int, end: int) -> _Chunk:
            time, stream, off = array("q"), array("i"), array("i")
            for t, name, position in read(start, end):
                time.append(t)
                stream.append(numbers[name])
                off.append(position)
            return time, stream, off

        self._read = chunk
        self._register()

    def keep(self, chunks: int | None) -> None:
        """Keep at most ``chunks`` whole chunks in memory (``None``: every chunk read stays)."""
        self._keep = chunks
        self._register()

    @property
    def _in_log(self) -> bool:
        """Whether the chunks can be read back from the log (a reader, and a dense index)."""
        return self._read is not None and self._index is None

    def _register(self) -> None:
        """Count the whole chunks in memory (oldest first), once they can be read back."""
        if not self._in_log:
            return
        for k in range(len(self._chunks) - 1):
            if self._chunks[k] is not None and k not in self._resident:
                self._resident[k] = None
        self._shrink()

    def _chunk(self, k: int) -> _Chunk:
        chunk = self._chunks[k]
        if chunk is None:
            chunk = self._chunks[k] = self._load(k)
            self._touch(k)
        elif k in self._resident:
            self._resident[k] = self._resident.pop(k)
        return chunk

    def _load(self, k: int) -> _Chunk:
        start, end = k * LOG_CHUNK, min((k + 1) * LOG_CHUNK, self._n)
        if self._read is None:
            raise RuntimeError("the views' log index is in the log, and no reader is attached")
        try:
            chunk = self._read(start, end)
        except KeyError as exc:
            raise CorruptionError(f"the log's leaves {start}..{end - 1} name stream {exc}") from exc
        if len(chunk[0]) != end - start or chunk[0][0] != self._firsts[k]:
            raise CorruptionError(
                f"the log's leaves {start}..{end - 1} are not the entries the views applied"
            )
        return chunk

    def _touch(self, k: int) -> None:
        """Chunk ``k``, whole and in memory, was just read or completed."""
        if not self._in_log:
            return  # nothing to read it back from: it stays
        self._resident[k] = None
        self._shrink()

    def _shrink(self) -> None:
        keep, resident = self._keep, self._resident
        while keep is not None and len(resident) > keep:
            oldest = next(iter(resident))
            del resident[oldest]
            self._chunks[oldest] = None

    def __getstate__(self) -> tuple[Any, ...]:
        # With a reader, a dense index is in the log: only its newest chunk is pickled.
        numbers = range(len(self._chunks))
        chunks = [self._chunk(k) for k in (numbers[-1:] if self._in_log else numbers)]
        return (
            None if self._index is None else self._index.tobytes(),
            self._n,
            self._firsts.tobytes(),
            [tuple(col.tobytes() for col in chunk) for chunk in chunks],
            self.streams,
        )

    def __setstate__(self, state: tuple[Any, ...]) -> None:
        self.__init__()  # type: ignore[misc]
        index, self._n, firsts, chunks, self.streams = state
        if index is not None:
            self._index = array("q")
            self._index.frombytes(index)
        self._firsts.frombytes(firsts)
        self._chunks = [None] * (len(self._firsts) - len(chunks))
        for data in chunks:
            chunk = (array("q"), array("i"), array("i"))
            for col, b in zip(chunk, data, strict=True):
                col.frombytes(b)
            self._chunks.append(chunk)


_P = ParamSpec("_P")
_R = TypeVar("_R")


def _locked(fn: Callable[Concatenate[Views, _P], _R]) -> Callable[Concatenate[Views, _P], _R]:
    def wrapper(self: Views, /, *args: _P.args, **kwargs: _P.kwargs) -> _R:
        with self._lock:
            return fn(self, *args, **kwargs)

    functools.update_wrapper(wrapper, fn)
    return wrapper


# -- the views --------------------------------------------------------------------------------


class Views:
    """Projections built from accepted entries, in index order (rebuilt at every open).

    Feed every accepted entry to :meth:`apply` in index order; a *sparse* feed (a company record:
    the registry and one provider, as in an evidence bundle) works the same for that provider.
    Thread-safe: feeding and reading take one lock (a replay holds it for milliseconds); every
    result is immutable.
    """

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._all = _LogIndex()
        self._streams: dict[str, _Stream] = {}
        self._numbers: dict[str, int] = {}  # stream -> its number in self._all
        # The parts changed since the last snapshot took them (see take_parts).
        self._touched: set[PartKey] = set()
        self._init_resident()
        self._parties: dict[str, _PartyState] = {}
        # The registry's later word on verifiers, for verdict flags and feeds: suspensions by
        # party (index order), revocations by key id, and both kinds in index order.
        self._suspensions: dict[str, list[EntryFact]] = {}
        # Verifiers with a grant whose period starts after it was logged: only their verdicts
        # can fall outside every accreditation period (the rules check validUntil, SPEC §8.2).
        self._period_verifiers: set[str] = set()
        self._revocations: dict[str, EntryFact] = {}
        # Revocations stating compromise (SPEC §8.2 rule 5), by key id: (since index, since ms).
        self._compromise: dict[str, tuple[int | None, int | None]] = {}
        self._revoked_parties: set[str] = set()
        self._registry_events: list[EntryFact] = []
        # The public search and the paged scorecard (ledger/_search.py): names of companies and
        # of the services their claims name; providers and (provider, service) keys in order;
        # every service by provider (name -> index of the claim that first named it); each
        # jurisdiction a claim names (-> first index); party ids by role; entries by kind.
        self._names = LazyNames()
        self._provider_keys = SortedKeys()
        self._service_keys = SortedKeys()
        self._services: dict[str, dict[str, int]] = {}
        self._jurisdictions: dict[str, int] = {}
        self._roles: dict[str, list[str]] = {}
        self._kinds: dict[str, int] = {}
        # Each verifier's own index (its page reads only it), and who opened each engagement.
        self._verifiers: dict[str, _VerifierIndex] = {}
        self._engagement_opener: dict[bytes, str] = {}
        # Every active claim version whose latest verdict has a validUntil: claim digest ->
        # (validUntil in ms, the verdict's number in self._all, its stream's number and offset
        # there). The whole log's feed finds its expiring items here, not in every stream's part
        # (which it would have to read).
        self._due: dict[bytes, tuple[int, int, int, int]] = {}
        # The facts of the newest entries applied (the whole log's feed shows them without
        # reading their streams' parts).
        self._newest: deque[EntryFact] = deque(maxlen=_NEWEST)
        # Reference datasets (reference.publish) in log order.
        self._datasets: list[EntryFact] = []
        # Logged open-data dumps (dump.publish), in log order.
        self._dumps: list[tuple[EntryFact, DumpPublish]] = []
        self._dataset_bodies: dict[bytes, ReferencePublish] = {}

    def _init_resident(self) -> None:
        # Provider streams whose part is in memory, least recently loaded or written first,
        # with their entries (what keep_resident counts), and their total.
        self._resident: dict[str, int] = {}
        self._resident_total = 0
        self._budget: int | None = None  # keep_resident's
        self._loader: Callable[[PartKey], tuple[Any, ...]] = _unattached
        self._stored: Callable[[PartKey], bool] = _never
        self._dropped: set[str] = set()  # streams dropped since take_dropped
        # Streams written since a snapshot took them may be dropped too once spilled (spill_to):
        # the spiller, and the SHA-256 of every part it holds (shared with the ledger).
        self._spill: Callable[[PartKey, tuple[Any, ...]], None] | None = None
        self._spilled: dict[PartKey, bytes] = {}
        self._unshrunk = 0  # entries applied since apply last held the budget

    _RUNTIME = (
        "_lock",
        "_touched",
        "_resident",
        "_resident_total",
        "_budget",
        "_loader",
        "_stored",
        "_dropped",
        "_spill",
        "_spilled",
        "_unshrunk",
    )

    def __getstate__(self) -> dict[str, Any]:
        # Pickled into a snapshot (ledger/_snapshot.py) under the views' lock: all but the lock,
        # the change marks, what is resident and the parts (take_parts hands those over on
        # their own): the registry's stream whole, every other stream and verifier index as a
        # name.
        state = self.__dict__.copy()
        for name in Views._RUNTIME:
            del state[name]
        # Sorted now, so that an open from the snapshot need not sort them (settle). The name
        # index pickles itself apart (LazyNames).
        self._provider_keys.settle()
        self._service_keys.settle()
        state["_streams"] = {
            name: (s.part() if name == REGISTRY_STREAM else None)
            for name, s in self._streams.items()
        }
        state["_newest"] = list(self._newest)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        streams = state.pop("_streams")
        self.__dict__.update(state)
        self._newest = deque(state["_newest"], maxlen=_NEWEST)
        self._lock = threading.RLock()
        self._touched = set()
        self._init_resident()
        self._streams = {}
        load = self._load_part
        for name, part in streams.items():
            if part is None:  # read by attach's reader when first touched
                self._streams[name] = _Stream(name, load)
            else:
                s = self._streams[name] = _Stream(name)
                s.facts, s.live, s.signers, s.reports = part

    def part_keys(self) -> list[PartKey]:
        """Every part a snapshot stores apart: each provider stream's (see :class:`_Stream`)."""
        return [("s", n) for n in self._streams if n != REGISTRY_STREAM]

    @property
    def lock(self) -> threading.RLock:
        """The lock every read and feed takes (a snapshot holds it while it pickles)."""
        return self._lock

    @_locked
    def take_parts(self, known: Callable[[PartKey], bool]) -> dict[PartKey, tuple[Any, ...] | None]:
        """The parts a snapshot must store anew: those changed since they were last stored
        (:meth:`mark_stored`) and those ``known`` does not hold (every part, for views fed from
        genesis); ``None`` for a part spilled as it is now (:meth:`spill_to`: its bytes are
        the spiller's, and it is not read back)."""
        spilled = self._spilled
        return {
            key: None if key in spilled else self._streams[key[1]].part()
            for key in self.part_keys()
            if key in self._touched or not known(key)
        }

    @_locked
    def mark_stored(self, stored: Iterable[PartKey]) -> None:
        """Clear the change marks of parts a snapshot stored."""
        self._touched.difference_update(stored)

    @_locked
    def attach(self, load: Callable[[PartKey], tuple[Any, ...]]) -> None:
        """Read parts with ``load(key)`` (called under the views' lock on a part's first read
        after an open from a snapshot, or after :meth:`keep_resident` dropped it)."""
        self._loader = load

    def _load_part(self, key: PartKey) -> tuple[Any, ...]:
        values = self._loader(key)
        name = key[1]
        self._resident[name] = n = len(values[0])
        self._resident_total += n
        self._shrink(spare=name)
        return values

    @_locked
    def read_log(self, read: ReadLeaves) -> None:
        """Read the chunks of the log index that are not in memory from the log's leaves with
        ``read``: from then on a snapshot pickles only the newest chunk (:class:`_LogIndex`)."""
        self._all.read_from(read, self._numbers)

    @_locked
    def keep_resident(self, entries: int | None, stored: Callable[[PartKey], bool]) -> None:
        """From now on keep provider streams' parts of about ``entries`` entries in memory
        (``None``: every part read or written stays): past it, the parts of the streams least
        recently read or written are dropped — those unchanged since ``stored`` says a
        snapshot holds them, and those written since that :meth:`spill_to`'s spiller takes —
        down to three quarters of it, and read again with :meth:`attach`'s reader when next
        touched."""
        self._budget, self._stored = entries, stored
        self._all.keep(None if entries is None else LOG_CHUNKS_RESIDENT)
        self._shrink()

    @_locked
    def spill_to(
        self, spill: Callable[[PartKey, tuple[Any, ...]], None], spilled: dict[PartKey, bytes]
    ) -> None:
        """Let :meth:`keep_resident` drop streams written since a snapshot took them too: such
        a stream's part is first handed to ``spill(key, values)``, which stores it and puts its
        SHA-256 in ``spilled`` (the caller's dict, shared). An entry applied to a stream takes
        both its keys out of ``spilled`` (what was spilled is no longer its state).

        Only a stream of at most a :data:`SPILL_MAX_SHARE`-th of the budget is spilled: a few
        long streams written round and round stay in memory until a snapshot lets them go,
        rather than being written out and read back whole at every entry."""
        self._spill, self._spilled = spill, spilled

    @_locked
    def release(self) -> None:
        """Drop every provider stream's part that :meth:`keep_resident` may drop, whatever the
        budget (a snapshot is about to pickle the core: the memory they held is reused)."""
        self._shrink(target=0)

    def _shrink(self, spare: str | None = None, *, target: int | None = None) -> None:
        budget = self._budget
        if budget is None:
            return
        if target is None:
            if self._resident_total <= budget:
                return
            target = budget * 3 // 4
        spill, spilled = self._spill, self._spilled
        for name, n in list(self._resident.items()):
            if self._resident_total <= target:
                break
            key = ("s", name)
            if name == spare:
                continue
            s = self._streams[name]
            if (key in self._touched or not self._stored(key)) and key not in spilled:
                if spill is None or n * SPILL_MAX_SHARE > budget:
                    continue
                spill(key, s.part())
            for slot in _Stream._PART:
                object.__delattr__(s, slot)
            s._load = self._load_part
            del self._resident[name]
            self._resident_total -= n
            self._dropped.add(name)

    def _read_stream(self, name: str) -> _Stream | None:
        """The stream ``name`` (if any), made the most recently used: a company read often
        keeps its part in memory under the budget (:meth:`keep_resident`)."""
        resident = self._resident
        n = resident.pop(name, None)
        if n is not None:
            resident[name] = n
        return self._streams.get(name)

    @_locked
    def load_parts(self, streams: Iterable[str]) -> None:
        """Read the parts of these provider streams into memory, if they are not."""
        for name in streams:
            s = self._streams.get(name)
            if s is not None and not s.loaded:
                s.part()

    @_locked
    def take_dropped(self) -> set[str]:
        """The streams whose parts :meth:`keep_resident` dropped since the last call (whose
        rules' state the ledger then drops too)."""
        dropped, self._dropped = self._dropped, set()
        return dropped

    @property
    def dropped_any(self) -> bool:
        """Whether :meth:`keep_resident` dropped a stream since :meth:`take_dropped` last
        took them (read without the lock: a hint for the writer, which then takes them)."""
        return bool(self._dropped)

    def loaded_parts(self) -> int:
        """How many parts are in memory (for metrics and tests)."""
        return sum(1 for key in self.part_keys() if self._streams[key[1]].loaded)

    @_locked
    def resident_streams(self) -> set[str]:
        """The provider streams whose parts are in memory."""
        return set(self._resident)

    @_locked
    def dirty_entries(self) -> int:
        """The entries of the provider streams changed since a snapshot last took them."""
        resident = self._resident
        return sum(resident.get(name, 0) for kind, name in self._touched if kind == "s")

    @property
    def resident_entries(self) -> int:
        """The entries of the provider streams whose parts are in memory."""
        return self._resident_total

    # -- feeding ---------------------------------------------------------------------------

    @_locked
    def apply(self, placed: Placed) -> None:
        """Record one accepted entry (the next one in index order)."""
        st = placed.signed.statement
        stream = self._streams.get(st.stream)
        if stream is None:
            name = _intern(st.stream)
            stream = self._streams[name] = _Stream(name)
            self._numbers[name] = len(self._all.streams)
            self._all.streams.append(name)
        fact = self._fact(placed, stream.live)
        self._all.append(fact, self._numbers[st.stream], len(stream.facts))
        stream.facts.append(fact)
        self._newest.append(fact)
        if st.stream != REGISTRY_STREAM:
            self._touched.add(("s", fact.stream))
            resident = self._resident  # the stream is now the most recently written
            resident[fact.stream] = resident.pop(fact.stream, 0) + 1
            self._resident_total += 1
            if self._spill is not None:
                self._spilled.pop(("s", fact.stream), None)
                self._spilled.pop(("r", fact.stream), None)
        self._kinds[fact.kind] = self._kinds.get(fact.kind, 0) + 1
        if st.stream == REGISTRY_STREAM:
            self._apply_registry(placed, fact)
        else:
            stream.live.apply(fact)
            self._track_due(stream.live, fact)
            body = st.body
            if isinstance(body, Claim) and body.measure == "report.authority":
                stream.reports[fact.digest] = placed.signed.envelope.payload
            if fact.scope is not None:
                self._index_claim(fact.stream, fact.scope, fact.index)
            if fact.kind in _VERIFIER_KINDS and fact.signer not in stream.signers:
                stream.signers[fact.signer] = fact.index
            self._index_verifier(fact)
            if self._spill is not None:
                # Entries written hold memory too: past the budget, spill now and then.
                self._unshrunk += 1
                if self._unshrunk >= _SHRINK_EVERY:
                    self._unshrunk = 0
                    self._shrink(spare=fact.stream)

    def _track_due(self, record: _Record, fact: EntryFact) -> None:
        """Keep :attr:`_due` for the claim version ``fact`` (just applied to ``record``)
        changed: the one a verdict is on, a withdrawal ends or a new version supersedes."""
        k = fact.kind
        if k == Kind.VERDICT_ISSUE.value or k == Kind.CLAIM_WITHDRAW.value:
            digest = fact.claim
        elif k in _CLAIM_KINDS:
            digest = fact.supersedes
        else:
            return
        c = None if digest is None else record.claims.get(digest)
        if c is None or c.status != "active" or not c.verdicts:
            if digest is not None:
                self._due.pop(digest, None)
            return
        until = c.verdicts[-1].valid_until_ms
        if until is None:
            self._due.pop(c.fact.digest, None)
        elif c.verdicts[-1] is fact:
            n = len(self._all) - 1
            self._due[c.fact.digest] = (until, n, *self._all.where(n))

    def _verifier_index(self, party: str) -> _VerifierIndex:
        idx = self._verifiers.get(party)
        if idx is None:
            idx = self._verifiers[_intern(party)] = _VerifierIndex()
        return idx

    def _index_last(self, party: str) -> None:
        """Add the entry applied last to the verifier's index."""
        n = len(self._all) - 1
        number, offset = self._all.where(n)
        idx = self._verifier_index(party)
        idx.entries.append(n)
        idx.streams.append(number)
        idx.offsets.append(offset)

    def _fact_at(self, n: int) -> EntryFact:
        """The fact of the ``n``-th entry applied."""
        return self._fact_where(*self._all.where(n))

    def _fact_where(self, number: int, offset: int) -> EntryFact:
        """The fact at ``offset`` in the stream numbered ``number``."""
        return self._streams[self._all.streams[number]].facts[offset]

    def _index_verifier(self, fact: EntryFact) -> None:
        k = fact.kind
        if k in _VERIFIER_KINDS:
            self._index_last(fact.signer)
        elif k == Kind.ENGAGEMENT_OPEN.value:
            self._engagement_opener[fact.digest] = fact.signer
            self._index_last(fact.signer)
        elif k in _ENGAGEMENT_ENDS and fact.engagement is not None:
            opener = self._engagement_opener.get(fact.engagement.ref or b"")
            if opener is not None:
                self._index_last(opener)

    def _fact(self, placed: Placed, record: _Record) -> EntryFact:
        st = placed.signed.statement
        body = st.body
        base: dict[str, Any] = {
            "index": placed.index,
            "stream": _intern(st.stream),
            "position": placed.position,
            "log_time_ms": placed.log_time_ms,
            "kind": _intern(st.kind._value_),
            "signer": _intern(st.signer),
            "digest": placed.signed.digest,
        }
        if isinstance(body, Claim):
            return EntryFact(
                **base,
                measure=_intern(body.measure),
                supersedes=None if body.supersedes is None else bytes.fromhex(body.supersedes),
                scope=_scope(body),
            )
        if isinstance(body, ClaimWithdraw):
            ref = bytes.fromhex(body.claim)
            return EntryFact(**base, claim=ref, measure=record.measure_of(ref))
        if isinstance(body, TestRecord):
            ref = bytes.fromhex(body.claim)
            return EntryFact(
                **base,
                claim=ref,
                measure=record.measure_of(ref),
                result=body.result._value_,
                engagement=engagement_fact(body),
            )
        if isinstance(body, Verdict):
            ref = bytes.fromhex(body.claim)
            return EntryFact(
                **base,
                claim=ref,
                measure=record.measure_of(ref),
                tests=tuple(bytes.fromhex(t) for t in body.tests),
                result=body.result._value_,
                valid_until_ms=parse_timestamp(body.valid_until),
                key_id=_intern(placed.signed.keyid),
                engagement=engagement_fact(body),
                recommendations=(
                    tuple(body.recommendations)
                    if body.result._value_ == "CONFIRMED_WITH_COMMENTS"
                    else ()
                ),
            )
        if isinstance(body, ProviderReply):
            ref = bytes.fromhex(body.verdict)
            return EntryFact(
                **base,
                verdict=ref,
                measure=record.measure_of(record.verdict_claim.get(ref)),
                commitments=tuple((c.action, c.due, c.recommendation) for c in body.commitments),
            )
        if isinstance(body, EngagementOpen | EngagementClose | EngagementWithdraw):
            return EntryFact(**base, engagement=engagement_fact(body))
        if isinstance(body, Genesis | ReferencePublish | DumpPublish):
            return EntryFact(**base, party=_intern(st.signer))
        if isinstance(body, AccreditationGrant):
            until = None if body.valid_until is None else parse_timestamp(body.valid_until)
            since = None if body.valid_from is None else parse_timestamp(body.valid_from)
            return EntryFact(
                **base, party=_intern(body.party), valid_until_ms=until, valid_from_ms=since
            )
        if isinstance(
            body, PartyRegister | KeyAdd | KeyRevoke | AccreditationSuspend | PartyRetire
        ):
            return EntryFact(**base, party=_intern(body.party))
        return EntryFact(**base)  # pragma: no cover - every kind is handled above

    def _apply_registry(self, placed: Placed, fact: EntryFact) -> None:
        st = placed.signed.statement
        body = st.body
        i = placed.index
        if isinstance(body, Genesis):
            p = _PartyState(
                Party(st.signer, "authority", body.authority_name, None, None, i, (), None)
            )
            self._parties[st.signer] = p
            self._add_key(p, body.authority_key, i)
            self._roles.setdefault("authority", []).append(st.signer)
        elif isinstance(body, PartyRegister):
            p = _PartyState(
                Party(
                    body.party,
                    body.role.value,
                    body.name,
                    body.jurisdiction,
                    body.website,
                    i,
                    (),
                    None,
                )
            )
            self._parties[body.party] = p
            for k in body.keys:
                self._add_key(p, k, i)
            self._roles.setdefault(body.role.value, []).append(body.party)
            if body.role.value == "provider":
                self._provider_keys.add((body.party,))
                self._names.add("company", body.party, body.name, i)
        elif isinstance(body, KeyAdd):
            party = self._parties.get(body.party)
            if party is not None:
                self._add_key(party, body.key, i)
        elif isinstance(body, KeyRevoke):
            self._revocations[_intern(body.key_id)] = fact
            since = body.compromised_since
            if since is not None:
                since_ms = None if since.time is None else parse_timestamp(since.time)
                self._compromise[body.key_id] = (since.index, since_ms)
            self._revoked_parties.add(fact.party or "")
            self._registry_events.append(fact)
            party = self._parties.get(body.party)
            if party is not None and body.key_id in party.keys:
                old = party.keys[body.key_id]
                party.keys[body.key_id] = PartyKey(old.key_id, old.key, old.added_at, i)
        elif isinstance(body, PartyRetire):
            self._registry_events.append(fact)
            party = self._parties.get(body.party)
            if party is not None:
                party.retired = fact
        elif isinstance(body, AccreditationGrant):
            party = self._parties.get(body.party)
            if party is not None:
                party.accreditation = Accreditation(
                    body.scheme,
                    tuple(body.measures),
                    fact.valid_until_ms,
                    i,
                    None,
                    granted_ms=fact.log_time_ms,
                    start_ms=fact.log_time_ms if fact.valid_from_ms is None else fact.valid_from_ms,
                    accrediting_body=body.accrediting_body,
                    methods=tuple(m.value for m in body.methods),
                    qualifications=body.qualifications,
                    independence=body.independence,
                )
                if fact.valid_from_ms is not None and fact.valid_from_ms > fact.log_time_ms:
                    self._period_verifiers.add(body.party)  # a verdict may fall outside
                self._index_last(body.party)
                self._verifier_index(body.party).grants.append(party.accreditation)
        elif isinstance(body, ReferencePublish):
            self._datasets.append(fact)
            self._dataset_bodies[fact.digest] = body
        elif isinstance(body, DumpPublish):
            self._dumps.append((fact, body))
        elif isinstance(body, AccreditationSuspend):
            self._suspensions.setdefault(fact.party or "", []).append(fact)
            self._registry_events.append(fact)
            party = self._parties.get(body.party)
            if party is not None and party.accreditation is not None:
                a = party.accreditation
                party.accreditation = dataclasses.replace(
                    a, suspended_at=i, suspended_ms=fact.log_time_ms
                )
                self._index_last(body.party)
                idx = self._verifier_index(body.party)
                # A suspension ends every period still running (SPEC §8.2, accreditation periods).
                idx.grants = [
                    g
                    if g.suspended_at is not None
                    or (g.valid_until_ms is not None and g.valid_until_ms < fact.log_time_ms)
                    else dataclasses.replace(g, suspended_at=i, suspended_ms=fact.log_time_ms)
                    for g in idx.grants
                ]

    def _index_claim(self, provider: str, scope: ClaimScope, index: int) -> None:
        named = self._services.setdefault(provider, {})
        for service in scope.services:
            if service not in named:
                named[service] = index
                self._service_keys.add((provider, service))
                self._names.add("service", provider, service, index)
        for j in scope.jurisdictions:
            self._jurisdictions.setdefault(j, index)

    def _add_key(self, party: _PartyState, b64: str, index: int) -> None:
        key_id = str(PublicKey.from_b64(b64).key_id)
        party.keys[key_id] = PartyKey(key_id, b64, index, None)

    # -- cuts ------------------------------------------------------------------------------

    @property
    @_locked
    def size(self) -> int:
        """One more than the last index applied (0 when nothing was)."""
        return self._all.index[-1] + 1 if self._all else 0

    @_locked
    def size_at(self, as_of_ms: int) -> int:
        """The log's size as of a time: one more than the index of the last entry logged at or
        before ``as_of_ms`` (0 if none was)."""
        return self._limit(as_of_ms, None)

    def _limit(self, as_of_ms: int | None, size: int | None) -> int:
        """The first global index excluded by the cut."""
        limit = self.size if size is None else min(size, self.size)
        if as_of_ms is not None:
            n = self._all.count_at_or_before(as_of_ms)
            limit = min(limit, self._all.index[n - 1] + 1 if n else 0)
        return max(limit, 0)

    def _flags_at(self, limit: int) -> Callable[[EntryFact], VerdictFlags]:
        """Flags of a verdict as the registry stood below global index ``limit``."""
        suspensions = self._suspensions
        revocations = self._revocations
        compromise = self._compromise
        periods = self._period_verifiers
        verifiers = self._verifiers

        def flags(v: EntryFact) -> VerdictFlags:
            outside = None
            if v.signer in periods:
                grants = [
                    a
                    if a.suspended_at is None or a.suspended_at < limit
                    else dataclasses.replace(a, suspended_at=None, suspended_ms=None)
                    for a in verifiers[v.signer].grants
                    if a.granted_at < limit
                ]
                outside = out_of_accreditation(grants, v.log_time_ms)
            suspended = None
            later = suspensions.get(v.signer)
            if later:
                i = bisect_right(later, v.index, key=_by_index)
                if i < len(later) and later[i].index < limit:
                    suspended = later[i]
            revoked = revocations.get(v.key_id) if v.key_id is not None else None
            if revoked is not None and not v.index < revoked.index < limit:
                revoked = None
            if suspended is None and revoked is None and outside is None:
                return NO_FLAGS
            compromised = None
            since = compromise.get(v.key_id or "") if revoked is not None else None
            if since is not None and (
                (since[0] is not None and v.index >= since[0])
                or (since[1] is not None and v.log_time_ms >= since[1])
            ):
                compromised = revoked
            return VerdictFlags(suspended, revoked, compromised, outside)

        return flags

    @_locked
    def time_at(self, size: int) -> int:
        """The log time of the last entry of the log cut at ``size`` (0 for none)."""
        return self._time_at(size)

    def _time_at(self, limit: int) -> int:
        """The log time of the last entry before global index ``limit`` (0 for none)."""
        n = bisect_left(self._all.index, limit)
        return self._all.time_of(n - 1) if n else 0

    # -- replay ----------------------------------------------------------------------------

    @_locked
    def replay(
        self,
        stream: str,
        *,
        as_of_ms: int | None = None,
        size: int | None = None,
        at_ms: int | None = None,
    ) -> StreamReplay:
        """The state of ``stream``'s record at a date and/or log size.

        Args:
            stream: a provider's party id (an unknown stream replays as empty).
            as_of_ms: keep entries whose log time is at most this.
            size: keep entries whose index is below this.
            at_ms: judge verdict expiry at this time; by default ``as_of_ms``, else the log time
                of the last entry before the cut. Callers showing the present pass their clock.

        Verdict flags (:class:`VerdictFlags`) are judged at the cut: a suspension or key
        revocation logged after it is not seen, so a replay as of a past date shows what the
        registry said then.
        """
        limit = self._limit(as_of_ms, size)
        when = (
            at_ms
            if at_ms is not None
            else as_of_ms
            if as_of_ms is not None
            else self._time_at(limit)
        )
        s = self._read_stream(stream)
        if s is None:
            checks = self._reconcile(stream, (), limit)
            return StreamReplay(stream, as_of_ms, size, when, (), (), reconciliations=checks)
        facts = s.facts
        n = bisect_left(facts, limit, key=_by_index)
        if n == len(facts):
            record = s.live
            timeline = tuple(facts)
        else:
            record = _Record()
            timeline = tuple(facts[:n])
            for f in timeline:
                record.apply(f)
        # Most records were never signed by a verifier later suspended or with a revoked key:
        # their verdicts need no look-up each.
        touched = any(
            p in self._suspensions or p in self._revoked_parties or p in self._period_verifiers
            for p in s.signers
        )
        versions = record.versions(when, self._flags_at(limit) if touched else None)
        engagements = engagements_of(timeline, when)
        return StreamReplay(
            stream,
            as_of_ms,
            size,
            when,
            versions,
            timeline,
            engagements,
            findings_of(versions, when),
            self._reconcile(stream, versions, limit),
        )

    @_locked
    def dumps(self, *, size: int | None = None) -> tuple[LoggedDump, ...]:
        """The open-data dumps the authority logged (``dump.publish``) below ``size``, in log
        order (one per date: SPEC §8.2 rule 5)."""
        limit = self._limit(None, size)
        return tuple(
            LoggedDump(f.index, f.digest, f.log_time_ms, body)
            for f, body in self._dumps
            if f.index < limit
        )

    def _reconcile(
        self, stream: str, versions: Sequence[ClaimVersion], limit: int
    ) -> tuple[DatasetCheck, ...]:
        """Each current dataset below ``limit`` against the active report.authority versions."""
        logged = [(f, self._dataset_bodies[f.digest]) for f in self._datasets if f.index < limit]
        if not logged:
            return ()
        s = self._read_stream(stream)
        reports = {} if s is None else s.reports
        claims = [
            (v.digest.hex(), _report_body(reports[v.digest]))
            for v in versions
            if v.status == "active" and v.digest in reports
        ]
        return tuple(
            DatasetCheck(f.index, f.digest, f.log_time_ms, d, reconcile(d, stream, claims))
            for f, d in current_datasets(logged)
        )

    # -- scorecard -------------------------------------------------------------------------

    @_locked
    def scorecard(
        self,
        *,
        at_ms: int,
        as_of_ms: int | None = None,
        size: int | None = None,
        by: str = "company",
        measure: str | None = None,
        country: str | None = None,
        verdict: str | None = None,
        after: Sequence[str] | None = None,
        limit: int | None = None,
        only: Sequence[Sequence[str]] | None = None,
    ) -> Scorecard:
        """Providers (or services) x measures: the public status of their active claims.

        Without ``limit`` every row is computed (one replay per provider); with it, a page: rows
        after the key ``after`` in key order, at most ``limit``, having examined at most
        ``max(20 * limit, 1000)`` keys (a page may be short under narrow filters: follow
        :attr:`Scorecard.next` until it is ``None``).

        Args:
            at_ms: judge verdict expiry at this time (the caller's clock, for the present).
            as_of_ms: the log as it stood at this date.
            size: the log as it stood at this size.
            by: ``company`` (one row per provider) or ``service`` (one row per service a
                provider's claim names, counting only the claims that name it).
            measure: only this measure's cells.
            country: only claim versions whose jurisdictions include it (or ``GLOBAL``), and only
                rows with at least one such claim.
            verdict: only rows with a cell in this public status (:data:`PUBLIC_STATUSES`).
            after: the key of the last row of the previous page (``(provider,)`` or
                ``(provider, service)``).
            limit: page size, at least 1 (``None``: every row).
            only: exactly these rows, in this order (keys as ``after``; unknown ones are left
                out, filters still apply).

        Raises:
            ValueError: ``limit`` is below 1 or ``by`` is neither ``company`` nor ``service``.
        """
        if limit is not None and limit < 1:
            raise ValueError(f"limit must be at least 1, not {limit}")
        if by not in ("company", "service"):
            raise ValueError(f"by must be company or service, not {by!r}")
        cut = self._limit(as_of_ms, size)
        measures = tuple(MEASURES) if measure is None else (measure,)
        if only is not None:
            keys: Sequence[tuple[str, ...]] = [tuple(k) for k in only]
            start = 0
        else:
            keys = (self._provider_keys if by == "company" else self._service_keys).settle()
            start = 0 if after is None else bisect_right(keys, tuple(after))
        budget = len(keys) if limit is None else max(20 * limit, 1000)
        rows: list[ScorecardRow] = []
        next_key: tuple[str, ...] | None = None
        last: list[StreamReplay] = []
        for i in range(start, len(keys)):
            if limit is not None and (len(rows) == limit or i - start == budget):
                next_key = tuple(keys[i - 1])
                break
            row = self._row(keys[i], cut, at_ms, measures, country, verdict, last)
            if row is not None:
                rows.append(row)
        return Scorecard(at_ms, as_of_ms, size, measures, tuple(rows), next_key)

    def _row(
        self,
        key: Sequence[str],
        cut: int,
        at_ms: int,
        measures: tuple[str, ...],
        country: str | None,
        verdict: str | None,
        last: list[StreamReplay],
    ) -> ScorecardRow | None:
        """One row of :meth:`scorecard`, or ``None`` (not a provider then, filtered out);
        ``last`` holds the previous row's replay (a provider's services are consecutive)."""
        pid = key[0]
        state = self._parties.get(pid)
        if state is None or state.party.role != "provider" or state.party.registered_at >= cut:
            return None
        if state.retired is not None and state.retired.index < cut:
            return None  # retired: not in the comparison (its page still shows its record)
        service = key[1] if len(key) > 1 else None
        if service is not None:
            first = self._services.get(pid, {}).get(service)
            if first is None or first >= cut:
                return None
        if last and last[0].stream == pid:
            replay = last[0]
        else:
            replay = self.replay(pid, size=cut, at_ms=at_ms)
            last[:] = [replay]
        by_measure: dict[str, list[ClaimVersion]] = {}
        for c in replay.claims:
            if c.status != "active":
                continue
            scope = c.entry.scope
            if service is not None and (scope is None or service not in scope.services):
                continue
            if country is not None and (
                scope is None
                or (country not in scope.jurisdictions and "GLOBAL" not in scope.jurisdictions)
            ):
                continue
            by_measure.setdefault(c.measure, []).append(c)
        cells = []
        for m in measures:
            active = tuple(reversed(by_measure.get(m, ())))
            status = (
                min((c.public_status for c in active), key=_RANK.__getitem__)
                if active
                else "no_claim"
            )
            cells.append(ScorecardCell(pid, m, status, active))
        if country is not None and all(c.status == "no_claim" for c in cells):
            return None
        if verdict is not None and not any(c.status == verdict for c in cells):
            return None
        p = state.party
        counts = replay.finding_counts
        return ScorecardRow(
            pid,
            p.name,
            p.jurisdiction,
            tuple(cells),
            service,
            tuple(e.digest for e in replay.engagements if e.status == "overdue"),
            counts["open"],
            counts["commitmentsOverdue"],
        )

    # -- the public search -----------------------------------------------------------------

    @_locked
    def find_names(
        self,
        query: str,
        *,
        limit: int = 20,
        after: tuple[str, str, int] | None = None,
        size: int | None = None,
    ) -> NameResults:
        """Companies and services by name: word prefixes first, then names a few edits away.

        The query is folded like the names (``ledger/_search.py``: accents dropped, case folded);
        a look-up bisects a sorted list of word-suffixes and reads a few trigram posting lists,
        never every name.

        Args:
            query: what the reader typed.
            limit: page size, at least 1.
            after: :attr:`NameResults.next` of the previous page.
            size: leave out names first named at or after this log size.

        Raises:
            ValueError: ``limit`` is below 1, or ``after`` is not a cursor of this search.
        """
        if limit < 1:
            raise ValueError(f"limit must be at least 1, not {limit}")
        q = fold(query)
        cut = self.size if size is None else size
        if not q:
            return NameResults(q, (), None)
        hits: list[NameHit] = []
        offset = 0
        if after is None or after[0] == "p":
            prefix_after = None if after is None else (after[1], after[2])
            found, more = self._names.index().prefix(q, after=prefix_after, limit=limit)
            hits = [h for h in found if h.item.first_index < cut]
            if more:
                return NameResults(q, tuple(hits), ("p", found[-1].key[0], found[-1].key[1]))
            if len(found) == limit:  # similar names, if any, on the next page (not looked up now)
                return NameResults(q, tuple(hits), ("f", "", 0))
        elif after[0] == "f" and after[2] >= 0:
            offset = after[2]
        else:
            raise ValueError("not a cursor of this search")
        similar = self._names.index().fuzzy(q)
        take = similar[offset : offset + limit - len(hits)]
        hits.extend(h for h in take if h.item.first_index < cut)
        end = offset + len(take)
        return NameResults(q, tuple(hits), ("f", "", end) if end < len(similar) else None)

    @_locked
    def retired_since(self, party_id: str, *, size: int | None = None) -> int | None:
        """The log time (ms) of the party's ``party.retire`` if it is below ``size``, else
        ``None`` (not retired, or not yet at that size)."""
        p = self._parties.get(party_id)
        r = None if p is None else p.retired
        if r is None or (size is not None and r.index >= size):
            return None
        return r.log_time_ms

    @_locked
    def settle(self) -> None:
        """Sort what the name index and the scorecard's keys gathered since they were last read
        (the next read would): a server calls it once after its open, before freezing the heap,
        so that its first visitor does not wait for the sort (≈ 0.5 s at 100,000 services).
        A snapshot holds them sorted; its name index is read at the first search."""
        self._names.settle()
        self._provider_keys.settle()
        self._service_keys.settle()

    @_locked
    def provider_ids(self, *, after: str | None = None, limit: int = 100) -> list[str]:
        """Provider party ids in order, after ``after``, at most ``limit`` (a bisection, not a
        pass over every party)."""
        keys = self._provider_keys.settle()
        start = 0 if after is None else bisect_right(keys, (after,))
        return [k[0] for k in keys[start : start + limit]]

    @_locked
    def services(self, provider: str, *, size: int | None = None) -> list[str]:
        """The services ``provider``'s claims name (below log ``size``), by name."""
        cut = self.size if size is None else size
        return sorted(n for n, i in self._services.get(provider, {}).items() if i < cut)

    @_locked
    def jurisdictions(self, *, size: int | None = None) -> list[str]:
        """Every jurisdiction a claim names below log ``size`` (``GLOBAL`` aside), sorted."""
        cut = self.size if size is None else size
        return sorted(j for j, i in self._jurisdictions.items() if i < cut and j != "GLOBAL")

    @_locked
    def summary(self) -> dict[str, int]:
        """Counts for the public page: companies, services, verifiers, claims (versions
        published), test records, verdicts, entries."""
        k = self._kinds
        return {
            "companies": len(self._roles.get("provider", ())),
            "services": len(self._service_keys),
            "verifiers": len(self._roles.get("verifier", ())),
            "claims": k.get(Kind.CLAIM_PUBLISH.value, 0) + k.get(Kind.CLAIM_SUPERSEDE.value, 0),
            "tests": k.get(Kind.TEST_RECORD.value, 0),
            "verdicts": k.get(Kind.VERDICT_ISSUE.value, 0),
            "entries": len(self._all),
        }

    @_locked
    def log_time(self, index: int) -> int | None:
        """The log time of the entry at ``index``, if there is one."""
        a = self._all
        n = bisect_left(a.index, index)
        return a.time_of(n) if n < len(a) and a.index[n] == index else None

    @_locked
    def names(self, party_ids: Iterable[str]) -> dict[str, str]:
        """The registered names of these parties (those that exist)."""
        out = {}
        for pid in party_ids:
            p = self._parties.get(pid)
            if p is not None:
                out[pid] = p.party.name
        return out

    # -- search ----------------------------------------------------------------------------

    @_locked
    def search(
        self,
        *,
        company: str | None = None,
        measure: str | None = None,
        verifier: str | None = None,
        result: str | None = None,
        kind: str | None = None,
        limit: int = 100,
        after_index: int | None = None,
    ) -> list[EntryFact]:
        """Entries matching every filter given, in index order, at most ``limit``.

        Args:
            company: the stream (a provider's party id, or ``registry``).
            measure: the measure of the claim the entry is or concerns.
            verifier: the signer of a test record or verdict.
            result: a test record's or verdict's result (e.g. ``CONFIRMED``, ``FAILED``).
            kind: the statement kind.
            limit: page size, at least 1.
            after_index: return only entries after this index (the last index of the
                previous page).

        Raises:
            ValueError: ``limit`` is below 1.
        """
        if limit < 1:
            raise ValueError(f"limit must be at least 1, not {limit}")
        fact_at: Callable[[int], EntryFact]
        if company is not None:
            s = self._read_stream(company)
            pool: list[EntryFact] = [] if s is None else s.facts
            start = 0 if after_index is None else bisect_right(pool, after_index, key=_by_index)
            end, fact_at = len(pool), pool.__getitem__
        else:
            start = 0 if after_index is None else bisect_right(self._all.index, after_index)
            end, fact_at = len(self._all), self._fact_at
        out: list[EntryFact] = []
        for i in range(start, end):
            f = fact_at(i)
            if (
                (measure is None or f.measure == measure)
                and (verifier is None or (f.signer == verifier and f.kind in _VERIFIER_KINDS))
                and (result is None or f.result == result)
                and (kind is None or f.kind == kind)
            ):
                out.append(f)
                if len(out) == limit:
                    break
        return out

    # -- feeds -----------------------------------------------------------------------------

    @_locked
    def feed(
        self,
        stream: str | None = None,
        *,
        size: int | None = None,
        limit: int = 100,
        expiring_within_ms: int = 30 * DAY_MS,
    ) -> Feed:
        """The newest feed items of the whole log, or of one company, at a log size.

        Items are entries of :data:`FEED_KINDS` and, for each active claim version whose latest
        verdict's ``validUntil`` is within ``expiring_within_ms`` after the feed's time (and not
        before it), an *expiring* item. A company's feed has its stream's entries, the
        suspensions and key revocations of verifiers who signed a test record or verdict on its
        stream before them, and revocations of its own keys.

        Args:
            stream: a provider's party id, or ``None`` for the whole log.
            size: the log as it stood at this size (default: all of it).
            limit: most items, at least 1.
            expiring_within_ms: the window before ``validUntil`` that makes a verdict expiring.

        Raises:
            ValueError: ``limit`` is below 1.
        """
        if limit < 1:
            raise ValueError(f"limit must be at least 1, not {limit}")
        cut = self._limit(None, size)
        time_ms = self._time_at(cut)
        items: list[FeedItem] = []
        if stream is None:
            n = bisect_left(self._all.index, cut)
            newest, first_newest = self._newest, len(self._all) - len(self._newest)
            for i in range(n - 1, -1, -1):
                f = newest[i - first_newest] if i >= first_newest else self._fact_at(i)
                if f.kind in FEED_KINDS:
                    items.append(FeedItem(f, False, f.index, f.log_time_ms))
                    if len(items) == limit:
                        break
            streams = []  # their expiring items: _expiring_all
        else:
            s = self._read_stream(stream)
            streams = [] if s is None or stream == REGISTRY_STREAM else [s]
            if s is not None and stream != REGISTRY_STREAM:
                n = bisect_left(s.facts, cut, key=_by_index)
                items.extend(
                    FeedItem(f, False, f.index, f.log_time_ms) for f in s.facts[:n][-limit:]
                )
                signers = s.signers
            else:
                signers = {}
            for f in self._registry_events:
                if f.index >= cut:
                    break
                first = signers.get(f.party or "")
                if f.party == stream or (first is not None and first < f.index):
                    items.append(FeedItem(f, False, f.index, f.log_time_ms))
        if self._all and cut > 0:
            if stream is None:
                items.extend(self._expiring_all(cut, time_ms, expiring_within_ms, limit))
            for s in streams:
                items.extend(self._expiring(s, cut, time_ms, expiring_within_ms))
        items.sort(key=lambda it: (it.index, it.expiring, it.fact.index), reverse=True)
        return Feed(stream, cut, time_ms, tuple(items[:limit]))

    def _expiring_all(self, cut: int, time_ms: int, window: int, limit: int) -> list[FeedItem]:
        """The newest ``limit`` expiring items of the whole log below ``cut``, reading only the
        parts of streams with entries at or after ``cut`` (none, for the log as it stands) and
        of the verdicts returned: the others' state at ``cut`` is their state now, in
        :attr:`_due`."""
        a = self._all
        late = a.streams_from(bisect_left(a.index, cut))
        items: list[FeedItem] = []
        for k in late:
            if a.streams[k] != REGISTRY_STREAM:
                items.extend(self._expiring(self._streams[a.streams[k]], cut, time_ms, window))
        # A verdict's item is at the first entry logged inside its window (or at the verdict,
        # if that is later): found exactly for the newest ``limit`` only, the others bounded by
        # the chunk of the log index the window starts in (no chunk read).
        bounded: list[tuple[int, int, int, int, int]] = []
        last = len(a) - 1
        for until, num, number, offset in self._due.values():
            if time_ms <= until <= time_ms + window and number not in late:
                hi = max(min(a.chunk_bound(until - window), last), num)
                bounded.append((hi, until, num, number, offset))
        bounded.sort(reverse=True)
        best: list[tuple[int, int, int, int, int, int]] = []  # the newest ``limit``, a min-heap
        for hi, until, num, number, offset in bounded:
            if len(best) == limit and a.index[hi] < best[0][0]:
                break
            first = max(a.count_before(until - window), num)
            key = (a.index[first], a.index[num], a.time_of(first), num, number, offset)
            if len(best) < limit:
                heappush(best, key)
            elif key > best[0]:
                heapreplace(best, key)
        best.sort(reverse=True)
        items.extend(
            FeedItem(self._fact_where(number, offset), True, i, t)
            for i, _, t, _, number, offset in best
        )
        return items

    def _expiring(self, s: _Stream, cut: int, time_ms: int, window: int) -> Iterable[FeedItem]:
        facts = s.facts
        n = bisect_left(facts, cut, key=_by_index)
        if n == len(facts):
            record = s.live
        else:
            record = _Record()
            for f in facts[:n]:
                record.apply(f)
        for c in record.claims.values():
            if c.status != "active" or not c.verdicts:
                continue
            v = c.verdicts[-1]
            until = v.valid_until_ms
            if until is None or not time_ms <= until <= time_ms + window:
                continue
            # The first entry logged inside the window: the item exists from there on, the
            # same at every later size while the verdict stays the latest and unexpired.
            a = self._all
            first = a.count_before(until - window)
            if a.index[first] < v.index:
                yield FeedItem(v, True, v.index, v.log_time_ms)
            else:
                yield FeedItem(v, True, a.index[first], a.time_of(first))

    # -- parties ---------------------------------------------------------------------------

    @_locked
    def verifier(
        self, party_id: str, *, at_ms: int, size: int | None = None
    ) -> VerifierRecord | None:
        """A verifier's track record as the log stood below ``size`` (``None`` if no verifier
        of that id was registered by then). It reads the verifier's own index and, for each of
        its verdicts, the verdicts on that claim version: O(its entries), never every stream.
        """
        state = self._parties.get(party_id)
        limit = self._limit(None, size)
        if state is None or state.party.role != "verifier" or state.party.registered_at >= limit:
            return None
        idx = self._verifiers.get(party_id) or _VerifierIndex()
        cut = bisect_left(idx.entries, bisect_left(self._all.index, limit))
        facts = list(map(self._fact_where, idx.streams[:cut], idx.offsets[:cut]))
        grants = tuple(
            a
            if a.suspended_at is None or a.suspended_at < limit
            else dataclasses.replace(a, suspended_at=None, suspended_ms=None)
            for a in idx.grants
            if a.granted_at < limit
        )
        verdicts = tuple(f for f in facts if f.kind == Kind.VERDICT_ISSUE.value)
        opinions = []
        for v in verdicts:
            side = _side(v.result)
            stream = self._read_stream(v.stream)
            claim = None if stream is None else stream.live.claims.get(v.claim or b"")
            if not side or claim is None:
                continue
            later = tuple(
                w
                for w in claim.verdicts
                if v.index < w.index < limit and w.signer != v.signer and _side(w.result)
            )
            if later:
                against = tuple(w for w in later if _side(w.result) == -side)
                opinions.append(SecondOpinion(v, later, against))
        return VerifierRecord(
            party=state.snapshot(),
            at_ms=at_ms,
            size=limit,
            accreditations=grants,
            engagements=engagements_of(facts, at_ms),
            tests=sum(1 for f in facts if f.kind == Kind.TEST_RECORD.value),
            verdicts=verdicts,
            second_opinions=tuple(opinions),
            outside=tuple(out_of_accreditation(grants, v.log_time_ms) for v in verdicts),
        )

    @_locked
    def parties(self, *, role: str | None = None) -> list[Party]:
        """Every registered party (optionally of one role), by party id."""
        ids = self._parties if role is None else self._roles.get(role, ())
        return [self._parties[pid].snapshot() for pid in sorted(ids)]

    @_locked
    def party(self, party_id: str) -> Party | None:
        """The party with this id, or ``None``."""
        p = self._parties.get(party_id)
        return None if p is None else p.snapshot()

    @_locked
    def streams(self) -> list[str]:
        """Every stream with at least one entry, sorted."""
        return sorted(self._streams)

    @_locked
    def entries(self, stream: str) -> Iterable[EntryFact]:
        """Every fact of ``stream``, in order."""
        s = self._read_stream(stream)
        return () if s is None else tuple(s.facts)
