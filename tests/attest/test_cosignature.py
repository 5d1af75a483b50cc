"""Tests for attest.cosignature: C2SP tlog-cosignature, Ed25519 and ML-DSA-44."""

from __future__ import annotations

import base64
import hashlib
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import keys
from attest.checkpoint import Checkpoint, NoteSigner, parse_note, sign_checkpoint
from attest.cosignature import (
    COSIGNATURE_V1_HEADER,
    MAX_TIMESTAMP,
    MLDSA44_PUBLIC_KEY_SIZE,
    MLDSA44_SIGNATURE_SIZE,
    SUBTREE_V1_LABEL,
    CosignatureError,
    CosignatureType,
    CosignerKey,
    CosignerSigner,
    add_cosignatures,
    cosign,
    cosign_subtree,
    cosignature_v1_message,
    cosigner_key_id,
    subtree_v1_message,
    verify_cosignature,
    verify_subtree_cosignature,
)
from attest.errors import CheckpointError
from attest.merkle import MemoryTree, leaf_hash

ORIGIN = "example.com/behind-the-sofa"
LOG = NoteSigner(ORIGIN, keys.PrivateKey.from_seed(b"\x01" * 32))
ED = CosignerSigner("witness.example/w1", keys.PrivateKey.from_seed(b"\x02" * 32))
ML = CosignerSigner.mldsa44_from_seed("witness.example/w1", b"\x03" * 32)
TREE = MemoryTree([leaf_hash(bytes([i])) for i in range(5)])
CP = Checkpoint(ORIGIN, 5, TREE.root())
NOTE = sign_checkpoint(CP, LOG)
TS = 1679315147

# The example of C2SP tlog-cosignature, "Ed25519 signed message".
SPEC_MESSAGE = (
    b"cosignature/v1\n"
    b"time 1679315147\n"
    b"example.com/behind-the-sofa\n"
    b"20852163\n"
    b"CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
)
# The cosignature line of the spec's example checkpoint (the witness key is not published).
SPEC_LINE_B64 = (
    "jWbPPwAAAABkGFDLEZMHwSRaJNiIDoe9DYn/zXcrtPHeolMI5OWXEhZCB9dlrDJsX3b2oyin1nPZqhf5nNo0xUe+"
    "mbIUBkBIfZ+qnA=="
)


def test_spec_example_message() -> None:
    text = b"example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
    assert cosignature_v1_message(text, 1679315147) == SPEC_MESSAGE


def test_spec_example_line_layout() -> None:
    """key id (4) ‖ u64 big-endian timestamp ‖ 64-byte signature, timestamp of the example."""
    blob = base64.b64decode(SPEC_LINE_B64)
    assert len(blob) == 4 + 8 + 64
    assert struct.unpack(">Q", blob[4:12])[0] == 1679315147
    note = (
        b"example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n\n"
        + f"\u2014 witness.example.com/w1 {SPEC_LINE_B64}\n".encode()
    )
    _, lines = parse_note(note)
    assert lines[0].key_id == blob[:4]
    assert lines[0].signature == blob[4:]


def test_label_and_sizes() -> None:
    assert SUBTREE_V1_LABEL == b"subtree/v1\n\x00"
    assert len(SUBTREE_V1_LABEL) == 12
    assert COSIGNATURE_V1_HEADER == b"cosignature/v1\n"
    assert len(ML.verifier.public_key) == MLDSA44_PUBLIC_KEY_SIZE == 1312
    assert MLDSA44_SIGNATURE_SIZE == 2420


def test_key_ids() -> None:
    for signer, type_byte in ((ED, 0x04), (ML, 0x06)):
        v = signer.verifier
        expected = hashlib.sha256(b"witness.example/w1\n" + bytes([type_byte]) + v.public_key)
        assert v.key_id == expected.digest()[:4]
        assert cosigner_key_id(v.name, v.kind, v.public_key) == v.key_id
    # Same key, another type byte: another key id (the domain separation of signed-note).
    raw = ED.verifier.public_key
    assert (
        cosigner_key_id("w", CosignatureType.ED25519, raw)
        != hashlib.sha256(b"w\n\x01" + raw).digest()[:4]
    )


