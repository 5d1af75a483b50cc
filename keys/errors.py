"""Errors raised by :mod:`keys`.

::

    KeysError
     ├── KeyFormatError        a key or key file is malformed, of the wrong type, or refused
     │    └── WeakKeyError      a public key is not a prime-order point (small-order, mixed-order,
     │                          non-canonically encoded, or not on the curve)
     ├── KeyFileError          a key file cannot be read or written, or already exists
     ├── PassphraseError       a key file needs a passphrase, or the passphrase is wrong
     └── InvalidSignatureError a signature fails the strict acceptance rule (docs/SPEC.md §2)
"""

__all__ = [
    "InvalidSignatureError",
    "KeyFileError",
    "KeyFormatError",
    "KeysError",
    "PassphraseError",
    "WeakKeyError",
]


class KeysError(Exception):
    """Root of every error raised by :mod:`keys`."""


class KeyFormatError(KeysError):
    """A key or key file is malformed, of the wrong type, or refused."""


class WeakKeyError(KeyFormatError):
    """A public key is not a canonically encoded curve point of prime order."""


class KeyFileError(KeysError):
    """A key file cannot be read or written, or (when saving) already exists.

    The ``OSError`` behind it (``FileExistsError``, ``PermissionError``...) is its ``__cause__``.
    """


class PassphraseError(KeysError):
    """A key file needs a passphrase, or the passphrase given is wrong."""


class InvalidSignatureError(KeysError):
    """A signature does not pass the strict Ed25519 acceptance rule."""
