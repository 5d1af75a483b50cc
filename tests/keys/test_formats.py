"""Key ids, base64 and PEM forms, and encrypted key files."""

from __future__ import annotations

import base64
import copy
import hashlib
import os
import pickle
import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa, x25519
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes

import keys
from keys import (
    InvalidSignatureError,
    KeyFileError,
    KeyFormatError,
    KeyId,
    KeysError,
    PassphraseError,
    PrivateKey,
    PublicKey,
    WeakKeyError,
    key_id,
)

RFC8032_SEED = bytes.fromhex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
RFC8032_PUBLIC = bytes.fromhex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a")
RFC8032_B64 = "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="
# hex(SHA-256("claimledger:v1:key" ‖ 0x00 ‖ RFC8032_PUBLIC)), pinned so a change is noticed.
RFC8032_KEY_ID = "7ecbb7ea03964df8aed8080baad4d00112870d6e735707218a6b0e5866f07647"
# DER prefix of an Ed25519 SubjectPublicKeyInfo (RFC 8410): SEQUENCE { SEQUENCE { OID 1.3.101.112 }
# BIT STRING (33 bytes: 0 unused bits, then the 32-byte key) }.
SPKI_ED25519_PREFIX = bytes.fromhex("302a300506032b6570032100")

PASS = b"correct horse battery staple"


@pytest.fixture(scope="module")
def private() -> PrivateKey:
    return PrivateKey.from_seed(RFC8032_SEED)


# --- API surface --------------------------------------------------------------------------------


def test_all_is_sorted_and_complete() -> None:
    assert keys.__all__ == sorted(keys.__all__)
    for name in ("KeyId", "PrivateKey", "PublicKey", "key_id", "verify_strict"):
        assert name in keys.__all__
    for name in keys.__all__:
        assert hasattr(keys, name)


def test_errors_share_one_root() -> None:
    for error in (KeyFileError, KeyFormatError, PassphraseError, WeakKeyError):
        assert issubclass(error, KeysError)
    assert issubclass(keys.InvalidSignatureError, KeysError)
    assert issubclass(WeakKeyError, KeyFormatError)


# --- Key ids ------------------------------------------------------------------------------------


def test_key_id_pinned() -> None:
    expected = hashlib.sha256(b"claimledger:v1:key" + b"\x00" + RFC8032_PUBLIC).hexdigest()
    assert expected == RFC8032_KEY_ID
    assert key_id(RFC8032_PUBLIC) == KeyId(RFC8032_KEY_ID)
    assert PublicKey.from_raw(RFC8032_PUBLIC).key_id == RFC8032_KEY_ID
    assert PrivateKey.from_seed(RFC8032_SEED).public_key.key_id == RFC8032_KEY_ID


def test_key_id_refuses_wrong_length() -> None:
    with pytest.raises(KeyFormatError):
        key_id(RFC8032_PUBLIC[:31])


# --- PublicKey value semantics and base64 -------------------------------------------------------


def test_public_key_equality_hash_and_repr() -> None:
    a = PublicKey.from_raw(RFC8032_PUBLIC)
    b = PublicKey.from_b64(RFC8032_B64)
    assert a == b
    assert hash(a) == hash(b)
    assert {a, b} == {a}
    assert a != PrivateKey.from_seed(bytes(32)).public_key
    assert eval(repr(a), {"PublicKey": PublicKey}) == a  # noqa: S307 - repr round trip
    with pytest.raises(AttributeError):
        a.raw = bytes(32)  # type: ignore[misc]


def test_public_key_pickles_and_copies() -> None:
    key = PublicKey.from_raw(RFC8032_PUBLIC)
    pickled = pickle.loads(pickle.dumps(key))  # noqa: S301 - our own bytes
    for clone in (pickled, copy.copy(key), copy.deepcopy(key)):
        assert clone == key
        clone.verify(PrivateKey.from_seed(RFC8032_SEED).sign(b"m"), b"m")


def test_a_key_checked_before_is_the_same_key_and_still_refuses_a_wrong_length() -> None:
    """The snapshot reader's constructor (ledger/_snapshot.py) skips only the point check."""
    key = PublicKey._checked_before(RFC8032_PUBLIC)
    assert key == PublicKey.from_raw(RFC8032_PUBLIC)
    signature = PrivateKey.from_seed(RFC8032_SEED).sign(b"m")
    key.verify(signature, b"m")
    # What it derives from the raw bytes on first use (the id, OpenSSL's object) is the same.
    with pytest.raises(InvalidSignatureError, match=key_id(RFC8032_PUBLIC)):
        key.verify(signature, b"n")
    assert key.key_id == PublicKey.from_raw(RFC8032_PUBLIC).key_id == key_id(RFC8032_PUBLIC)
    assert key.to_pem() == PublicKey.from_raw(RFC8032_PUBLIC).to_pem()
    assert key.verify_openssl(signature, b"m")
    assert not key.verify_openssl(signature, b"n")
    with pytest.raises(KeyFormatError, match="32 bytes, got 31"):
        PublicKey._checked_before(RFC8032_PUBLIC[:31])