def test_subtree_message_layout() -> None:
    msg = subtree_v1_message("w.example/a", 7, "log.example/x", 0, 5, b"\xaa" * 32)
    assert msg == (
        b"subtree/v1\n\x00"
        + b"\x0b"
        + b"w.example/a"
        + (7).to_bytes(8, "big")
        + b"\x0d"
        + b"log.example/x"
        + (0).to_bytes(8, "big")
        + (5).to_bytes(8, "big")
        + b"\xaa" * 32
    )


@pytest.mark.parametrize(
    ("args", "reason"),
    [
        (("w", 1, "o" * 256, 0, 1, b"\0" * 32), "255"),
        (("w" * 256, 1, "o", 0, 1, b"\0" * 32), "255"),
        (("w", 1, "o", 1, 2, b"\0" * 32), "non-zero start"),
        (("w", 0, "o", 3, 2, b"\0" * 32), "after its end"),
        (("w", 0, "o", 0, 1 << 64, b"\0" * 32), "u64"),
        (("w", 1 << 63, "o", 0, 1, b"\0" * 32), "2\\^63"),
        (("w", 1, "o", 0, 1, b"\0" * 31), "32 bytes"),
    ],
)
def test_subtree_message_refused(args: tuple[str, int, str, int, int, bytes], reason: str) -> None:
    with pytest.raises(CosignatureError, match=reason):
        subtree_v1_message(*args)


@pytest.mark.parametrize("signer", [ED, ML], ids=["ed25519", "ml-dsa-44"])
def test_round_trip(signer: CosignerSigner) -> None:
    line = cosign(NOTE, signer, TS)
    note = add_cosignatures(NOTE, [line])
    got = verify_cosignature(note, signer.verifier)
    assert got.checkpoint == CP
    assert got.cosignatures[0].timestamp == TS
    assert got.cosignatures[0].key == signer.verifier
    assert CosignerKey.from_vkey(signer.verifier.vkey()) == signer.verifier


def test_both_types_on_one_note_and_unknown_lines_ignored() -> None:
    other = CosignerSigner("witness.example/w2", keys.PrivateKey.from_seed(b"\x09" * 32))
    note = add_cosignatures(NOTE, [cosign(NOTE, s, TS + i) for i, s in enumerate((ED, ML))])
    assert verify_cosignature(note, ED.verifier).cosignatures[0].timestamp == TS
    assert verify_cosignature(note, ML.verifier).cosignatures[0].timestamp == TS + 1
    with pytest.raises(CosignatureError, match=r"no cosignature by witness\.example/w2"):
        verify_cosignature(note, other.verifier)


def test_ed25519_cosignature_is_deterministic_and_covers_extensions() -> None:
    assert cosign(NOTE, ED, TS) == cosign(NOTE, ED, TS)
    ext = Checkpoint(ORIGIN, 5, TREE.root(), ("ext line",))
    ext_note = sign_checkpoint(ext, LOG)
    line = cosign(ext_note, ED, TS)
    # The same cosignature moved to the note without the extension line does not verify.
    with pytest.raises(CosignatureError, match="does not verify"):
        verify_cosignature(NOTE + line, ED.verifier)


def test_mldsa_does_not_cover_extensions_but_covers_name() -> None:
    ext_note = sign_checkpoint(Checkpoint(ORIGIN, 5, TREE.root(), ("ext",)), LOG)
    line = cosign(ext_note, ML, TS)
    verify_cosignature(NOTE + line, ML.verifier)  # extension lines are outside subtree/v1
    renamed = CosignerSigner.mldsa44_from_seed("witness.example/other", b"\x03" * 32)
    blob = base64.b64decode(line.decode().split(" ")[2])
    forged = _with_blob("\u2014 witness.example/other", renamed.verifier.key_id + blob[4:])
    with pytest.raises(CosignatureError, match="does not verify"):
        verify_cosignature(NOTE + forged, renamed.verifier)


def _line_blob(line: bytes) -> tuple[str, bytes]:
    prefix, b64 = line.decode().rstrip("\n").rsplit(" ", 1)
    return prefix, base64.b64decode(b64)


