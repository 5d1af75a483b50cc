"""Engagements as the public sees them (issue 17 §1; SPEC §8.2 rule 7).

A verifier registers an engagement in the provider's stream before it tests; the rules
(``attest.rules``) decide what may be written under it. What is shown is derived here from a
company's entry facts, at the time a view is evaluated at:

- ``open``, ``closed`` (by a verdict), ``withdrawn`` (by the verifier or by the provider, with
  the reason), or ``overdue``: open with its window ended and neither closed nor withdrawn;
- each planned method (method and protocol) with no test record under the engagement reads
  "planned, not reported";
- test records and verdicts that name no engagement are *legacy* records, counted as such.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from attest.statements import (
    EngagementClose,
    EngagementOpen,
    EngagementWithdraw,
    Kind,
    TestRecord,
    Verdict,
    format_timestamp,
)

if TYPE_CHECKING:
    from ledger._views import EntryFact

__all__ = [
    "ENGAGEMENT_STATUSES",
    "Engagement",
    "EngagementFact",
    "engagement_counts",
    "engagement_fact",
    "engagements_of",
]

ENGAGEMENT_STATUSES = ("open", "overdue", "closed", "withdrawn")

Method = tuple[str, str, str]
"""A planned or used method: (method, protocol URI, protocol SHA-256 hex)."""


@dataclass(frozen=True, slots=True)
class EngagementFact:
    """The engagement part of one entry: what an ``engagement.open`` registers, or which
    engagement a test record, verdict, close or withdrawal names (``ref``)."""

    ref: bytes | None = None
    claims: tuple[bytes, ...] = ()
    start_ms: int = 0
    end_ms: int = 0
    methods: tuple[Method, ...] = ()
    commissioned_by: str | None = None
    paid_by: str | None = None
    conflicts: tuple[str, ...] = ()
    reason: str | None = None
    verdict: bytes | None = None
    not_tested: tuple[str, ...] = ()


def engagement_fact(body: object) -> EngagementFact | None:
    """The engagement part of a statement body, if it has one (legacy tests and verdicts not)."""
    if isinstance(body, EngagementOpen):
        return EngagementFact(
            claims=tuple(bytes.fromhex(c) for c in body.claims),
            start_ms=body.window.start_ms,
            end_ms=body.window.end_ms,
            methods=tuple(
                (m.method.value, m.protocol.uri, m.protocol.digest.sha256) for m in body.methods
            ),
            commissioned_by=body.commissioned_by.label,
            paid_by=body.paid_by.label,
            conflicts=body.conflicts,
        )
    if isinstance(body, EngagementClose):
        return EngagementFact(
            ref=bytes.fromhex(body.engagement), verdict=bytes.fromhex(body.verdict)
        )
    if isinstance(body, EngagementWithdraw):
        return EngagementFact(ref=bytes.fromhex(body.engagement), reason=body.reason)
    if isinstance(body, TestRecord) and body.engagement is not None:
        used = (body.method.value, body.protocol.uri, body.protocol.digest.sha256)
        return EngagementFact(
            ref=bytes.fromhex(body.engagement), methods=(used,), not_tested=body.not_tested or ()
        )
    if isinstance(body, Verdict) and body.engagement is not None:
        return EngagementFact(ref=bytes.fromhex(body.engagement))
    return None


def _iso(ms: int) -> str:
    return format_timestamp(ms // 1000 * 1000)


@dataclass(frozen=True, slots=True)
class Engagement:
    """One engagement as it stood at the cut of a replay, judged at ``evaluated_at_ms``.

    Attributes:
        digest: the digest of its ``engagement.open`` (what records name it by).
        verifier: the verifier that opened it.
        opened: its ``engagement.open`` entry.
        status: ``open``, ``overdue``, ``closed`` or ``withdrawn``.
        ended: the ``engagement.close`` or ``engagement.withdraw`` entry, if any.
        tests: the test records under it, in log order.
        verdicts: the verdicts under it, in log order.
        planned_not_reported: planned methods with no test record under it (method, URI).
    """

    digest: bytes
    verifier: str
    opened: EntryFact
    status: str
    ended: EntryFact | None
    tests: tuple[EntryFact, ...]
    verdicts: tuple[EntryFact, ...]
    planned_not_reported: tuple[tuple[str, str], ...]

    @property
    def plan(self) -> EngagementFact:
        """What was registered."""
        fact = self.opened.engagement
        return fact if fact is not None else EngagementFact()

    @property
    def withdrawn_by(self) -> str | None:
        """Who withdrew it (the verifier or the provider), if it was withdrawn."""
        return self.ended.signer if self.status == "withdrawn" and self.ended else None

    @property
    def not_tested(self) -> tuple[str, ...]:
        """Everything its test records list as not tested / out of scope, once each."""
        out: dict[str, None] = {}
        for t in self.tests:
            if t.engagement is not None:
                out.update(dict.fromkeys(t.engagement.not_tested))
        return tuple(out)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON, camelCase keys, hashes as hex."""
        plan = self.plan
        ended = self.ended
        closed_by = (
            ended.engagement.verdict
            if ended is not None and ended.engagement is not None and self.status == "closed"
            else None
        )
        return {
            "digest": self.digest.hex(),
            "verifier": self.verifier,
            "status": self.status,
            "index": self.opened.index,
            "openedAt": _iso(self.opened.log_time_ms),
            "claims": [c.hex() for c in plan.claims],
            "window": {"start": _iso(plan.start_ms), "end": _iso(plan.end_ms)},
            "methods": [{"method": m, "protocol": uri} for m, uri, _ in plan.methods],
            "commissionedBy": plan.commissioned_by,
            "paidBy": plan.paid_by,
            "conflicts": list(plan.conflicts),
            "endedIndex": None if ended is None else ended.index,
            "endedAt": None if ended is None else _iso(ended.log_time_ms),
            "closedBy": None if closed_by is None else closed_by.hex(),
            "withdrawnBy": self.withdrawn_by,
            "withdrawalReason": (
                ended.engagement.reason
                if ended is not None and ended.engagement is not None
                else None
            ),
            "tests": [t.digest.hex() for t in self.tests],
            "verdicts": [v.digest.hex() for v in self.verdicts],
            "plannedNotReported": [
                {"method": m, "protocol": u} for m, u in self.planned_not_reported
            ],
            "notTested": list(self.not_tested),
        }


