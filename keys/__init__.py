"""Ed25519 keys, key ids, the strict signature rule and encrypted key files.

The acceptance rule is specified in docs/SPEC.md §2: a public key is accepted only if it is a
canonically encoded point of prime order (checked once, when a :class:`PublicKey` is built), and a
signature only if it passes the strict, cofactorless check of :meth:`PublicKey.verify`.

Errors (all subclasses of :class:`KeysError`) are described in :mod:`keys.errors`.
"""

from keys._ed25519 import KeyId, PublicKey, key_id, verify_strict
from keys._private import PrivateKey
from keys.errors import (
    InvalidSignatureError,
    KeyFileError,
    KeyFormatError,
    KeysError,
    PassphraseError,
    WeakKeyError,
)

__all__ = [
    "InvalidSignatureError",
    "KeyFileError",
    "KeyFormatError",
    "KeyId",
    "KeysError",
    "PassphraseError",
    "PrivateKey",
    "PublicKey",
    "WeakKeyError",
    "key_id",
    "verify_strict",
]
