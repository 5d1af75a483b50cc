"""``init``, ``serve`` and ``demo``: running a ledger."""

from __future__ import annotations

import logging
import os
import shutil
import signal
import time
from pathlib import Path

import click

from attest import VerificationError
from attest.policy import parse_policy
from cli._backend import LocalBackend, default_keys_dir
from cli._common import db_option, echo_json
from cli._errors import EXIT_USAGE, CliError
from cli._i18n import _
from cli._keyfiles import (
    PASSPHRASE_ENV,
    is_encrypted,
    load_private_key,
    passphrase_for,
    save_new_key,
)
from cli._logformat import LOG_FORMATS, log_config
from keys import KeysError, PrivateKey
from ledger import (
    Ledger,
    LedgerExistsError,
    LedgerNotFoundError,
    check_published_checkpoint,
    open_store,
    parse_database_url,
)

__all__ = ["demo_cmd", "init_cmd", "serve_cmd"]

DEMO_DB = "sqlite:///claimledger-demo.db"


def _refuse_existing(url: str) -> None:
    """Fail (before any key file is written) if ``url`` already holds a ledger."""
    try:
        store = open_store(url)
    except LedgerNotFoundError:
        return
    try:
        if store.size() > 0:
            raise LedgerExistsError(f"{parse_database_url(url).display} already holds a ledger")
    finally:
        store.close()


def _require_ledger(url: str) -> None:
    """Fail in one line (not in the server's startup) if ``url`` holds no ledger."""
    store = open_store(url)
    try:
        if store.size() == 0:
            raise LedgerNotFoundError(
                f"no ledger in {parse_database_url(url).display}: run `claimledger init`"
            )
    finally:
        store.close()


def _key(path: Path, unsafe: bool, made: list[Path]) -> PrivateKey:
    if path.exists():
        return load_private_key(path)
    key = save_new_key(path, unsafe_unencrypted=unsafe)
    made.append(path)
    return key


@click.command("init")
@db_option("The database to create the ledger in")
@click.option(
    "--authority-id",
    required=True,
    metavar="PARTY",
    help="The authority's party id, e.g. online-safety-board.",
)
@click.option("--authority-name", required=True, help="The authority's public name.")
@click.option(
    "--origin",
    required=True,
    help="The log's name in its checkpoints, e.g. ledger.example.org/log.",
)
@click.option(
    "--authority-key",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The authority's key file (used if it exists, else created) "
    "[default: KEYS-DIR/authority.key].",
)
@click.option(
    "--log-key",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The log's key file (used if it exists, else created) [default: KEYS-DIR/log.key].",
)
@click.option(
    "--keys-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Where new key files go [default: NAME-keys/ beside a SQLite file NAME.db].",
)
@click.option(
    "--unsafe-unencrypted",
    is_flag=True,
    help="Write new key files without a passphrase. Only for tests and demos.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def init_cmd(
    db: str,
    authority_id: str,
    authority_name: str,
    origin: str,
    authority_key: Path | None,
    log_key: Path | None,
    keys_dir: Path | None,
    unsafe_unencrypted: bool,
    as_json: bool,
) -> None:
    """Create a new ledger: the authority and log keys, and the genesis entry.

    Prints the ledger fingerprint (the genesis entry's hash). Publish it: users pin it with
    'claimledger verify --genesis FINGERPRINT'.
    """
    _refuse_existing(db)
    if keys_dir is None and (authority_key is None or log_key is None):
        keys_dir = default_keys_dir(db)
        if keys_dir is None:
            raise click.UsageError(_("for a PostgreSQL ledger give --keys-dir or both key files"))
    made: list[Path] = []
    if keys_dir is not None:
        keys_dir.mkdir(parents=True, exist_ok=True)
    try:
        a_key = _key(authority_key or keys_dir / "authority.key", unsafe_unencrypted, made)  # type: ignore[operator]
        l_key = _key(log_key or keys_dir / "log.key", unsafe_unencrypted, made)  # type: ignore[operator]
        with Ledger.init(
            db,
            authority_id=authority_id,
            authority_name=authority_name,
            authority_key=a_key,
            origin=origin,
            log_key=l_key,
        ) as led:
            fingerprint = (led.state.genesis_hash or b"").hex()
            vkey = led.note_verifier.vkey()
    except BaseException:
        for path in made:  # nothing half-made stays behind
            path.unlink(missing_ok=True)
        raise
    result = {
        "db": parse_database_url(db).display,
        "origin": origin,
        "authority": authority_id,
        "authorityKeyId": a_key.public_key.key_id,
        "logKey": vkey,
        "fingerprint": fingerprint,
        "keyFiles": [str(p) for p in made],
    }
    if as_json:
        echo_json(result)
        return
    click.echo(f"Created the ledger {result['db']}")
    click.echo(f"  origin:      {origin}")
    click.echo(f"  authority:   {authority_id} (key id {a_key.public_key.key_id})")
    click.echo(f"  log key:     {vkey}")
    for path in made:
        click.echo(f"  new key file: {path}")
    click.echo(f"Ledger fingerprint: {fingerprint}")
    click.echo(f"Publish it; users pin it with: claimledger verify --genesis {fingerprint}")


