"""DSSE v1 envelopes: PAE, strict parsing, base64 variants, the stored form, signatures."""

from __future__ import annotations

import base64
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from attest.dsse import PAYLOAD_TYPE, Envelope, b64decode_lenient, pae, sign_envelope
from attest.errors import EncodingError, SignatureError
from keys import PrivateKey

KEY = PrivateKey.from_seed(bytes(range(32)))
OTHER = PrivateKey.from_seed(bytes(range(1, 33)))
PAYLOAD = b'{"hello":"world"}'


def _json(env: dict[str, object]) -> bytes:
    return json.dumps(env).encode()


def test_pae_matches_the_dsse_specification_example() -> None:
    assert (
        pae("http://example.com/HelloWorld", b"hello world")
        == b"DSSEv1 29 http://example.com/HelloWorld 11 hello world"
    )


def test_pae_lengths_count_bytes_not_characters() -> None:
    assert pae("é", "ಠ".encode()) == b"DSSEv1 2 \xc3\xa9 3 \xe0\xb2\xa0"
    assert pae("t", b"") == b"DSSEv1 1 t 0 "


def test_sign_then_verify_returns_the_payload() -> None:
    env = sign_envelope(PAYLOAD, KEY)
    assert env.signature.keyid == KEY.public_key.key_id
    assert env.verify(KEY.public_key) == PAYLOAD


def test_verify_refuses_another_key_by_key_id() -> None:
    env = sign_envelope(PAYLOAD, KEY)
    with pytest.raises(SignatureError, match="does not match key"):
        env.verify(OTHER.public_key)


def test_stored_form_round_trips_and_is_canonical() -> None:
    env = sign_envelope(PAYLOAD, KEY)
    stored = env.to_bytes()
    assert stored.startswith(b'{"payload":"')
    assert Envelope.parse_stored(stored) == env
    assert Envelope.parse(stored) == env


def test_any_layout_parses_but_only_the_stored_form_is_stored() -> None:
    env = sign_envelope(PAYLOAD, KEY)
    pretty = json.dumps(env.to_dict(), indent=2).encode()
    assert Envelope.parse(pretty) == env
    with pytest.raises(EncodingError, match="canonical stored form"):
        Envelope.parse_stored(pretty)


@pytest.mark.parametrize("variant", ["std_nopad", "url", "url_nopad"])
def test_base64_variants_are_accepted_on_input(variant: str) -> None:
    env = sign_envelope(PAYLOAD + b"??>>", KEY)  # bytes whose base64 uses + and /
    d = env.to_dict()

    def conv(s: str) -> str:
        if variant.startswith("url"):
            s = s.replace("+", "-").replace("/", "_")
        return s.rstrip("=") if variant.endswith("nopad") else s

    d["payload"] = conv(d["payload"])
    d["signatures"][0]["sig"] = conv(d["signatures"][0]["sig"])
    parsed = Envelope.parse(_json(d))
    assert parsed == env
    assert parsed.to_bytes() == env.to_bytes()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("aGVsbG8=\n", "not base64"),
        ("aGVs bG8=", "not base64"),
        ("aGVsbG8+_w==", "not base64"),  # mixes the two alphabets
        ("aGVsbG8==", "wrong padding"),
        ("a", "impossible length"),
        ("aGVsbG9=", "trailing bits"),
    ],
)
def test_bad_base64_is_refused_with_a_reason(text: str, message: str) -> None:
    with pytest.raises(EncodingError, match=message):
        b64decode_lenient(text, field="/payload")


def _valid() -> dict[str, object]:
    return sign_envelope(PAYLOAD, KEY).to_dict()


@pytest.mark.parametrize(
    ("mutate", "message", "field"),
    [
        (lambda d: d.update(extra=1), "unknown member 'extra'", "/extra"),
        (lambda d: d.pop("payloadType"), "missing member 'payloadType'", "/payloadType"),
        (lambda d: d.update(payloadType="text/plain"), "payloadType must be", "/payloadType"),
        (lambda d: d.update(payload=5), "expected a string", "/payload"),
        (lambda d: d.update(signatures={}), "must be an array", "/signatures"),
        (lambda d: d.update(signatures=[]), "exactly one signature", "/signatures"),
        (lambda d: d["signatures"].append(d["signatures"][0]), "exactly one", "/signatures"),
        (lambda d: d["signatures"][0].update(keyid="AB"), "64 lowercase hex", "/signatures/0"),
        (lambda d: d["signatures"][0].update(sig="AAAA"), "64 bytes", "/signatures/0"),
        (lambda d: d["signatures"][0].update(x=1), "unknown member 'x'", "/signatures/0/x"),
    ],
)
def test_malformed_envelopes_are_refused_naming_the_field(
    mutate: object, message: str, field: str
) -> None:
    d = _valid()
    mutate(d)  # type: ignore[operator]
    with pytest.raises(EncodingError, match=message) as info:
        Envelope.parse(_json(d))
    assert info.value.field == field


@pytest.mark.parametrize(
    "raw", [b"[" * 100_000, b'{"payload": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"]
)
def test_nesting_that_exhausts_the_parser_is_an_encoding_error(raw: bytes) -> None:
    with pytest.raises(EncodingError, match="nested too deeply"):
        Envelope.parse(raw)


def test_duplicate_members_are_refused() -> None:
    d = _valid()
    raw = _json(d)[:-1] + b', "payload": "AAAA"}'
    with pytest.raises(EncodingError, match="duplicate member 'payload'"):
        Envelope.parse(raw)


@pytest.mark.parametrize("raw", [b"", b"[]", b"{", b"\xff\xfe", b'{"payload": NaN}'])
def test_not_json_objects_are_refused(raw: bytes) -> None:
    with pytest.raises(EncodingError):
        Envelope.parse(raw)


def test_oversized_envelopes_are_refused_before_parsing() -> None:
    with pytest.raises(EncodingError, match="larger than"):
        Envelope.parse(b" " * (256 * 1024 + 1))


@given(st.data())
def test_any_flipped_bit_in_payload_or_signature_is_rejected(data: st.DataObject) -> None:
    env = sign_envelope(PAYLOAD, KEY)
    target = data.draw(st.sampled_from(["payload", "sig"]))
    blob = bytearray(env.payload if target == "payload" else env.signature.sig)
    i = data.draw(st.integers(0, len(blob) * 8 - 1))
    blob[i // 8] ^= 1 << (i % 8)
    d = env.to_dict()
    if target == "payload":
        d["payload"] = base64.b64encode(bytes(blob)).decode()
    else:
        d["signatures"][0]["sig"] = base64.b64encode(bytes(blob)).decode()
    tampered = Envelope.parse(_json(d))
    with pytest.raises(SignatureError):
        tampered.verify(KEY.public_key)


def test_payload_type_constant_is_the_claimledger_type() -> None:
    assert PAYLOAD_TYPE == "application/vnd.claimledger.statement.v1+json"
