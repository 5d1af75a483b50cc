"""Ed25519 private keys and encrypted PKCS#8 key files."""

from __future__ import annotations

import contextlib
import os
import secrets
from typing import final

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from keys._ed25519 import PublicKey
from keys._pem import describe_key, pem_label
from keys.errors import KeyFileError, KeyFormatError, PassphraseError

__all__ = ["PrivateKey"]

SEED_SIZE = 32
_ENCRYPTED_LABEL = "ENCRYPTED PRIVATE KEY"
_PLAIN_LABEL = "PRIVATE KEY"


@final
class PrivateKey:
    """An Ed25519 signing key.

    The seed never appears in ``repr`` and keys do not compare equal by value; compare
    :attr:`public_key` instead.
    """

    __slots__ = ("_key", "_public_key")

    _key: ed25519.Ed25519PrivateKey
    _public_key: PublicKey

    def __init__(self, key: ed25519.Ed25519PrivateKey) -> None:
        """Wrap a ``cryptography`` key; prefer the classmethod constructors.

        Raises:
            KeyFormatError: ``key`` is not an Ed25519 private key.
        """
        if not isinstance(key, ed25519.Ed25519PrivateKey):
            raise KeyFormatError(f"expected an Ed25519 private key, got {describe_key(key)} key")
        self._key = key
        # [a]B with a clamped scalar is a prime-order point, so this never fails the KEY rule.
        self._public_key = PublicKey.from_raw(key.public_key().public_bytes_raw())

    def __repr__(self) -> str:
        return f"PrivateKey(key_id={self._public_key.key_id!r})"

    def __setattr__(self, name: str, value: object) -> None:
        if hasattr(self, "_public_key"):
            raise AttributeError(f"PrivateKey is immutable; cannot set {name!r}")
        object.__setattr__(self, name, value)

    @classmethod
    def generate(cls) -> PrivateKey:
        """A new key from the operating system's random number generator."""
        return cls(ed25519.Ed25519PrivateKey.generate())

    @classmethod
    def from_seed(cls, seed: bytes) -> PrivateKey:
        """The key with this 32-byte RFC 8032 seed (for fixed test and vector keys).

        Raises:
            KeyFormatError: ``seed`` is not 32 bytes.
        """
        if not isinstance(seed, bytes):
            raise TypeError(f"seed must be bytes, not {type(seed).__name__}")
        if len(seed) != SEED_SIZE:
            raise KeyFormatError(f"an Ed25519 seed is {SEED_SIZE} bytes, got {len(seed)}")
        return cls(ed25519.Ed25519PrivateKey.from_private_bytes(seed))

    @classmethod
    def from_pem(cls, data: bytes, passphrase: bytes | None) -> PrivateKey:
        """Load a PKCS#8 PEM key (``ENCRYPTED PRIVATE KEY`` or, unencrypted, ``PRIVATE KEY``).

        Args:
            data: The PEM bytes.
            passphrase: The passphrase of an encrypted key; ``None`` (or empty) for an
                unencrypted one. A passphrase given for an unencrypted key is refused, so a key
                that was believed to be protected is noticed.

        Returns:
            The key.

        Raises:
            PassphraseError: the key is encrypted and ``passphrase`` is missing or wrong, or the
                key is not encrypted and a passphrase was given.
            KeyFormatError: ``data`` is not a PKCS#8 PEM key, or holds a key that is not Ed25519.
        """
        if not isinstance(data, bytes):
            raise TypeError(f"data must be bytes, not {type(data).__name__}")
        if passphrase is not None and not isinstance(passphrase, bytes):
            raise TypeError(f"passphrase must be bytes or None, not {type(passphrase).__name__}")
        label = pem_label(data)
        if label == _ENCRYPTED_LABEL:
            if not passphrase:
                raise PassphraseError("the key file is encrypted; a passphrase is required")
            try:
                loaded = serialization.load_pem_private_key(data, passphrase)
            except ValueError as exc:
                # PKCS#8 encryption has no integrity check of its own, so a damaged file and a
                # wrong passphrase look alike.
                raise PassphraseError(
                    "cannot decrypt the key file: wrong passphrase (or the file is damaged)"
                ) from exc
            except (TypeError, UnsupportedAlgorithm) as exc:
                raise KeyFormatError(f"cannot load the encrypted key file: {exc}") from exc
        elif label == _PLAIN_LABEL:
            if passphrase:
                raise PassphraseError("a passphrase was given, but the key file is not encrypted")
            try:
                loaded = serialization.load_pem_private_key(data, None)
            except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
                raise KeyFormatError(f"cannot load the key file: {exc}") from exc
        else:
            raise KeyFormatError(
                f"expected a PKCS#8 private key PEM ({_ENCRYPTED_LABEL!r} or {_PLAIN_LABEL!r}), "
                f"found {label!r}"
            )
        if not isinstance(loaded, ed25519.Ed25519PrivateKey):
            raise KeyFormatError(
                f"the key file holds {describe_key(loaded)} private key; "
                "claimledger keys are Ed25519"
            )
        return cls(loaded)

    def to_pem(self, passphrase: bytes | None, *, unsafe_unencrypted: bool = False) -> bytes:
        """The key as a PKCS#8 PEM, encrypted with ``passphrase``.

        Encryption is ``cryptography``'s ``BestAvailableEncryption`` (today PBES2 with
        PBKDF2-HMAC-SHA256 and AES-256-CBC).

        Args:
            passphrase: The passphrase to encrypt with.
            unsafe_unencrypted: Write the key in the clear. Requires ``passphrase`` to be ``None``.

        Returns:
            The PEM bytes.

        Raises:
            KeyFormatError: ``passphrase`` is missing or empty without ``unsafe_unencrypted``, or
                given with it.
        """
        if passphrase is not None and not isinstance(passphrase, bytes):
            raise TypeError(f"passphrase must be bytes or None, not {type(passphrase).__name__}")
        encryption: serialization.KeySerializationEncryption
        if unsafe_unencrypted:
            if passphrase:
                raise KeyFormatError(
                    "unsafe_unencrypted=True and a passphrase contradict each other"
                )
            encryption = serialization.NoEncryption()
        else:
            if not passphrase:
                raise KeyFormatError(
                    "refusing to write a private key without a passphrase "
                    "(pass unsafe_unencrypted=True to write it in the clear)"
                )
            encryption = serialization.BestAvailableEncryption(passphrase)
        return self._key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
        )

    @classmethod
    def load(cls, path: str | os.PathLike[str], passphrase: bytes | None) -> PrivateKey:
        """Read a key file written by :meth:`save` (or any PKCS#8 PEM Ed25519 key).

        Args:
            path: The key file.
            passphrase: As for :meth:`from_pem`.

        Returns:
            The key.

        Raises:
            KeyFileError: the file cannot be read.
            PassphraseError: as for :meth:`from_pem`.
            KeyFormatError: as for :meth:`from_pem`.
        """
        try:
            with open(path, "rb") as file:
                data = file.read()
        except OSError as exc:
            raise KeyFileError(f"cannot read key file {os.fspath(path)!r}: {exc}") from exc
        return cls.from_pem(data, passphrase)

    def save(
        self,
        path: str | os.PathLike[str],
        passphrase: bytes | None,
        *,
        unsafe_unencrypted: bool = False,
    ) -> None:
        """Write the key to a new file with mode 0o600, atomically, never overwriting.

        The PEM is written to a temporary file in the same directory, flushed to disk, then
        hard-linked to ``path``; the link fails if ``path`` exists, so an existing key is never
        replaced and a crash never leaves a partial key file at ``path``.

        Args:
            path: The file to create.
            passphrase: As for :meth:`to_pem`.
            unsafe_unencrypted: As for :meth:`to_pem`.

        Raises:
            KeyFormatError: as for :meth:`to_pem` (checked before anything is written).
            KeyFileError: ``path`` already exists (its cause is a ``FileExistsError``), or the file
                cannot be written.
        """
        pem = self.to_pem(passphrase, unsafe_unencrypted=unsafe_unencrypted)
        target = os.fspath(path)
        directory = os.path.dirname(os.path.abspath(target))
        temp = os.path.join(directory, f".{os.path.basename(target)}.{secrets.token_hex(8)}.tmp")
        try:
            fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except OSError as exc:
            raise KeyFileError(f"cannot write key file {target!r}: {exc}") from exc
        try:
            try:
                os.fchmod(fd, 0o600)  # the umask can only remove bits; make the mode exact
                view = memoryview(pem)
                while view:
                    view = view[os.write(fd, view) :]
                os.fsync(fd)
            finally:
                os.close(fd)
            os.link(temp, target)
        except FileExistsError as exc:
            raise KeyFileError(f"refusing to overwrite existing file {target!r}") from exc
        except OSError as exc:
            raise KeyFileError(f"cannot write key file {target!r}: {exc}") from exc
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temp)
        _fsync_directory(directory)

    @property
    def public_key(self) -> PublicKey:
        """The matching public key."""
        return self._public_key

    def sign(self, message: bytes) -> bytes:
        """The 64-byte Ed25519 signature (RFC 8032, deterministic) of ``message``."""
        return self._key.sign(message)


def _fsync_directory(directory: str) -> None:
    # Make the new directory entry durable; best effort where directories cannot be opened.
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
