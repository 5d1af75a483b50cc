"""``claimledger witness``: run a C2SP witness, and print a log's entry for a witness list.

The ``witness`` package is imported inside the commands that need it, so the rest of the CLI
(and ``witness log-entry``) loads even where an older install does not map the package yet.
"""

from __future__ import annotations

from pathlib import Path

import click

from attest.loglist import logs_v0_entry, parse_logs_v0
from attest.policy import PolicyError
from cli._common import backend_options, with_backend
from cli._errors import EXIT_USAGE, CliError
from cli._i18n import _

__all__ = ["witness_group"]


@click.group("witness")
def witness_group() -> None:
    """Run a C2SP witness (tlog-witness) that cosigns other logs' checkpoints.

    A witness keeps, per log, the latest checkpoint it cosigned, and cosigns a new one only if a
    consistency proof shows it extends that one. It signs with an Ed25519 key (cosignature/v1)
    and an ML-DSA-44 key (subtree/v1, post-quantum). See docs/architecture/witness.md.
    """


@witness_group.command("init")
@click.option(
    "--dir",
    "directory",
    type=click.Path(path_type=Path),
    required=True,
    help="Directory to create the witness in (name, keys; later its state file).",
)
@click.option(
    "--name", required=True, help="Cosigner name, a schema-less URL (witness.example/w1)."
)
def init_cmd(directory: Path, name: str) -> None:
    """Create a witness: its name and two new keys; print both verifier keys."""
    from witness import WitnessError, init_witness

    try:
        made = init_witness(directory, name)
    except WitnessError as exc:
        raise CliError(str(exc), EXIT_USAGE) from exc
    click.echo(f"ml-dsa-44 vkey: {made.mldsa44.verifier.vkey()}")
    click.echo(f"ed25519 vkey:   {made.ed25519.verifier.vkey()}")


@witness_group.command("serve")
@click.option(
    "--dir",
    "directory",
    type=click.Path(path_type=Path, file_okay=False),
    required=True,
    help="The witness directory (from `witness init`).",
)
@click.option(
    "--logs",
    "logs_file",
    type=click.Path(path_type=Path, dir_okay=False),
    required=True,
    help="The logs to witness, in the witness network's logs/v0 format.",
)
@click.option(
    "--listen", default="127.0.0.1:8383", show_default=True, help="HOST:PORT to serve on."
)
def serve_cmd(directory: Path, logs_file: Path, listen: str) -> None:
    """Serve add-checkpoint and the monitoring API over HTTP."""
    import uvicorn

    from witness import STATE_FILE, Witness, WitnessError, WitnessState, create_app, load_witness

    host, sep, port_text = listen.rpartition(":")
    if not sep or not host or not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise CliError(
            _("--listen %(listen)s is not HOST:PORT") % {"listen": repr(listen)}, EXIT_USAGE
        )
    try:
        data = logs_file.read_bytes()
    except OSError as exc:
        raise CliError(
            _("cannot read %(logs_file)s: %(exc)s") % {"logs_file": logs_file, "exc": exc},
            EXIT_USAGE,
        ) from exc
    try:
        logs = parse_logs_v0(data)
    except PolicyError as exc:
        raise CliError(
            _("%(logs_file)s: %(exc)s") % {"logs_file": logs_file, "exc": exc}, EXIT_USAGE
        ) from exc
    try:
        keys = load_witness(directory)
        witness = Witness(keys, logs, WitnessState(directory / STATE_FILE))
    except WitnessError as exc:
        raise CliError(str(exc), EXIT_USAGE) from exc
    click.echo(f"witness {keys.name}: {len(witness.origins)} log(s), listening on {listen}")
    uvicorn.run(
        create_app(witness), host=host.strip("[]"), port=int(port_text), log_level="warning"
    )


@witness_group.command("log-entry")
@click.option(
    "--vkey",
    default=None,
    help="The log's Ed25519 note vkey [default: read from --db or --server, the ledger's own].",
)
@click.option("--origin", default=None, help="Its origin line, if not the vkey's key name.")
@click.option(
    "--qpd",
    type=int,
    default=86400,
    show_default=True,
    help="add-checkpoint requests per day the log may make.",
)
@click.option("--contact", required=True, help="How the witness operators reach the log operator.")
@backend_options
def log_entry_cmd(
    vkey: str | None,
    origin: str | None,
    qpd: int,
    contact: str,
    db: str | None,
    server: str | None,
    log_key: Path | None,
) -> None:
    """Print a log's entry for a witness network logs/v0 list: the ledger's own (from --db or
    --server), or the log whose --vkey is given."""
    if vkey is None:
        vkey = with_backend(db, server, log_key).log_vkey()
    try:
        entry = logs_v0_entry(vkey, origin, qpd, contact)
    except PolicyError as exc:
        raise CliError(str(exc), EXIT_USAGE) from exc
    click.echo(entry, nl=False)
