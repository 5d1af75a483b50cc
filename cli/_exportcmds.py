"""Standard exports: ``export-intoto`` (a verifier's test records and verdicts as in-toto
Statements in DSSE, re-signed with its key) and ``open-data DIR`` (the open-data files and
``SHA256SUMS``, for daily dumps)."""

from __future__ import annotations

import re
import shutil
import time
from collections.abc import Iterable, Iterator
from datetime import date
from pathlib import Path

import click
import httpx

from attest.dsse import Envelope
from attest.errors import SignatureError
from attest.intoto import LoggedStatement, intoto_statements, sign_intoto
from attest.statements import Kind, format_timestamp
from cli._backend import LocalBackend
from cli._common import Signing, append, backend_options, parse_date_or_time, with_backend
from cli._errors import EXIT_FAILED, CliError
from cli._i18n import _
from cli._keyfiles import load_private_key
from cli._readcmds import run_verification
from ledger import (
    OPEN_DATA_FILES,
    check_dump,
    dump_body,
    open_data_cut,
    open_data_file,
    record_views,
    write_open_data,
)

__all__ = ["export_intoto_cmd", "open_data_cmd"]

_CLAIM_KINDS = ("claim.publish", "claim.supersede")
_EXPORTED = ("test.record", "verdict.issue")


@click.command("export-intoto")
@click.option(
    "--key",
    "key_path",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The verifier's private key: the entries it signed are exported, and re-signed with it.",
)
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The file to create: JSON Lines, one DSSE envelope per line (.intoto.jsonl).",
)
@click.option("--provider", metavar="PARTY", help="Only entries on this provider's stream.")
@click.option(
    "--index",
    "indexes",
    type=click.IntRange(min=0),
    multiple=True,
    help="Only the entry at this log index (repeatable).",
)
@backend_options
def export_intoto_cmd(
    key_path: Path,
    output: Path,
    provider: str | None,
    indexes: tuple[int, ...],
    db: str | None,
    server: str | None,
    log_key: Path | None,
) -> None:
    """Export the test records and verdicts signed with --key as in-toto Statements v1.

    Each test record gives one Statement (predicate https://claimledger.dev/test-record/v1),
    each verdict two: https://claimledger.dev/verdict/v1 and an SLSA verification summary
    (none for INCONCLUSIVE). Each is wrapped in DSSE (application/vnd.in-toto+json) and signed
    with --key, whose key id is in the ledger's registry (docs/SPEC.md §17). An entry is
    re-signed only if its ledger signature verifies with the same key.
    """
    if output.exists():
        raise CliError(
            _("%(output)s already exists; refusing to overwrite it") % {"output": output}
        )
    key = load_private_key(key_path)
    backend = with_backend(db, server, log_key)
    note = backend.checkpoint()
    origin, size_line = note.decode("utf-8", "replace").split("\n", 2)[:2]
    size = int(size_line)
    entries = backend.stream_entries(provider) if provider else backend.log_entries(0, size)
    measures: dict[str, str] = {}
    lines: list[bytes] = []
    done: set[int] = set()
    wanted = set(indexes)
    for entry in entries:
        if entry.index >= size:
            break
        env = Envelope.parse_stored(entry.envelope)
        logged = LoggedStatement(origin, entry.index, "", env, "")
        statement = logged.statement
        kind = statement["kind"]
        if kind in _CLAIM_KINDS:
            measures[logged.digest] = str(statement["body"]["measure"])
        if kind not in _EXPORTED or env.signature.keyid != key.public_key.key_id:
            continue
        if wanted and entry.index not in wanted:
            continue
        try:
            env.verify(key.public_key)
        except SignatureError as exc:
            raise CliError(
                _("entry %(index)s: %(exc)s") % {"index": entry.index, "exc": exc}, EXIT_FAILED
            ) from exc
        claim = str(statement["body"]["claim"])
        if claim not in measures:
            raise CliError(
                _("entry %(index)s: its claim %(claim)s is not in the log")
                % {"index": entry.index, "claim": claim}
            )
        logged = LoggedStatement.from_entry(origin, entry, measures[claim])
        for st in intoto_statements(logged):
            lines.append(sign_intoto(st, key) + b"\n")
        done.add(entry.index)
    if missing := sorted(wanted - done):
        at = ", ".join(map(str, missing))
        raise CliError(
            _("no test record or verdict signed with this key at index %(at)s") % {"at": at}
        )
    with output.open("xb") as f:
        f.writelines(lines)
    click.echo(
        f"Wrote {output}: {len(lines)} in-toto Statement(s) of {len(done)} entry(ies) signed "
        f"by key {key.public_key.key_id} (log {origin}, size {size})."
    )