def test_b64_round_trip() -> None:
    key = PublicKey.from_b64(RFC8032_B64)
    assert key.raw == RFC8032_PUBLIC
    assert key.b64() == RFC8032_B64


@pytest.mark.parametrize(
    ("text", "why"),
    [
        (RFC8032_B64.rstrip("="), "missing padding"),
        (RFC8032_B64 + "=", "extra padding"),
        (RFC8032_B64.replace("/", "_"), "URL-safe alphabet"),
        (" " + RFC8032_B64, "leading space"),
        (RFC8032_B64 + "\n", "trailing newline"),
        (RFC8032_B64[:20] + "\n" + RFC8032_B64[20:], "embedded newline"),
        (RFC8032_B64[:-2] + "p=", "non-zero trailing bits"),
        (base64.b64encode(RFC8032_PUBLIC[:31]).decode(), "31 bytes"),
        (base64.b64encode(RFC8032_PUBLIC + b"\x00").decode(), "33 bytes"),
        (base64.b64encode(RFC8032_PUBLIC * 2).decode(), "64 bytes"),
        ("", "empty"),
        ("11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURé=", "non-ASCII"),
    ],
)
def test_b64_strict(text: str, why: str) -> None:
    with pytest.raises(KeyFormatError) as info:
        PublicKey.from_b64(text)
    assert type(info.value) is KeyFormatError, why


def test_b64_of_small_order_key_is_weak() -> None:
    with pytest.raises(WeakKeyError):
        PublicKey.from_b64(base64.b64encode(bytes(32)).decode())


def test_b64_refuses_bytes_argument() -> None:
    with pytest.raises(TypeError):
        PublicKey.from_b64(RFC8032_B64.encode())  # type: ignore[arg-type]


# --- Public key PEM -----------------------------------------------------------------------------


def test_public_pem_round_trip() -> None:
    key = PublicKey.from_raw(RFC8032_PUBLIC)
    pem = key.to_pem()
    assert pem.startswith(b"-----BEGIN PUBLIC KEY-----\n")
    assert PublicKey.from_pem(pem) == key
    der = base64.b64decode(b"".join(pem.splitlines()[1:-1]))
    assert der == SPKI_ED25519_PREFIX + RFC8032_PUBLIC


def _pem(label: str, der: bytes) -> bytes:
    body = base64.encodebytes(der).decode().replace("\n", "")
    lines = [body[i : i + 64] for i in range(0, len(body), 64)]
    return "\n".join([f"-----BEGIN {label}-----", *lines, f"-----END {label}-----", ""]).encode()


def test_public_pem_small_order_key_is_weak() -> None:
    with pytest.raises(WeakKeyError):
        PublicKey.from_pem(_pem("PUBLIC KEY", SPKI_ED25519_PREFIX + bytes(32)))


def _foreign_keys() -> list[object]:
    samples: list[tuple[str, PrivateKeyTypes]] = [
        # Small RSA for speed: the key is only a wrong-type sample.
        ("RSA", rsa.generate_private_key(public_exponent=65537, key_size=1024)),  # noqa: S505
        ("EC", ec.generate_private_key(ec.SECP256R1())),
        ("X25519", x25519.X25519PrivateKey.generate()),
        ("Ed448", ed448.Ed448PrivateKey.generate()),
    ]
    return [pytest.param(name, key, id=name) for name, key in samples]


@pytest.mark.parametrize(("name", "foreign"), _foreign_keys())
def test_public_pem_of_another_algorithm_refused(name: str, foreign: PrivateKeyTypes) -> None:
    pem = foreign.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    with pytest.raises(
        KeyFormatError, match=rf"holds an? {name}\b.*public key; claimledger keys are Ed25519"
    ) as info:
        PublicKey.from_pem(pem)
    assert type(info.value) is KeyFormatError


@pytest.mark.filterwarnings("ignore:DSA is deprecated")  # cryptography warns loading any DSA key
def test_a_dsa_public_key_is_refused_by_name() -> None:
    """DSA keys are named without touching cryptography's deprecated DSA classes in keys/."""
    from cryptography.hazmat.primitives.asymmetric import dsa

    key = dsa.generate_private_key(key_size=1024)  # noqa: S505 - a wrong-type sample only
    pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    with pytest.raises(KeyFormatError, match=r"holds a DSA public key"):
        PublicKey.from_pem(pem)


