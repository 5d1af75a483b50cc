"""A company's record as of a verified bundle's checkpoint: the regulator's report.

:func:`build_report` turns a :class:`attest.bundle.VerifiedRecord` (an evidence bundle that
:func:`attest.verify_bundle` accepted) into a :class:`Report`: the company's claim versions with
their supersedes chains, status, tests, verdicts (expired or not at the checkpoint's time, and the
registry's later word on their verifiers), replies, what is unverified, and every key that signed
an entry of the record. It replays the verified entries with the same :class:`Views` as the
ledger (a sparse feed: the registry records and the one stream), so a report says what the
company page and ``replay`` say, as of the bundle's checkpoint. Pure: no I/O, no clock: verdict
expiry is judged at the checkpoint's log time (its last entry's), which the state proof proves.

``claimledger report`` renders it as text, JSON (:meth:`Report.to_dict`) or CSV
(:meth:`Report.rows`); the case-file page (``/companies/{id}/case-file``) renders it as HTML.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

from attest.bundle import VerifiedRecord
from attest.verify import log_note_verifier
from ledger._bundle import record_views
from ledger._engagements import engagement_counts
from ledger._views import ClaimVersion, StreamReplay, _iso

__all__ = ["REPORT_COLUMNS", "REPORT_FORMAT", "Report", "ReportClaim", "SignerKey", "build_report"]

REPORT_FORMAT = "claimledger.report.v1"
"""The ``format`` member of a report's JSON."""

REPORT_COLUMNS = (
    "company",
    "checkpoint_size",
    "checkpoint_time",
    "measure",
    "chain",
    "version",
    "claim",
    "supersedes",
    "status",
    "public_status",
    "unverified",
    "published",
    "tests",
    "verdicts",
    "latest_verdict",
    "latest_verdict_by",
    "latest_verdict_at",
    "valid_until",
    "expired",
    "flags",
    "replies",
)
"""The CSV columns of :meth:`Report.rows`, one row per claim version."""