def engagements_of(timeline: Iterable[EntryFact], at_ms: int) -> tuple[Engagement, ...]:
    """The engagements of one company's stream (its facts, in log order), judged at ``at_ms``."""
    opened: dict[bytes, EntryFact] = {}
    ended: dict[bytes, EntryFact] = {}
    tests: dict[bytes, list[EntryFact]] = {}
    verdicts: dict[bytes, list[EntryFact]] = {}
    for f in timeline:
        e = f.engagement
        if e is None:
            continue
        if f.kind == Kind.ENGAGEMENT_OPEN.value:
            opened[f.digest] = f
        elif e.ref is None:
            continue
        elif f.kind in (Kind.ENGAGEMENT_CLOSE.value, Kind.ENGAGEMENT_WITHDRAW.value):
            ended.setdefault(e.ref, f)
        elif f.kind == Kind.TEST_RECORD.value:
            tests.setdefault(e.ref, []).append(f)
        elif f.kind == Kind.VERDICT_ISSUE.value:
            verdicts.setdefault(e.ref, []).append(f)
    out = []
    for digest, f in opened.items():
        plan = f.engagement or EngagementFact()
        end = ended.get(digest)
        if end is not None:
            status = "closed" if end.kind == Kind.ENGAGEMENT_CLOSE.value else "withdrawn"
        else:
            status = "overdue" if plan.end_ms < at_ms else "open"
        mine = tuple(tests.get(digest, ()))
        used = {m for t in mine if t.engagement is not None for m in t.engagement.methods}
        out.append(
            Engagement(
                digest,
                f.signer,
                f,
                status,
                end,
                mine,
                tuple(verdicts.get(digest, ())),
                tuple((m, uri) for m, uri, sha in plan.methods if (m, uri, sha) not in used),
            )
        )
    return tuple(out)


def engagement_counts(engagements: Sequence[Engagement]) -> dict[str, int]:
    """How many engagements have each status (every status named, zeros included)."""
    counts = dict.fromkeys(ENGAGEMENT_STATUSES, 0)
    for e in engagements:
        counts[e.status] += 1
    return counts
