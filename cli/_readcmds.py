"""``verify``, ``replay`` and ``export``: what the public and regulators run."""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import sys
import time
from pathlib import Path
from typing import Any

import click

from attest import NoteVerifier, ProofError, VerificationError, verify_checkpoint
from attest.bundle import Bundle
from attest.policy import (
    Policy,
    QuorumError,
    SplitViewError,
    check_consistent,
    parse_policy,
    verify_policy,
)
from attest.statements import format_timestamp
from cli._backend import Backend, RemoteBackend
from cli._common import backend_options, echo_json, parse_date_or_time, with_backend
from cli._config import TrustStore, config_dir
from cli._errors import EXIT_FAILED, CliError, ServerProblem
from cli._i18n import _
from cli._tilescmds import TilesBackend, verify_record_from_tiles
from cli._verifying import (
    Outcome,
    checkpoint_size,
    trusted_checkpoint,
    verify_bundle_bytes,
    verify_full_log,
)
from ledger import record_views

__all__ = ["export_cmd", "load_policy", "replay_cmd", "run_verification", "verify_cmd"]

VERIFY_HELP = """Verify a ledger on this machine, trusting nothing the server says.

\b
  claimledger verify --server URL          the whole log of a server
  claimledger verify --db URL              the whole log of a database
  claimledger verify STREAM --server URL   one company's record (registry + its stream)
  claimledger verify --bundle FILE         an exported evidence bundle, offline
  claimledger verify [STREAM] --tiles URL  the whole log, or one company's record, from a
                                           static tile URL ('claimledger tiles export')

With --policy FILE (a C2SP tlog-policy: the log's key, witnesses, quorum) the checkpoint used
must carry witness cosignatures that meet the policy's quorum: from a server or database, its
newest cosigned checkpoint is fetched and the log or record verified against it; a checkpoint
below quorum fails (exit 1) naming who cosigned.

Every signature, chain link, rule decision and the Merkle root are re-checked against the log's
signed checkpoint. The last checkpoint verified per log is remembered in the config directory
(CLAIMLEDGER_CONFIG_DIR overrides); a log that is no longer consistent with it (a rollback or a
fork) fails loudly. The ledger fingerprint (the genesis entry hash) is pinned per server or
database on first use, or with --genesis.

\b
Exit codes:
  0  verified
  1  verification failed; the first failure is named (stream, position, index, what)
  2  usage or I/O error (nothing was verified)
"""


def _located(exc: VerificationError) -> str:
    parts = [
        f"{k} {v}"
        for k, v in (("stream", exc.stream), ("position", exc.position), ("index", exc.index))
        if v is not None
    ]
    if exc.field is not None:
        parts.append(f"field {exc.field}")
    return (", ".join(parts) + ": " if parts else "") + exc.what


