"""Small PEM helpers shared by the public and private key constructors."""

from __future__ import annotations

import re
from typing import Final

from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa, x448, x25519

from keys.errors import KeyFormatError

__all__ = ["describe_key", "pem_label"]

_BEGIN_RE: Final = re.compile(rb"-----BEGIN ([A-Z0-9 ]{1,64})-----")

_KEY_TYPES: Final[tuple[tuple[tuple[type, ...], str], ...]] = (
    ((ed25519.Ed25519PrivateKey, ed25519.Ed25519PublicKey), "an Ed25519"),
    ((rsa.RSAPrivateKey, rsa.RSAPublicKey), "an RSA"),
    ((x25519.X25519PrivateKey, x25519.X25519PublicKey), "an X25519"),
    ((ed448.Ed448PrivateKey, ed448.Ed448PublicKey), "an Ed448"),
    ((x448.X448PrivateKey, x448.X448PublicKey), "an X448"),
)

# DSA keys are named by class name: touching ``cryptography``'s DSA classes (even to compare with
# them) warns "DSA is deprecated" since cryptography 47, on every command that loads this module.
_DSA_CLASSES: Final = frozenset({"DSAPrivateKey", "DSAPublicKey"})


def pem_label(data: bytes) -> str:
    """The label of the first PEM block in ``data`` (``"PUBLIC KEY"``, ``"PRIVATE KEY"``...).

    Raises:
        KeyFormatError: ``data`` contains no PEM block.
    """
    match = _BEGIN_RE.search(data)
    if match is None:
        raise KeyFormatError("not a PEM file: no '-----BEGIN ...-----' line found")
    return match.group(1).decode("ascii")


def describe_key(key: object) -> str:
    """A human name for a loaded key's algorithm, with its article (``"an RSA"``)."""
    if isinstance(key, ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey):
        return f"an EC ({key.curve.name})"
    for types, name in _KEY_TYPES:
        if isinstance(key, types):
            return name
    if any(cls.__name__ in _DSA_CLASSES for cls in type(key).__mro__):
        return "a DSA"
    return f"an unsupported ({type(key).__name__})"