PUBLISHED_ENV = "CLAIMLEDGER_PUBLISHED_CHECKPOINT"
NEXT_LOG_KEY_ENV = "CLAIMLEDGER_NEXT_LOG_KEY"


def _serve(
    db: str,
    host: str,
    port: int,
    log_key: Path | None,
    witness_policy: Path | None = None,
    published: Path | None = None,
    log_format: str = "text",
    next_log_key: Path | None = None,
) -> None:
    """Run the API with uvicorn (the ``api`` package is loaded by uvicorn, not imported here).

    SIGTERM (or SIGINT) stops it gracefully: it stops accepting connections, answers the
    requests in flight (at most :data:`GRACEFUL_S` seconds), lets the sequencer finish every
    queued entry, closes the ledger, and exits 0 (docs/operating/monitoring.md).
    """
    import uvicorn

    _require_ledger(db)
    os.environ["CLAIMLEDGER_DB"] = db
    if published is None:
        os.environ.pop(PUBLISHED_ENV, None)
    else:
        # In one line, before the server starts: a database restored from an older backup
        # (Ledger.open checks it again, on the verified entries).
        check_published_checkpoint(db, published)
        os.environ[PUBLISHED_ENV] = str(published.absolute())
    if witness_policy is None:
        os.environ.pop("CLAIMLEDGER_WITNESS_POLICY", None)
    else:
        try:
            parse_policy(witness_policy.read_bytes())
        except OSError as exc:
            raise CliError(
                _("cannot read %(witness_policy)s: %(exc)s")
                % {"witness_policy": witness_policy, "exc": exc},
                EXIT_USAGE,
            ) from exc
        except VerificationError as exc:
            raise CliError(
                _("%(witness_policy)s: %(exc)s") % {"witness_policy": witness_policy, "exc": exc},
                EXIT_USAGE,
            ) from exc
        os.environ["CLAIMLEDGER_WITNESS_POLICY"] = str(witness_policy.absolute())
    key_path = log_key
    if key_path is None:
        keys_dir = default_keys_dir(db)
        if keys_dir is not None and (keys_dir / "log.key").is_file():
            key_path = keys_dir / "log.key"
    if key_path is None:
        os.environ.pop("CLAIMLEDGER_LOG_KEY", None)
        click.echo("No log key: serving read-only (no appends, no checkpoints).", err=True)
    else:
        os.environ["CLAIMLEDGER_LOG_KEY"] = str(key_path.absolute())
        if is_encrypted(key_path):
            passphrase = passphrase_for(key_path)
            PrivateKey.load(key_path, passphrase)  # a wrong passphrase fails here, in one line
            os.environ[PASSPHRASE_ENV] = passphrase.decode("utf-8")
        else:
            PrivateKey.load(key_path, None)
            os.environ.pop(PASSPHRASE_ENV, None)
    if next_log_key is None:
        os.environ.pop(NEXT_LOG_KEY_ENV, None)
    else:
        if key_path is None:
            raise CliError(_("--next-log-key needs the log key in force (--log-key)"), EXIT_USAGE)
        passphrase_text = os.environ.get(PASSPHRASE_ENV)
        try:
            PrivateKey.load(  # same passphrase as the log key: fails here, in one line
                next_log_key, None if passphrase_text is None else passphrase_text.encode()
            )
        except (KeysError, OSError) as exc:
            raise CliError(
                _(
                    "cannot read the next log key %(next_log_key)s (it must use the log "
                    "key's passphrase): %(exc)s"
                )
                % {"next_log_key": next_log_key, "exc": exc},
                EXIT_USAGE,
            ) from exc
        os.environ[NEXT_LOG_KEY_ENV] = str(next_log_key.absolute())
    config = uvicorn.Config(
        "api:app_from_env",
        factory=True,
        host=host,
        port=port,
        log_level="info",
        log_config=log_config(log_format),
        timeout_graceful_shutdown=GRACEFUL_S,
    )
    server = uvicorn.Server(config)
    if log_format == "json":
        logging.captureWarnings(True)  # a warning becomes a JSON line too
    # uvicorn shuts down on SIGTERM or SIGINT, then raises the signal again with the handler
    # that was there before it started: this one, so that a clean stop exits 0 (rather than
    # "killed by SIGTERM", or click's "Aborted!").
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, _stopped)
    server.run()
    if not server.started:
        raise SystemExit(STARTUP_FAILURE)