def _with_blob(prefix: str, blob: bytes) -> bytes:
    return f"{prefix} {base64.b64encode(blob).decode()}\n".encode()


@pytest.mark.parametrize("signer", [ED, ML], ids=["ed25519", "ml-dsa-44"])
def test_every_flipped_signature_byte_refused(signer: CosignerSigner) -> None:
    prefix, blob = _line_blob(cosign(NOTE, signer, TS))
    for i in range(len(blob)):
        flipped = bytearray(blob)
        flipped[i] ^= 0x01
        with pytest.raises(CosignatureError):
            verify_cosignature(NOTE + _with_blob(prefix, bytes(flipped)), signer.verifier)


@pytest.mark.parametrize("signer", [ED, ML], ids=["ed25519", "ml-dsa-44"])
def test_every_flipped_text_byte_refused(signer: CosignerSigner) -> None:
    line = cosign(NOTE, signer, TS)
    text = CP.body()
    for i in range(len(text)):
        flipped = bytearray(text)
        flipped[i] ^= 0x01
        with pytest.raises(CheckpointError):
            verify_cosignature(bytes(flipped) + NOTE[len(text) :] + line, signer.verifier)


def test_timestamp_over_2_63_refused() -> None:
    prefix, blob = _line_blob(cosign(NOTE, ED, TS))
    big = blob[:4] + (1 << 63).to_bytes(8, "big") + blob[12:]
    with pytest.raises(CosignatureError, match="2\\^63"):
        verify_cosignature(NOTE + _with_blob(prefix, big), ED.verifier)
    with pytest.raises(CosignatureError, match="2\\^63"):
        cosign(NOTE, ED, MAX_TIMESTAMP + 1)


@pytest.mark.parametrize("cut", [1, 64, 2419])
def test_wrong_length_refused(cut: int) -> None:
    prefix, blob = _line_blob(cosign(NOTE, ML, TS))
    with pytest.raises(CosignatureError, match="2428 bytes after the key id"):
        verify_cosignature(NOTE + _with_blob(prefix, blob[:-cut]), ML.verifier)


def test_a_bad_line_from_the_key_refuses_the_note_even_beside_a_good_one() -> None:
    good = cosign(NOTE, ED, TS)
    prefix, blob = _line_blob(cosign(NOTE, ED, TS + 1))
    bad = _with_blob(prefix, blob[:-1] + bytes([blob[-1] ^ 1]))
    with pytest.raises(CosignatureError, match="signature line 3"):
        verify_cosignature(NOTE + good + bad, ED.verifier)


def test_same_name_other_key_id_is_ignored() -> None:
    stranger = CosignerSigner("witness.example/w1", keys.PrivateKey.from_seed(b"\x07" * 32))
    note = NOTE + cosign(NOTE, stranger, TS) + cosign(NOTE, ED, TS)
    assert verify_cosignature(note, ED.verifier).cosignatures[0].timestamp == TS


def test_the_log_signature_is_not_a_cosignature() -> None:
    # The log's line has the log's name and key id: never mistaken for a witness's.
    as_witness = CosignerSigner(ORIGIN, keys.PrivateKey.from_seed(b"\x01" * 32))
    with pytest.raises(CosignatureError, match="no cosignature"):
        verify_cosignature(NOTE, as_witness.verifier)


def test_mldsa_origin_over_255_bytes_cannot_be_cosigned() -> None:
    long_cp = Checkpoint("o" * 256, 0, MemoryTree().root())
    signer = NoteSigner("o" * 256, keys.PrivateKey.from_seed(b"\x01" * 32))
    note = sign_checkpoint(long_cp, signer)
    with pytest.raises(CosignatureError, match="255"):
        cosign(note, ML, TS)
    cosign(note, ED, TS)  # cosignature/v1 has no such limit


def _vkey(name: str, id_hex: str, data: bytes) -> str:
    return f"{name}+{id_hex}+{base64.b64encode(data).decode()}"


