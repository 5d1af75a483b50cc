"""Entry point of the ``claimledger`` command; maps every expected error in one place."""

from __future__ import annotations

from typing import Any

import click

from cli._admin import demo_cmd, init_cmd, serve_cmd
from cli._backup import backup_cmd
from cli._errors import to_cli_error
from cli._exportcmds import export_intoto_cmd, open_data_cmd, open_data_verify_cmd
from cli._keycmds import keys_group
from cli._monitor import monitor_cmd
from cli._onboard import onboard_group, register_cmd
from cli._proofcmds import proof_group
from cli._readcmds import export_cmd, replay_cmd, verify_cmd
from cli._reportcmd import report_cmd
from cli._tilescmds import tiles_group
from cli._witnesscmds import witness_group
from cli._write import register
from ledger import tune_gc

__all__ = ["main"]

_EPILOG = """\b
Exit codes:
  0  success (verify: everything verified)
  1  a check failed: verification failed, or an entry was refused (schema, signature,
     key, rule, chain conflict); the first failure is named
  2  usage error, bad input file, I/O, database or network error

\b
Environment: CLAIMLEDGER_DB, CLAIMLEDGER_SERVER, CLAIMLEDGER_KEY, CLAIMLEDGER_SIGNER,
CLAIMLEDGER_PASSPHRASE, CLAIMLEDGER_LOG_KEY, CLAIMLEDGER_CONFIG_DIR,
CLAIMLEDGER_PUBLISHED_CHECKPOINT.
"""


class _Main(click.Group):
    """The root group: turns package errors into one line on stderr and an exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        tune_gc()  # a process that runs a ledger (ledger/_gc.py)
        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except Exception as exc:
            error = to_cli_error(exc)
            if error is None:
                raise
            raise error from exc


@click.group(
    "claimledger",
    cls=_Main,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
    epilog=_EPILOG,
)
@click.version_option(package_name="claimledger")
def main() -> None:
    """claimledger: a public, tamper-evident record of child-safety claims and their verdicts.

    \b
    Onboarding: onboard request (a new party) | register --from-request (the authority)
    Providers:  claim publish | claim supersede | claim withdraw | reply
    Verifiers:  engagement open|close|withdraw | test record | verdict issue
    Authority:  init | party register|retire | accredit grant|suspend | key add|revoke
                | log-key rotate | reference publish (a per-provider count table)
    Everyone:   verify | monitor | replay | export | proof | head | keys generate|show|export-public
    Regulators: export COMPANY --as-of DATE -o FILE | report FILE (offline)
    Exports:    export-intoto --key KEY -o FILE (in-toto, verifiers) | open-data DIR (CSV, JSON)
                open-data DIR --publish (the authority logs the dump) | open-data-verify DIR
    Offline:    sign (air-gapped) then submit
    Operators:  serve | backup | demo | tiles export (the read side as static files)

    Every command works on a database (--db URL; default sqlite:///claimledger.db, the file
    claimledger.db in the current directory) or a server (--server URL).
    """


for _cmd in (
    init_cmd,
    serve_cmd,
    demo_cmd,
    keys_group,
    verify_cmd,
    replay_cmd,
    export_cmd,
    report_cmd,
    monitor_cmd,
    backup_cmd,
    onboard_group,
    register_cmd,
    export_intoto_cmd,
    open_data_cmd,
    open_data_verify_cmd,
):
    main.add_command(_cmd)
register(main)
main.add_command(witness_group)
main.add_command(proof_group)
main.add_command(tiles_group)