GRACEFUL_S = 30
"""Seconds a stopping server waits for requests in flight before it drops their connections."""

STARTUP_FAILURE = 3
"""The exit code of a server that could not start (uvicorn's, and the API's when the ledger
cannot be opened)."""


def _stopped(signum: int, frame: object) -> None:
    raise SystemExit(0)


@click.command("serve")
@db_option("The ledger database")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535))
@click.option(
    "--log-key",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    envvar="CLAIMLEDGER_LOG_KEY",
    help="The log key file, to accept entries and sign checkpoints [default: "
    "NAME-keys/log.key beside a SQLite file NAME.db; without it: read-only].",
)
@click.option(
    "--next-log-key",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    envvar=NEXT_LOG_KEY_ENV,
    help="The key file of the next log key, for a rotation (`claimledger log-key rotate`): "
    "the server accepts a rotation only to a key it holds, and signs with it from the "
    "rotation's fromSize on. Same passphrase as --log-key [env CLAIMLEDGER_NEXT_LOG_KEY].",
)
@click.option(
    "--witness-policy",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    envvar="CLAIMLEDGER_WITNESS_POLICY",
    help="A C2SP tlog-policy file (this log's key, its witnesses with their URLs, the quorum): "
    "each new checkpoint is sent to the witnesses and the cosigned one is served at "
    "/v1/log/checkpoint/cosigned [env CLAIMLEDGER_WITNESS_POLICY].",
)
@click.option(
    "--published-checkpoint",
    type=click.Path(dir_okay=False, path_type=Path),
    envvar=PUBLISHED_ENV,
    help="A file outside the database where the server records each checkpoint before it "
    "publishes it; a database that does not reach it (restored from an older backup) is "
    "refused (exit 1). Created when absent. One file per server process "
    "[env CLAIMLEDGER_PUBLISHED_CHECKPOINT].",
)
@click.option(
    "--log-format",
    type=click.Choice(LOG_FORMATS),
    default="text",
    show_default=True,
    envvar="CLAIMLEDGER_LOG_FORMAT",
    help="text: uvicorn's lines; json: one JSON object per line on stderr (time, level, logger, "
    "message; method, path, status, duration for each request) [env CLAIMLEDGER_LOG_FORMAT].",
)
def serve_cmd(
    db: str,
    host: str,
    port: int,
    log_key: Path | None,
    next_log_key: Path | None,
    witness_policy: Path | None,
    published_checkpoint: Path | None,
    log_format: str,
) -> None:
    """Serve the HTTP API (and the public page) over a ledger database.

    The server accepts connections at once and opens (verifies again) the ledger in the
    background: /healthz answers 503 "starting" and /readyz 503 until it is open. SIGTERM stops
    it gracefully (requests in flight answered, queued entries written) with exit code 0; a
    ledger that cannot be opened stops it with exit code 3.

    Try: curl http://127.0.0.1:8000/v1/log/checkpoint
    """
    parse_database_url(db)
    _serve(db, host, port, log_key, witness_policy, published_checkpoint, log_format, next_log_key)