def test_loading_the_cli_prints_no_deprecation_warning() -> None:
    """Regression: every CLI command printed 'CryptographyDeprecationWarning: DSA is
    deprecated' (keys/_pem.py compared keys with the DSA classes)."""
    import subprocess
    import sys

    proc = subprocess.run(
        [sys.executable, "-W", "error::DeprecationWarning", "-c", "import cli, keys, attest"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr


def test_public_pem_refuses_private_key(private: PrivateKey) -> None:
    with pytest.raises(KeyFormatError, match="this is a private key"):
        PublicKey.from_pem(private.to_pem(PASS))


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"not a pem",
        b"-----BEGIN PUBLIC KEY-----\n!!!!\n-----END PUBLIC KEY-----\n",
        _pem("PUBLIC KEY", SPKI_ED25519_PREFIX + RFC8032_PUBLIC[:31]),
    ],
)
def test_public_pem_malformed(data: bytes) -> None:
    with pytest.raises(KeyFormatError):
        PublicKey.from_pem(data)


# --- Private key PEM ----------------------------------------------------------------------------


def test_private_pem_encrypted_round_trip(private: PrivateKey) -> None:
    pem = private.to_pem(PASS)
    assert pem.startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----\n")
    assert RFC8032_SEED.hex().encode() not in pem.lower()
    loaded = PrivateKey.from_pem(pem, PASS)
    assert loaded.public_key == private.public_key
    assert loaded.sign(b"m") == private.sign(b"m")


def test_private_pem_encryption_is_salted(private: PrivateKey) -> None:
    assert private.to_pem(PASS) != private.to_pem(PASS)


@pytest.mark.parametrize("passphrase", [b"wrong", PASS + b" ", PASS[:-1]])
def test_private_pem_wrong_passphrase(private: PrivateKey, passphrase: bytes) -> None:
    with pytest.raises(PassphraseError, match="wrong passphrase"):
        PrivateKey.from_pem(private.to_pem(PASS), passphrase)


@pytest.mark.parametrize("passphrase", [None, b""])
def test_private_pem_missing_passphrase(private: PrivateKey, passphrase: bytes | None) -> None:
    with pytest.raises(PassphraseError, match="passphrase is required"):
        PrivateKey.from_pem(private.to_pem(PASS), passphrase)


@pytest.mark.parametrize("passphrase", [None, b""])
def test_unencrypted_refused_by_default(private: PrivateKey, passphrase: bytes | None) -> None:
    with pytest.raises(KeyFormatError, match="unsafe_unencrypted"):
        private.to_pem(passphrase)


def test_unencrypted_with_unsafe_switch(private: PrivateKey) -> None:
    pem = private.to_pem(None, unsafe_unencrypted=True)
    assert pem.startswith(b"-----BEGIN PRIVATE KEY-----\n")
    assert PrivateKey.from_pem(pem, None).public_key == private.public_key
    assert PrivateKey.from_pem(pem, b"").public_key == private.public_key


def test_unsafe_switch_with_passphrase_is_contradictory(private: PrivateKey) -> None:
    with pytest.raises(KeyFormatError, match="contradict"):
        private.to_pem(PASS, unsafe_unencrypted=True)


def test_passphrase_for_unencrypted_file_refused(private: PrivateKey) -> None:
    pem = private.to_pem(None, unsafe_unencrypted=True)
    with pytest.raises(PassphraseError, match="not encrypted"):
        PrivateKey.from_pem(pem, PASS)


@pytest.mark.parametrize(("name", "foreign"), _foreign_keys())
@pytest.mark.parametrize("encrypted", [True, False])
def test_private_pem_of_another_algorithm_refused(
    name: str, foreign: PrivateKeyTypes, encrypted: bool
) -> None:
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(PASS) if encrypted else serialization.NoEncryption()
    )
    pem = foreign.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
    )
    with pytest.raises(
        KeyFormatError, match=rf"holds an? {name}\b.*private key; claimledger keys are Ed25519"
    ) as info:
        PrivateKey.from_pem(pem, PASS if encrypted else None)
    assert type(info.value) is KeyFormatError


@pytest.mark.parametrize(
    ("fmt", "label"),
    [
        (serialization.PrivateFormat.TraditionalOpenSSL, "RSA PRIVATE KEY"),
        (serialization.PrivateFormat.OpenSSH, "OPENSSH PRIVATE KEY"),
    ],
)
def test_private_pem_non_pkcs8_refused(fmt: serialization.PrivateFormat, label: str) -> None:
    foreign = rsa.generate_private_key(public_exponent=65537, key_size=1024)  # noqa: S505
    pem = foreign.private_bytes(serialization.Encoding.PEM, fmt, serialization.NoEncryption())
    with pytest.raises(KeyFormatError, match=f"found '{label}'"):
        PrivateKey.from_pem(pem, None)