def run_verification(
    *,
    backend: Backend | None,
    bundle: bytes | None,
    stream: str | None,
    genesis: str | None,
    remember: bool = True,
    quiet: bool = False,
    policy: Policy | None = None,
    size: int | None = None,
    update_store: bool = True,
) -> Outcome:
    """Verify, using and updating the trust store; report what was established.

    With ``policy``, the checkpoint must meet its quorum (from a backend: its newest cosigned
    checkpoint is used). With ``stream`` and ``size``, the record is verified as of the
    checkpoint of that size. With ``update_store`` false the trust store is read (pinned
    fingerprints, checkpoints verified before) but not written.

    Raises:
        CliError: exit 1 naming the first failure, or 2 for usage/I/O errors.
    """
    store = TrustStore.load() if remember else TrustStore(config_dir() / "trust.json")
    pin: bytes | None = None
    pin_source = ""
    source = backend.source if backend is not None else None
    if genesis is not None:
        try:
            pin = bytes.fromhex(genesis)
            if len(pin) != 32:
                raise ValueError
        except ValueError:
            raise click.BadParameter(
                _("must be 64 hex characters"), param_hint="--genesis"
            ) from None
        pin_source = "given with --genesis"
    elif source is not None and source in store.sources:
        pin = bytes.fromhex(store.sources[source]["genesis"])
        pin_source = f"pinned for {source} on first use"

    def trusted_for(vkey: str) -> Any:
        record = store.logs.get(vkey)
        before = store.sources.get(source or "", {}).get("log")
        if record is None and before is not None and before != vkey:
            # The log key was rotated since (SPEC §7.6): the checkpoint remembered under the
            # source's earlier key is the one the log must still extend.
            return trusted_checkpoint(store.logs.get(before), before)
        return trusted_checkpoint(record, vkey)

    try:
        if bundle is not None:
            outcome = verify_bundle_bytes(bundle, genesis_hash=pin, trusted_for=trusted_for)
            if stream is not None and outcome.stream not in (None, stream):
                raise CliError(
                    _("the bundle is the record of %(stream)s, not %(stream2)s")
                    % {"stream": repr(outcome.stream), "stream2": repr(stream)}
                )
        else:
            assert backend is not None  # noqa: S101
            cosigned = backend.cosigned_checkpoint() if policy is not None else None
            if stream is not None and isinstance(backend, TilesBackend):
                outcome = verify_record_from_tiles(
                    backend, stream, genesis_hash=pin, trusted=trusted_for
                )
            elif stream is not None:
                # The bundle carries the checkpoint; its cosignatures are checked below.
                size = size if cosigned is None else checkpoint_size(cosigned)
                outcome = verify_bundle_bytes(
                    backend.bundle(stream, size),
                    genesis_hash=pin,
                    trusted_for=trusted_for,
                    proof_for=backend.consistency_proof,
                )
            else:
                vkey = backend.log_vkey()
                trusted = trusted_for(vkey)
                if pin is None and vkey in store.logs:
                    pin = bytes.fromhex(store.logs[vkey]["genesis"])
                    pin_source = "remembered for this log key"
                note = backend.checkpoint() if cosigned is None else cosigned
                try:
                    with _Progress(quiet) as progress:
                        outcome = verify_full_log(
                            backend,
                            genesis_hash=pin,
                            trusted=trusted,
                            progress=progress.update,
                            start_bar=progress.start,
                            note=note,
                        )
                except ProofError as exc:
                    split = _split_view(backend, trusted, note, vkey)
                    if split is None:
                        raise
                    raise CliError(
                        _("verification FAILED at %(where)s; %(split)s")
                        % {"where": _located(exc), "split": split},
                        EXIT_FAILED,
                    ) from exc
                if outcome.vkey != vkey and vkey not in outcome.log_vkeys:
                    raise CliError(
                        _(
                            "the server's log key %(vkey)s is not one the log names (its genesis "
                            "or a rotation; in force: %(named)s)"
                        )
                        % {"vkey": vkey, "named": outcome.vkey},
                        EXIT_FAILED,
                    )
        if policy is not None:
            outcome = dataclasses.replace(
                outcome, witnessed=verify_policy(outcome.note, policy, logs=_log_key(outcome))
            )
    except QuorumError as exc:
        raise CliError(
            _("verification FAILED: checkpoint below quorum: %(exc)s") % {"exc": exc}, EXIT_FAILED
        ) from exc
    except VerificationError as exc:
        if pin is not None and exc.index == 0 and "fingerprint" in exc.what:
            raise CliError(
                _("verification FAILED: this is not the ledger %(pin_source)s (%(pin)s): %(where)s")
                % {"pin_source": pin_source, "pin": pin.hex(), "where": _located(exc)},
                EXIT_FAILED,
            ) from exc
        raise CliError(
            _("verification FAILED at %(where)s") % {"where": _located(exc)}, EXIT_FAILED
        ) from exc

    previous = store.logs.get(outcome.vkey)
    if not quiet:
        _summary(outcome, stream, previous, pin_source)
    if remember and update_store:
        first_use = source is not None and source not in store.sources and genesis is None
        if source is not None:
            store.sources[source] = {"genesis": outcome.genesis_hash.hex(), "log": outcome.vkey}
        newer = previous is None or outcome.checkpoint.size >= previous["size"]
        if outcome.note and newer and not outcome.remark:
            store.logs[outcome.vkey] = {
                "note": outcome.note.decode(),
                "size": outcome.checkpoint.size,
                "genesis": outcome.genesis_hash.hex(),
                "verifiedAt": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            }
        store.save()
        if first_use and not quiet:
            click.echo(
                f"Trusting this ledger on first use: fingerprint {outcome.genesis_hash.hex()} is "
                f"now pinned for {source} (in {store.path}). Check it against a source you trust."
            )
    return outcome


def _log_key(outcome: Outcome) -> list[NoteVerifier]:
    """The log key the genesis names, pinned by the fingerprint: a policy need not list it."""
    return [NoteVerifier.from_vkey(outcome.vkey)]