@dataclass(frozen=True, slots=True)
class SignerKey:
    """A key that signed entries of the record.

    Attributes:
        party: the signer's party id.
        name: its registered name.
        role: ``authority``, ``provider`` or ``verifier``.
        key_id: the key id the entries' signatures name (SPEC §2.3).
        entries: how many entries of the record it signed.
    """

    party: str
    name: str
    role: str
    key_id: str
    entries: int

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON, camelCase keys."""
        return {
            "party": self.party,
            "name": self.name,
            "role": self.role,
            "keyId": self.key_id,
            "entries": self.entries,
        }


@dataclass(frozen=True, slots=True)
class ReportClaim:
    """One claim version in the report.

    Attributes:
        version: the claim version as replayed by :class:`Views` at the checkpoint.
        chain: the digest of the first version of its supersedes chain (the measure's claim).
        number: its place in that chain (1 for the first version).
        unverified: why an active version is unverified (``no verdict`` or ``latest verdict
            expired``), else None.
    """

    version: ClaimVersion
    chain: bytes
    number: int
    unverified: str | None

    def expired(self, at_ms: int) -> tuple[bool, ...]:
        """For each verdict on it (log order), whether it had expired at ``at_ms``."""
        return tuple(v.expired_at(at_ms) for v in self.version.verdicts)


@dataclass(frozen=True, slots=True)
class Report:
    """A company's verified record as of a checkpoint.

    Attributes:
        stream: the company's party id.
        name: its registered name.
        jurisdiction: its registered jurisdiction.
        origin: the log's origin.
        size: the checkpoint's tree size.
        root: the checkpoint's root hash.
        time_ms: the checkpoint's log time (its last entry's), at which expiry is judged.
        log_key: the log's verifier key (vkey) that signed the checkpoint.
        note: the signed checkpoint note.
        genesis_hash: the ledger fingerprint.
        replay: the company's record replayed at the checkpoint.
        claims: every claim version, in log order.
        signers: every key that signed an entry of the record, by party then key id.
        counts: what the stream holds (:meth:`VerifiedRecord.counts`).
    """

    stream: str
    name: str
    jurisdiction: str | None
    origin: str
    size: int
    root: bytes
    time_ms: int
    log_key: str
    note: str
    genesis_hash: bytes
    replay: StreamReplay
    claims: tuple[ReportClaim, ...]
    signers: tuple[SignerKey, ...]
    counts: dict[str, int]

    @property
    def root_b64(self) -> str:
        """The root in base64, as the checkpoint note writes it (SPEC §7)."""
        return base64.b64encode(self.root).decode("ascii")

    @property
    def engagement_counts(self) -> dict[str, int]:
        """How many engagements are open, overdue, closed and withdrawn at the checkpoint."""
        return engagement_counts(self.replay.engagements)

    @property
    def unverified(self) -> tuple[ReportClaim, ...]:
        """The active claim versions that are unverified at the checkpoint."""
        return tuple(c for c in self.claims if c.unverified is not None)

    def to_dict(self) -> dict[str, Any]:
        """The report's JSON (docs/architecture/cli.md, "report"): each claim version is
        :meth:`ClaimVersion.to_dict` with ``chain``, ``version``, ``unverified`` and, on each
        verdict, ``expired``; each engagement is :meth:`Engagement.to_dict`, its status (open,
        overdue, closed, withdrawn) judged at the checkpoint's log time."""
        claims = []
        for c in self.claims:
            d = c.version.to_dict()
            for v, expired in zip(d["verdicts"], c.expired(self.time_ms), strict=True):
                v["expired"] = expired
            d.update(chain=c.chain.hex(), version=c.number, unverified=c.unverified)
            claims.append(d)
        return {
            "format": REPORT_FORMAT,
            "company": {"id": self.stream, "name": self.name, "jurisdiction": self.jurisdiction},
            "checkpoint": {
                "origin": self.origin,
                "size": self.size,
                "root": self.root_b64,
                "logTime": _iso(self.time_ms),
                "logTimeMs": self.time_ms,
                "logKey": self.log_key,
                "note": self.note,
            },
            "ledgerFingerprint": self.genesis_hash.hex(),
            "evaluatedAt": _iso(self.time_ms),
            "counts": dict(self.counts),
            "signers": [s.to_dict() for s in self.signers],
            "claims": claims,
            "unverified": [c.version.digest.hex() for c in self.unverified],
            "engagements": [e.to_dict() for e in self.replay.engagements],
            "findings": [f.to_dict() for f in self.replay.findings],
            "findingCounts": self.replay.finding_counts,
            "reconciliations": [r.to_dict() for r in self.replay.reconciliations],
        }

    def rows(self) -> list[dict[str, str]]:
        """One row per claim version, keyed by :data:`REPORT_COLUMNS` (for CSV)."""
        out = []
        for c in self.claims:
            v = c.version
            latest = v.latest_verdict
            flags = v.latest_verdict_flags
            out.append(
                {
                    "company": self.stream,
                    "checkpoint_size": str(self.size),
                    "checkpoint_time": _iso(self.time_ms),
                    "measure": v.measure,
                    "chain": c.chain.hex(),
                    "version": str(c.number),
                    "claim": v.digest.hex(),
                    "supersedes": "" if v.entry.supersedes is None else v.entry.supersedes.hex(),
                    "status": v.status,
                    "public_status": v.public_status,
                    "unverified": c.unverified or "",
                    "published": _iso(v.entry.log_time_ms),
                    "tests": str(len(v.tests)),
                    "verdicts": str(len(v.verdicts)),
                    "latest_verdict": "" if latest is None else str(latest.result),
                    "latest_verdict_by": "" if latest is None else latest.signer,
                    "latest_verdict_at": "" if latest is None else _iso(latest.log_time_ms),
                    "valid_until": ""
                    if latest is None or latest.valid_until_ms is None
                    else _iso(latest.valid_until_ms),
                    "expired": ""
                    if latest is None
                    else str(bool(v.latest_verdict_expired)).lower(),
                    "flags": " ".join(
                        name
                        for name, on in (
                            ("verifier-suspended", flags.verifier_suspended),
                            ("key-revoked", flags.key_revoked),
                            ("key-compromised", flags.key_compromised),
                        )
                        if on
                    ),
                    "replies": str(len(v.replies)),
                }
            )
        return out


def build_report(record: VerifiedRecord, note: bytes = b"") -> Report:
    """The report of a verified company record, as of its checkpoint.

    Args:
        record: what :func:`attest.verify_bundle` returned (only verified entries are read).
        note: the signed checkpoint note it was verified against, to print with it.
    """
    views = record_views(record)
    cp = record.checkpoint
    at = record.checkpoint_time_ms
    replay = views.replay(record.stream, size=cp.size, at_ms=at)
    chain: dict[bytes, tuple[bytes, int]] = {}
    claims = []
    for v in replay.claims:
        first, n = chain.get(v.entry.supersedes or b"", (v.digest, 0))
        chain[v.digest] = (first, n + 1)
        why = None
        if v.status == "active" and v.public_status == "unverified":
            why = "no verdict" if v.latest_verdict is None else "latest verdict expired"
        claims.append(ReportClaim(v, first, n + 1, why))
    signed: dict[tuple[str, str], int] = {}
    for p in record.entries:
        who = (p.signed.statement.signer, str(p.signed.keyid))
        signed[who] = signed.get(who, 0) + 1
    signers = []
    for (party, key_id), n in sorted(signed.items()):
        known = views.party(party)
        signers.append(
            SignerKey(
                party,
                party if known is None else known.name,
                "" if known is None else known.role,
                key_id,
                n,
            )
        )
    company = views.party(record.stream)
    return Report(
        stream=record.stream,
        name=record.stream if company is None else company.name,
        jurisdiction=None if company is None else company.jurisdiction,
        origin=cp.origin,
        size=cp.size,
        root=cp.root,
        time_ms=at,
        log_key=log_note_verifier(record.state, cp.size).vkey(),
        note=note.decode("utf-8"),
        genesis_hash=record.genesis_hash,
        replay=replay,
        claims=tuple(claims),
        signers=tuple(signers),
        counts=record.counts(),
    )
