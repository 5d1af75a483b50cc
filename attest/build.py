"""Building and signing statements: what providers, verifiers and the authority run."""

from __future__ import annotations

from collections.abc import Mapping

from attest import canonical
from attest.canonical import JSONValue
from attest.dsse import Envelope, sign_envelope
from attest.statements import STATEMENT_VERSION, parse_statement
from keys import PrivateKey

__all__ = ["make_statement", "sign_statement"]


def make_statement(
    *,
    kind: str,
    stream: str,
    prev: str,
    signer: str,
    signed_at: str,
    body: Mapping[str, JSONValue],
) -> dict[str, JSONValue]:
    """A statement object (SPEC §3.1) with the given members; not yet validated."""
    return {
        "v": STATEMENT_VERSION,
        "kind": str(kind),
        "stream": stream,
        "prev": prev,
        "signer": signer,
        "signedAt": signed_at,
        "body": dict(body),
    }


def sign_statement(statement: Mapping[str, JSONValue], key: PrivateKey) -> Envelope:
    """Validate ``statement`` against its schema, encode it canonically and sign it.

    Raises:
        SchemaError: the statement does not match the schema of its kind.
        EncodingError: the statement is outside the JSON profile.
    """
    parse_statement(statement)
    return sign_envelope(canonical.encode(dict(statement)), key)