@click.command("demo")
@click.option(
    "--db",
    metavar="URL",
    default=DEMO_DB,
    show_default=True,
    help="Where to build the demo ledger.",
)
@click.option(
    "--keys-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Where the demo's (unencrypted) keys go [default: NAME-keys/ beside the "
    "SQLite file NAME.db, i.e. claimledger-demo-keys/].",
)
@click.option(
    "--reset", is_flag=True, help="Delete an existing demo ledger (SQLite file) and its keys first."
)
@click.option("--no-serve", is_flag=True, help="Build and verify only; do not start the server.")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535))
def demo_cmd(
    db: str, keys_dir: Path | None, reset: bool, no_serve: bool, host: str, port: int
) -> None:
    """Build a believable demo ledger, verify it, and serve it on 127.0.0.1.

    Five fictional providers publish claims about their child-safety measures; accredited
    fictional verifiers test them and issue verdicts of every kind (one has expired); a claim
    is withdrawn, another superseded; a provider replies to a verdict; a provider rotates its
    key and revokes the old one; a verifier's accreditation is suspended. All over the 200 days
    before today, on a fixed clock.

    The demo's private keys are written UNENCRYPTED (a demo only) to claimledger-demo-keys/, so
    you can sign as any party: e.g. --key claimledger-demo-keys/brightchat.key.
    If the demo ledger exists it is verified and served again (--reset rebuilds it).
    """
    from cli._demo import build_demo
    from cli._readcmds import run_verification

    parsed = parse_database_url(db)
    keys_dir = keys_dir or default_keys_dir(db) or Path("claimledger-demo-keys")
    if reset:
        if parsed.path is None:
            raise click.UsageError(_("--reset only deletes SQLite files; drop the schema yourself"))
        for suffix in ("", "-wal", "-shm"):
            Path(f"{parsed.path}{suffix}").unlink(missing_ok=True)
        shutil.rmtree(keys_dir, ignore_errors=True)
    exists = True
    try:
        _refuse_existing(db)
        exists = False
    except LedgerExistsError:
        pass
    if exists:
        click.echo(f"Using the existing demo ledger {parsed.display} (--reset rebuilds it).")
    else:
        if keys_dir.exists():
            raise CliError(
                _("%(keys_dir)s already exists; remove it or pass --reset") % {"keys_dir": keys_dir}
            )
        click.echo(f"Building the demo ledger {parsed.display}")
        demo = build_demo(
            db,
            keys_dir,
            today_ms=time.time_ns() // 1_000_000,
            progress=lambda msg: click.echo(f"  - {msg}"),
        )
        click.echo(f"  {demo.entries} entries; keys (UNENCRYPTED, demo only) in {keys_dir}/")
    click.echo("Verifying it from scratch, as any user would:")
    backend = LocalBackend(db, log_key=keys_dir / "log.key")
    try:
        outcome = run_verification(
            backend=backend, bundle=None, stream=None, genesis=None, remember=False
        )
    finally:
        backend.close()
    if no_serve:
        return
    base = f"http://{host}:{port}"
    fp = outcome.genesis_hash.hex()
    click.echo(f"""
Serving the demo at {base}  (Ctrl-C to stop)

Open:
  {base}/                          the public comparison page
  {base}/providers/pixelstream     one company's timeline
  {base}/openapi.json              the API (OpenAPI)

Try:
  curl {base}/v1/log/checkpoint
  curl {base}/v1/streams/pixelstream/state
  claimledger verify --server {base} --genesis {fp}
  claimledger verify pixelstream --server {base}
  claimledger replay lumen-search --server {base}
  claimledger replay lumen-search --server {base} --as-of {_past(outcome)}
  claimledger export pixelstream --server {base} -o pixelstream.bundle.json
  claimledger verify --bundle pixelstream.bundle.json
  claimledger claim publish --server {base} --key {keys_dir}/lumen-search.key \\
      --signer lumen-search --measure report.user_tool --service "Lumen Search" \\
      --surface search --jurisdiction GLOBAL --population all_users --status deployed \\
      --effective-from 2026-01-01 --details '{{"surfaces":["search"],"specificCategory":true}}'
""")
    _serve(db, host, port, keys_dir / "log.key")


def _past(outcome: object) -> str:
    """A date 80 days ago: before the demo's last verdicts, after its first."""
    ms = time.time_ns() // 1_000_000 - 80 * 86_400_000
    return time.strftime("%Y-%m-%d", time.gmtime(ms / 1000))