@click.command("open-data")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--at",
    metavar="TIME",
    help="Judge verdict expiry in the scorecard at this time (YYYY-MM-DDTHH:MM:SSZ, or a date: "
    "its end) [default: the last second of the current minute, as the server does].",
)
@click.option(
    "--publish",
    is_flag=True,
    help="Then log the dump (as the authority, with --key and --signer): a dump.publish entry "
    "pinning the date, the checkpoint size and each file's name, SHA-256 and size.",
)
@click.option(
    "--date",
    "day",
    metavar="YYYY-MM-DD",
    help="The dump's date for --publish [default: today, UTC]. One dump per date.",
)
@click.option(
    "--key",
    "key_file",
    type=click.Path(dir_okay=False, path_type=Path),
    envvar="CLAIMLEDGER_KEY",
    help="The authority's private key file, for --publish [env CLAIMLEDGER_KEY].",
)
@click.option(
    "--signer",
    metavar="PARTY",
    envvar="CLAIMLEDGER_SIGNER",
    help="The authority's party id, for --publish [env CLAIMLEDGER_SIGNER].",
)
@backend_options
def open_data_cmd(
    directory: Path,
    at: str | None,
    publish: bool,
    day: str | None,
    key_file: Path | None,
    signer: str | None,
    db: str | None,
    server: str | None,
    log_key: Path | None,
) -> None:
    """Write the open-data files into DIRECTORY at the latest checkpoint.

    scorecard.csv, scorecard.json, records.csv and records.jsonl (the bytes the server's
    /v1/open-data/ serves for that checkpoint), the signed checkpoint note (checkpoint) and
    SHA256SUMS ('sha256sum -c SHA256SUMS' checks them). Run daily for the daily dumps
    (docs/operating/open-data.md). With --publish the authority logs the dump, so anyone can
    later prove which files were published that day: 'claimledger open-data-verify DIR'.
    """
    if publish and (key_file is None or signer is None):
        raise click.UsageError("--publish needs --key and --signer (the authority's)")
    if day is not None and not publish:
        raise click.UsageError("--date is the date of a dump to --publish")
    if day is None:
        day = format_timestamp(time.time_ns() // 1_000_000)[:10]
    elif problem := date_problem(day):
        raise click.BadParameter(problem, param_hint="--date")
    now = time.time_ns() // 1_000_000
    at_ms = parse_date_or_time(at) if at else now - now % 60_000 + 59_000
    backend = with_backend(db, server, log_key)
    if isinstance(backend, LocalBackend):
        cut = open_data_cut(backend.ledger(), at_ms)
        fetched = {n: open_data_file(backend.ledger(), n, cut) for n in OPEN_DATA_FILES}
        size, root, note = cut.size, cut.root, cut.note
    else:
        note = backend.checkpoint()
        _origin, size_text, root = note.decode("utf-8", "replace").split("\n", 3)[:3]
        size = int(size_text)
        http = httpx.Client(base_url=backend.source, timeout=60.0)
        click.get_current_context().call_on_close(http.close)
        fetched = {n: _download(http, n, size, root, at_ms) for n in OPEN_DATA_FILES}
    files: dict[str, Iterable[bytes]] = {**fetched, "checkpoint": [note]}
    if not (publish and key_file is not None and signer is not None):  # both checked above
        sums = write_open_data(directory, files)
        click.echo(_wrote(sums, directory, size, root))
        return
    # Published, the files go into DIRECTORY only once the dump is logged: a refused dump (one
    # is already logged for that date, say) leaves the directory as it was, the dump there too.
    staging = directory / f".publishing-{day}"
    shutil.rmtree(staging, ignore_errors=True)
    try:
        sums = write_open_data(staging, files)
        body = dump_body(staging, day, size, sums)
        signing = Signing(key_file, signer, None, None, False)
        append(lambda: backend, signing, kind=Kind.DUMP_PUBLISH, body=body)
        for name in [*sums, "SHA256SUMS"]:
            (staging / name).replace(directory / name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    click.echo(_wrote(sums, directory, size, root))


def _wrote(sums: dict[str, str], directory: Path, size: int, root: str) -> str:
    return (
        f"Wrote {len(sums)} files and SHA256SUMS to {directory} at the checkpoint of size {size} "
        f"(root {root})."
    )


@click.command("open-data-verify")
@click.argument("directory", type=click.Path(file_okay=False, exists=True, path_type=Path))
@click.option(
    "--bundle",
    "bundle_file",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="Check against the dumps logged in this evidence bundle (any company's: each carries "
    "the authority's record), verified offline first.",
)
@click.option(
    "--date",
    "day",
    metavar="YYYY-MM-DD",
    help="The date the dump was published [default: the logged dump cut at the size of the "
    "dump's own checkpoint file].",
)
@click.option("--genesis", metavar="HEX", help="The ledger fingerprint to require (--bundle).")
@backend_options
def open_data_verify_cmd(
    directory: Path,
    bundle_file: Path | None,
    day: str | None,
    genesis: str | None,
    db: str | None,
    server: str | None,
    log_key: Path | None,
) -> None:
    """Check a downloaded dump in DIRECTORY against the dump the authority logged.

    The logged dumps come from a verified evidence bundle (--bundle FILE, offline; get one with
    'claimledger export COMPANY -o FILE') or a ledger database (--db, verified as it opens).
    Every file the log pins must be in DIRECTORY with the same size and SHA-256. Exit codes: 0
    the dump is the one logged for that date; 1 a file is missing or differs, no dump is logged
    for that date, or the bundle does not verify; 2 usage or I/O error."""
    if bundle_file is not None:
        if db is not None or server is not None:
            raise click.UsageError("give --bundle or a ledger (--db), not both")
        outcome = run_verification(
            backend=None,
            bundle=bundle_file.read_bytes(),
            stream=None,
            genesis=genesis,
            quiet=True,
            update_store=False,
        )
        if outcome.record is None:  # pragma: no cover - a bundle's verification carries it
            raise CliError("the bundle gave no verified record")
        dumps = record_views(outcome.record).dumps()
        source = f"the bundle {bundle_file}"
    else:
        backend = with_backend(db, server, log_key)
        if not isinstance(backend, LocalBackend):
            raise click.UsageError(
                "give --bundle FILE (from 'claimledger export COMPANY --server URL') or --db URL"
            )
        dumps = backend.ledger().views.dumps()
        source = "the ledger"
    if day is not None:
        if problem := date_problem(day):
            raise click.BadParameter(problem, param_hint="--date")
        chosen = [d for d in dumps if d.dump.date == day]
        what = f"for {day}"
    else:
        size = _dump_size(directory)
        chosen = [d for d in dumps if d.dump.checkpoint_size == size]
        what = f"cut at checkpoint size {size} (the dump's checkpoint file)"
    if not chosen:
        raise CliError(f"no dump {what} is logged in {source}", EXIT_FAILED)
    logged = chosen[-1]
    files = [(f.name, f.sha256, f.size) for f in logged.dump.files]
    problems = check_dump(directory, files)
    if problems:
        raise CliError(
            f"{directory} is not the dump logged for {logged.dump.date} (entry "
            f"{logged.index}): " + "; ".join(problems),
            EXIT_FAILED,
        )
    click.echo(
        f"{directory} is the dump the authority logged for {logged.dump.date}: "
        f"{len(files)} files, cut at checkpoint size {logged.dump.checkpoint_size}, "
        f"logged at index {logged.index} ({format_timestamp(logged.log_time_ms)}), "
        f"verified from {source}."
    )


def date_problem(day: str) -> str | None:
    """Why ``day`` is not a YYYY-MM-DD calendar date, or None."""
    if re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", day):
        try:
            date.fromisoformat(day)
        except ValueError:
            pass
        else:
            return None
    return f"must be a date YYYY-MM-DD, got {day!r}"


def _dump_size(directory: Path) -> int:
    """The tree size of the dump's signed checkpoint note (its second line)."""
    try:
        lines = (directory / "checkpoint").read_text("utf-8").split("\n")
        return int(lines[1])
    except (OSError, UnicodeDecodeError, IndexError, ValueError) as exc:
        raise CliError(
            f"{directory}/checkpoint is not a readable checkpoint note ({exc}); give --date"
        ) from exc


def _download(http: httpx.Client, name: str, size: int, root: str, at_ms: int) -> Iterator[bytes]:
    params = {"size": str(size), "at": format_timestamp(at_ms - at_ms % 1000)}
    with http.stream("GET", f"/v1/open-data/{name}", params=params) as response:
        if not response.is_success:
            response.read()
            raise CliError(
                _("%(url)s: HTTP %(status_code)s: %(body)s")
                % {
                    "url": response.request.url,
                    "status_code": response.status_code,
                    "body": response.text[:200],
                },
                EXIT_FAILED,
            )
        got = (
            response.headers.get("claimledger-checkpoint-size"),
            response.headers.get("claimledger-checkpoint-root"),
        )
        if got != (str(size), root):
            raise CliError(
                _("%(name)s: the server built it at checkpoint %(got)s, not (%(size)s, %(root)s)")
                % {"name": name, "got": got, "size": size, "root": root},
                EXIT_FAILED,
            )
        yield from response.iter_bytes()