def _split_view(backend: Backend, trusted: Any, note: bytes, vkey: str) -> SplitViewError | None:
    """Why a log that failed against the trusted checkpoint did: two histories (SPEC §12.8),
    naming both checkpoints, or None (a rollback, or no trusted checkpoint).

    A signed checkpoint at least as large as the one trusted must extend it; the source is asked
    for the consistency proof.
    """
    if trusted is None:
        return None
    try:
        cp = verify_checkpoint(note, NoteVerifier.from_vkey(vkey))
        if cp.size < trusted.size:
            return None
        proof = backend.consistency_proof(trusted.size, cp.size) if cp.size > trusted.size else []
        check_consistent(trusted, cp, proof)
    except SplitViewError as split:
        return split
    except (VerificationError, CliError, ServerProblem):
        return None
    return None


def _summary(outcome: Outcome, stream: str | None, previous: Any, pin_source: str) -> None:
    cp = outcome.checkpoint
    what = f"the record of {stream}" if stream else f"{outcome.entries} entries"
    if stream is None and outcome.stream:
        what = f"the record of {outcome.stream}"
    click.echo(f"Verified {what} against the checkpoint of {cp.origin}, tree size {cp.size}")
    if outcome.record is not None and outcome.record.checkpoint_time_ms:
        click.echo(
            f"  as of:              {format_timestamp(outcome.record.checkpoint_time_ms)} "
            f"(the log time of entry {cp.size - 1}, the checkpoint's last)"
        )
    click.echo(f"  root:               {base64.b64encode(cp.root).decode()}")
    click.echo(
        f"  ledger fingerprint: {outcome.genesis_hash.hex()}"
        + (f" ({pin_source})" if pin_source else "")
    )
    click.echo(f"  log key:            {outcome.vkey}")
    if outcome.witnessed is not None:
        names = ", ".join(
            f"{name} (at {dt.datetime.fromtimestamp(c.timestamp, dt.UTC):%Y-%m-%dT%H:%M:%SZ})"
            for name, c in outcome.witnessed.cosigners
        )
        click.echo(f"  cosigned by:        {names or 'no witness'} (the policy's quorum is met)")
    c = outcome.counts
    if c is not None and outcome.stream is not None:
        click.echo(f"  contains:           {_contents(c)} (complete at tree size {cp.size})")
        click.echo(
            f"  registry records complete for {outcome.parties} parties: "
            + ", ".join(f"{p} ({n})" for p, n in sorted(outcome.records.items()))
        )
    elif c is not None:
        click.echo(
            f"  contains:           {_contents(c)}; {c['registry']} registry entries; "
            f"{outcome.streams} streams, {outcome.parties} parties"
        )
    else:
        click.echo(f"  streams: {outcome.streams}, parties: {outcome.parties}")
    if outcome.compromised:
        shown = ", ".join(
            f"{i} (revocation {r})" for i, r in list(outcome.compromised.items())[:20]
        )
        more = len(outcome.compromised) - 20
        click.echo(
            f"  NOT TO BE RELIED ON: {len(outcome.compromised)} entries signed with keys the "
            f"authority since stated compromised (SPEC §8.2 rule 5): {shown}"
            + (f" and {more} more" if more > 0 else "")
        )
    if outcome.remark:
        click.echo(f"  note: {outcome.remark}")
    elif previous is not None:
        click.echo(
            f"  consistent with the checkpoint verified on {previous.get('verifiedAt')} "
            f"(tree size {previous.get('size')})"
        )


def _contents(c: dict[str, int]) -> str:
    """What a verified log or record holds, the same words in every mode of ``verify``."""
    text = (
        f"{c['entries']} entries — {c['claims']} claim versions, {c['tests']} test records, "
        f"{c['verdicts']} verdicts, {c['replies']} replies, {c['withdrawals']} withdrawals"
    )
    if "engagements" in c:  # a company record (attest.bundle.VerifiedRecord.counts)
        text += (
            f"; {c['engagements']} engagements ({c['engagements_open']} open, "
            f"{c['engagements_overdue']} overdue, {c['engagements_closed']} closed, "
            f"{c['engagements_withdrawn']} withdrawn); {c['unengaged']} test records and "
            "verdicts with no engagement"
        )
    if "findings_open" in c:
        text += (
            f"; {c['findings_open']} findings open ({c['commitments_overdue']} commitments "
            f"overdue), {c['findings_closed']} closed"
        )
    if c.get("not_current"):
        text += (
            f"; {c['not_current']} verdicts NOT CURRENT (made outside their verifier's "
            "accreditation periods)"
        )
    return text


