"""Onboarding: ``onboard request`` (the new party) and ``register --from-request`` (the authority).

The new provider or verifier runs one command that makes its key and prints a registration request
signed by that key (SPEC §15); the authority runs one command that checks the request's proof of
possession and registers the party from it (docs/onboarding.md).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import click

from attest import SignatureError, VerificationError
from attest.registration import (
    RegistrationRequest,
    sign_registration_request,
    verify_registration_request,
)
from attest.statements import Kind, Role, format_timestamp
from cli._common import Signing, append, backend_options, signing_options, with_backend
from cli._errors import EXIT_FAILED, CliError
from cli._i18n import _
from cli._keyfiles import load_private_key, save_new_key
from keys import PrivateKey

__all__ = ["onboard_group", "register_cmd"]


@click.group("onboard")
def onboard_group() -> None:
    """Join a ledger as a provider or verifier (see docs/onboarding.md)."""


@onboard_group.command("request")
@click.option("--party", "party_id", required=True, metavar="ID", help="The party id you ask for.")
@click.option(
    "--role",
    type=click.Choice([r.value for r in Role]),
    default=Role.PROVIDER.value,
    show_default=True,
)
@click.option("--name", required=True, help="Your legal or public name.")
@click.option(
    "--jurisdiction", required=True, metavar="CODE", help="ISO 3166-1 alpha-2 country code."
)
@click.option("--website", metavar="URI", help="Your website.")
@click.option(
    "--key-out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Make a new key and write it to this new file (mode 0600, passphrase from a prompt or "
    "CLAIMLEDGER_PASSPHRASE).",
)
@click.option(
    "--key",
    "key_file",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="Or sign with a key you already have.",
)
@click.option(
    "--unsafe-unencrypted",
    is_flag=True,
    help="Write the new key without a passphrase. Only for tests and demos.",
)
def onboard_request(
    party_id: str,
    role: str,
    name: str,
    jurisdiction: str,
    website: str | None,
    key_out: Path | None,
    key_file: Path | None,
    unsafe_unencrypted: bool,
) -> None:
    """Make your key and print your registration request (JSON) for the authority.

    The request names you and your public key and is signed with that key, which proves you
    hold it. Send the request (not the key file) to the authority. Example:

    \b
      claimledger onboard request --party acme-social --name "Acme Social, Inc." \\
        --jurisdiction US --key-out acme.key > request.json
    """
    if (key_out is None) == (key_file is None):
        raise click.UsageError(_("give --key-out FILE (a new key) or --key FILE (yours), not both"))
    if key_out is not None and key_out.exists():
        raise CliError(
            _("%(key_out)s already exists; refusing to overwrite it") % {"key_out": key_out}
        )
    key = PrivateKey.generate() if key_file is None else load_private_key(key_file)
    try:
        request = RegistrationRequest(
            party=party_id,
            role=Role(role),
            name=name,
            jurisdiction=jurisdiction,
            key=key.public_key.b64(),
            created_at=format_timestamp(time.time_ns() // 1_000_000),
            website=website,
        )
    except VerificationError as exc:
        raise CliError(_("invalid request: %(exc)s") % {"exc": exc}, EXIT_FAILED) from exc
    if key_out is not None:  # only once the request is valid: no key file made for nothing
        save_new_key(key_out, unsafe_unencrypted=unsafe_unencrypted, key=key)
    click.echo(json.dumps(sign_registration_request(request, key), indent=2, ensure_ascii=False))
    where = f"wrote your key to {key_out}; " if key_out is not None else ""
    click.echo(
        f"{where}key id {key.public_key.key_id}. Send this request to the authority; keep the "
        "key file secret and backed up.",
        err=True,
    )


@click.command("register")
@click.option(
    "--from-request",
    "request_file",
    required=True,
    type=click.Path(dir_okay=False, exists=True, allow_dash=True, path_type=Path),
    help="A registration request from 'claimledger onboard request' ('-' for stdin).",
)
@backend_options
@signing_options
def register_cmd(request_file: Path, **kw: Any) -> None:
    """Register a party from its registration request (as the authority).

    The request's proof of possession is checked (it must be signed by the key it names) and
    the party is registered with the id, role, name, jurisdiction, website and key it asks for.
    Check who sent it out of band first. Example:

    \b
      claimledger register --from-request request.json --key authority.key \\
        --signer online-safety-board
    """
    data = sys.stdin.buffer.read() if str(request_file) == "-" else request_file.read_bytes()
    try:
        request = verify_registration_request(data)
    except VerificationError as exc:
        raise CliError(
            _("%(request_file)s: registration request refused: %(why)s")
            % {"request_file": request_file, "why": _why(exc)},
            EXIT_FAILED,
        ) from exc
    signing = Signing(kw["key_file"], kw["signer"], kw["prev"], kw["output"], kw["as_json"])
    click.echo(
        f"Registering {request.party} ({request.role.value}, {request.name}, "
        f"{request.jurisdiction}) with key id {request.public_key.key_id}, as its request "
        f"of {request.created_at} asks; the request's proof of possession verified.",
        err=True,
    )

    def backend() -> Any:
        return with_backend(kw["db"], kw["server"], kw["log_key"])

    append(backend, signing, kind=Kind.PARTY_REGISTER, body=request.register_body())


def _why(exc: VerificationError) -> str:
    if isinstance(exc, SignatureError):
        return f"bad proof of possession: {exc}"
    return str(exc)
