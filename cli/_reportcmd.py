"""``report BUNDLE``: a company's record as of an evidence bundle's checkpoint, read offline.

The bundle is verified first, exactly as ``verify --bundle`` verifies it (the log key its genesis
names, every signature, rule and proof, the record proved whole; a fingerprint given with
``--genesis`` or pinned earlier; the trust store is read, never written), then
:func:`ledger.build_report` replays its verified entries and this module only renders the
result: text, JSON (``Report.to_dict``) or CSV (``Report.rows``, one row per claim version).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from pathlib import Path

import click

from attest.measures import MEASURES
from attest.statements import format_timestamp
from cli._errors import CliError
from cli._i18n import _
from cli._readcmds import run_verification
from ledger import REPORT_COLUMNS, DatasetCheck, EntryFact, Report, ReportClaim, build_report

__all__ = ["report_cmd"]

REPORT_HELP = """Print a company's record as of an evidence bundle's checkpoint, offline.

\b
  claimledger report FILE                  readable text
  claimledger report FILE --format json    one JSON document (claimledger.report.v1)
  claimledger report FILE --format csv     one row per claim version

The bundle ('claimledger export COMPANY [--as-of DATE | --size N] -o FILE') is verified first,
as 'verify --bundle' does, trusting nothing but the log key its genesis names (and the
fingerprint given with --genesis or pinned earlier); no server or database is used. It then
shows each measure's claim with its versions (the supersedes chain), status, tests, verdicts
(result, verifier, dates; "expired" when past validity at the checkpoint's log time), replies,
what is unverified, and the key id of every signer.

\b
Exit codes:
  0  verified and printed
  1  the bundle failed verification (nothing is printed but the failure)
  2  usage or I/O error
"""


@click.command("report", help=REPORT_HELP)
@click.argument("bundle_file", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json", "csv"]),
    default="text",
    show_default=True,
)
@click.option("--genesis", metavar="HEX", help="The ledger fingerprint to require.")
def report_cmd(bundle_file: Path, fmt: str, genesis: str | None) -> None:
    try:
        data = bundle_file.read_bytes()
    except OSError as exc:
        raise CliError(
            _("cannot read %(bundle_file)s: %(why)s")
            % {"bundle_file": bundle_file, "why": exc.strerror or exc}
        ) from exc
    outcome = run_verification(
        backend=None,
        bundle=data,
        stream=None,
        genesis=genesis,
        quiet=True,
        update_store=False,
    )
    if outcome.record is None:  # pragma: no cover - a bundle's verification carries it
        raise CliError(_("the bundle gave no verified record"))
    report = build_report(outcome.record, outcome.note)
    if fmt == "json":
        click.echo(json.dumps(report.to_dict(), indent=2, ensure_ascii=False))
    elif fmt == "csv":
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=REPORT_COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(report.rows())
        click.echo(out.getvalue(), nl=False)
    else:
        click.echo(render_text(report, outcome.remark))


def _day(ms: int | None) -> str:
    return "" if ms is None else format_timestamp(ms - ms % 1000)[:10]


def _title(measure: str) -> str:
    spec = MEASURES.get(measure)
    return spec.title if spec is not None else measure


def render_text(report: Report, remark: str = "") -> str:
    """The report as readable text (what ``report`` prints by default)."""
    c = report.counts
    lines = [
        f"Record of {report.name} ({report.stream}"
        + (f", {report.jurisdiction}" if report.jurisdiction else "")
        + ")",
        f"as of the checkpoint of {report.origin}, tree size {report.size}, log time "
        f"{format_timestamp(report.time_ms)}",
        f"  root:               {report.root_b64}",
        f"  log key:            {report.log_key}",
        f"  ledger fingerprint: {report.genesis_hash.hex()}",
        "  verified offline: every signature, rule and inclusion proof, and the record proved "
        "complete at this size",
        f"  {c['entries']} entries: {c['claims']} claim versions, {c['tests']} test records, "
        f"{c['verdicts']} verdicts, {c['replies']} replies, {c['withdrawals']} withdrawals",
        "  verdict expiry judged at the checkpoint's log time",
    ]
    if remark:
        lines.append(f"  note: {remark}")
    by_measure: dict[str, list[ReportClaim]] = {}
    for rc in report.claims:
        by_measure.setdefault(rc.version.measure, []).append(rc)
    if not by_measure:
        lines += ["", "No claims."]
    for measure, claims in by_measure.items():
        lines += ["", f"{_title(measure)} ({measure})"]
        for rc in claims:
            lines += _claim_lines(rc, report.time_ms)
    unverified = report.unverified
    lines += ["", f"Unverified at the checkpoint: {len(unverified)} active claim version(s)"]
    lines += [
        f"  {rc.version.digest.hex()} {rc.version.measure}: {rc.unverified}" for rc in unverified
    ]
    lines += _engagement_lines(report)
    lines += _finding_lines(report)
    lines += reconciliation_lines(report.replay.reconciliations)
    lines += ["", "Signers (key ids of every signature on the record):"]
    lines += [
        f"  {s.party} ({s.role or 'unknown'}): key {s.key_id}, {s.entries} entries"
        for s in report.signers
    ]
    lines.append(f"  {report.origin} (the log): checkpoint key {report.log_key}")
    return "\n".join(lines)


def reconciliation_lines(checks: Sequence[DatasetCheck]) -> list[str]:
    """Each reference table logged by the authority, compared with the company's reported
    counts (SPEC §8.4; issue 17 §5)."""
    if not checks:
        return ["", "Reference tables: none logged"]
    lines = ["", "Reference tables (reported counts against the authority's logged tables):"]
    for c in checks:
        d = c.dataset
        label, text = c.words
        lines.append(f"  {d.dataset} ({d.unit.value}, {d.period.start} to {d.period.end})")
        lines.append(f"    {label.upper()}: {text}")
        lines.append(
            f"    source {d.source.uri} sha256 {d.source.digest.sha256}, logged at index {c.index}"
        )
    return lines


def _engagement_lines(report: Report) -> list[str]:
    """Engagements by status at the checkpoint; each overdue or withdrawn one, and every planned
    method no test record reported (issue 17 §1)."""
    counts = report.engagement_counts
    lines = ["", "Engagements: " + ", ".join(f"{n} {status}" for status, n in counts.items())]
    for e in report.replay.engagements:
        plan = e.plan
        if e.status == "overdue":
            lines.append(
                f"  {e.digest.hex()} by {e.verifier}: OVERDUE (window ended {_day(plan.end_ms)}, "
                "no verdict or withdrawal)"
            )
        elif e.status == "withdrawn":
            reason = e.ended.engagement.reason if e.ended and e.ended.engagement else None
            lines.append(
                f"  {e.digest.hex()} by {e.verifier}: withdrawn by {e.withdrawn_by}"
                + (f": {reason}" if reason else "")
            )
        lines += [
            f"  {e.digest.hex()} by {e.verifier}: planned, not reported: {method} ({uri})"
            for method, uri in e.planned_not_reported
            if e.status != "withdrawn"
        ]
    return lines


def _finding_lines(report: Report) -> list[str]:
    """Findings open and closed at the checkpoint; each open one with its age and what the
    provider committed to, a commitment past its due date OVERDUE (issue 17 §2)."""
    c = report.replay.finding_counts
    lines = [
        "",
        f"Findings: {c['open']} open ({c['overdue']} with a commitment overdue), "
        f"{c['closed']} closed",
    ]
    for f in report.replay.findings:
        if not f.open:
            continue
        what = f"recommendation: {f.recommendation}" if f.recommendation else f.verdict.result
        lines.append(
            f"  {f.verdict.digest.hex()} by {f.verdict.signer} ({_title(f.verdict.measure or '')}"
            f"): open {f.age_days} days; {what}"
        )
        lines += [
            f"    committed {_day(x.reply.log_time_ms)}: {x.action} — due {x.due}"
            + (" — OVERDUE" if x.overdue else "")
            for x in f.commitments
        ]
        if not f.commitments:
            lines.append("    no commitment from the provider")
    return lines


def _claim_lines(rc: ReportClaim, at_ms: int) -> list[str]:
    v = rc.version
    status = v.status
    if v.status == "superseded" and v.ended_by is not None:
        status += f" by {v.ended_by.digest.hex()} on {_day(v.ended_by.log_time_ms)}"
    elif v.status == "withdrawn" and v.ended_by is not None:
        status += f" on {_day(v.ended_by.log_time_ms)}"
    else:
        status += f", shown as {v.public_status.upper()}"
        if rc.unverified:
            status += f" ({rc.unverified})"
    out = [
        f"  version {rc.number} {v.digest.hex()}",
        f"    published {_day(v.entry.log_time_ms)} (index {v.entry.index}); {status}",
    ]
    if v.entry.supersedes is not None:
        out.append(f"    supersedes {v.entry.supersedes.hex()}")
    for t in v.tests:
        out.append(f"    test {t.result} by {t.signer} on {_day(t.log_time_ms)}: {_ref(t)}")
    for verdict, expired, flags in zip(
        v.verdicts, rc.expired(at_ms), v.verdict_flags or [None] * len(v.verdicts), strict=True
    ):
        line = (
            f"    verdict {verdict.result} by {verdict.signer} on {_day(verdict.log_time_ms)}, "
            f"valid until {_day(verdict.valid_until_ms)}"
            + (" (EXPIRED at the checkpoint)" if expired else "")
        )
        if flags is not None and flags.verifier_suspended:
            line += "; its verifier was suspended later"
        if flags is not None and flags.outside is not None:
            line += f"; NOT CURRENT: {flags.outside}"
        if flags is not None and flags.key_compromised:
            line += "; NOT TO BE RELIED ON: its key was later stated compromised at the time"
        elif flags is not None and flags.key_revoked:
            line += "; its key was revoked later"
        out += [line, f"      {_ref(verdict)}"]
    for r in v.replies:
        out.append(f"    reply by {r.signer} on {_day(r.log_time_ms)}: {_ref(r)}")
    return out


def _ref(f: EntryFact) -> str:
    return f"digest {f.digest.hex()}, index {f.index}"