class _Progress:
    """A click progress bar on stderr, once the number of entries is known."""

    def __init__(self, quiet: bool) -> None:
        self.quiet = quiet
        self.bar: Any = None

    def __enter__(self) -> _Progress:
        return self

    def start(self, total: int) -> None:
        if not self.quiet and sys.stderr.isatty():
            self.bar = click.progressbar(length=total, label="Verifying", file=sys.stderr)
            self.bar.__enter__()

    def update(self, done: int) -> None:
        """Entries verified so far."""
        if self.bar is not None and done > self.bar.pos:
            self.bar.update(done - self.bar.pos)

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.__exit__(*exc)


@click.command("verify", help=VERIFY_HELP)
@click.argument("stream", required=False)
@backend_options
@click.option(
    "--bundle",
    "bundle_file",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="Verify this evidence bundle (offline).",
)
@click.option(
    "--genesis",
    metavar="HEX",
    help="The ledger fingerprint to require (and pin for this server or database).",
)
@click.option(
    "--policy",
    "policy_file",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="A C2SP tlog-policy file: the checkpoint must be cosigned to its quorum.",
)
@click.option(
    "--tiles",
    metavar="URL",
    help="Verify from the C2SP tlog-tiles at URL (a static export) instead of --db/--server.",
)
@click.option("-q", "--quiet", is_flag=True, help="No progress bar or summary; just the exit code.")
def verify_cmd(
    stream: str | None,
    db: str | None,
    server: str | None,
    log_key: Path | None,
    bundle_file: Path | None,
    genesis: str | None,
    policy_file: Path | None,
    tiles: str | None,
    quiet: bool,
) -> None:
    policy = None if policy_file is None else load_policy(policy_file)
    if tiles is not None and bundle_file is None:
        tiles_backend = TilesBackend(tiles)
        click.get_current_context().call_on_close(tiles_backend.close)
        run_verification(
            backend=tiles_backend,
            bundle=None,
            stream=stream,
            genesis=genesis,
            quiet=quiet,
            policy=policy,
        )
        return
    if bundle_file is not None:
        ctx = click.get_current_context()
        given = {
            name
            for name in ("db", "server")
            if ctx.get_parameter_source(name) is click.core.ParameterSource.COMMANDLINE
        }
        if given:  # CLAIMLEDGER_SERVER / CLAIMLEDGER_DB in the environment do not count
            raise click.UsageError(_("--bundle verifies offline: give no --db or --server"))
        run_verification(
            backend=None,
            bundle=bundle_file.read_bytes(),
            stream=stream,
            genesis=genesis,
            quiet=quiet,
            policy=policy,
        )
        return
    backend = with_backend(db, server, log_key)
    run_verification(
        backend=backend, bundle=None, stream=stream, genesis=genesis, quiet=quiet, policy=policy
    )


def load_policy(path: Path) -> Policy:
    """Read a tlog-policy file.

    Raises:
        CliError: exit 2 if it cannot be read or is malformed.
    """
    try:
        return parse_policy(path.read_bytes())
    except OSError as exc:
        raise CliError(_("cannot read %(path)s: %(exc)s") % {"path": path, "exc": exc}) from exc
    except VerificationError as exc:
        raise CliError(_("%(path)s: %(exc)s") % {"path": path, "exc": exc}) from exc


@click.command("replay")
@click.argument("stream")
@click.option(
    "--as-of",
    metavar="DATE",
    help="Show the record as it stood at this date "
    "(YYYY-MM-DD: the end of that day, UTC) or time (YYYY-MM-DDTHH:MM:SSZ).",
)
@click.option("--size", type=click.IntRange(min=1), help="... or as it stood at this log size.")
@click.option(
    "--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True
)
@click.option(
    "--genesis",
    metavar="HEX",
    help="With --server: the ledger fingerprint to require (as verify --genesis).",
)
@backend_options
def replay_cmd(
    stream: str,
    as_of: str | None,
    size: int | None,
    fmt: str,
    genesis: str | None,
    db: str | None,
    server: str | None,
    log_key: Path | None,
) -> None:
    """Replay a company's record as it stood at a past date or log size.

    Shows each claim with its status (active, superseded, withdrawn) and latest verdict; a claim
    with no verdict, or only an expired one, is shown as unverified.

    With --server, nothing the server says is shown unchecked: the company's evidence bundle is
    fetched (with --size, against the checkpoint of that size), verified as 'verify STREAM'
    does (pinned fingerprint, remembered checkpoint), and replayed here from its verified
    entries. With --db, the ledger re-verified its entries when it opened.
    """
    if as_of is not None and size is not None:
        raise click.UsageError(_("give --as-of or --size, not both"))
    as_of_ms = None if as_of is None else parse_date_or_time(as_of)
    backend = with_backend(db, server, log_key)
    if isinstance(backend, RemoteBackend):
        state = _verified_replay(backend, stream, as_of_ms=as_of_ms, size=size, genesis=genesis)
    else:
        state = backend.replay(stream, as_of_ms=as_of_ms, size=size)
    if fmt == "json":
        echo_json(state)
    else:
        _table(stream, state)


