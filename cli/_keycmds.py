"""``claimledger keys``: generate, show and export keys."""

from __future__ import annotations

from pathlib import Path

import click

from cli._common import echo_json
from cli._keyfiles import is_encrypted, load_private_key, load_public_key, save_new_key
from keys import PublicKey

__all__ = ["keys_group"]


@click.group("keys")
def keys_group() -> None:
    """Generate, show and export Ed25519 keys.

    Private key files are PKCS#8 PEM encrypted with a passphrase (asked for, or taken from
    CLAIMLEDGER_PASSPHRASE).
    """


def _describe(public: PublicKey, path: Path, as_json: bool, *, encrypted: bool | None) -> None:
    info = {"file": str(path), "keyId": public.key_id, "publicKey": public.b64()}
    if encrypted is not None:
        info["encrypted"] = encrypted  # type: ignore[assignment]
    if as_json:
        echo_json(info)
        return
    click.echo(f"key id:     {public.key_id}")
    click.echo(f"public key: {public.b64()}")
    if encrypted is not None:
        click.echo(
            f"encrypted:  {'yes' if encrypted else 'NO (unsafe: anyone who reads it can sign)'}"
        )


@keys_group.command("generate")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--unsafe-unencrypted",
    is_flag=True,
    help="Write the private key in the clear, without a passphrase. Only for tests and demos.",
)
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
def keys_generate(file: Path, unsafe_unencrypted: bool, as_json: bool) -> None:
    """Generate a new key and write it to FILE (never overwrites; mode 0600)."""
    key = save_new_key(file, unsafe_unencrypted=unsafe_unencrypted)
    _describe(key.public_key, file, as_json, encrypted=not unsafe_unencrypted)
    if not as_json:
        click.echo(f"Wrote {file}. Give the public key (not the file) to the authority.")


@keys_group.command("show")
@click.argument("file", type=click.Path(dir_okay=False, exists=True, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
def keys_show(file: Path, as_json: bool) -> None:
    """Show the key id and public key of a key file (private or public)."""
    data = file.read_bytes()
    if b"PRIVATE KEY-----" in data:
        public = load_private_key(file).public_key
        _describe(public, file, as_json, encrypted=is_encrypted(file))
    else:
        _describe(load_public_key(str(file)), file, as_json, encrypted=None)


@keys_group.command("export-public")
@click.argument("file", type=click.Path(dir_okay=False, exists=True, path_type=Path))
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write to this new file instead of stdout.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["pem", "b64"]),
    default="pem",
    show_default=True,
    help="PEM (SubjectPublicKeyInfo) or the raw key in base64.",
)
def keys_export_public(file: Path, output: Path | None, fmt: str) -> None:
    """Print the public key of the private key FILE, to hand to the authority."""
    public = load_public_key(str(file))
    data = public.to_pem() if fmt == "pem" else (public.b64() + "\n").encode()
    if output is None:
        click.echo(data.decode(), nl=False)
    else:
        with output.open("xb") as f:
            f.write(data)
        click.echo(f"Wrote {output} (key id {public.key_id})", err=True)