def _vkey_cases() -> list[tuple[str, str]]:
    ed = ED.verifier
    ml = ML.verifier
    ed_id = ed.key_id.hex()
    small_order = bytes(32)  # the identity point's encoding is 0x01 || 0^31; all-zero is order 4
    return [
        (_vkey(ed.name, ed_id, b"\x01" + ed.public_key), "type 0x01"),
        (_vkey(ed.name, ed_id, b"\x05" + ed.public_key), "type 0x05"),
        (_vkey(ed.name, ed_id.upper(), b"\x04" + ed.public_key), "lowercase hex"),
        (_vkey(ed.name, "00000000", b"\x04" + ed.public_key), "does not match"),
        (_vkey(ed.name, ed_id, b"\x04" + ed.public_key[:31]), "32 bytes"),
        (_vkey(ml.name, ml.key_id.hex(), b"\x06" + ml.public_key[:-1]), "1312 bytes"),
        (_vkey(ml.name, ml.key_id.hex(), b"\x06" + ml.public_key + b"\0"), "1312 bytes"),
        (
            _vkey(
                "w",
                cosigner_key_id("w", CosignatureType.ED25519, small_order).hex(),
                b"\x04" + small_order,
            ),
            "refused",
        ),
        (ed.vkey() + "=", "base64"),
        (f"{ed.name}+{ed_id}", "<name>"),
        (_vkey("a b", ed_id, b"\x04" + ed.public_key), "space"),
        (_vkey(ed.name, ed_id, b""), "nothing"),
    ]


@pytest.mark.parametrize(("vkey", "reason"), _vkey_cases())
def test_vkey_refused(vkey: str, reason: str) -> None:
    with pytest.raises(CosignatureError, match=reason):
        CosignerKey.from_vkey(vkey)


@given(
    origin=st.text(
        st.characters(min_codepoint=0x21, max_codepoint=0x7E, exclude_characters="+"),
        min_size=1,
        max_size=40,
    ),
    size=st.integers(0, 100),
    timestamp=st.integers(1, MAX_TIMESTAMP),
)
@settings(max_examples=30, deadline=None)
def test_round_trip_property(origin: str, size: int, timestamp: int) -> None:
    tree = MemoryTree([leaf_hash(i.to_bytes(4, "big")) for i in range(size)])
    signer = NoteSigner(origin, keys.PrivateKey.from_seed(b"\x01" * 32))
    note = sign_checkpoint(Checkpoint(origin, size, tree.root()), signer)
    for cosigner in (ED, ML):
        got = verify_cosignature(note + cosign(note, cosigner, timestamp), cosigner.verifier)
        assert (got.checkpoint.size, got.cosignatures[0].timestamp) == (size, timestamp)


def test_subtree_cosignature() -> None:
    root = TREE.root()
    line = cosign_subtree(ML, ORIGIN, 4, 5, TREE.get_node(0, 4))
    assert verify_subtree_cosignature(line, ML.verifier, ORIGIN, 4, 5, TREE.get_node(0, 4)) == 0
    whole = cosign_subtree(ML, ORIGIN, 0, 5, root)
    # A subtree cosignature of the whole tree, timestamp 0, also verifies on the checkpoint.
    assert verify_cosignature(NOTE + whole, ML.verifier).cosignatures[0].timestamp == 0
    prefix, blob = _line_blob(line)
    for i in range(0, len(blob), 7):
        flipped = bytearray(blob)
        flipped[i] ^= 0x01
        with pytest.raises(CosignatureError):
            verify_subtree_cosignature(
                _with_blob(prefix, bytes(flipped)), ML.verifier, ORIGIN, 4, 5, TREE.get_node(0, 4)
            )
    for args in [("other.example", 4, 5), (ORIGIN, 0, 5), (ORIGIN, 4, 6)]:
        with pytest.raises(CosignatureError):
            verify_subtree_cosignature(line, ML.verifier, *args, TREE.get_node(0, 4))
    with pytest.raises(CosignatureError, match="only ML-DSA-44"):
        cosign_subtree(ED, ORIGIN, 4, 5, root)
    with pytest.raises(CosignatureError, match="only ML-DSA-44"):
        verify_subtree_cosignature(line, ED.verifier, ORIGIN, 4, 5, root)
    with pytest.raises(CosignatureError, match="not one cosignature line"):
        verify_subtree_cosignature(line + line, ML.verifier, ORIGIN, 4, 5, root)