def _verified_replay(
    backend: Backend, stream: str, *, as_of_ms: int | None, size: int | None, genesis: str | None
) -> dict[str, Any]:
    """The replay of ``stream`` from its bundle's verified entries (the ledger's own ``Views``,
    fed sparsely), judged as ``--db`` judges it: expiry at the machine's clock for the present,
    at ``as_of`` for a date, at the log time of the last entry below ``size`` for a size (the
    bundle of that size proves it: its state proof's leaf).

    Raises:
        CliError: the bundle fails verification (exit 1), or cannot be had (exit 2).
    """
    first_use = genesis is None and backend.source not in TrustStore.load().sources
    outcome = run_verification(
        backend=backend, bundle=None, stream=stream, genesis=genesis, quiet=True, size=size
    )
    if first_use:
        click.echo(
            f"Trusting this ledger on first use: fingerprint {outcome.genesis_hash.hex()} is "
            f"now pinned for {backend.source}. Check it against a source you trust.",
            err=True,
        )
    record = outcome.record
    if record is None:  # pragma: no cover - a record's verification always carries it
        raise CliError(_("the server's bundle gave no verified record"))
    views = record_views(record)
    cp = record.checkpoint
    if size is not None:
        replay = views.replay(stream, size=size, at_ms=record.checkpoint_time_ms)
    elif as_of_ms is not None:
        replay = views.replay(stream, as_of_ms=as_of_ms)
    else:
        replay = views.replay(stream, at_ms=time.time_ns() // 1_000_000)
    click.echo(
        f"Replayed from entries verified against the checkpoint of {cp.origin}, tree size "
        f"{cp.size} (root {base64.b64encode(cp.root).decode()})"
        + (f"; note: {outcome.remark}" if outcome.remark else ""),
        err=True,
    )
    state = replay.to_dict()
    state["verifiedAgainst"] = {
        "origin": cp.origin,
        "size": cp.size,
        "root": base64.b64encode(cp.root).decode(),
        "logTime": format_timestamp(record.checkpoint_time_ms),
    }
    return state


def _day(iso: Any) -> str:
    return str(iso or "")[:10]


def _table(stream: str, state: dict[str, Any]) -> None:
    """Render a replay: the claims with their status and latest verdict, then the timeline."""
    cut = ""
    if state.get("asOf"):
        cut = f" as of {state['asOf']}"
    elif state.get("size"):
        cut = f" as of log size {state['size']}"
    click.echo(
        f"Record of {stream}{cut}: {state.get('length', 0)} entries; verdict expiry judged "
        f"at {state.get('evaluatedAt')}"
    )
    claims = state.get("claims") or []
    if not claims:
        click.echo("\nNo claims.")
    else:
        rows = []
        for c in claims:
            latest = c.get("latestVerdict") or {}
            verdict = latest.get("result", "-")
            if latest.get("expired"):
                verdict += f" (expired {_day(latest.get('validUntil'))})"
            elif latest:
                verdict += f" (by {latest.get('signer')}, until {_day(latest.get('validUntil'))})"
            rows.append(
                [
                    str(c.get("digest", ""))[:12],
                    str(c.get("measure", "")),
                    str(c.get("status", "")),
                    str(c.get("publicStatus", "")).upper(),
                    verdict,
                    _day(c.get("logTime")),
                ]
            )
        cols = ["claim", "measure", "status", "shown as", "latest verdict", "published"]
        widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(cols)]
        click.echo("")
        click.echo("  ".join(h.ljust(w) for h, w in zip(cols, widths, strict=True)).rstrip())
        for r in rows:
            click.echo("  ".join(x.ljust(w) for x, w in zip(r, widths, strict=True)).rstrip())
    engagements = state.get("engagements") or []
    if engagements:
        click.echo("\nEngagements:")
        for g in engagements:
            window = g.get("window") or {}
            line = (
                f"  {str(g.get('digest', ''))[:12]}  {str(g.get('status', '')).upper():9}  "
                f"{g.get('verifier')}, {_day(window.get('start'))} to {_day(window.get('end'))}"
            )
            if g.get("withdrawnBy"):
                line += f"; withdrawn by {g['withdrawnBy']}: {g.get('withdrawalReason')}"
            if g.get("closedBy"):
                line += f"; closed by verdict {str(g['closedBy'])[:12]}"
            click.echo(line)
            for m in g.get("plannedNotReported") or ():
                click.echo(f"  {'':12}  planned, not reported: {m.get('method')}")
    checks = state.get("reconciliations") or []
    if checks:
        click.echo("\nReference tables (reported counts against the authority's logged tables):")
        for r in checks:
            click.echo(f"  {r.get('dataset')} (logged at index {r.get('index')})")
            click.echo(f"    {str(r.get('label', '')).upper()}: {r.get('text')}")
    timeline = state.get("timeline") or []
    if timeline:
        click.echo("\nTimeline:")
        for f in timeline:
            click.echo(f"  {f.get('logTime')}  #{f.get('index'):<5} {f.get('title')}")
            click.echo(f"  {'':20}  by {f.get('signer')}, digest {f.get('digest')}")


