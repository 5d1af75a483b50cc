"""What the commands share: backend and signer options, body files, the sign-submit-rebase loop."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import click
import yaml

from attest import ChainError, Envelope, make_statement, sign_statement
from attest.statements import REGISTRY_KINDS, Kind, format_timestamp, parse_timestamp
from cli._backend import DEFAULT_DB, Backend, open_backend
from cli._errors import EXIT_FAILED, CliError
from cli._i18n import _
from cli._keyfiles import load_private_key
from keys import PrivateKey

__all__ = [
    "MAX_REBASES",
    "Signing",
    "append",
    "backend_options",
    "body_options",
    "check_backend_options",
    "echo_json",
    "load_body",
    "parse_date_or_time",
    "print_receipt",
    "signing_options",
    "with_backend",
]

F = TypeVar("F", bound=Callable[..., Any])

MAX_REBASES = 5
"""How often a command re-signs on a new head after a chain conflict before giving up."""


def backend_options(func: F) -> F:
    """``--db`` / ``--server`` / ``--log-key``."""
    func = click.option(
        "--log-key",
        type=click.Path(dir_okay=False, path_type=Path),
        envvar="CLAIMLEDGER_LOG_KEY",
        help="Log key file, to write to (or sign checkpoints of) a local database "
        "[default: NAME-keys/log.key beside a SQLite file NAME.db; env CLAIMLEDGER_LOG_KEY].",
    )(func)
    func = click.option(
        "--server",
        metavar="URL",
        envvar="CLAIMLEDGER_SERVER",
        help="Use the claimledger server at URL (e.g. http://127.0.0.1:8000) instead of a "
        "database [env CLAIMLEDGER_SERVER].",
    )(func)
    func = click.option(
        "--db",
        metavar="URL",
        envvar="CLAIMLEDGER_DB",
        help=f"Ledger database: sqlite:///FILE or postgresql://user@host/db "
        f"[default: {DEFAULT_DB}, the file claimledger.db in the current directory; "
        "env CLAIMLEDGER_DB].",
    )(func)
    return func


def db_option(help: str) -> Callable[[F], F]:
    """``--db URL`` for a command that works on one database: env ``CLAIMLEDGER_DB``, default the
    SQLite file ``claimledger.db`` here; ``help`` says what the database is for."""
    return click.option(
        "--db",
        metavar="URL",
        envvar="CLAIMLEDGER_DB",
        default=DEFAULT_DB,
        show_default=True,
        help=f"{help} [env CLAIMLEDGER_DB].",
    )


def check_backend_options() -> set[str]:
    """Which of ``--db``/``--server`` were given on the command line; both is a usage error."""
    ctx = click.get_current_context()
    explicit = {
        name
        for name in ("db", "server")
        if ctx.get_parameter_source(name) is click.core.ParameterSource.COMMANDLINE
    }
    if explicit == {"db", "server"}:
        raise click.UsageError(_("give either --db or --server, not both"))
    return explicit


def with_backend(db: str | None, server: str | None, log_key: Path | None) -> Backend:
    """The backend for the options; ``--db`` and ``--server`` together is a usage error."""
    ctx = click.get_current_context()
    if server and "db" in check_backend_options():
        server = None  # an explicit --db beats CLAIMLEDGER_SERVER
    backend = open_backend(db, server, log_key)
    ctx.call_on_close(backend.close)
    return backend


def signing_options(func: F) -> F:
    """``--key`` / ``--signer`` / ``--prev`` / ``--output`` / ``--json``."""
    func = click.option(
        "--json", "as_json", is_flag=True, help="Print the receipt (or envelope) as JSON."
    )(func)
    func = click.option(
        "-o",
        "--output",
        type=click.Path(dir_okay=False, path_type=Path),
        help="Sign offline: write the envelope to this new file instead of submitting it "
        "(needs --prev; no network or database is used). Send it later with "
        "'claimledger submit'.",
    )(func)
    func = click.option(
        "--prev",
        metavar="HEX",
        help="The stream head to chain to (see 'claimledger head'); by default it is fetched, "
        "and the statement is re-signed on a newer head if another entry got there first.",
    )(func)
    func = click.option(
        "--signer",
        metavar="PARTY",
        envvar="CLAIMLEDGER_SIGNER",
        required=True,
        help="Your party id, as registered [env CLAIMLEDGER_SIGNER].",
    )(func)
    func = click.option(
        "--key",
        "key_file",
        type=click.Path(dir_okay=False, path_type=Path),
        envvar="CLAIMLEDGER_KEY",
        required=True,
        help="Your private key file (passphrase from a prompt or CLAIMLEDGER_PASSPHRASE) "
        "[env CLAIMLEDGER_KEY].",
    )(func)
    return func


def body_options(func: F) -> F:
    """``--body FILE``."""
    return click.option(
        "--body",
        "body_file",
        type=click.Path(dir_okay=False, allow_dash=True, path_type=Path),
        help="Read the statement body from a JSON or YAML file ('-' for stdin); options given "
        "on the command line override its members.",
    )(func)


# -- body files ------------------------------------------------------------------------------


class _StrictLoader(yaml.SafeLoader):
    """YAML without implicit timestamps: ``2026-01-01`` stays the string it is in the ledger."""


_StrictLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.copy().items()
}


def _no_floats(value: Any, pointer: str) -> None:
    if isinstance(value, float):
        raise CliError(
            _(
                "%(pointer)s: %(value)s is a decimal number; the ledger's JSON has no "
                'floats, so write it as a string ("%(text)s")'
            )
            % {"pointer": pointer or "/", "value": repr(value), "text": value}
        )
    if isinstance(value, dict):
        for k, v in value.items():
            if not isinstance(k, str):
                raise CliError(
                    _("%(pointer)s/%(k)s: member names must be strings")
                    % {"pointer": pointer, "k": k}
                )
            _no_floats(v, f"{pointer}/{k}")
    elif isinstance(value, list):
        for i, v in enumerate(value):
            _no_floats(v, f"{pointer}/{i}")


def load_body(path: Path | None) -> dict[str, Any]:
    """The JSON object in ``path`` (JSON or YAML; ``-`` is stdin); ``{}`` without a path.

    Raises:
        CliError: the file cannot be read, or does not hold a JSON object without floats.
    """
    if path is None:
        return {}
    name = str(path)
    try:
        text = sys.stdin.read() if name == "-" else path.read_text("utf-8")
    except OSError as exc:
        raise CliError(
            _("cannot read body file %(name)s: %(why)s")
            % {"name": name, "why": exc.strerror or exc}
        ) from exc
    except UnicodeDecodeError:
        raise CliError(_("body file %(name)s is not UTF-8 text") % {"name": name}) from None
    try:
        if path.suffix == ".json":
            value = json.loads(text)
        else:
            value = yaml.load(text, Loader=_StrictLoader)  # noqa: S506 - a SafeLoader subclass
    except RecursionError:
        raise CliError(
            _("body file %(name)s is not valid JSON/YAML: nested too deeply") % {"name": name}
        ) from None
    except (ValueError, yaml.YAMLError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CliError(
            _("body file %(name)s is not valid JSON/YAML: %(first)s")
            % {"name": name, "first": first}
        ) from exc
    if not isinstance(value, dict):
        raise CliError(
            _("body file %(name)s must hold a JSON object (the statement body)") % {"name": name}
        )
    _no_floats(value, "")
    return value


def parse_date_or_time(text: str) -> int:
    """Milliseconds since the epoch of ``YYYY-MM-DD`` (its end, 23:59:59Z) or a timestamp.

    Raises:
        click.BadParameter: neither form.
    """
    try:
        if len(text) == 10:
            day = dt.date.fromisoformat(text)
            end = dt.datetime.combine(day, dt.time(23, 59, 59), tzinfo=dt.UTC)
            return int(end.timestamp()) * 1000
        return parse_timestamp(text)
    except ValueError:
        raise click.BadParameter(
            _("%(text)s is not a date (YYYY-MM-DD) or timestamp (YYYY-MM-DDTHH:MM:SSZ)")
            % {"text": repr(text)}
        ) from None


# -- signing and submitting --------------------------------------------------------------------


class Signing:
    """Who signs and how: the key, the signer id, and where the envelope goes."""

    def __init__(
        self,
        key_file: Path,
        signer: str,
        prev: str | None,
        output: Path | None,
        as_json: bool,
    ) -> None:
        self.key_file = key_file
        self.signer = signer
        self.prev = prev
        self.output = output
        self.as_json = as_json
        if output is not None and prev is None:
            raise click.UsageError(_("--output (offline signing) needs --prev HEX"))
        if output is not None and output.exists():
            raise CliError(
                _("%(output)s already exists; refusing to overwrite it") % {"output": output}
            )
        if prev is not None and (len(prev) != 64 or set(prev) - set("0123456789abcdef")):
            raise click.BadParameter(_("must be 64 lowercase hex characters"), param_hint="--prev")
        self._key: PrivateKey | None = None

    @property
    def key(self) -> PrivateKey:
        """The private key, loaded (and its passphrase asked for) once."""
        if self._key is None:
            self._key = load_private_key(self.key_file)
        return self._key


def now_timestamp() -> str:
    """The machine's clock as a statement timestamp."""
    return format_timestamp(time.time_ns() // 1_000_000)


def sign(
    signing: Signing, *, kind: Kind, stream: str, prev: str, body: Mapping[str, Any]
) -> Envelope:
    """Build, validate and sign one statement."""
    statement = make_statement(
        kind=kind,
        stream=stream,
        prev=prev,
        signer=signing.signer,
        signed_at=now_timestamp(),
        body=dict(body),
    )
    return sign_statement(statement, signing.key)


def digest_of(envelope: Envelope) -> str:
    """SPEC §3.4: the hex SHA-256 of the signed payload, by which statements are referred to."""
    return hashlib.sha256(envelope.payload).hexdigest()


def write_envelope(path: Path, envelope: Envelope) -> None:
    """Write the envelope's stored form to a new file."""
    with path.open("xb") as f:
        f.write(envelope.to_bytes() + b"\n")


def append(
    backend_factory: Callable[[], Backend],
    signing: Signing,
    *,
    kind: Kind,
    body: Mapping[str, Any],
    stream: str | None = None,
) -> None:
    """Sign ``body`` as a ``kind`` statement and submit it (or write it, offline), then report.

    The stream head is fetched and signed as ``prev``; on a chain conflict (another entry got
    there first) the statement is re-signed on the new head, at most :data:`MAX_REBASES` times.
    With ``--prev``, the statement is signed on that head and a conflict is an error.
    """
    if stream is None:
        stream = "registry" if kind in REGISTRY_KINDS else signing.signer
    if signing.output is not None:
        assert signing.prev is not None  # noqa: S101 - checked by Signing
        envelope = sign(signing, kind=kind, stream=stream, prev=signing.prev, body=body)
        write_envelope(signing.output, envelope)
        report_signed(envelope, signing.output, kind, stream, signing.as_json)
        return
    # Validate and sign once before any I/O, so bad input never reaches the ledger.
    prev = signing.prev or "0" * 64
    envelope = sign(signing, kind=kind, stream=stream, prev=prev, body=body)
    backend = backend_factory()
    told: str | None = None  # the head a refusal named
    for attempt in range(MAX_REBASES + 1):
        if signing.prev is None:
            # After a conflict, sign on the head the refusal named: a GET of the head may be
            # answered by a cache a few seconds behind (docs/operating/caching.md).
            head = told if told is not None else backend.head(stream)[0]
            if head != prev or attempt == 0:
                prev = head
                envelope = sign(signing, kind=kind, stream=stream, prev=prev, body=body)
        try:
            receipt = backend.submit(envelope.to_bytes())
        except ChainError as exc:
            if signing.prev is not None:
                raise CliError(
                    _(
                        "chain conflict: stream %(stream)s has moved on; its head is now "
                        "%(head)s (length %(length)s). Sign again with --prev %(head)s"
                    )
                    % {"stream": repr(stream), "head": exc.head, "length": exc.length},
                    EXIT_FAILED,
                ) from exc
            told = exc.head
            continue
        print_receipt(receipt, kind=str(kind), digest=digest_of(envelope), as_json=signing.as_json)
        return
    raise CliError(
        _("stream %(stream)s kept moving: gave up after %(count)s re-signs on a new head")
        % {"stream": repr(stream), "count": MAX_REBASES},
        EXIT_FAILED,
    )


def report_signed(envelope: Envelope, path: Path, kind: str, stream: str, as_json: bool) -> None:
    """Say what ``sign`` wrote."""
    digest = digest_of(envelope)
    if as_json:
        echo_json({"file": str(path), "kind": str(kind), "stream": stream, "digest": digest})
        return
    click.echo(f"Signed {kind} for stream {stream} -> {path}")
    click.echo(f"  digest: {digest}")
    click.echo(f"  submit it with: claimledger submit {path}")


def print_receipt(receipt: Mapping[str, Any], *, kind: str, digest: str, as_json: bool) -> None:
    """Print a receipt: a short summary, or the receipt JSON with ``kind`` and ``digest``."""
    if as_json:
        echo_json({"kind": kind, "digest": digest, **receipt})
        return
    click.echo(
        f"Appended {kind} to stream {receipt.get('stream')} at position "
        f"{receipt.get('position')} (log index {receipt.get('index')})"
    )
    click.echo(f"  digest:     {digest}")
    click.echo(f"  entry hash: {receipt.get('entryHash')}")
    click.echo(f"  log time:   {receipt.get('logTime')}")
    click.echo(f"  checkpoint: tree size {receipt.get('treeSize')} (inclusion proof in --json)")


def echo_json(value: Any) -> None:
    """Print ``value`` as indented JSON on stdout."""
    click.echo(json.dumps(value, indent=2, ensure_ascii=False))
