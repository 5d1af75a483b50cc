"""Reconciling a provider's reported counts with a reference dataset (docs/SPEC.md §8.4).

The authority logs a published table of per-provider counts (``reference.publish``, e.g. NCMEC's
CyberTipline reports by electronic service provider for a year). :func:`reconcile` compares one
provider's row with the metrics of its current ``report.authority`` claim versions, by the one
rule of SPEC §8.4; :func:`current_datasets` keeps, of datasets logged for the same source series,
recipient, unit and period, the latest (a correction replaces the earlier table, which stays in the
log). Pure: no I/O, no clock.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, TypeVar

from attest.statements import Claim, ReferencePublish

__all__ = [
    "CONSISTENT",
    "INCONSISTENT",
    "NOT_COMPARABLE",
    "REASONS",
    "WORDS",
    "Reconciliation",
    "ReportedValue",
    "current_datasets",
    "dataset_key",
    "describe",
    "reconcile",
    "unit_words",
]

CONSISTENT = "consistent"
INCONSISTENT = "inconsistent"
NOT_COMPARABLE = "not_comparable"

REASONS = ("no_row", "no_claim", "recipient", "period", "unit")
"""Why a comparison is not comparable, in the order SPEC §8.4 checks them."""

MEASURE = "report.authority"

WORDS: Mapping[str, Any] = json.loads(
    (Path(__file__).with_name("reconciliation.json")).read_text(encoding="utf-8")
)
"""The one table of the outcomes' words (``attest/reconciliation.json``)."""

T = TypeVar("T")


def dataset_key(d: ReferencePublish) -> tuple[str, str, str, str, str]:
    """What a later dataset replaces an earlier one on: series, recipient, unit and period."""
    return (d.dataset, d.recipient, d.unit.value, d.period.start, d.period.end)


def current_datasets(
    logged: Iterable[tuple[T, ReferencePublish]],
) -> list[tuple[T, ReferencePublish]]:
    """Of ``(ref, dataset)`` pairs in log order, the latest of each :func:`dataset_key`, in the
    log order of those latest ones."""
    latest: dict[tuple[str, str, str, str, str], tuple[T, ReferencePublish]] = {}
    for ref, d in logged:
        key = dataset_key(d)
        latest.pop(key, None)
        latest[key] = (ref, d)
    return list(latest.values())


@dataclass(frozen=True, slots=True)
class ReportedValue:
    """One metric of the provider's compared with the row: claim version, metric name, value."""

    claim: str
    name: str
    value: int | str

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON."""
        return {"claim": self.claim, "name": self.name, "value": self.value}


@dataclass(frozen=True, slots=True)
class Reconciliation:
    """The outcome of :func:`reconcile` for one provider and one dataset.

    Attributes:
        status: :data:`CONSISTENT`, :data:`INCONSISTENT` or :data:`NOT_COMPARABLE`.
        reason: for not comparable, one of :data:`REASONS`; else None.
        listed_as: the row's ``listedAs`` (None without a row).
        count: the row's count (None without a row).
        reported: the provider's metrics compared (same period and unit), in claim then metric
            order; for a period or unit mismatch, the metrics that named the recipient's claims
            so the reader sees what was reported instead.
    """

    status: str
    reason: str | None
    listed_as: str | None
    count: int | None
    reported: tuple[ReportedValue, ...]

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON."""
        return {
            "status": self.status,
            "reason": self.reason,
            "listedAs": self.listed_as,
            "count": self.count,
            "reported": [r.to_dict() for r in self.reported],
        }


def _equals(value: int | str, count: int) -> bool:
    if isinstance(value, int):
        return value == count
    try:
        return Decimal(value) == count
    except InvalidOperation:  # pragma: no cover - the schema admits decimal strings only
        return False


def reconcile(
    dataset: ReferencePublish, party: str, claims: Sequence[tuple[str, Claim]]
) -> Reconciliation:
    """Compare ``party``'s row of ``dataset`` with its claims (SPEC §8.4).

    Args:
        dataset: the reference dataset.
        party: the provider's party id.
        claims: the provider's current (active) claim versions as ``(hex digest, claim)``, in
            log order; only ``report.authority`` ones are read.
    """
    row = dataset.row_of(party)
    if row is None:
        return Reconciliation(NOT_COMPARABLE, "no_row", None, None, ())

    def out(status: str, reason: str | None, values: Iterable[ReportedValue]) -> Reconciliation:
        return Reconciliation(status, reason, row.listed_as, row.count, tuple(values))

    mine = [(d, c) for d, c in claims if c.measure == MEASURE]
    if not mine:
        return out(NOT_COMPARABLE, "no_claim", ())
    named = [(d, c) for d, c in mine if dataset.recipient in c.details.get("recipients", ())]
    if not named:
        return out(NOT_COMPARABLE, "recipient", ())
    every = [(d, m) for d, c in named for m in c.metrics]
    same_period = [
        (d, m)
        for d, m in every
        if (m.period.start, m.period.end) == (dataset.period.start, dataset.period.end)
    ]
    if not same_period:
        return out(NOT_COMPARABLE, "period", (ReportedValue(d, m.name, m.value) for d, m in every))
    same_unit = [(d, m) for d, m in same_period if m.unit == dataset.unit.value]
    if not same_unit:
        seen = (ReportedValue(d, m.name, m.value) for d, m in same_period)
        return out(NOT_COMPARABLE, "unit", seen)
    values = tuple(ReportedValue(d, m.name, m.value) for d, m in same_unit)
    ok = all(_equals(v.value, row.count) for v in values)
    return out(CONSISTENT if ok else INCONSISTENT, None, values)


def describe(
    result: Reconciliation,
    dataset: ReferencePublish,
    translate: Callable[[str], str] = lambda words: words,
) -> tuple[str, str]:
    """The outcome's label and sentence, from :data:`WORDS` (each word read through
    ``translate``: the pages give their catalog's, everything else reads the English)."""
    fixed = WORDS["fields"]
    reported = ", ".join(f"{v.value} ({v.name})" for v in result.reported)
    p = dataset.period
    period = translate(fixed["periodRange"]).format(start=p.start, end=p.end)
    fields = {
        "listed": translate(fixed["noCount"]) if result.count is None else str(result.count),
        "reported": reported or translate(fixed["nothing"]),
        "unit": unit_words(dataset.unit.value, translate),
        "recipient": dataset.recipient,
        "period": p.start if p.start == p.end else period,
    }
    status = WORDS["status"][result.status]
    text = translate(status["text"])
    if result.reason is not None:
        text = text.replace("{reason}", translate(WORDS["reason"][result.reason]))
    return translate(status["label"]), text.format(**fields)


def unit_words(unit: str, translate: Callable[[str], str] = lambda words: words) -> str:
    """A table's unit (``reports``, ``pieces``, ``accounts``) in words, from :data:`WORDS`."""
    words = WORDS["units"].get(unit)
    return translate(words) if words is not None else unit