@click.command("export")
@click.argument("stream")
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The bundle file to create.",
)
@click.option(
    "--cosigned",
    is_flag=True,
    help="Export against the newest checkpoint the ledger's witnesses cosigned (its "
    "cosignature lines travel in the bundle), not the latest one.",
)
@click.option(
    "--as-of",
    metavar="DATE",
    help="Freeze the record as it stood at this date (YYYY-MM-DD: the end of that day, UTC) "
    "or time (YYYY-MM-DDTHH:MM:SSZ): against the newest checkpoint the log kept whose log "
    "time is at or before it.",
)
@click.option(
    "--size",
    type=click.IntRange(min=1),
    help="... or as it stood at this log size (against the checkpoint of that size).",
)
@click.option(
    "--tiles",
    metavar="URL",
    help="Take the bundle a static tile export serves ('claimledger tiles export').",
)
@backend_options
def export_cmd(
    stream: str,
    output: Path,
    cosigned: bool,
    as_of: str | None,
    size: int | None,
    tiles: str | None,
    db: str | None,
    server: str | None,
    log_key: Path | None,
) -> None:
    """Export STREAM's evidence bundle: its record, the registry, proofs and a checkpoint.

    The bundle verifies offline: 'claimledger verify --bundle FILE [--policy P]', and
    'claimledger report FILE' prints the record it holds. With --as-of or --size it is frozen
    at an older checkpoint, with the completeness proof at that size.
    """
    if len([x for x in (as_of, size, cosigned or None) if x is not None]) > 1:
        raise click.UsageError(_("give at most one of --as-of, --size and --cosigned"))
    if tiles is not None and (as_of is not None or size is not None):
        raise click.UsageError(_("--tiles exports the tiles' own bundle: no --as-of or --size"))
    if output.exists():
        raise CliError(
            _("%(output)s already exists; refusing to overwrite it") % {"output": output}
        )
    if tiles is not None:
        backend: Backend = TilesBackend(tiles)
        click.get_current_context().call_on_close(backend.close)
    else:
        backend = with_backend(db, server, log_key)
    if cosigned:
        note = backend.cosigned_checkpoint()
        try:
            size = int(note.split(b"\n")[1])
        except (IndexError, ValueError):
            raise CliError(_("the cosigned checkpoint is malformed (no size line)")) from None
    if as_of is not None:
        data = backend.bundle_as_of(stream, parse_date_or_time(as_of))
    else:
        data = backend.bundle(stream, size)
    with output.open("xb") as f:
        f.write(data)
    click.echo(
        f"Wrote {output} ({len(data)} bytes){_as_of(data)}. Verify it offline with: "
        f"claimledger verify --bundle {output}"
    )


def _as_of(data: bytes) -> str:
    """Which checkpoint a bundle says it is as of (unverified: for the message only)."""
    try:
        leaf = Bundle.parse(data).state.leaf
    except VerificationError:
        return ""
    return (
        f": the record as of the checkpoint of tree size {leaf.index + 1} "
        f"(log time {format_timestamp(leaf.log_time_ms)})"
    )
