"""Tests for attest.checkpoint: C2SP signed notes and tlog-checkpoints."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import keys
from attest.checkpoint import (
    MAX_NOTE_SIGNATURES,
    MAX_NOTE_SIZE,
    Checkpoint,
    NoteSigner,
    NoteVerifier,
    note_key_id,
    sign_checkpoint,
    verify_checkpoint,
    verify_note,
)
from attest.errors import CheckpointError
from attest.merkle import MemoryTree, leaf_hash
from tests.conftest import shared_vectors

ORIGIN = "claimledger.example/log"
SIGNER = NoteSigner(ORIGIN, keys.PrivateKey.from_seed(b"\x01" * 32))
OTHER = NoteSigner(ORIGIN, keys.PrivateKey.from_seed(b"\x02" * 32))
ROOT = MemoryTree([leaf_hash(x) for x in (b"a", b"b", b"c")]).root()
CP = Checkpoint(ORIGIN, 3, ROOT)


def _example() -> dict[str, Any]:
    path = shared_vectors() / "signed-note" / "c2sp-example.json"
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def _signature_line(signer: NoteSigner, text: bytes) -> bytes:
    return signer.sign(text)[len(text) + 1 :]


# --- the C2SP example -----------------------------------------------------------------------------


def test_c2sp_example_note_verifies() -> None:
    example = _example()
    want = example["want"]
    verifier = NoteVerifier.from_vkey(example["vkey"])
    assert verifier.name == want["key_name"]
    assert verifier.key_id.hex() == want["key_id_hex"]
    assert verifier.vkey() == example["vkey"]
    assert want["valid"] is True
    assert verify_note(example["note"].encode("utf-8"), verifier) == want["text"].encode("utf-8")


def test_c2sp_example_rejects_a_changed_text() -> None:
    example = _example()
    verifier = NoteVerifier.from_vkey(example["vkey"])
    note = example["note"].encode("utf-8").replace(b"example message", b"example massage")
    with pytest.raises(CheckpointError, match="does not verify"):
        verify_note(note, verifier)


def test_spec_worked_example() -> None:
    # docs/SPEC.md §7.5: the key from seed 0x01 * 32 and its checkpoint of the §6 example tree.
    verifier = SIGNER.verifier
    assert verifier.key.raw.hex() == (
        "8a88e3dd7409f195fd52db2d3cba5d72ca6709bf1d94121bf3748801b40f6f5c"
    )
    assert verifier.key_id.hex() == "41398106"
    assert verifier.vkey() == (
        "claimledger.example/log+41398106+AYqI4910CfGV/VLbLTy6XXLKZwm/HZQSG/N0iAG0D29c"
    )
    note = (
        "claimledger.example/log\n3\nNmQuc8JUCrEh46a/lUWwokmCzYMOsT080Z3jzmwCHsE=\n\n"
        "\u2014 claimledger.example/log QTmBBmmChNXIpYg4b+bLSys0P2GwlYWBanS17KJlvmwYEU0cKsdw/kxfj"
        "HLNVZlqUbBkW6UZtBiOEeOkI1C+EMEiDwM=\n"
    ).encode()
    assert sign_checkpoint(CP, SIGNER) == note
    assert len(CP.body()) == 71
    assert verify_checkpoint(note, NoteVerifier.from_vkey(verifier.vkey())) == CP


# --- keys and vkeys ------------------------------------------------------------------------------


def test_key_id_is_sha256_of_name_newline_type_and_key() -> None:
    import hashlib

    raw = SIGNER.key.public_key.raw
    want = hashlib.sha256(ORIGIN.encode() + b"\n\x01" + raw).digest()[:4]
    assert note_key_id(ORIGIN, raw) == want == SIGNER.verifier.key_id


def test_vkey_round_trip() -> None:
    vkey = SIGNER.verifier.vkey()
    name, id_hex, data = vkey.split("+", 2)
    assert (name, id_hex) == (ORIGIN, SIGNER.verifier.key_id.hex())
    assert base64.b64decode(data) == b"\x01" + SIGNER.key.public_key.raw
    assert NoteVerifier.from_vkey(vkey) == SIGNER.verifier


@pytest.mark.parametrize(
    ("vkey", "match"),
    [
        ("nameonly", "not <name>"),
        ("a+0000000+AQ==", "8 lowercase hex"),
        ("a+ABCDEF01+AQ==", "8 lowercase hex"),
        ("a b+00000000+AQ==", "space"),
        ("+00000000+AQ==", "non-empty"),
        ("a+00000000+AQ", "base64"),
        ("a+00000000+" + base64.b64encode(b"\x02" + b"\x00" * 32).decode(), "0x01"),
        ("a+00000000+" + base64.b64encode(b"\x01" + b"\x00" * 31).decode(), "0x01"),
        # The identity point: a small-order key the strict key rule refuses.
        ("a+00000000+" + base64.b64encode(b"\x01\x01" + b"\x00" * 31).decode(), "refused key"),
    ],
)
def test_malformed_vkeys_are_refused(vkey: str, match: str) -> None:
    with pytest.raises(CheckpointError, match=match):
        NoteVerifier.from_vkey(vkey)


def test_vkey_with_wrong_key_id_is_refused() -> None:
    name, _, data = SIGNER.verifier.vkey().split("+", 2)
    with pytest.raises(CheckpointError, match="does not match"):
        NoteVerifier.from_vkey(f"{name}+00000000+{data}")


def test_signer_refuses_bad_names() -> None:
    for name in ("", "a b", "a+b", "a\tb", "a\u00a0b"):
        with pytest.raises(CheckpointError):
            NoteSigner(name, SIGNER.key)


def test_signer_repr_hides_the_private_key() -> None:
    assert repr(SIGNER) == f"NoteSigner(name={ORIGIN!r})"


# --- signing and verifying notes ----------------------------------------------------------------


def test_round_trip() -> None:
    note = sign_checkpoint(CP, SIGNER)
    assert note.startswith(CP.body() + b"\n\xe2\x80\x94 " + ORIGIN.encode() + b" ")
    assert verify_checkpoint(note, SIGNER.verifier) == CP
    assert verify_checkpoint(note, SIGNER.verifier, origin=ORIGIN) == CP


@pytest.mark.parametrize(
    "text",
    [b"one line\n", b"\n", b"a\n\nb\n", b"ends in blank lines\n\n\n", "\u00e9t\u00e9\n".encode()],
)
def test_texts_with_blank_lines_round_trip(text: bytes) -> None:
    assert verify_note(SIGNER.sign(text), SIGNER.verifier) == text


def test_text_that_looks_like_a_signed_note_round_trips() -> None:
    inner = OTHER.sign(b"inner\n")
    assert verify_note(SIGNER.sign(inner), SIGNER.verifier) == inner
    with pytest.raises(CheckpointError, match="no signature by"):
        verify_note(SIGNER.sign(inner), OTHER.verifier)


@pytest.mark.parametrize(
    ("text", "match"),
    [
        (b"no newline", "newline"),
        (b"tab\there\n", "U\\+0009"),
        (b"cr\r\n", "U\\+000D"),
        (b"\xff\n", "UTF-8"),
    ],
)
def test_signer_refuses_bad_text(text: bytes, match: str) -> None:
    with pytest.raises(CheckpointError, match=match):
        SIGNER.sign(text)


def test_unknown_signatures_are_ignored() -> None:
    text = CP.body()
    stranger = NoteSigner("stranger.example", keys.PrivateKey.from_seed(b"\x03" * 32))
    # Same name, other key (so another key id): unknown, ignored.
    same_name = _signature_line(OTHER, text)
    # Our key id under another name: unknown, ignored (and this one does not even verify).
    blob = SIGNER.verifier.key_id + b"\x00" * 64
    other_name = f"\u2014 x.example {base64.b64encode(blob).decode()}\n".encode()
    # A signature type we do not know: unknown, ignored.
    pq = f"\u2014 pq.example {base64.b64encode(b'abcd' + b'z' * 3000).decode()}\n".encode()
    note = (
        sign_checkpoint(CP, SIGNER) + _signature_line(stranger, text) + same_name + other_name + pq
    )
    assert verify_checkpoint(note, SIGNER.verifier) == CP
    only_unknown = text + b"\n" + _signature_line(stranger, text) + same_name + other_name
    with pytest.raises(CheckpointError, match="no signature by"):
        verify_checkpoint(only_unknown, SIGNER.verifier)


def test_sixteen_signature_lines_are_accepted() -> None:
    text = CP.body()
    cosigners = [
        NoteSigner(f"witness{i}.example", keys.PrivateKey.from_seed(bytes([i + 10]) * 32))
        for i in range(15)
    ]
    lines = b"".join(_signature_line(s, text) for s in cosigners)
    for note in (text + b"\n" + lines + _signature_line(SIGNER, text), SIGNER.sign(text) + lines):
        assert note.count("\n\u2014 ".encode()) == 16
        assert verify_checkpoint(note, SIGNER.verifier) == CP
        for cosigner in cosigners:
            assert verify_note(note, cosigner.verifier) == text


def test_more_than_the_limit_of_signature_lines_is_refused() -> None:
    text = CP.body()
    line = _signature_line(OTHER, text)
    ok = SIGNER.sign(text) + line * (MAX_NOTE_SIGNATURES - 1)
    verify_checkpoint(ok, SIGNER.verifier)
    with pytest.raises(CheckpointError, match="more than"):
        verify_checkpoint(ok + line, SIGNER.verifier)


def test_oversized_note_is_refused() -> None:
    text = b"x" * MAX_NOTE_SIZE + b"\n"
    with pytest.raises(CheckpointError, match="more than"):
        verify_note(SIGNER.sign(text), SIGNER.verifier)


def test_bad_signature_from_the_known_key_is_an_error_even_beside_a_good_one() -> None:
    text = CP.body()
    good = sign_checkpoint(CP, SIGNER)
    forged = _signature_line(SIGNER, b"another text\n")
    with pytest.raises(CheckpointError, match=r"signature line 2 .* does not verify"):
        verify_checkpoint(good + forged, SIGNER.verifier)
    with pytest.raises(CheckpointError, match=r"signature line 1 .* does not verify"):
        verify_checkpoint(text + b"\n" + forged, SIGNER.verifier)
    short = SIGNER.verifier.key_id + b"\x00" * 10
    truncated = f"\u2014 {ORIGIN} {base64.b64encode(short).decode()}\n".encode()
    with pytest.raises(CheckpointError, match="64 bytes"):
        verify_checkpoint(good + truncated, SIGNER.verifier)


def test_wrong_key_is_rejected() -> None:
    with pytest.raises(CheckpointError, match="no signature by"):
        verify_checkpoint(sign_checkpoint(CP, SIGNER), OTHER.verifier)


def test_wrong_origin_is_rejected() -> None:
    note = sign_checkpoint(CP, SIGNER)
    with pytest.raises(CheckpointError, match=r"origin is 'claimledger\.example/log', expected"):
        verify_checkpoint(note, SIGNER.verifier, origin="other.example/log")
    elsewhere = NoteSigner("other.example/log", SIGNER.key)
    with pytest.raises(CheckpointError, match="origin is"):
        verify_checkpoint(sign_checkpoint(CP, elsewhere), elsewhere.verifier)
    verify_checkpoint(sign_checkpoint(CP, elsewhere), elsewhere.verifier, origin=ORIGIN)


@pytest.mark.parametrize(
    ("mutate", "match"),
    [
        (lambda n: n[:-1], "does not end with a newline"),
        (lambda n: n.replace(b"\n\n", b"\n"), "no blank line"),
        (lambda n: n[: n.index(b"\n\n") + 2], "no signature lines"),
        (lambda n: n + b"\n", "no signature lines"),
        (lambda n: n.replace(b"\xe2\x80\x94 ", b"- "), "em dash"),
        (lambda n: n.replace(b"\xe2\x80\x94 ", b"\xe2\x80\x94"), "em dash"),
        (lambda n: n.replace(ORIGIN.encode() + b" ", ORIGIN.encode() + b"  "), "is not"),
        (lambda n: n.replace(b"=\n", b"\n"), "base64"),
        (lambda n: n.replace(b"\n", b"\r\n"), "U\\+000D"),
    ],
)
def test_malformed_notes_are_rejected(mutate: Any, match: str) -> None:
    note = mutate(sign_checkpoint(CP, SIGNER))
    with pytest.raises(CheckpointError, match=match):
        verify_checkpoint(note, SIGNER.verifier)


# --- checkpoint bodies ---------------------------------------------------------------------------


def _body(origin: str = ORIGIN, size: str = "3", root: str | None = None, *ext: str) -> bytes:
    root = base64.b64encode(ROOT).decode() if root is None else root
    return "".join(f"{line}\n" for line in (origin, size, root, *ext)).encode()


def test_body_round_trip_with_extensions() -> None:
    cp = Checkpoint(ORIGIN, 0, ROOT, ("ext one", "ext two"))
    assert Checkpoint.parse_body(cp.body()) == cp
    assert cp.body() == _body(ORIGIN, "0", None, "ext one", "ext two")
    note = sign_checkpoint(cp, SIGNER)
    assert verify_checkpoint(note, SIGNER.verifier).extensions == ("ext one", "ext two")


def test_largest_size_is_accepted() -> None:
    assert Checkpoint.parse_body(_body(size=str(2**64 - 1))).size == 2**64 - 1


@pytest.mark.parametrize(
    ("body", "match"),
    [
        (_body()[:-1], "does not end with a newline"),
        (_body(size="01"), "leading zeros"),
        (_body(size="-1"), "decimal"),
        (_body(size="+1"), "decimal"),
        (_body(size=" 1"), "decimal"),
        (_body(size=""), "decimal"),
        (_body(size="\u0661"), "decimal"),  # an Arabic-Indic digit, which int() would accept
        (_body(size=str(2**64)), "2\\^64"),
        (_body(root="not base64!"), "not valid base64"),
        (_body(root=base64.b64encode(ROOT).decode().rstrip("=")), "not valid base64"),
        (_body(root=base64.urlsafe_b64encode(b"\xff" * 32).decode()), "base64"),
        (_body(root=base64.b64encode(ROOT[:31]).decode()), "31 bytes"),
        (_body(root=base64.b64encode(ROOT + b"\x00").decode()), "33 bytes"),
        (_body(origin=""), "origin line is empty"),
        (_body(ORIGIN, "3", None, ""), "extension line 1 is empty"),
        (f"{ORIGIN}\n3\n".encode(), "2 line"),
        (b"\n", "1 line"),
    ],
)
def test_malformed_bodies_are_rejected(body: bytes, match: str) -> None:
    with pytest.raises(CheckpointError, match=match):
        Checkpoint.parse_body(body)
    with pytest.raises(CheckpointError, match=match):
        verify_checkpoint(SIGNER.sign(body), SIGNER.verifier)


def test_non_canonical_base64_root_is_rejected() -> None:
    text = base64.b64encode(ROOT).decode()
    # The last character carries 4 unused bits; setting one gives the same bytes, another text.
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    last = alphabet[alphabet.index(text[-2]) ^ 1]
    with pytest.raises(CheckpointError, match="canonical"):
        Checkpoint.parse_body(_body(root=text[:-2] + last + "="))


@pytest.mark.parametrize(
    "kwargs",
    [
        {"origin": "", "size": 1, "root": ROOT},
        {"origin": "a\nb", "size": 1, "root": ROOT},
        {"origin": "a", "size": -1, "root": ROOT},
        {"origin": "a", "size": 2**64, "root": ROOT},
        {"origin": "a", "size": True, "root": ROOT},
        {"origin": "a", "size": 1, "root": ROOT[:31]},
        {"origin": "a", "size": 1, "root": ROOT, "extensions": ("",)},
        {"origin": "a", "size": 1, "root": ROOT, "extensions": ("x\ny",)},
    ],
)
def test_checkpoint_checks_its_fields_when_built(kwargs: dict[str, Any]) -> None:
    with pytest.raises(CheckpointError):
        Checkpoint(**kwargs)


# --- tampering ----------------------------------------------------------------------------------


def _flip(data: bytes, bit: int) -> bytes:
    out = bytearray(data)
    out[bit // 8] ^= 1 << (bit % 8)
    return bytes(out)


def test_every_flipped_bit_of_a_signed_checkpoint_is_rejected() -> None:
    note = sign_checkpoint(CP, SIGNER)
    for bit in range(len(note) * 8):
        with pytest.raises(CheckpointError):
            verify_checkpoint(_flip(note, bit), SIGNER.verifier)


@given(
    origin=st.text(
        st.characters(min_codepoint=0x20, exclude_categories=["Cs"]), min_size=1, max_size=40
    ),
    size=st.integers(0, 2**64 - 1),
    root=st.binary(min_size=32, max_size=32),
    extensions=st.lists(
        st.text(st.characters(min_codepoint=0x20, exclude_categories=["Cs"]), min_size=1),
        max_size=2,
    ),
    data=st.data(),
)
def test_any_flipped_bit_of_any_signed_checkpoint_is_rejected(
    origin: str, size: int, root: bytes, extensions: list[str], data: st.DataObject
) -> None:
    cp = Checkpoint(origin, size, root, tuple(extensions))
    note = sign_checkpoint(cp, SIGNER)
    assert verify_checkpoint(note, SIGNER.verifier, origin=origin) == cp
    bit = data.draw(st.integers(0, len(note) * 8 - 1), label="bit")
    with pytest.raises(CheckpointError):
        verify_checkpoint(_flip(note, bit), SIGNER.verifier, origin=origin)
