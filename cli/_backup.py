"""``backup``: a consistent, checked copy of a SQLite ledger, taken while it is served."""

from __future__ import annotations

import shlex
from pathlib import Path

import click

from cli._common import db_option, echo_json
from cli._errors import EXIT_USAGE, CliError
from cli._i18n import _
from ledger import backup_sqlite, parse_database_url

__all__ = ["backup_cmd", "pg_dump_command"]

RECIPE = "docs/operating/backup.md"


def pg_dump_command(url: str, out: Path) -> str:
    """The ``pg_dump`` command that backs up the PostgreSQL ledger at ``url`` (no password)."""
    env = parse_database_url(url).env
    args = [
        "pg_dump",
        "--host",
        env["POSTGRES_HOST"],
        "--port",
        env["POSTGRES_PORT"],
        "--username",
        env["POSTGRES_USER"],
        "--dbname",
        env["POSTGRES_DBNAME"],
        "--schema",
        env["POSTGRES_SCHEMA"],
        "--format=custom",
        "--file",
        str(out),
    ]
    return shlex.join(args)


def _size(n: int) -> str:
    if n < 1024:
        return f"{n} B"
    value, unit = n / 1024, "KiB"
    for bigger in ("MiB", "GiB"):
        if value < 1024:
            break
        value, unit = value / 1024, bigger
    return f"{value:.1f} {unit}"


@click.command("backup")
@db_option("The SQLite ledger to copy")
@click.argument("out", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def backup_cmd(db: str, out: Path, as_json: bool) -> None:
    """Copy a SQLite ledger to OUT, consistently, while servers keep appending to it.

    SQLite's online backup API copies the database as of one commit into a temporary file beside
    OUT; the copy is checked (SQLite integrity, the newest checkpoint kept: signed by the log,
    covered by the copy's entries and Merkle nodes) and only then renamed to OUT. Verify it in
    full with: claimledger verify --db sqlite:///OUT

    A PostgreSQL ledger is backed up with pg_dump (the command is printed; see
    docs/operating/backup.md). Exit 1: the copy failed its checks (nothing is left at OUT);
    2: no ledger, I/O or database error.
    """
    parsed = parse_database_url(db)
    if parsed.kind != "sqlite":
        raise CliError(
            _(
                "claimledger backup copies SQLite ledgers; back up %(display)s with "
                "`%(command)s` (%(recipe)s)"
            )
            % {"display": parsed.display, "command": pg_dump_command(db, out), "recipe": RECIPE},
            EXIT_USAGE,
        )
    if out.is_dir():
        raise CliError(
            _("%(out)s is a directory: give the backup file's path") % {"out": out}, EXIT_USAGE
        )
    result = backup_sqlite(db, out)
    if as_json:
        echo_json(
            {
                "path": str(result.path),
                "bytes": result.size_bytes,
                "entries": result.entries,
                "checkpointSize": result.checkpoint_size,
                "checkpoint": result.checkpoint.decode("utf-8"),
            }
        )
        return
    click.echo(
        f"Backed up {result.entries} entries ({_size(result.size_bytes)}, checkpoint "
        f"{result.checkpoint_size}) to {result.path}"
    )