def test_private_pem_openssh_ed25519_refused() -> None:
    pem = ed25519.Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.OpenSSH,
        serialization.NoEncryption(),
    )
    with pytest.raises(KeyFormatError, match="PKCS#8"):
        PrivateKey.from_pem(pem, None)


def test_private_pem_refuses_public_key(private: PrivateKey) -> None:
    with pytest.raises(KeyFormatError, match="found 'PUBLIC KEY'"):
        PrivateKey.from_pem(private.public_key.to_pem(), None)


@pytest.mark.parametrize(
    "data",
    [b"", b"garbage", b"-----BEGIN PRIVATE KEY-----\n!!!\n-----END PRIVATE KEY-----\n"],
)
def test_private_pem_malformed(data: bytes) -> None:
    with pytest.raises(KeyFormatError):
        PrivateKey.from_pem(data, None)


def test_from_seed_wrong_length() -> None:
    with pytest.raises(KeyFormatError):
        PrivateKey.from_seed(RFC8032_SEED[:31])
    with pytest.raises(TypeError):
        PrivateKey.from_seed(RFC8032_SEED.hex())  # type: ignore[arg-type]


def test_private_key_hides_seed_and_is_immutable(private: PrivateKey) -> None:
    assert RFC8032_SEED.hex() not in repr(private)
    assert RFC8032_KEY_ID in repr(private)
    with pytest.raises(AttributeError):
        private._key = ed25519.Ed25519PrivateKey.generate()


def test_generate_gives_distinct_working_keys() -> None:
    a, b = PrivateKey.generate(), PrivateKey.generate()
    assert a.public_key != b.public_key
    a.public_key.verify(a.sign(b"x"), b"x")


# --- Key files ----------------------------------------------------------------------------------


def test_save_load_round_trip(private: PrivateKey, tmp_path: Path) -> None:
    path = tmp_path / "signer.pem"
    private.save(path, PASS)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_bytes().startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
    assert PrivateKey.load(path, PASS).public_key == private.public_key
    assert PrivateKey.load(str(path), PASS).public_key == private.public_key
    assert sorted(p.name for p in tmp_path.iterdir()) == ["signer.pem"]


def test_save_mode_ignores_permissive_umask(private: PrivateKey, tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        private.save(tmp_path / "k.pem", PASS)
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "k.pem").stat().st_mode) == 0o600


def test_save_refuses_to_overwrite(private: PrivateKey, tmp_path: Path) -> None:
    path = tmp_path / "signer.pem"
    path.write_bytes(b"precious")
    with pytest.raises(KeyFileError, match="overwrite") as info:
        private.save(path, PASS)
    assert isinstance(info.value.__cause__, FileExistsError)
    assert path.read_bytes() == b"precious"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["signer.pem"]


def test_save_twice_refused(private: PrivateKey, tmp_path: Path) -> None:
    path = tmp_path / "signer.pem"
    private.save(path, PASS)
    first = path.read_bytes()
    with pytest.raises(KeyFileError):
        private.save(path, b"other passphrase")
    assert path.read_bytes() == first


def test_save_unencrypted_refused_writes_nothing(private: PrivateKey, tmp_path: Path) -> None:
    with pytest.raises(KeyFormatError):
        private.save(tmp_path / "k.pem", None)
    assert list(tmp_path.iterdir()) == []


def test_save_unencrypted_with_unsafe_switch(private: PrivateKey, tmp_path: Path) -> None:
    path = tmp_path / "k.pem"
    private.save(path, None, unsafe_unencrypted=True)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert PrivateKey.load(path, None).public_key == private.public_key


def test_save_into_missing_directory(private: PrivateKey, tmp_path: Path) -> None:
    with pytest.raises(KeyFileError):
        private.save(tmp_path / "no" / "such" / "k.pem", PASS)


def test_load_missing_file(tmp_path: Path) -> None:
    with pytest.raises(KeyFileError) as info:
        PrivateKey.load(tmp_path / "absent.pem", PASS)
    assert isinstance(info.value.__cause__, FileNotFoundError)


def test_load_wrong_passphrase(private: PrivateKey, tmp_path: Path) -> None:
    path = tmp_path / "k.pem"
    private.save(path, PASS)
    with pytest.raises(PassphraseError):
        PrivateKey.load(path, b"nope")
    with pytest.raises(PassphraseError):
        PrivateKey.load(path, None)
