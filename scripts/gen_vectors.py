"""Generate the spec test vectors in ``tests/vectors/*.json`` (docs/SPEC.md §9).

Run ``python -m scripts.gen_vectors`` to (re)write the files, or ``--check`` to compare them with
what would be written (exit status 1 when they differ). The output is deterministic: fixed seeds,
fixed times, no randomness and no clock, so the files change only when a signed or hashed byte
changes. Every expectation is computed by the library *and* every refusal is checked to be
refused here, so a vector that the library disagrees with cannot be written.

Each file is ``{"description", "spec", "cases": [{name, input, expect} | {name, input, error}]}``,
pretty-printed with sorted keys, ASCII only, with a trailing newline. ``error`` is
``{"class": <exception class name>, "reason": <short reason, not normative>}`` plus ``field`` (a
JSON pointer) where the library names one.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
import struct
import sys
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a file: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from attest import canonical
from attest.bundle import Bundle, verify_bundle
from attest.checkpoint import (
    Checkpoint,
    NoteSigner,
    NoteVerifier,
    note_key_id,
    sign_checkpoint,
    verify_checkpoint,
)
from attest.dsse import PAYLOAD_TYPE, Envelope, Signature, pae, sign_envelope
from attest.entry import LogEntry, entry_hash, genesis_prev, leaf_data
from attest.errors import VerificationError
from attest.merkle import (
    EMPTY_ROOT,
    MemoryTree,
    leaf_hash,
    verify_consistency,
    verify_inclusion,
)
from attest.rules import LogState, open_envelope, replay
from attest.statemap import (
    EMPTY,
    FOLD_START,
    KEY_PARTY,
    KEY_STREAM,
    MapLeaf,
    MapProof,
    Record,
    StateMap,
    fold,
    map_key,
    verify_map_proof,
)
from attest.statements import (
    Claim,
    Kind,
    ReferencePublish,
    format_timestamp,
    parse_statement,
    parse_timestamp,
)
from attest.verify import verify_log_checkpoint
from keys import PrivateKey, PublicKey, verify_strict
from scripts._vectors import vector_doc, write_or_check
from tests.attest.examples import (
    example_accreditation_grant_body,
    example_claim_body,
    example_claim_withdraw_body,
    example_commitment,
    example_digest,
    example_disclosures,
    example_dump_publish_body,
    example_engagement_close_body,
    example_engagement_open_body,
    example_engagement_withdraw_body,
    example_genesis_body,
    example_key,
    example_key_add_body,
    example_key_revoke_body,
    example_log_key_rotate_body,
    example_party_register_body,
    example_provider_reply_body,
    example_reference_publish_body,
    example_seed,
    example_statement,
    example_test_record_body,
    example_verdict_body,
)
from tests.attest.logbuilder import LogBuilder, digest

__all__ = ["FILES", "VECTORS_DIR", "build", "main"]

Json = dict[str, Any]

VECTORS_DIR = Path(__file__).resolve().parents[1] / "tests" / "vectors"

FILES = (
    "canonical.json",
    "keys.json",
    "dsse.json",
    "entry.json",
    "merkle.json",
    "checkpoint.json",
    "statements.json",
    "log.json",
    "rules.json",
    "statemap.json",
    "engagements.json",
    "parties.json",
    "rotation.json",
    "accreditations.json",
    "datasets.json",
)

ORIGIN = "claimledger.example/log"
PROVIDER = "acme-social"
VERIFIER = "safecheck-labs"
AUTHORITY = "online-safety-board"
VERIFIER = "safecheck-labs"

# -- Ed25519 arithmetic, only to construct refused keys and signatures (docs/SPEC.md §2) ---------

_P = 2**255 - 19
_D = -121665 * pow(121666, _P - 2, _P) % _P
_L = 2**252 + 27742317777372353535851937790883648493
_SQRT_M1 = pow(2, (_P - 1) // 4, _P)
_Point = tuple[int, int]


def _inv(x: int) -> int:
    return pow(x, _P - 2, _P)


def _x_for(y: int, sign: int) -> int | None:
    x2 = (y * y - 1) * _inv(_D * y * y + 1) % _P
    x = pow(x2, (_P + 3) // 8, _P)
    if x * x % _P != x2:
        x = x * _SQRT_M1 % _P
    if x * x % _P != x2:
        return None
    if x & 1 != sign:
        x = _P - x
    return x % _P


def _decode_point(raw: bytes) -> _Point:
    n = int.from_bytes(raw, "little")
    y = n & ((1 << 255) - 1)
    x = _x_for(y, n >> 255)
    if x is None:
        raise ValueError("not a curve point")
    return x, y


def _add(a: _Point, b: _Point) -> _Point:
    (x1, y1), (x2, y2) = a, b
    t = _D * x1 * x2 * y1 * y2 % _P
    return (x1 * y2 + x2 * y1) * _inv(1 + t) % _P, (y1 * y2 + x1 * x2) * _inv(1 - t) % _P


def _encode_point(pt: _Point) -> bytes:
    x, y = pt
    return (y | (x & 1) << 255).to_bytes(32, "little")


def _secret_scalar(seed: bytes) -> int:
    h = bytearray(hashlib.sha512(seed).digest()[:32])
    h[0] &= 248
    h[31] &= 127
    h[31] |= 64
    return int.from_bytes(h, "little")


# -- helpers -------------------------------------------------------------------------------------


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _case(name: str, input_: Json, expect: Json) -> Json:
    return {"name": name, "input": input_, "expect": expect}


def _refused(
    name: str, input_: Json, reason: str, call: Callable[[], object], *, field: bool = True
) -> Json:
    """A refused case: run ``call``, which must raise; record the class (and field)."""
    try:
        call()
    except Exception as exc:
        error: Json = {"class": type(exc).__name__, "reason": reason}
        if field and isinstance(exc, VerificationError) and exc.field is not None:
            error["field"] = exc.field
        return {"name": name, "input": input_, "error": error}
    raise AssertionError(f"vector {name!r} was expected to be refused but was accepted")


def _decided(state: LogState, candidates: list[tuple[str, LogEntry]]) -> list[Json]:
    """Each candidate next entry decided on its own against ``state`` (never applied): an
    ``accept...`` name must be accepted; any other is named ``Class: reason`` and must be refused
    with that class."""
    cases: list[Json] = []
    for name, entry in candidates:
        input_ = {"entry": _raw_entry(entry)}
        if name.startswith("accept"):
            state.check(state.open(entry))
            cases.append(_case(name, input_, {"accept": True}))
            continue

        def decide(e: LogEntry = entry) -> None:
            state.check(state.open(e))

        case = _refused(name, input_, name.split(": ", 1)[1], decide)
        if case["error"]["class"] != name.split(":")[0]:
            raise AssertionError(f"{name}: got {case['error']['class']}: {case['error']}")
        cases.append(case)
    return cases


def _doc(description: str, spec: str, cases: list[Json]) -> bytes:
    return vector_doc(description, f"docs/SPEC.md {spec}", cases)


def _key(n: int) -> PrivateKey:
    return PrivateKey.from_seed(example_seed(n))


def _raw_entry(e: LogEntry) -> Json:
    raw: Json = {
        "index": e.index,
        "stream": e.stream,
        "position": e.position,
        "logTimeMs": e.log_time_ms,
        "envelope": e.envelope.decode("utf-8"),
    }
    if e.state_root is not None:
        raw["stateRoot"] = e.state_root.hex()
    return raw


# -- 1. canonical JSON ---------------------------------------------------------------------------

_ESCAPES = 'Tab\t "q" \\ \x1f\x7f \u00e9\u2028\U0001f602'


def _canonical() -> bytes:
    accepted: list[tuple[str, Any]] = [
        ("null", None),
        ("true", True),
        ("false", False),
        ("zero", 0),
        ("negative integer", -7),
        ("largest integer", 2**53 - 1),
        ("smallest integer", -(2**53 - 1)),
        ("empty string", ""),
        ("empty array", []),
        ("empty object", {}),
        ("nested empty arrays", [[]]),
        (
            "SPEC 1.4 object: nested keys sorted",
            {"signer": "acme", "v": 1, "body": {"z": [], "A": False, "n": None}},
        ),
        (
            "SPEC 1.4 big integers",
            [9007199254740991, -9007199254740991, 0, -7],
        ),
        (
            "SPEC 1.4 key order by byte value, empty key first, prefix first",
            {"a": 6, "A": 5, "#": 4, '"': 3, "!": 2, "": 1, "a~/b": 7},
        ),
        ("key that is a prefix sorts first", {"ab": 2, "a": 1, "b": 3}),
        ("SPEC 1.4 string escapes", _ESCAPES),
        ("every control character", "".join(chr(c) for c in range(0x20))),
        ("solidus, DEL, U+2028, U+2029 are literal", "/\x7f\u2028\u2029"),
        ("U+0000 inside a string", "a\x00b"),
        ("noncharacter U+FFFF and last scalar U+10FFFF", "\uffff\U0010ffff"),
        ("array keeps its order", [3, 1, 2, "b", "a"]),
        ("depth 64 is the limit", _nest(64)),
    ]
    cases = []
    for name, value in accepted:
        data = canonical.encode(value)
        if canonical.decode(data) != value:
            raise AssertionError(name)
        cases.append(_case(name, {"value": value}, {"hex": data.hex(), "text": data.decode()}))

    refused: list[tuple[str, bytes, str]] = [
        ("duplicate key", b'{"a":1,"a":2}', "duplicate key a"),
        ("duplicate key after unescaping", b'{"a":1,"\\u0061":2}', "duplicate key a"),
        ("fraction 1.0", b"1.0", "not an integer"),
        ("exponent 1e2", b"1e2", "not an integer"),
        ("negative zero float", b"-0.0", "not an integer"),
        ("nested fraction", b'{"x":[0.5]}', "not an integer"),
        ("integer 2^53", b"9007199254740992", "integer out of range"),
        ("integer -2^53", b"-9007199254740992", "integer out of range"),
        ("huge integer", b"1" + b"0" * 40, "integer out of range"),
        ("lone high surrogate escape", b'"\\ud800"', "lone surrogate"),
        ("lone low surrogate escape", b'"\\udc00"', "lone surrogate"),
        ("escaped surrogate pair", b'"\\ud83d\\ude02"', "not canonical: escaped surrogate pair"),
        ("encoded surrogate ED A0 80", bytes.fromhex("22eda08022"), "not well-formed UTF-8"),
        ("byte FF", bytes.fromhex("22ff22"), "not well-formed UTF-8"),
        ("overlong solidus C0 AF", bytes.fromhex("22c0af22"), "not well-formed UTF-8"),
        ("past U+10FFFF F4 90 80 80", bytes.fromhex("22f490808022"), "not well-formed UTF-8"),
        ("byte order mark", bytes.fromhex("efbbbf7b7d"), "byte order mark"),
        ("NaN", b"NaN", "not a JSON number"),
        ("Infinity", b"[Infinity]", "not a JSON number"),
        ("trailing data", b"{}x", "trailing data"),
        ("two values", b"1 2", "trailing data"),
        ("empty input", b"", "malformed JSON"),
        ("leading zero", b"01", "malformed JSON"),
        ("unescaped control character", b'"\x01"', "malformed JSON"),
        ("single quotes", b"'a'", "malformed JSON"),
        ("non-ASCII key", '{"\u00e9":1}'.encode(), "key not printable ASCII"),
        ("NUL key", b'{"\\u0000":1}', "key not printable ASCII"),
        ("DEL key", b'{"\\u007f":1}', "key not printable ASCII"),
        ("space after colon", b'{"a": 1}', "not canonical: whitespace"),
        ("leading space", b" 1", "not canonical: whitespace"),
        ("trailing newline", b'{"a":1}\n', "not canonical: whitespace"),
        ("unsorted keys", b'{"b":1,"a":2}', "not canonical: key order"),
        ("needless escape \\u0041", b'"\\u0041"', "not canonical: needless escape"),
        ("needless escape \\/", b'"\\/"', "not canonical: needless escape"),
        ("needless escape \\u2028", b'"\\u2028"', "not canonical: needless escape"),
        ("\\u0008 instead of \\b", b'"\\u0008"', "not canonical: short escape exists"),
        ("uppercase hex escape", b'"\\u001F"', "not canonical: uppercase hex"),
        ("negative zero", b"-0", "not canonical: negative zero"),
        ("depth 65", _nest_bytes(65), "nesting deeper than 64"),
    ]
    for name, data, reason in refused:
        cases.append(
            _refused(
                name,
                {"hex": data.hex()},
                reason,
                partial(canonical.decode, data),
                field=False,
            )
        )
    return _doc(
        "The JSON profile and its canonical form. Accepted cases: input.value is a profile "
        "value (written here as JSON; member order in this file carries no meaning), "
        "expect.hex is its canonical bytes in hex and expect.text the same bytes as UTF-8 text; "
        "decoding expect.hex gives back input.value. Refused cases: input.hex is bytes (hex) "
        "that a decoder must refuse; error.class is the Python exception class, error.reason "
        "says why (not normative).",
        "§1",
        cases,
    )


def _nest(depth: int) -> Any:
    value: Any = []
    for _ in range(depth - 1):
        value = [value]
    return value


def _nest_bytes(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


# -- 2. keys and signatures ----------------------------------------------------------------------

_RFC8032 = (
    ("RFC 8032 7.1 test 1", "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60", ""),
    (
        "RFC 8032 7.1 test 2",
        "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
        "72",
    ),
)


def _keys() -> bytes:
    cases: list[Json] = []
    seeds = [(f"example key {n}", example_seed(n)) for n in range(1, 8)]
    seeds += [(name, bytes.fromhex(seed)) for name, seed, _ in _RFC8032]
    seeds.append(("seed 01 repeated (SPEC 7.5 log key)", b"\x01" * 32))
    for name, seed in seeds:
        pub = PrivateKey.from_seed(seed).public_key
        expect = {"publicKey": pub.raw.hex(), "publicKeyB64": pub.b64(), "keyId": pub.key_id}
        cases.append(_case(f"key id: {name}", {"seed": seed.hex()}, expect))

    good = _key(1).public_key.raw
    t8 = _decode_point(bytes.fromhex(_SMALL_ORDER_8))
    mixed = _encode_point(_add(_decode_point(good), t8))
    bad_keys: list[tuple[str, bytes, str]] = [
        ("identity", bytes.fromhex("01" + "00" * 31), "small order (identity)"),
        ("identity with sign bit", bytes.fromhex("01" + "00" * 30 + "80"), "x = 0 with sign bit"),
        ("point of order 2 (y = -1)", bytes.fromhex("ec" + "ff" * 30 + "7f"), "small order"),
        ("point of order 8", bytes.fromhex(_SMALL_ORDER_8), "small order"),
        ("y = p (non-canonical 0)", bytes.fromhex("ed" + "ff" * 30 + "7f"), "non-canonical y"),
        ("mixed order: example key 1 + order-8 point", mixed, "not in the prime-order subgroup"),
        ("y = p + 1 (non-canonical identity)", bytes.fromhex("ee" + "ff" * 30 + "7f"), "y >= p"),
        ("not on the curve", _off_curve(), "no x for this y"),
        ("31 bytes", good[:31], "wrong length"),
        ("33 bytes", good + b"\x00", "wrong length"),
    ]
    for name, raw, reason in bad_keys:
        cases.append(
            _refused(
                f"refused key: {name}",
                {"publicKey": raw.hex()},
                reason,
                partial(PublicKey.from_raw, raw),
            )
        )
    b64 = _b64(good)
    trailing = b64[:42] + chr(ord(b64[42]) ^ 1) + "="  # flips an unused trailing bit
    if base64.b64decode(trailing) != good:
        trailing = b64[:42] + chr(ord(b64[42]) + 1) + "="
    bad_texts = [
        ("URL-safe alphabet", _url_safe_text(), "standard alphabet only"),
        ("missing padding", b64[:-1], "must be 44 characters"),
        ("non-zero trailing bits", trailing, "not canonical base64"),
        ("whitespace", " " + b64[1:], "not base64"),
    ]
    for name, text, reason in bad_texts:
        cases.append(
            _refused(
                f"refused key text: {name}",
                {"publicKeyB64": text},
                reason,
                partial(PublicKey.from_b64, text),
            )
        )

    # Signatures: (public key, message, signature) -> accept, or refused by the KEY or SIGNATURE
    # rule.
    signer = _key(1)
    msg = b"claimledger signature test"
    sig = signer.sign(msg)
    s_int = int.from_bytes(sig[32:], "little")
    identity = bytes.fromhex("01" + "00" * 31)
    # R = identity and S = k*a: passes the cofactorless equation (OpenSSL accepts it), so only
    # rule 2 (R not small-order) refuses it.
    k = int.from_bytes(hashlib.sha512(identity + good + msg).digest(), "little") % _L
    forged = identity + (k * _secret_scalar(example_seed(1)) % _L).to_bytes(32, "little")
    flipped = bytearray(sig)
    flipped[5] ^= 0x10
    sig_cases: list[tuple[str, bytes, bytes, bytes, str | None]] = []
    for rfc_name, seed_hex, msg_hex in _RFC8032:
        private = PrivateKey.from_seed(bytes.fromhex(seed_hex))
        message = bytes.fromhex(msg_hex)
        sig_cases.append((rfc_name, private.public_key.raw, message, private.sign(message), None))
    sig_cases += [
        ("example key 1", good, msg, sig, None),
        ("flipped signature bit", good, msg, bytes(flipped), "equation fails"),
        ("other message", good, msg + b"!", sig, "equation fails"),
        ("other key", _key(2).public_key.raw, msg, sig, "equation fails"),
        ("S + L (not reduced)", good, msg, sig[:32] + (s_int + _L).to_bytes(32, "little"), "S>=L"),
        ("S = L", good, msg, sig[:32] + _L.to_bytes(32, "little"), "S >= L"),
        ("R = identity, S = k*a (cofactorless equation holds)", good, msg, forged, "R small"),
        ("R = order-8 point", good, msg, bytes.fromhex(_SMALL_ORDER_8) + sig[32:], "R small"),
        ("63-byte signature", good, msg, sig[:63], "wrong length"),
        ("small-order key, R = identity, S = 0", identity, msg, identity + bytes(32), "weak key"),
        ("mixed-order key", mixed, msg, sig, "weak key"),
    ]
    for name, raw, message, signature, why in sig_cases:
        input_ = {"publicKey": raw.hex(), "message": message.hex(), "signature": signature.hex()}
        if why is None:
            verify_strict(raw, signature, message)
            cases.append(_case(f"signature: {name}", input_, {"accept": True}))
        else:
            cases.append(
                _refused(
                    f"signature: {name}",
                    input_,
                    why,
                    partial(verify_strict, raw, signature, message),
                )
            )
    return _doc(
        "Ed25519 keys and the strict acceptance rule. Bytes are hex; publicKeyB64 is standard "
        "padded base64. Key id cases: seed -> public key and key id (§2.3). Refused keys: "
        "error.class WeakKeyError (KEY rule, §2.1) or KeyFormatError (length or text form, §2.4). "
        "Signature cases: (publicKey, message, signature) -> expect.accept, or refused with "
        "InvalidSignatureError (SIGNATURE rule, §2.2) or WeakKeyError (KEY rule).",
        "§2",
        cases,
    )


_SMALL_ORDER_8 = "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05"


def _off_curve() -> bytes:
    y = next(y for y in range(2, 100) if _x_for(y, 0) is None)
    return y.to_bytes(32, "little")


def _url_safe_text() -> str:
    for n in range(1, 50):
        text = _b64(PrivateKey.from_seed(example_seed(n)).public_key.raw)
        if "+" in text or "/" in text:
            return text.replace("+", "-").replace("/", "_")
    raise AssertionError("no example key with + or / in its base64")


# -- 3. DSSE -------------------------------------------------------------------------------------


def _dsse() -> bytes:
    cases: list[Json] = []
    pae_inputs = [
        ("DSSE spec example", "http://example.com/HelloWorld", b"hello world"),
        ("empty payload", PAYLOAD_TYPE, b""),
        ("claimledger payload type", PAYLOAD_TYPE, b'{"v":1}'),
        ("lengths are byte lengths", "t\u00e9", "\u00e9\u00e9".encode()),
    ]
    for name, ptype, body in pae_inputs:
        out = pae(ptype, body)
        cases.append(
            _case(
                f"PAE: {name}",
                {"payloadType": ptype, "payloadHex": body.hex()},
                {"hex": out.hex()},
            )
        )

    genesis = canonical.encode(example_statement(Kind.GENESIS))
    claim = canonical.encode(example_statement(Kind.CLAIM_PUBLISH))
    signed: list[tuple[str, bytes, int]] = [
        ("genesis signed by example key 1", genesis, 1),
        ("claim.publish signed by example key 3", claim, 3),
    ]
    for name, payload, n in signed:
        env = sign_envelope(payload, _key(n))
        cases.append(
            _case(
                f"sign: {name}",
                {"payloadText": payload.decode(), "seed": example_seed(n).hex()},
                {
                    "keyid": env.signature.keyid,
                    "paeHex": env.pae().hex(),
                    "signature": env.signature.sig.hex(),
                    "stored": env.to_bytes().decode(),
                },
            )
        )

    env = sign_envelope(claim, _key(3))
    stored = env.to_bytes().decode()
    payload_b64, sig_b64 = _b64(env.payload), _b64(env.signature.sig)
    if not ("=" in sig_b64 and ("+" in sig_b64 or "/" in sig_b64)):
        raise AssertionError("the variant cases need + or / and = in the base64")
    kid = env.signature.keyid

    def envelope(payload: str, sig: str, *, ptype: str = PAYLOAD_TYPE, sep: str = "") -> str:
        return (
            f'{{"signatures":[{{"sig":"{sig}",{sep}"keyid":"{kid}"}}],{sep}'
            f'"payloadType":"{ptype}",{sep}"payload":"{payload}"}}'
        )

    def url(text: str) -> str:
        return text.replace("+", "-").replace("/", "_")

    variants = [
        ("stored form itself", stored),
        ("other member order and whitespace", envelope(payload_b64, sig_b64, sep="\n  ")),
        ("standard base64 without padding", envelope(payload_b64.rstrip("="), sig_b64.rstrip("="))),
        ("URL-safe base64 with padding", envelope(url(payload_b64), url(sig_b64))),
        (
            "URL-safe base64 without padding",
            envelope(url(payload_b64).rstrip("="), url(sig_b64).rstrip("=")),
        ),
    ]
    for name, text in variants:
        parsed = Envelope.parse(text.encode())
        if parsed.to_bytes().decode() != stored:
            raise AssertionError(name)
        cases.append(
            _case(f"parse: {name}", {"envelope": text, "mode": "parse"}, {"stored": stored})
        )

    other = sign_envelope(claim, _key(4)).signature
    two_sigs = stored.replace(
        '"signatures":[',
        f'"signatures":[{{"keyid":"{other.keyid}","sig":"{_b64(other.sig)}"}},',
    )
    mixed_alphabets = "+" + url(sig_b64)[1:]
    trailing = sig_b64[:-3] + chr(ord(sig_b64[-3]) + 1) + "=="
    refused_parse: list[tuple[str, str, str]] = [
        ("unknown member", stored[:-1] + ',"x":1}', "unknown member"),
        ("unknown signature member", stored.replace('"sig":', '"x":1,"sig":'), "unknown member"),
        (
            "missing payloadType",
            envelope(payload_b64, sig_b64).replace(f',"payloadType":"{PAYLOAD_TYPE}"', ""),
            "missing member",
        ),
        ("duplicate member", stored[:-1] + f',"payloadType":"{PAYLOAD_TYPE}"}}', "duplicate"),
        ("other payload type", envelope(payload_b64, sig_b64, ptype="application/json"), "type"),
        ("two signatures", two_sigs, "exactly one signature"),
        (
            "no signature",
            envelope(payload_b64, sig_b64).split('"signatures":[')[0]
            + '"signatures":[],'
            + envelope(payload_b64, sig_b64).split("],", 1)[1],
            "exactly one",
        ),
        ("mixed base64 alphabets", envelope(payload_b64, mixed_alphabets), "mixed alphabets"),
        ("non-zero trailing bits", envelope(payload_b64, trailing), "non-canonical base64"),
        ("wrong padding", envelope(payload_b64 + "=", sig_b64), "wrong padding"),
        (
            "whitespace inside base64",
            envelope(payload_b64[:8] + " " + payload_b64[8:], sig_b64),
            "not base64",
        ),
        ("uppercase keyid", stored.replace(kid, kid.upper()), "keyid must be lowercase hex"),
        ("63-byte signature", envelope(payload_b64, _b64(env.signature.sig[:63])), "length"),
        ("not JSON", stored[:-1], "malformed JSON"),
    ]
    for name, text, reason in refused_parse:
        cases.append(
            _refused(
                f"refused: {name}",
                {"envelope": text, "mode": "parse"},
                reason,
                partial(Envelope.parse, text.encode()),
            )
        )
    refused_stored = [
        ("whitespace in a stored envelope", envelope(payload_b64, sig_b64, sep=" ")),
        ("unpadded base64 in a stored envelope", variants[2][1]),
        ("URL-safe base64 in a stored envelope", variants[3][1]),
    ]
    for name, text in refused_stored:
        cases.append(
            _refused(
                f"refused: {name}",
                {"envelope": text, "mode": "stored"},
                "not the stored form",
                partial(Envelope.parse_stored, text.encode()),
            )
        )

    pub3 = _key(3).public_key
    flipped = bytearray(env.signature.sig)
    flipped[0] ^= 1
    not_canonical = sign_envelope(claim.replace(b'"v":1', b'"v": 1'), _key(3))
    bad_schema = sign_envelope(
        canonical.encode({**example_statement(Kind.KEY_ADD), "x": 1}), _key(3)
    )
    refused_open = [
        (
            "signature does not verify",
            Envelope(PAYLOAD_TYPE, claim, (Signature(kid, bytes(flipped)),)).to_bytes().decode(),
            pub3,
            "bad signature",
        ),
        (
            "signed by another key",
            sign_envelope(claim, _key(4)).to_bytes().decode(),
            pub3,
            "keyid is not the key's",
        ),
        (
            "payload is not canonical JSON",
            not_canonical.to_bytes().decode(),
            pub3,
            "payload not canonical",
        ),
        (
            "payload is not a valid statement",
            bad_schema.to_bytes().decode(),
            pub3,
            "unknown statement member",
        ),
    ]
    for name, text, key, reason in refused_open:
        cases.append(
            _refused(
                f"refused: {name}",
                {"envelope": text, "mode": "open", "publicKey": key.b64()},
                reason,
                partial(_open, text, key),
            )
        )
    accepted_open = sign_envelope(claim, _key(3)).to_bytes().decode()
    opened = open_envelope(Envelope.parse_stored(accepted_open.encode()), pub3)
    cases.append(
        _case(
            "open: claim.publish under example key 3",
            {"envelope": accepted_open, "mode": "open", "publicKey": pub3.b64()},
            {"digest": opened.digest.hex(), "stored": accepted_open},
        )
    )
    return _doc(
        "DSSE v1 envelopes. PAE cases: payloadType (text) and payloadHex -> PAE bytes in hex. "
        "Sign cases: payloadText (the canonical statement, UTF-8) and an Ed25519 seed (hex) -> "
        "keyid, paeHex, signature (hex) and the stored envelope as text (standard padded "
        "base64 inside). Other cases: input.envelope is envelope text; mode 'parse' accepts "
        "standard or URL-safe base64 with or without padding and expect.stored is the one "
        "stored form; mode 'stored' requires the stored form exactly; mode 'open' is 'stored', "
        "then the signature under publicKey (base64), then the payload as a canonical "
        "statement (expect.digest: SHA-256 of the payload, hex).",
        "§4",
        cases,
    )


# -- 4. entries ----------------------------------------------------------------------------------


def entry_preimage(env: Envelope) -> bytes:
    """The SPEC §5.1 entry-hash preimage, rebuilt here independently of ``attest.entry``."""

    def field(b: bytes) -> bytes:
        return struct.pack(">I", len(b)) + b

    out = b"claimledger:v1:entry\x00" + field(env.payload_type.encode()) + field(env.payload)
    out += struct.pack(">I", len(env.signatures))
    for s in env.signatures:
        out += field(s.keyid.encode()) + field(s.sig)
    return out


def _entry(log: list[LogEntry]) -> bytes:
    cases: list[Json] = []
    for e in log[:3]:
        env = Envelope.parse_stored(e.envelope)
        pre = entry_preimage(env)
        if hashlib.sha256(pre).digest() != entry_hash(env):
            raise AssertionError("entry hash preimage")
        cases.append(
            _case(
                f"entry hash: log entry {e.index}",
                {"envelope": e.envelope.decode()},
                {"entryHash": entry_hash(env).hex(), "preimageHex": pre.hex()},
            )
        )
    env0 = Envelope.parse_stored(log[0].envelope)
    variant = json.dumps(
        {
            "payload": _b64(env0.payload).rstrip("=").replace("+", "-").replace("/", "_"),
            "payloadType": env0.payload_type,
            "signatures": [{"keyid": env0.signature.keyid, "sig": _b64(env0.signature.sig)}],
        },
        indent=1,
    )
    cases.append(
        _case(
            "entry hash: log entry 0 in another base64 form (same hash)",
            {"envelope": variant},
            {"entryHash": entry_hash(Envelope.parse(variant.encode())).hex()},
        )
    )
    for stream in ("registry", PROVIDER, VERIFIER, "a"):
        pre = b"claimledger:v1:genesis\x00" + stream.encode()
        cases.append(
            _case(
                f"genesis prev: {stream}",
                {"stream": stream},
                {"prev": genesis_prev(stream), "preimageHex": pre.hex()},
            )
        )
    places = [
        ("all zero", 0, "registry", 0, 0, bytes(32), bytes(32)),
        (
            "large numbers",
            2**53 - 1,
            PROVIDER,
            2**40 + 1,
            2**53 - 1,
            bytes(range(32)),
            bytes(range(32, 64)),
        ),
    ]
    for e in log[:3]:
        ehash = entry_hash(Envelope.parse_stored(e.envelope))
        root = e.state_root or b""
        places.append(
            (f"log entry {e.index}", e.index, e.stream, e.position, e.log_time_ms, ehash, root)
        )
    for name, index, stream, position, t, ehash, root in places:
        data = leaf_data(index, stream, position, t, ehash, root)
        input_ = {
            "index": index,
            "stream": stream,
            "position": position,
            "logTimeMs": t,
            "entryHash": ehash.hex(),
            "stateRoot": root.hex(),
        }
        cases.append(
            _case(
                f"leaf data: {name}",
                input_,
                {"leafData": data.hex(), "leafHash": leaf_hash(data).hex()},
            )
        )
    bad_leaf = [
        ("negative index", -1, bytes(32), bytes(32), "index out of range"),
        ("31-byte entry hash", 0, bytes(31), bytes(32), "entry hash must be 32 bytes"),
        ("33-byte state root", 0, bytes(32), bytes(33), "state root must be 32 bytes"),
    ]
    for name, index, ehash, root, reason in bad_leaf:
        input_ = {
            "index": index,
            "stream": "registry",
            "position": 0,
            "logTimeMs": 0,
            "entryHash": ehash.hex(),
            "stateRoot": root.hex(),
        }
        cases.append(
            _refused(
                f"leaf data: {name}",
                input_,
                reason,
                partial(leaf_data, index, "registry", 0, 0, ehash, root),
            )
        )
    return _doc(
        "Entry hashes (§5.1), genesis prev values (§5.2) and Merkle leaf data (§6.1). Envelopes "
        "are text; hashes and byte strings are hex; preimageHex is the exact bytes hashed with "
        "SHA-256. Numbers are JSON integers (all below 2^53).",
        "§5, §6.1",
        cases,
    )


# -- 5. Merkle -----------------------------------------------------------------------------------

_LETTERS = [bytes([c]) for c in b"abcdefghijklm"]


def _merkle() -> bytes:
    cases: list[Json] = []
    tree = MemoryTree(leaf_hash(d) for d in _LETTERS)
    for size in [0, *range(1, 9), 13]:
        leaves = _LETTERS[:size]
        cases.append(
            _case(
                f"root: size {size}",
                {"leaves": [d.hex() for d in leaves]},
                {"leafHashes": [leaf_hash(d).hex() for d in leaves], "root": tree.root(size).hex()},
            )
        )
    inclusion = [(0, 1), (0, 2), (1, 2), (0, 3), (2, 3), (3, 4), (0, 8), (5, 8), (7, 8)]
    inclusion += [(0, 13), (6, 13), (11, 13), (12, 13)]
    for index, size in inclusion:
        proof = tree.inclusion_proof(index, size)
        verify_inclusion(tree.get_node(0, index), index, size, proof, tree.root(size))
        cases.append(
            _case(
                f"inclusion: leaf {index} in size {size}",
                {"index": index, "size": size, "leafHash": tree.get_node(0, index).hex()},
                {"proof": [h.hex() for h in proof], "root": tree.root(size).hex()},
            )
        )
    consistency = [(1, 2), (1, 3), (2, 3), (1, 8), (4, 8), (3, 7), (5, 13), (7, 13), (8, 13)]
    consistency += [(12, 13), (13, 13), (0, 0)]
    for m, n in consistency:
        proof = tree.consistency_proof(m, n) if m else []
        verify_consistency(m, n, proof, tree.root(m), tree.root(n))
        cases.append(
            _case(
                f"consistency: {m} to {n}",
                {"size1": m, "size2": n, "root1": tree.root(m).hex(), "root2": tree.root(n).hex()},
                {"proof": [h.hex() for h in proof]},
            )
        )

    def incl(index: int, size: int, proof: Sequence[bytes], root: bytes) -> Json:
        return {
            "index": index,
            "size": size,
            "leafHash": tree.get_node(0, index).hex(),
            "proof": [h.hex() for h in proof],
            "root": root.hex(),
        }

    p5 = list(tree.inclusion_proof(5, 13))
    # SPEC §6: a root does not commit to the size. The proof of leaf 5 in size 13 also "proves"
    # leaf 5 in size 12 against the 13-leaf root; only the checkpoint binds size and root.
    verify_inclusion(tree.get_node(0, 5), 5, 12, p5, tree.root(13))
    cases.append(
        _case(
            "inclusion: size not bound by the root (SPEC §6): size-13 proof accepted as size 12",
            incl(5, 12, p5, tree.root(13)),
            {"accept": True},
        )
    )
    bad_incl: list[tuple[str, int, int, Sequence[bytes], bytes, str]] = [
        ("proof hash changed", 5, 13, [p5[0], bytes(32), *p5[2:]], tree.root(13), "wrong root"),
        ("one hash too many", 5, 13, [*p5, bytes(32)], tree.root(13), "too many hashes"),
        ("one hash too few", 5, 13, p5[:-1], tree.root(13), "too few hashes"),
        ("index not below size", 13, 13, p5, tree.root(13), "index >= size"),
        ("proof for size 13 given as size 8", 5, 8, p5, tree.root(13), "too many hashes"),
        ("31-byte proof hash", 5, 13, [p5[0][:31], *p5[1:]], tree.root(13), "not 32 bytes"),
    ]
    for name, index, size, bad, root, reason in bad_incl:
        input_ = incl(min(index, 12), size, bad, root)
        input_["index"] = index
        cases.append(
            _refused(
                f"refused inclusion: {name}",
                input_,
                reason,
                partial(verify_inclusion, tree.get_node(0, min(index, 12)), index, size, bad, root),
            )
        )
    c5 = list(tree.consistency_proof(5, 13))
    bad_cons: list[tuple[str, int, int, Sequence[bytes], bytes, bytes, str]] = [
        ("proof hash changed", 5, 13, [bytes(32), *c5[1:]], tree.root(5), tree.root(13), "root"),
        ("wrong old root", 5, 13, c5, tree.root(4), tree.root(13), "old root"),
        ("wrong new root", 5, 13, c5, tree.root(5), tree.root(12), "new root"),
        ("one hash too many", 5, 13, [*c5, bytes(32)], tree.root(5), tree.root(13), "too many"),
        ("one hash too few", 5, 13, c5[:-1], tree.root(5), tree.root(13), "too few"),
        ("from the empty tree", 0, 13, [], EMPTY_ROOT, tree.root(13), "proves nothing"),
        ("old size larger", 13, 5, c5, tree.root(13), tree.root(5), "size1 > size2"),
        ("equal sizes, non-empty proof", 5, 5, c5[:1], tree.root(5), tree.root(5), "not empty"),
        ("equal sizes, other roots", 5, 5, [], tree.root(5), tree.root(4), "roots differ"),
    ]
    for name, m, n, bad, r1, r2, reason in bad_cons:
        input_ = {
            "size1": m,
            "size2": n,
            "proof": [h.hex() for h in bad],
            "root1": r1.hex(),
            "root2": r2.hex(),
        }
        cases.append(
            _refused(
                f"refused consistency: {name}",
                input_,
                reason,
                partial(verify_consistency, m, n, bad, r1, r2),
            )
        )
    return _doc(
        "RFC 9162 Merkle trees over SHA-256. Hashes and leaf data are hex. The leaves are the "
        "one-byte ASCII strings 'a', 'b', 'c', ... (as in the SPEC §6 worked example); "
        "inclusion and consistency cases are for prefixes of the 13-leaf tree. Inclusion "
        "proofs are leaf side first (RFC 9162 §2.1.3); consistency proofs are RFC 9162 §2.1.4 "
        "(empty for equal sizes). Refused cases give the whole verifier input and "
        "error.class ProofError.",
        "§6",
        cases,
    )


# -- 6. checkpoints ------------------------------------------------------------------------------


def _checkpoint(log_root: bytes, log_size: int) -> bytes:
    cases: list[Json] = []
    root3 = MemoryTree(leaf_hash(d) for d in _LETTERS[:3]).root()
    signings = [
        ("SPEC 7.5 example", ORIGIN, 3, root3, b"\x01" * 32),
        ("empty tree", ORIGIN, 0, EMPTY_ROOT, b"\x01" * 32),
        ("large size", "example.com/other-log", 2**53 - 1, bytes(range(32)), example_seed(7)),
        ("log.json checkpoint", ORIGIN, log_size, log_root, example_seed(2)),
    ]
    for name, origin, size, root, seed in signings:
        signer = NoteSigner(origin, PrivateKey.from_seed(seed))
        cp = Checkpoint(origin, size, root)
        note = sign_checkpoint(cp, signer)
        sig = note.split(b"\n\n")[-1].split(b" ")[-1]
        sig_bytes = base64.b64decode(sig)[4:]
        verify_checkpoint(note, NoteVerifier.from_vkey(signer.verifier.vkey()))
        cases.append(
            _case(
                f"sign: {name}",
                {"origin": origin, "size": size, "root": root.hex(), "seed": seed.hex()},
                {
                    "body": cp.body().decode(),
                    "note": note.decode(),
                    "vkey": signer.verifier.vkey(),
                    "noteKeyId": signer.verifier.key_id.hex(),
                    "publicKey": signer.key.public_key.raw.hex(),
                    "signature": sig_bytes.hex(),
                },
            )
        )

    signer = NoteSigner(ORIGIN, PrivateKey.from_seed(b"\x01" * 32))
    vkey = signer.verifier.vkey()
    good = sign_checkpoint(Checkpoint(ORIGIN, 3, root3), signer)
    witness = NoteSigner("witness.example/w1", _key(6))
    cosigned = good + witness.sign(Checkpoint(ORIGIN, 3, root3).body()).split(b"\n\n")[-1]
    ext = signer.sign(Checkpoint(ORIGIN, 3, root3, ("extension line",)).body())
    accepted = [
        ("with a witness cosignature (ignored)", cosigned, ("",)),
        ("with an extension line", ext, ("extension line",)),
    ]
    for name, note, extensions in accepted:
        cp = verify_checkpoint(note, signer.verifier)
        if cp.extensions != tuple(e for e in extensions if e):
            raise AssertionError(name)
        cases.append(
            _case(
                f"verify: {name}",
                {"note": note.decode(), "vkey": vkey},
                {
                    "origin": cp.origin,
                    "size": cp.size,
                    "root": cp.root.hex(),
                    "extensions": list(cp.extensions),
                },
            )
        )

    b64root = _b64(root3)
    sig_line = good.split(b"\n\n")[-1]

    def resign(text: str) -> bytes:
        # Signed like NoteSigner.sign, but without its check of the text, to make bad notes.
        blob = signer.verifier.key_id + signer.key.sign(text.encode())
        return text.encode() + f"\n\u2014 {ORIGIN} {_b64(blob)}\n".encode()

    other_name = NoteSigner("claimledger.example/other", PrivateKey.from_seed(b"\x01" * 32))
    flipped = bytearray(good)
    flipped[-10] = ord("A") if flipped[-10] != ord("A") else ord("B")
    refused_notes: list[tuple[str, bytes, str]] = [
        ("size changed after signing", good.replace(b"\n3\n", b"\n4\n", 1), "signature fails"),
        ("signature changed", bytes(flipped), "signature fails"),
        (
            "only signed by another key name",
            sign_checkpoint(Checkpoint(ORIGIN, 3, root3), other_name),
            "no signature by key",
        ),
        ("no blank line", good.replace(b"\n\n", b"\n"), "no blank line"),
        ("no final newline", good[:-1], "no final newline"),
        ("carriage return", resign(f"{ORIGIN}\r\n3\n{b64root}\n"), "control character"),
        ("size with leading zero", resign(f"{ORIGIN}\n03\n{b64root}\n"), "leading zero"),
        ("size 2^64", resign(f"{ORIGIN}\n{2**64}\n{b64root}\n"), "size >= 2^64"),
        ("root without padding", resign(f"{ORIGIN}\n3\n{b64root.rstrip('=')}\n"), "base64"),
        ("root of 31 bytes", resign(f"{ORIGIN}\n3\n{_b64(root3[:31])}\n"), "31-byte root"),
        ("two lines", resign(f"{ORIGIN}\n3\n"), "too few lines"),
        ("empty extension line", resign(f"{ORIGIN}\n3\n{b64root}\n\nx\n"), "empty line"),
        (
            "other origin",
            NoteSigner(ORIGIN, PrivateKey.from_seed(b"\x01" * 32)).sign(
                f"claimledger.example/elsewhere\n3\n{b64root}\n".encode()
            ),
            "origin mismatch",
        ),
        ("signature line without em dash", good.replace("\u2014".encode(), b"-"), "no em dash"),
        ("65 signature lines", good + sig_line * 64, "more than 64 signature lines"),
    ]
    for name, note, reason in refused_notes:
        cases.append(
            _refused(
                f"refused note: {name}",
                {"note": note.decode(), "vkey": vkey},
                reason,
                partial(verify_checkpoint, note, NoteVerifier.from_vkey(vkey)),
            )
        )
    name_, kid_, data_ = vkey.split("+", 2)
    small = _b64(b"\x01" + bytes.fromhex("01" + "00" * 31))
    type2 = _b64(b"\x02" + signer.key.public_key.raw)
    lettered = next(
        v
        for v in (NoteSigner(ORIGIN, _key(n)).verifier.vkey() for n in range(1, 20))
        if v.split("+")[1].upper() != v.split("+")[1]
    )
    l_name, l_kid, l_data = lettered.split("+", 2)
    refused_vkeys = [
        ("uppercase key id", f"{l_name}+{l_kid.upper()}+{l_data}", "key id not lowercase hex"),
        ("wrong key id", f"{name_}+{'00' * 4}+{data_}", "key id mismatch"),
        ("other signature type", f"{name_}+{kid_}+{type2}", "type byte is not 0x01"),
        (
            "small-order key",
            f"{name_}+{note_key_id(name_, bytes.fromhex('01' + '00' * 31)).hex()}+{small}",
            "weak key",
        ),
        ("no key id", f"{name_}+{data_}", "not name+id+key"),
    ]
    for name, text, reason in refused_vkeys:
        cases.append(
            _refused(
                f"refused vkey: {name}",
                {"vkey": text},
                reason,
                partial(NoteVerifier.from_vkey, text),
            )
        )
    return _doc(
        "C2SP tlog-checkpoints as signed notes with Ed25519 note keys. Sign cases: origin, "
        "size, root (hex) and an Ed25519 seed (hex) -> body and note (UTF-8 text), the "
        "verifier key, the 4-byte note key id (hex), the public key and the 64-byte signature "
        "(hex); the note's base64 is standard and padded. Verify cases: note text and vkey -> "
        "the checkpoint. Refused notes and vkeys: error.class CheckpointError.",
        "§7",
        cases,
    )


# -- 7. statements -------------------------------------------------------------------------------


def _statements() -> bytes:
    cases: list[Json] = []
    for kind in Kind:
        st = example_statement(kind)
        payload = canonical.encode(st)
        parse_statement(st)
        cases.append(
            _case(
                f"valid: {kind.value}",
                {"statement": st},
                {"payloadText": payload.decode(), "digest": hashlib.sha256(payload).hexdigest()},
            )
        )

    promised = example_statement(Kind.PROVIDER_REPLY)
    promised["body"]["commitments"] = [
        example_commitment("2027-01-31"),
        example_commitment("2027-03-01", 0),
    ]
    payload = canonical.encode(promised)
    parse_statement(promised)
    cases.append(
        _case(
            "valid: provider.reply with commitments",
            {"statement": promised},
            {"payloadText": payload.decode(), "digest": hashlib.sha256(payload).hexdigest()},
        )
    )

    disclosed = example_statement(Kind.ACCREDITATION_GRANT)
    disclosed["body"].update(example_disclosures())
    payload = canonical.encode(disclosed)
    parse_statement(disclosed)
    cases.append(
        _case(
            "valid: accreditation.grant with disclosures and a validity period",
            {"statement": disclosed},
            {"payloadText": payload.decode(), "digest": hashlib.sha256(payload).hexdigest()},
        )
    )

    def with_(kind_: Kind, /, **changes: Any) -> Json:
        st = example_statement(kind_)
        for path, value in changes.items():
            obj = st
            parts = path.split("__")
            for p in parts[:-1]:
                obj = obj[int(p)] if isinstance(obj, list) else obj[p]
            if value is _DELETE:
                del obj[parts[-1]]
            else:
                obj[parts[-1]] = value
        return st

    bad_verdict = with_(Kind.VERDICT_ISSUE, body__scopeMatch="partial")
    failed_trial = example_test_record_body(example_digest("claim v1"))
    failed_trial["trials"][1]["outcome"] = "fail"
    genesis_same = example_genesis_body(authority_key=1, log_key=1)
    b64 = example_key(4)
    invalid: list[tuple[str, Json, str]] = [
        ("unknown top-level member", {**example_statement(Kind.KEY_ADD), "note": "x"}, "unknown"),
        ("missing signedAt", with_(Kind.KEY_ADD, signedAt=_DELETE), "missing member"),
        ("version 2", with_(Kind.KEY_ADD, v=2), "v must be 1"),
        ("unknown kind", with_(Kind.KEY_ADD, kind="key.rotate"), "unknown kind"),
        (
            "signedAt with fraction",
            with_(Kind.KEY_ADD, signedAt="2026-11-20T10:00:00.5Z"),
            "timestamp format",
        ),
        (
            "signedAt leap second",
            with_(Kind.KEY_ADD, signedAt="2026-12-31T23:59:60Z"),
            "not a real instant",
        ),
        ("bad party id", with_(Kind.CLAIM_PUBLISH, signer="Acme"), "party id pattern"),
        (
            "registry kind on a provider stream",
            with_(Kind.KEY_ADD, stream=PROVIDER),
            "registry kinds go to registry",
        ),
        ("prev not hex", with_(Kind.CLAIM_PUBLISH, prev="00" * 31 + "0G"), "hex hash"),
        (
            "claim.publish names supersedes",
            with_(Kind.CLAIM_PUBLISH, body__supersedes=example_digest("claim v0")),
            "supersedes only in claim.supersede",
        ),
        ("empty services", with_(Kind.CLAIM_PUBLISH, body__services=[]), "at least one"),
        (
            "duplicate surface",
            with_(Kind.CLAIM_PUBLISH, body__surfaces=["search", "search"]),
            "not unique",
        ),
        (
            "unknown detail member",
            with_(Kind.CLAIM_PUBLISH, body__details__colour="blue"),
            "unknown member",
        ),
        (
            "metric value is a boolean",
            with_(Kind.CLAIM_PUBLISH, body__metrics__0__value=True),
            "integer or decimal string",
        ),
        (
            "p90 below median",
            with_(
                Kind.CLAIM_PUBLISH,
                body__measure="report.authority",
                body__details={
                    "recipients": ["NCMEC"],
                    "targetMedianHours": "24",
                    "targetP90Hours": "12",
                },
            ),
            "p90 >= median",
        ),
        ("CONFIRMED without full scope", bad_verdict, "CONFIRMED needs scopeMatch full"),
        (
            "PASSED with a failed trial",
            with_(Kind.TEST_RECORD, body=failed_trial),
            "PASSED has no failed trial",
        ),
        ("logKey equal to authorityKey", with_(Kind.GENESIS, body=genesis_same), "keys differ"),
        (
            "key with non-zero trailing bits",
            with_(Kind.KEY_ADD, body__key=b64[:42] + chr(ord(b64[42]) + 1) + "="),
            "non-canonical base64",
        ),
        (
            "null for an optional member",
            with_(Kind.CLAIM_PUBLISH, body__metrics=None),
            "never null",
        ),
        (
            "website with an IP literal host",
            with_(Kind.PARTY_REGISTER, body__website="https://[2001:db8::1]/"),
            "host is a DNS name",
        ),
        (
            "website with user info",
            with_(Kind.PARTY_REGISTER, body__website="https://user@acme.example/"),
            "no user info",
        ),
        (
            "notTested without an engagement",
            with_(Kind.TEST_RECORD, body__notTested=[]),
            "notTested goes with engagement",
        ),
        (
            "engagement without notTested",
            with_(Kind.TEST_RECORD, body__engagement=example_digest("engagement 1")),
            "an engaged test record lists what it did not test",
        ),
        (
            "paidBy with both a party and a name",
            with_(Kind.ENGAGEMENT_OPEN, body__paidBy={"party": PROVIDER, "name": "Acme"}),
            "exactly one of party and name",
        ),
        (
            "engagement without planned methods",
            with_(Kind.ENGAGEMENT_OPEN, body__methods=[]),
            "at least one planned method",
        ),
        (
            "commitments empty",
            with_(Kind.PROVIDER_REPLY, body__commitments=[]),
            "an optional array is omitted, not empty",
        ),
        (
            "commitment due on no real date",
            with_(Kind.PROVIDER_REPLY, body__commitments=[example_commitment("2027-02-29")]),
            "due is a real date",
        ),
        (
            "commitment to recommendation 100",
            with_(Kind.PROVIDER_REPLY, body__commitments=[example_commitment("2027-01-31", 100)]),
            "recommendation index 0..99",
        ),
        (
            "commitment without an action",
            with_(Kind.PROVIDER_REPLY, body__commitments=[{"due": "2027-01-31"}]),
            "action is required",
        ),
        (
            "validFrom not before validUntil",
            with_(Kind.ACCREDITATION_GRANT, body__validFrom="2027-12-31T23:59:59Z"),
            "a validity period is not empty",
        ),
        (
            "independence without a fee band",
            with_(
                Kind.ACCREDITATION_GRANT,
                body__independence={"otherServices": [], "rotation": "Every engagement."},
            ),
            "feeBand is required",
        ),
        (
            "accreditation methods empty",
            with_(Kind.ACCREDITATION_GRANT, body__methods=[]),
            "an optional array is omitted, not empty",
        ),
        (
            "accreditation method not a test method",
            with_(Kind.ACCREDITATION_GRANT, body__methods=["interview"]),
            "methods come from test.record's methods",
        ),
        (
            "website with an empty port",
            with_(Kind.PARTY_REGISTER, body__website="https://acme.example:/"),
            "port is 1-5 digits",
        ),
    ]
    for name, st, reason in invalid:
        try:
            parse_statement(st)
        except Exception as exc:
            from attest.errors import SchemaError

            if not isinstance(exc, SchemaError):
                raise
            error = {
                "class": "SchemaError",
                "reason": reason,
                "field": exc.field,
                "pointers": [p.pointer for p in exc.problems],
            }
            cases.append({"name": f"invalid: {name}", "input": {"statement": st}, "error": error})
            continue
        raise AssertionError(f"statement case {name!r} was accepted")
    return _doc(
        "Statements (§3). Valid cases: one example statement per kind -> its canonical payload "
        "(UTF-8 text) and digest (SHA-256 of the payload, hex, §3.4). Invalid cases: the "
        "statement object -> SchemaError; error.field is the first problem's RFC 6901 pointer "
        "and error.pointers lists every problem's pointer, in the order the reference "
        "implementation reports them (the set is what matters).",
        "§3",
        cases,
    )


_DELETE = object()


# -- 8. a whole log, and rule decisions after it -------------------------------------------------


def story_log() -> tuple[LogBuilder, dict[str, str]]:
    """The log of log.json: the LogBuilder story, a reply, a key rotation and claim changes."""
    b = LogBuilder.story()
    claim1 = digest(b.entries[4])
    verdict = digest(b.entries[6])
    b.reply(PROVIDER, verdict)
    b.append("key.add", "registry", PROVIDER, example_key_add_body(PROVIDER, 7))
    b.keys[PROVIDER] = 7
    old = _key(3).public_key.key_id
    b.append("key.revoke", "registry", PROVIDER, example_key_revoke_body(PROVIDER, old))
    claim2 = b.claim(PROVIDER, "report.authority")
    b.append("claim.withdraw", PROVIDER, PROVIDER, example_claim_withdraw_body(claim2))
    claim3 = digest(
        b.append("claim.supersede", PROVIDER, PROVIDER, example_claim_body(supersedes=claim1))
    )
    return b, {"claim1": claim1, "claim2": claim2, "claim3": claim3, "verdict": verdict}


def log_signer() -> NoteSigner:
    """The log's note signer: origin and example key 2, as the genesis body names them."""
    return NoteSigner(ORIGIN, _key(2))


def _log(b: LogBuilder) -> tuple[bytes, bytes]:
    entries = b.entries
    genesis = example_genesis_body()
    if genesis["origin"] != ORIGIN or genesis["logKey"] != log_signer().key.public_key.b64():
        raise AssertionError("the genesis body names another origin or log key")
    hashes = [entry_hash(Envelope.parse_stored(e.envelope)) for e in entries]
    leaves = b.leaf_hashes()
    tree = MemoryTree(leaves)
    size = tree.size
    note = sign_checkpoint(Checkpoint(ORIGIN, size, tree.root()), log_signer())
    story_size = 7
    early = sign_checkpoint(Checkpoint(ORIGIN, story_size, tree.root(story_size)), log_signer())
    state = replay(entries)
    kinds = [Envelope.parse_stored(e.envelope).payload for e in entries]
    expect = {
        "entries": [
            {
                "kind": json.loads(p)["kind"],
                "digest": hashlib.sha256(p).hexdigest(),
                "entryHash": h.hex(),
                "stateRoot": (e.state_root or b"").hex(),
                "leafHash": lh.hex(),
                "inclusionProof": [x.hex() for x in tree.inclusion_proof(e.index)],
            }
            for e, p, h, lh in zip(entries, kinds, hashes, leaves, strict=True)
        ],
        "genesisHash": hashes[0].hex(),
        "size": size,
        "root": tree.root().hex(),
        "checkpoint": note.decode(),
        "vkey": log_signer().verifier.vkey(),
        "heads": {s: {"head": h, "length": n} for s, (h, n) in sorted(state.heads.items())},
        "earlierCheckpoint": early.decode(),
        "consistencyProof": [x.hex() for x in tree.consistency_proof(story_size, size)],
    }
    case = _case(
        "the story log",
        {"entries": [_raw_entry(e) for e in entries]},
        expect,
    )
    doc = _doc(
        "A complete small log: genesis, two parties, an accreditation, a claim, a test, a "
        "verdict, the provider's reply, a key rotation (key.add, then key.revoke of the old "
        "key, signed with the new one), a second claim and its withdrawal, and a supersession "
        "of the first claim. input.entries are the raw entries as a ledger serves them "
        "(envelope: the stored envelope, as text). expect gives, per entry, the statement kind, "
        "digest, entry hash, leaf hash and inclusion proof in the full tree (hex); the root; "
        "the ledger fingerprint (genesisHash, the genesis entry hash); each stream's head; a "
        "checkpoint of the whole log signed by the log key the genesis names (vkey), and a "
        "checkpoint of the first 7 entries with the consistency proof from it to the whole log.",
        "§5, §6, §7, §8",
        [case],
    )
    return doc, note


def _rules(b: LogBuilder, refs: dict[str, str]) -> bytes:
    state = replay(b.entries)
    acme, reg = PROVIDER, "registry"
    claim3 = refs["claim3"]
    test_on_3 = example_test_record_body(claim3)
    tampered = b.make("claim.publish", acme, acme, example_claim_body())
    env = bytearray(tampered.envelope)
    i = env.index(b'"sig":"') + 10
    env[i] = ord("A") if env[i] != ord("A") else ord("B")
    bad_sig = LogEntry(*_place(tampered), bytes(env))
    spaced = b.make("claim.publish", acme, acme, example_claim_body())
    spaced = LogEntry(
        *_place(spaced), spaced.envelope.replace(b',"payloadType"', b', "payloadType"')
    )
    no_services = example_claim_body()
    del no_services["services"]
    candidates: list[tuple[str, LogEntry]] = [
        (
            "accept: claim.publish with the new key",
            b.make("claim.publish", acme, acme, example_claim_body()),
        ),
        (
            "accept: test.record on the superseding claim",
            b.make("test.record", acme, VERIFIER, test_on_3),
        ),
        (
            "accept: provider.reply to the verdict",
            b.make("provider.reply", acme, acme, example_provider_reply_body(refs["verdict"])),
        ),
        (
            "ChainError: prev is the stream's genesis value",
            b.make("claim.publish", acme, acme, example_claim_body(), prev=genesis_prev(acme)),
        ),
        (
            "ChainError: prev is a stale head",
            b.make("claim.publish", acme, acme, example_claim_body(), prev=refs["claim2"]),
        ),
        (
            "RevokedKeyError: signed with the revoked key",
            b.make("claim.publish", acme, acme, example_claim_body(), key_no=3),
        ),
        (
            "UnknownKeyError: signed with another party's key",
            b.make("claim.publish", acme, acme, example_claim_body(), key_no=5),
        ),
        (
            "UnknownKeyError: key never registered",
            b.make("claim.publish", acme, acme, example_claim_body(), key_no=9),
        ),
        (
            "NotAuthorisedError: provider registers a party",
            b.make(
                "party.register",
                reg,
                acme,
                {
                    "party": "new-party",
                    "role": "provider",
                    "name": "New",
                    "jurisdiction": "FR",
                    "keys": [example_key(8)],
                },
            ),
        ),
        (
            "NotAuthorisedError: verifier publishes a claim on the provider's stream",
            b.make("claim.publish", acme, VERIFIER, example_claim_body()),
        ),
        (
            "NotAuthorisedError: withdraw an already withdrawn claim",
            b.make("claim.withdraw", acme, acme, example_claim_withdraw_body(refs["claim2"])),
        ),
        (
            "NotAuthorisedError: supersede a superseded claim",
            b.make("claim.supersede", acme, acme, example_claim_body(supersedes=refs["claim1"])),
        ),
        (
            "NotAuthorisedError: revoke an already revoked key",
            b.make(
                "key.revoke", reg, acme, example_key_revoke_body(acme, _key(3).public_key.key_id)
            ),
        ),
        (
            "NotAuthorisedError: add a key already in use",
            b.make("key.add", reg, acme, example_key_add_body(acme, 5)),
        ),
        (
            "NotAuthorisedError: a provider signs a test record",
            b.make("test.record", acme, acme, test_on_3),
        ),
        (
            "NotAuthorisedError: index is not the next index",
            b.make("claim.publish", acme, acme, example_claim_body(), index=len(b.entries) + 1),
        ),
        (
            "NotAuthorisedError: position is not the next position",
            b.make("claim.publish", acme, acme, example_claim_body(), position=3),
        ),
        (
            "NotAuthorisedError: log time goes backwards",
            b.make(
                "claim.publish",
                acme,
                acme,
                example_claim_body(),
                log_time_ms=b.time_ms - 1,
                signed_at_ms=b.time_ms - 1000,
            ),
        ),
        (
            "NotAuthorisedError: signedAt too far after the log time",
            b.make(
                "claim.publish",
                acme,
                acme,
                example_claim_body(),
                signed_at_ms=b.time_ms + 1000 + 11 * 60 * 1000,
            ),
        ),
        (
            "DanglingReferenceError: reply to an unknown verdict",
            b.make(
                "provider.reply",
                acme,
                acme,
                example_provider_reply_body(example_digest("no such verdict")),
            ),
        ),
        (
            "DanglingReferenceError: withdraw an unknown claim",
            b.make(
                "claim.withdraw",
                acme,
                acme,
                example_claim_withdraw_body(example_digest("no such claim")),
            ),
        ),
        (
            "DanglingReferenceError: verdict on an unknown test",
            b.make(
                "verdict.issue",
                acme,
                VERIFIER,
                example_verdict_body(claim3, [example_digest("no such test")]),
            ),
        ),
        (
            "DanglingReferenceError: revoke a key of another party",
            b.make(
                "key.revoke", reg, acme, example_key_revoke_body(acme, _key(5).public_key.key_id)
            ),
        ),
        ("SignatureError: signature changed", bad_sig),
        ("EncodingError: envelope not in its stored form", spaced),
        ("SchemaError: claim without services", b.make("claim.publish", acme, acme, no_services)),
    ]
    cases: list[Json] = []
    cases += _decided(state, candidates)
    return _doc(
        "Rule decisions: each case is one candidate next entry for the log of log.json, "
        "decided on its own against the state after all of that log's entries (candidates "
        "are never applied). The candidate is opened (stored form, key lookup by keyid, "
        "signature, canonical payload, schema), then checked against the rules. expect.accept "
        "is true, or error.class names the refusal and error.field the JSON pointer of the "
        "offending field when there is one. The checks run in the order of SPEC §8.1 and "
        "§8.2; the first that fails names the error.",
        "§8",
        cases,
    )


# -- 8. engagements (SPEC §8.2 rule 7) ----------------------------------------------------------

VERIFIER2 = "northlab-audit"


def _at(ts: str) -> int:
    return parse_timestamp(ts)


def engagement_log() -> tuple[LogBuilder, dict[str, str]]:
    """The log of engagements.json: the story log, then a second verifier, a claim scoped to two
    countries, and engagements closed, withdrawn by the provider and left open."""
    b, refs = story_log()
    acme, v = PROVIDER, VERIFIER
    b.register(VERIFIER2, "verifier", 8)
    b.accredit(VERIFIER2)
    scoped = example_claim_body()
    scoped["jurisdictions"] = ["GB", "IE"]
    claim3 = refs["claim3"]
    claim4 = digest(b.append("claim.publish", acme, acme, scoped))

    def open_(claims: list[str], start: str, end: str, at: str) -> str:
        body = example_engagement_open_body(claims, start=start, end=end)
        return digest(b.append("engagement.open", acme, v, body, log_time_ms=_at(at)))

    def window(body: Json, start: str, end: str) -> Json:
        body["window"] = {"start": start, "end": end}
        return body

    closed = open_([claim3], "2026-11-22T09:00:00Z", "2026-12-20T17:00:00Z", "2026-11-20T10:00:00Z")
    test = example_test_record_body(claim3, engagement=closed, not_tested=["profiles", "comments"])
    window(test, "2026-11-23T09:00:00Z", "2026-11-27T17:00:00Z")
    t1 = digest(b.append("test.record", acme, v, test, log_time_ms=_at("2026-11-28T10:00:00Z")))
    verdict = example_verdict_body(
        claim3, [t1], result="CONFIRMED_WITH_COMMENTS", engagement=closed
    )
    v1 = digest(b.append("verdict.issue", acme, v, verdict))
    b.append("engagement.close", acme, v, example_engagement_close_body(closed, v1))
    withdrawn = open_(
        [claim3], "2026-12-01T09:00:00Z", "2026-12-31T17:00:00Z", "2026-11-29T10:00:00Z"
    )
    b.append("engagement.withdraw", acme, acme, example_engagement_withdraw_body(withdrawn))
    running = open_(
        [claim3], "2026-12-01T09:00:00Z", "2027-01-31T17:00:00Z", "2026-11-30T10:00:00Z"
    )
    scoped_eng = open_(
        [claim4], "2026-12-01T09:00:00Z", "2027-01-31T17:00:00Z", "2026-11-30T11:00:00Z"
    )
    # Findings and commitments (issue 17 §2): a legacy CONTRADICTED verdict opens one finding,
    # the closed engagement's CONFIRMED_WITH_COMMENTS verdict one per recommendation; the
    # provider commits to an action for each, due on different days.
    t2 = b.test(v, acme, claim3)
    contradicted = example_verdict_body(claim3, [t2], result="CONTRADICTED")
    bad = digest(b.append("verdict.issue", acme, v, contradicted))
    b.append(
        "provider.reply",
        acme,
        acme,
        example_provider_reply_body(v1, [example_commitment("2026-12-15", 0)]),
    )
    b.append(
        "provider.reply",
        acme,
        acme,
        example_provider_reply_body(bad, [example_commitment("2027-01-15")]),
    )
    return b, {
        "contradicted": bad,
        "claim3": claim3,
        "claim4": claim4,
        "closed": closed,
        "withdrawn": withdrawn,
        "running": running,
        "scoped": scoped_eng,
        "test": t1,
        "verdict": v1,
        "legacyVerdict": refs["verdict"],
        "claim1": refs["claim1"],
    }


_FINDINGS_AT = ("2026-12-15T23:59:59Z", "2026-12-16T00:00:00Z", "2027-01-16T00:00:00Z")
"""When the engagement log's findings are judged: the last second of the first commitment's due
day, the first second after it, and after the second's due day."""


def _findings_at(entries: Sequence[LogEntry], at: str) -> Json:
    """The findings of the engagement log's provider judged at ``at`` (SPEC §8.2, findings): the
    ledger's own views, fed the accepted entries."""
    from ledger import Views

    state, views = LogState(), Views()
    for e in entries:
        placed = state.open(e)
        state.admit(placed)
        views.apply(placed)
    replay_ = views.replay(PROVIDER, at_ms=parse_timestamp(at))
    return {
        "at": at,
        "findings": [
            {
                "verdict": f.verdict.digest.hex(),
                "recommendation": f.recommendation_index,
                "status": "open" if f.open else "closed",
                "commitments": [{"due": c.due, "overdue": c.overdue} for c in f.commitments],
            }
            for f in replay_.findings
        ],
        "counts": replay_.finding_counts,
    }


def _engagements() -> bytes:
    b, refs = engagement_log()
    state = replay(b.entries)
    acme, v = PROVIDER, VERIFIER
    claim3, claim4, running = refs["claim3"], refs["claim4"], refs["running"]
    later = _at("2026-12-05T10:00:00Z")

    def test(claim: str, engagement: str | None = running, **changes: Any) -> Json:
        body = example_test_record_body(claim, engagement=engagement)
        body["window"] = {"start": "2026-12-02T09:00:00Z", "end": "2026-12-04T17:00:00Z"}
        for path, value in changes.items():
            obj = body
            parts = path.split("__")
            for p in parts[:-1]:
                obj = obj[p]
            if value is _DELETE:
                del obj[parts[-1]]
            else:
                obj[parts[-1]] = value
        return body

    def make(kind: str, signer: str, body: Json, **kw: Any) -> LogEntry:
        return b.make(kind, acme, signer, body, **{"log_time_ms": later, **kw})

    def reply(verdict: str, *commitments: Json) -> LogEntry:
        return make("provider.reply", acme, example_provider_reply_body(verdict, commitments))

    other_protocol = {"uri": "https://safecheck.example/protocols/canary-hash-v4"}
    other_protocol["digest"] = {"sha256": example_digest(other_protocol["uri"])}  # type: ignore[assignment]
    candidates: list[tuple[str, LogEntry]] = [
        (
            "accept: a test record inside the running engagement",
            make("test.record", v, test(claim3)),
        ),
        (
            "accept: a test record of the second planned method",
            make(
                "test.record",
                v,
                test(
                    claim3,
                    method="reporting_flow_review",
                    protocol=example_engagement_open_body([claim3])["methods"][1]["protocol"],
                ),
            ),
        ),
        (
            "accept: a test record in a country of a two-country claim",
            make("test.record", v, test(claim4, refs["scoped"], environment__jurisdiction="IE")),
        ),
        (
            "accept: a legacy test record, with no engagement",
            make("test.record", v, test(claim3, None)),
        ),
        (
            "accept: the verifier withdraws its running engagement",
            make("engagement.withdraw", v, example_engagement_withdraw_body(running)),
        ),
        (
            "accept: the provider withdraws the running engagement",
            make("engagement.withdraw", acme, example_engagement_withdraw_body(running)),
        ),
        (
            "accept: an engagement whose window starts within the clock skew",
            make(
                "engagement.open",
                v,
                example_engagement_open_body(
                    [claim3], start="2026-12-05T09:55:00Z", end="2026-12-06T10:00:00Z"
                ),
            ),
        ),
        (
            "EngagementError: a test record under the closed engagement",
            make("test.record", v, test(claim3, refs["closed"])),
        ),
        (
            "EngagementError: a test record under the withdrawn engagement",
            make("test.record", v, test(claim3, refs["withdrawn"])),
        ),
        (
            "EngagementError: another verifier records a test under it",
            make("test.record", VERIFIER2, test(claim3)),
        ),
        (
            "EngagementError: a claim version the engagement does not cover",
            make("test.record", v, test(claim4)),
        ),
        (
            "EngagementError: the test window starts before the engagement's",
            make("test.record", v, test(claim3, window__start="2026-11-30T09:00:00Z")),
        ),
        (
            "EngagementError: a method with a protocol not in the plan",
            make("test.record", v, test(claim3, protocol=other_protocol)),
        ),
        (
            "EngagementError: an engagement opened after its window began",
            make(
                "engagement.open",
                v,
                example_engagement_open_body(
                    [claim3], start="2026-12-05T09:49:59Z", end="2026-12-20T10:00:00Z"
                ),
            ),
        ),
        (
            "EngagementError: closed with a verdict not issued under it",
            make(
                "engagement.close",
                v,
                example_engagement_close_body(running, refs["legacyVerdict"]),
            ),
        ),
        (
            "EngagementError: withdraw the closed engagement",
            make("engagement.withdraw", acme, example_engagement_withdraw_body(refs["closed"])),
        ),
        (
            "EngagementError: a verdict under it resting on another engagement's test record",
            make(
                "verdict.issue",
                v,
                example_verdict_body(claim3, [refs["test"]], engagement=running),
            ),
        ),
        (
            "OutOfScopeError: a service the claim does not name",
            make("test.record", v, test(claim3, environment__service="Acme Chat")),
        ),
        (
            "OutOfScopeError: a surface the claim excludes",
            make("test.record", v, test(claim3, environment__surface="dm_e2ee")),
        ),
        (
            "OutOfScopeError: a country outside the claim's jurisdictions",
            make("test.record", v, test(claim4, refs["scoped"], environment__jurisdiction="FR")),
        ),
        (
            "NotAuthorisedError: the provider closes an engagement",
            make("engagement.close", acme, example_engagement_close_body(running, refs["verdict"])),
        ),
        (
            "NotAuthorisedError: another verifier withdraws it",
            make("engagement.withdraw", VERIFIER2, example_engagement_withdraw_body(running)),
        ),
        (
            "NotAuthorisedError: an engagement on a superseded claim version",
            make("engagement.open", v, example_engagement_open_body([refs["claim1"]])),
        ),
        (
            "NotAuthorisedError: the provider opens an engagement",
            make("engagement.open", acme, example_engagement_open_body([claim3])),
        ),
        (
            "DanglingReferenceError: an unknown engagement",
            make("test.record", v, test(claim3, example_digest("no such engagement"))),
        ),
        (
            "DanglingReferenceError: an engagement on an unknown claim",
            make("engagement.open", v, example_engagement_open_body([example_digest("no claim")])),
        ),
        (
            "accept: a reply committing to an action on a contradicted verdict's finding",
            reply(refs["contradicted"], example_commitment("2027-02-01")),
        ),
        (
            "accept: a reply committing to an action on a recommendation",
            reply(refs["verdict"], example_commitment("2027-02-01", 0)),
        ),
        (
            "DanglingReferenceError: a commitment to a recommendation the verdict does not make",
            reply(refs["verdict"], example_commitment("2027-02-01", 1)),
        ),
        (
            "DanglingReferenceError: a commitment to a verdict with recommendations names none",
            reply(refs["verdict"], example_commitment("2027-02-01")),
        ),
        (
            "DanglingReferenceError: a commitment names a recommendation of a contradicted verdict",
            reply(refs["contradicted"], example_commitment("2027-02-01", 0)),
        ),
        (
            "DanglingReferenceError: a commitment to a confirmed verdict (it opened no finding)",
            reply(refs["legacyVerdict"], example_commitment("2027-02-01")),
        ),
        (
            "SchemaError: an engaged test record without notTested",
            make("test.record", v, test(claim3, notTested=_DELETE)),
        ),
    ]
    log_case = _case(
        "the engagement log",
        {"entries": [_raw_entry(e) for e in b.entries]},
        {
            "size": state.size,
            "engagements": {
                d.hex(): {
                    "status": e.status,
                    "verifier": e.verifier,
                    "verdicts": [x.hex() for x in e.verdicts],
                }
                for d, e in sorted(state.engagements.items())
            },
            "findings": [_findings_at(b.entries, at) for at in _FINDINGS_AT],
        },
    )
    cases: list[Json] = [log_case]
    cases += _decided(state, candidates)
    return _doc(
        "Engagements (SPEC §8.2 rule 7): the log of log.json, then a second verifier, a claim "
        "scoped to GB and IE, an engagement with a test record, a verdict and its close, one "
        "withdrawn by the provider, and two left open. The first case is that whole log "
        "(input.entries, raw as a ledger serves them); expect.engagements gives each "
        "engagement's status, verifier and the verdicts issued under it; expect.findings the "
        "provider's findings judged at three times (derived, SPEC §8.2 'Findings'): each "
        "finding's opening verdict, recommendation index (null: an unfavourable verdict's one "
        "finding), status and commitments (due date, overdue), and the counts. Every other case is "
        "one candidate next entry decided alone against the state after the whole log "
        "(candidates are never applied): expect.accept, or error.class (EngagementError, "
        "OutOfScopeError, NotAuthorisedError, DanglingReferenceError, SchemaError) and "
        "error.field.",
        "§3, §8",
        cases,
    )


# -- parties.json: key compromise and party retirement (SPEC §8.2 rule 5) ------------------------

PROVIDER2 = "globex-chat"


def parties_log() -> tuple[LogBuilder, dict[str, Any]]:
    """The log of parties.json: the story log, then two verdicts on claim3 whose keys the
    authority later states compromised (one since an index, one since a time), a provider and a
    verifier retired."""
    b, refs = story_log()
    acme, v, reg = PROVIDER, VERIFIER, "registry"
    claim3 = refs["claim3"]
    b.register(VERIFIER2, "verifier", 8)
    b.accredit(VERIFIER2)
    t_a = b.test(VERIFIER2, acme, claim3)
    v_a_entry = b.append("verdict.issue", acme, VERIFIER2, example_verdict_body(claim3, [t_a]))
    t_b = b.test(v, acme, claim3)
    v_b_entry = b.append("verdict.issue", acme, v, example_verdict_body(claim3, [t_b]))
    revoke_a = example_key_revoke_body(VERIFIER2, _key(8).public_key.key_id)
    revoke_a["compromisedSince"] = {"index": v_a_entry.index}
    b.append("key.revoke", reg, AUTHORITY, revoke_a)
    revoke_b = example_key_revoke_body(v, _key(5).public_key.key_id)
    since = format_timestamp(v_b_entry.log_time_ms)
    revoke_b["compromisedSince"] = {"time": since}
    b.append("key.revoke", reg, AUTHORITY, revoke_b)
    b.append("key.add", reg, AUTHORITY, example_key_add_body(v, 10))
    b.keys[v] = 10
    b.register(PROVIDER2, "provider", 9)
    globex_claim = b.claim(PROVIDER2)
    retire = {"party": PROVIDER2, "reason": "Service closed in all covered countries."}
    b.append("party.retire", reg, AUTHORITY, retire)
    retire = {"party": VERIFIER2, "reason": "Left the accreditation programme."}
    b.append("party.retire", reg, AUTHORITY, retire)
    return b, {
        "claim3": claim3,
        "globexClaim": globex_claim,
        "compromised": {
            str(v_a_entry.index): v_a_entry.index + 3,
            str(v_b_entry.index): v_b_entry.index + 2,
        },
        "since": since,
    }


def _parties() -> bytes:
    b, refs = parties_log()
    state = replay(b.entries)
    acme, v, reg = PROVIDER, VERIFIER, "registry"
    later = b.time_ms + 60_000

    def make(kind: str, stream: str, signer: str, body: Json, **kw: Any) -> LogEntry:
        return b.make(kind, stream, signer, body, **{"log_time_ms": later, **kw})

    key7 = _key(7).public_key.key_id
    key9 = _key(9).public_key.key_id

    def revoke(party: str, key_id: str, since: Json | None) -> Json:
        body = example_key_revoke_body(party, key_id)
        if since is not None:
            body["compromisedSince"] = since
        return body

    def retire(party: str) -> Json:
        return {"party": party, "reason": "Deregistered."}

    size = len(b.entries)
    candidates: list[tuple[str, LogEntry]] = [
        (
            "accept: the authority revokes a key stating it compromised since an index",
            make("key.revoke", reg, AUTHORITY, revoke(acme, key7, {"index": 14})),
        ),
        (
            "accept: the authority revokes a key stating it compromised since a time",
            make("key.revoke", reg, AUTHORITY, revoke(acme, key7, {"time": refs["since"]})),
        ),
        (
            "accept: the authority revokes a key of a retired party",
            make("key.revoke", reg, AUTHORITY, revoke(PROVIDER2, key9, {"index": 22})),
        ),
        (
            "accept: the authority retires a provider",
            make("party.retire", reg, AUTHORITY, retire(acme)),
        ),
        (
            "NotAuthorisedError: a party states its own key compromised",
            make("key.revoke", reg, acme, revoke(acme, key7, {"index": 14})),
        ),
        (
            "NotAuthorisedError: compromised since an index not before the revocation",
            make("key.revoke", reg, AUTHORITY, revoke(acme, key7, {"index": size})),
        ),
        (
            "NotAuthorisedError: compromised since a time after the revocation",
            make(
                "key.revoke",
                reg,
                AUTHORITY,
                revoke(acme, key7, {"time": format_timestamp(later + 1000)}),
            ),
        ),
        (
            "SchemaError: compromisedSince with both an index and a time",
            make(
                "key.revoke",
                reg,
                AUTHORITY,
                revoke(acme, key7, {"index": 14, "time": refs["since"]}),
            ),
        ),
        (
            "SchemaError: compromisedSince with neither",
            make("key.revoke", reg, AUTHORITY, revoke(acme, key7, {})),
        ),
        (
            "SchemaError: compromisedSince index 0 (the genesis is signed by no revocable key)",
            make("key.revoke", reg, AUTHORITY, revoke(acme, key7, {"index": 0})),
        ),
        (
            "NotAuthorisedError: a retired provider signs a claim",
            make("claim.publish", PROVIDER2, PROVIDER2, example_claim_body(), key_no=9),
        ),
        (
            "NotAuthorisedError: a test record on a retired provider's stream",
            make(
                "test.record",
                PROVIDER2,
                v,
                example_test_record_body(refs["globexClaim"]),
            ),
        ),
        (
            "NotAuthorisedError: the party retires itself",
            make("party.retire", reg, acme, retire(acme)),
        ),
        (
            "NotAuthorisedError: the authority retires itself",
            make("party.retire", reg, AUTHORITY, retire(AUTHORITY)),
        ),
        (
            "NotAuthorisedError: retire a retired party",
            make("party.retire", reg, AUTHORITY, retire(PROVIDER2)),
        ),
        (
            "DanglingReferenceError: retire an unknown party",
            make("party.retire", reg, AUTHORITY, retire("nobody-registered")),
        ),
        (
            "NotAuthorisedError: add a key for a retired party",
            make("key.add", reg, AUTHORITY, example_key_add_body(PROVIDER2, 11)),
        ),
        (
            "NotAuthorisedError: accredit a retired verifier",
            make(
                "accreditation.grant", reg, AUTHORITY, example_accreditation_grant_body(VERIFIER2)
            ),
        ),
        (
            "SchemaError: party.retire on a provider's stream",
            make("party.retire", acme, AUTHORITY, retire(acme)),
        ),
    ]
    compromised = {
        str(e.index): state.compromised(e.index, e.log_time_ms, _keyid(e))
        for e in b.entries[1:]
        if state.compromised(e.index, e.log_time_ms, _keyid(e)) is not None
    }
    if compromised != refs["compromised"]:
        raise AssertionError(f"compromised entries: {compromised}")
    retired = {
        p: x.retired_at for p, x in sorted(state.parties.items()) if x.retired_at is not None
    }
    log_case = _case(
        "the log: two compromised keys, two retired parties",
        {"entries": [_raw_entry(e) for e in b.entries]},
        {"size": len(b.entries), "compromised": compromised, "retired": retired},
    )
    cases: list[Json] = [log_case]
    cases += _decided(state, candidates)
    return _doc(
        "Keys and parties (SPEC §8.2 rule 5): the log of log.json, then a second verifier; a test "
        "and a verdict on claim3 by each verifier; the authority revokes the second verifier's "
        "key stating it compromised since the index of its verdict, and the first verifier's key "
        "since the log time of its verdict (then gives it a new key); a second provider with a "
        "claim, retired, and the second verifier retired. The first case is that whole log "
        "(input.entries); expect.compromised maps the index of each entry that reads as not to be "
        "relied on to the index of the revocation that says so, expect.retired each retired "
        "party to the index of its party.retire. Every other case is one candidate next entry "
        "decided alone against the state after the whole log: expect.accept, or error.class and "
        "error.field.",
        "§3, §8",
        cases,
    )


# -- rotation.json: the log key rotated by the authority (SPEC §7.6) -----------------------------

ROTATION_FROM = 15
"""The first tree size the rotated key (example key 12) signs in rotation.json."""


def rotation_log() -> LogBuilder:
    """The log of rotation.json: the story log (13 entries); at index 13 the authority rotates the
    log key to example key 12 from size 15; a claim (14) and a test (15, 16); at index 17 a second
    rotation, to example key 13 from size 25, still pending at the log's size 18."""
    b, refs = story_log()
    b.append(
        "log.key.rotate", "registry", AUTHORITY, example_log_key_rotate_body(12, ROTATION_FROM)
    )
    claim = b.claim(PROVIDER, "report.authority")
    b.test(VERIFIER, PROVIDER, refs["claim3"])
    b.test(VERIFIER, PROVIDER, claim)
    b.append("log.key.rotate", "registry", AUTHORITY, example_log_key_rotate_body(13, 25))
    return b


def _rotation() -> bytes:
    b = rotation_log()
    entries = b.entries
    state = replay(entries)
    tree = b.tree()
    size = tree.size
    reg, acme = "registry", PROVIDER
    old, new, pending = (NoteSigner(ORIGIN, _key(n)) for n in (2, 12, 13))

    def note(n: int, signer: NoteSigner) -> bytes:
        return sign_checkpoint(Checkpoint(ORIGIN, n, tree.root(n)), signer)

    periods = [
        {"fromSize": p.from_size, "index": p.index, "vkey": NoteSigner(ORIGIN, k).verifier.vkey()}
        for p, k in zip(state.log_keys, (_key(2), _key(12), _key(13)), strict=True)
    ]
    if [p.key for p in state.log_keys] != [_key(n).public_key for n in (2, 12, 13)]:
        raise AssertionError("the log keys are not example keys 2, 12 and 13")
    handover = ROTATION_FROM - 1
    key_at = {}
    for n in (1, 13, handover, ROTATION_FROM, size, 24, 25):
        key = state.log_key_at(n)
        if key != _key(2 if n < ROTATION_FROM else 12 if n < 25 else 13).public_key:
            raise AssertionError(f"the log key at size {n}")
        key_at[str(n)] = NoteVerifier.for_key(ORIGIN, key).vkey()
    log_case = _case(
        "the log: a rotation in force from size 15, a second one pending",
        {"entries": [_raw_entry(e) for e in entries]},
        {
            "size": size,
            "root": tree.root().hex(),
            "logKeys": periods,
            "keyAt": key_at,
            "checkpoint": note(size, new).decode(),
            "handoverCheckpoint": note(handover, old).decode(),
            "consistencyProof": [x.hex() for x in tree.consistency_proof(handover, size)],
        },
    )
    cases: list[Json] = [log_case]
    checkpoints = [
        ("accept: the hand-over checkpoint (size 14, covers the rotation) by the old key", 14, old),
        ("accept: a checkpoint before the rotation by the old key", 13, old),
        ("accept: the first checkpoint by the new key", ROTATION_FROM, new),
        ("accept: the whole log by the new key (the second rotation is pending)", size, new),
        ("CheckpointError: the old key signs a checkpoint from fromSize on", ROTATION_FROM, old),
        ("CheckpointError: the old key signs the whole log", size, old),
        ("CheckpointError: the new key signs a checkpoint before fromSize", handover, new),
        ("CheckpointError: the pending key signs the whole log before its fromSize", size, pending),
    ]
    for name, n, signer in checkpoints:
        text = note(n, signer)
        input_: Json = {"checkpoint": text.decode()}
        if name.startswith("accept"):
            cp = verify_log_checkpoint(text, state)
            cases.append(_case(name, input_, {"size": cp.size, "root": cp.root.hex()}))
            continue
        case = _refused(
            name, input_, name.split(": ", 1)[1], partial(verify_log_checkpoint, text, state)
        )
        if case["error"]["class"] != "CheckpointError":
            raise AssertionError(f"{name}: {case['error']}")
        cases.append(case)
    later = b.time_ms + 60_000

    def make(kind: str, stream: str, signer: str, body: Json, **kw: Any) -> LogEntry:
        return b.make(kind, stream, signer, body, **{"log_time_ms": later, **kw})

    rotate = example_log_key_rotate_body
    no_key = {"fromSize": 30}
    candidates: list[tuple[str, LogEntry]] = [
        (
            "accept: a claim signed after the rotation",
            make("claim.publish", acme, acme, example_claim_body()),
        ),
        (
            "NotAuthorisedError: a second rotation while one is pending",
            make("log.key.rotate", reg, AUTHORITY, rotate(14, 30)),
        ),
        (
            "NotAuthorisedError: fromSize not greater than the size once the rotation is logged",
            make("log.key.rotate", reg, AUTHORITY, rotate(14, size + 1)),
        ),
        (
            "NotAuthorisedError: a provider rotates the log key",
            make("log.key.rotate", reg, acme, rotate(14, 30)),
        ),
        (
            "NotAuthorisedError: a party registers a log key (the retired one)",
            make(
                "party.register",
                reg,
                AUTHORITY,
                example_party_register_body("new-party", keys=(2,)),
            ),
        ),
        (
            "NotAuthorisedError: a party adds the pending log key",
            make("key.add", reg, acme, example_key_add_body(acme, 13)),
        ),
        (
            "SchemaError: fromSize 1",
            make("log.key.rotate", reg, AUTHORITY, rotate(14, 1)),
        ),
        ("SchemaError: no key", make("log.key.rotate", reg, AUTHORITY, no_key)),
        (
            "SchemaError: log.key.rotate on a provider's stream",
            make("log.key.rotate", acme, AUTHORITY, rotate(14, 30)),
        ),
    ]
    cases += _decided(state, candidates)
    # A rotation whose key is already a log key or a party's: decided on a log without the
    # pending rotation (otherwise the pending rule would decide first).
    before = LogState()
    for e in entries[:-1]:
        before.admit(before.open(e))
    for name, body in (
        ("NotAuthorisedError: rotate to the log key in force", rotate(12, 30)),
        ("NotAuthorisedError: rotate back to the retired log key", rotate(2, 30)),
        ("NotAuthorisedError: rotate to a party's key", rotate(3, 30)),
    ):
        head, length = before.head(reg)
        entry = b.make(
            "log.key.rotate",
            reg,
            AUTHORITY,
            body,
            index=size - 1,
            position=length,
            prev=head,
            log_time_ms=later,
        )

        def decide_before(e: LogEntry = entry) -> None:
            before.check(before.open(e))

        case = _refused(
            name,
            {"entry": _raw_entry(entry), "prefix": size - 1},
            name.split(": ", 1)[1],
            decide_before,
        )
        if case["error"]["class"] != name.split(":")[0]:
            raise AssertionError(f"{name}: got {case['error']['class']}: {case['error']}")
        cases.append(case)
    return _doc(
        "Log key rotation (SPEC §7.6, §8.2 rule 5): the log of log.json, then the authority's "
        "log.key.rotate to example key 12 from size 15 (index 13), a claim and two test records, "
        "and a second rotation to example key 13 from size 25 (index 17), pending at the log's "
        "size 18. The first case is that whole log (input.entries); expect.logKeys lists each log "
        "key (vkey) with the size it signs from and the index of the entry that named it, "
        "expect.keyAt the vkey in force at some sizes, expect.checkpoint the whole log signed by "
        "the key in force, expect.handoverCheckpoint the checkpoint of size 14 (the last the old "
        "key signs, covering the rotation) and expect.consistencyProof the proof from it to the "
        "whole log. Cases with input.checkpoint are checkpoint notes verified against the state "
        "after the whole log: expect.size and expect.root, or error.class. Cases with input.entry "
        "are candidate next entries decided alone against the state after the whole log, or, "
        "with input.prefix, after its first prefix entries: expect.accept, or error.class and "
        "error.field.",
        "§3, §7.6, §8",
        cases,
    )


# -- datasets.json: reference datasets and open-data dumps (SPEC §8.2 rule 5, §8.4) ---------------

# Each provider of the datasets log and how its report.authority claim (if any) meets the table.
_RECON_PROVIDERS: tuple[tuple[str, int, list[str] | None, tuple[str, str], str, int | str], ...] = (
    # party, key, recipients (None: no claim), metric period, metric unit, metric value
    ("globex-chat", 21, ["NCMEC"], ("2025-01-01", "2025-12-31"), "reports", 5000),
    ("initech-video", 22, ["NCMEC", "IWF"], ("2025-01-01", "2025-12-31"), "reports", "900"),
    ("hooli-cloud", 23, ["IWF"], ("2025-01-01", "2025-12-31"), "reports", 40),
    ("pied-piper", 24, ["NCMEC"], ("2025-01-01", "2025-06-30"), "reports", 70),
    ("vandelay-imports", 25, None, ("2025-01-01", "2025-12-31"), "reports", 0),
    ("wayne-media", 26, ["NCMEC"], ("2025-01-01", "2025-12-31"), "reports", 8),
)


def _recon_claim(
    recipients: list[str], period: tuple[str, str], unit: str, value: int | str
) -> Json:
    body = example_claim_body("report.authority")
    body["details"] = {"recipients": recipients}
    body["metrics"] = [
        {
            "name": "cybertipline_reports",
            "period": {"start": period[0], "end": period[1]},
            "value": value,
            "unit": unit,
            "method": "Reports filed with the recipient, as counted by our reporting pipeline.",
        }
    ]
    return body


def _recon_rows(globex: int) -> list[Json]:
    return [
        {"listedAs": "Acme Social, Inc.", "count": 310, "party": PROVIDER},
        {"listedAs": "Globex Chat Ltd", "count": globex, "party": "globex-chat"},
        {"listedAs": "Initech Video", "count": 1200, "party": "initech-video"},
        {"listedAs": "Hooli Cloud Storage", "count": 40, "party": "hooli-cloud"},
        {"listedAs": "Pied Piper", "count": 70, "party": "pied-piper"},
        {"listedAs": "Vandelay Industries", "count": 3, "party": "vandelay-imports"},
        {"listedAs": "An Unregistered Forum", "count": 17},
    ]


def datasets_log() -> tuple[LogBuilder, dict[str, Any]]:
    """The log of datasets.json: the story log; providers each with a report.authority claim
    meeting the table a different way; acme reports pieces; the authority logs a table with a
    typo, then its correction (which replaces it), and one open-data dump."""
    b, _refs = story_log()
    reg = "registry"
    claims: dict[str, list[tuple[LogEntry, Json]]] = {PROVIDER: []}
    acme = _recon_claim(["NCMEC"], ("2025-01-01", "2025-12-31"), "pieces", 310)
    claims[PROVIDER].append((b.append("claim.publish", PROVIDER, PROVIDER, acme), acme))
    for party, key_no, recipients, period, unit, value in _RECON_PROVIDERS:
        b.register(party, "provider", key_no)
        claims[party] = []
        if recipients is not None:
            body = _recon_claim(recipients, period, unit, value)
            claims[party].append((b.append("claim.publish", party, party, body), body))
    typo = b.append(
        "reference.publish", reg, AUTHORITY, example_reference_publish_body(_recon_rows(4999))
    )
    fixed = b.append(
        "reference.publish", reg, AUTHORITY, example_reference_publish_body(_recon_rows(5000))
    )
    dump = b.append(
        "dump.publish", reg, AUTHORITY, example_dump_publish_body("2026-11-19", typo.index)
    )
    return b, {"claims": claims, "typo": typo, "fixed": fixed, "dump": dump}


def _datasets() -> bytes:
    from attest.reconcile import current_datasets, reconcile

    b, refs = datasets_log()
    state = replay(b.entries)
    reg = "registry"
    later = b.time_ms + 60_000
    size = len(b.entries)

    def make(kind: str, stream: str, signer: str, body: Json, **kw: Any) -> LogEntry:
        return b.make(kind, stream, signer, body, **{"log_time_ms": later, **kw})

    logged: list[tuple[str, ReferencePublish]] = []
    for e in (refs["typo"], refs["fixed"]):
        body = parse_statement(json.loads(Envelope.parse_stored(e.envelope).payload)).body
        if not isinstance(body, ReferencePublish):
            raise AssertionError("not a reference.publish")
        logged.append((digest(e), body))
    current = current_datasets(logged)
    if [d for d, _ in current] != [digest(refs["fixed"])]:
        raise AssertionError("the correction does not replace the typo")
    table = current[0][1]
    recon = {}
    for party, cs in sorted(refs["claims"].items()):
        mine = [(digest(e), Claim.from_dict(body)) for e, body in cs]
        recon[party] = reconcile(table, party, mine).to_dict()
    statuses = {r["status"] if r["reason"] is None else r["reason"] for r in recon.values()}
    if statuses != {
        "consistent",
        "inconsistent",
        "no_row",
        "no_claim",
        "recipient",
        "period",
        "unit",
    }:
        raise AssertionError(f"datasets.json does not cover every outcome: {statuses}")
    rows = _recon_rows(5000)
    two = [*rows, {**rows[1], "listedAs": "Globex Chat (again)"}]
    same_name = [*rows, {"listedAs": rows[0]["listedAs"], "count": 1}]
    files = example_dump_publish_body("2026-11-20", size - 1)
    files["files"].append(dict(files["files"][0]))
    candidates: list[tuple[str, LogEntry]] = [
        (
            "accept: the authority logs another dataset (pieces)",
            make(
                "reference.publish", reg, AUTHORITY, example_reference_publish_body(unit="pieces")
            ),
        ),
        (
            "accept: the authority logs the dump of the next day, cut at the log's size",
            make("dump.publish", reg, AUTHORITY, example_dump_publish_body("2026-11-20", size)),
        ),
        (
            "NotAuthorisedError: a provider signs a reference dataset",
            make("reference.publish", reg, PROVIDER, example_reference_publish_body()),
        ),
        (
            "NotAuthorisedError: a verifier signs a dump",
            make("dump.publish", reg, VERIFIER, example_dump_publish_body("2026-11-20", size)),
        ),
        (
            "NotAuthorisedError: a second dump for a date already logged",
            make("dump.publish", reg, AUTHORITY, example_dump_publish_body("2026-11-19", size)),
        ),
        (
            "NotAuthorisedError: a dump cut at a size after its own index",
            make("dump.publish", reg, AUTHORITY, example_dump_publish_body("2026-11-21", size + 1)),
        ),
        (
            "SchemaError: two rows map the same party",
            make("reference.publish", reg, AUTHORITY, example_reference_publish_body(two)),
        ),
        (
            "SchemaError: two rows list the same name",
            make("reference.publish", reg, AUTHORITY, example_reference_publish_body(same_name)),
        ),
        (
            "SchemaError: a unit that is not reports, pieces or accounts",
            make(
                "reference.publish", reg, AUTHORITY, example_reference_publish_body(unit="images")
            ),
        ),
        (
            "SchemaError: two files of a dump share a name",
            make("dump.publish", reg, AUTHORITY, files),
        ),
        (
            "SchemaError: reference.publish on a provider's stream",
            make("reference.publish", PROVIDER, AUTHORITY, example_reference_publish_body()),
        ),
    ]
    log_case = _case(
        "the log: a table, its correction, one dump",
        {"entries": [_raw_entry(e) for e in b.entries]},
        {
            "size": size,
            "datasets": [digest(refs["fixed"])],
            "dumps": dict(sorted(state.dumps.items())),
            "reconciliations": recon,
        },
    )
    cases: list[Json] = [log_case, *_decided(state, candidates)]
    return _doc(
        "Authority datasets (SPEC §8.2 rule 5, §8.4): the log of log.json, then acme-social "
        "reports pieces in a new report.authority claim; six more providers, five with a "
        "report.authority claim; the authority logs a reference table of CyberTipline reports "
        "for 2025 with a typo in one row, then the corrected table (same dataset, recipient, unit "
        "and period: it replaces the first), and the open-data dump of 2026-11-19. The first case "
        "is that whole log: expect.datasets the digests of the current tables, expect.dumps each "
        "dump's date and index, expect.reconciliations each provider's comparison with the "
        "current table (§8.4: status, reason, listedAs, count, reported). Every other case is one "
        "candidate next entry decided alone against the state after the whole log: expect.accept, "
        "or error.class and error.field.",
        "§3, §8",
        cases,
    )


def _keyid(e: LogEntry) -> str:
    return Envelope.parse_stored(e.envelope).signature.keyid


def _open(text: str, key: PublicKey) -> object:
    return open_envelope(Envelope.parse_stored(text.encode()), key)


def _place(e: LogEntry) -> tuple[int, str, int, int]:
    return e.index, e.stream, e.position, e.log_time_ms


# -- 10. the state commitment (SPEC §11) and bundles (§10) --------------------------------------


def _map_proof_json(proof: MapProof) -> Json:
    leaf = proof.leaf
    return {
        "siblings": [_b64(x) for x in proof.siblings],
        "leaf": None if leaf is None else {"key": leaf.key.hex(), "value": leaf.value.hex()},
    }


def _statemap(b: LogBuilder) -> bytes:
    cases: list[Json] = []
    for kind, ident in ((KEY_STREAM, "registry"), (KEY_STREAM, PROVIDER), (KEY_PARTY, PROVIDER)):
        preimage = b"claimledger:v2:map-key\x00" + bytes((kind,)) + ident.encode()
        cases.append(
            _case(
                f"map key: type {kind} {ident}",
                {"type": kind, "id": ident},
                {"preimageHex": preimage.hex(), "key": map_key(kind, ident).hex()},
            )
        )
    cases.append(
        _case(
            "record bytes",
            {"count": 3, "lastIndex": 2**40 + 5, "digest": bytes(range(32)).hex()},
            {"value": Record(3, 2**40 + 5, bytes(range(32))).to_bytes().hex()},
        )
    )
    f1 = fold(FOLD_START, bytes(range(32)))
    cases.append(
        _case(
            "party fold of two entry hashes",
            {"entryHashes": [bytes(range(32)).hex(), bytes(range(32, 64)).hex()]},
            {"folds": [f1.hex(), fold(f1, bytes(range(32, 64))).hex()]},
        )
    )
    # Small maps: the root of every prefix of a fixed list of pairs, and the same set inserted
    # in reverse order (the root depends on the set only).
    pairs = [(map_key(KEY_STREAM, f"s{i}"), Record(i + 1, i, bytes([i]) * 32)) for i in range(6)]
    roots = [StateMap.build((k, v.to_bytes()) for k, v in pairs[:n]).root() for n in range(7)]
    reverse = StateMap.build((k, v.to_bytes()) for k, v in reversed(pairs)).root()
    if reverse != roots[-1]:
        raise AssertionError("the map root depends on insertion order")
    cases.append(
        _case(
            "map roots of growing sets",
            {"pairs": [{"key": k.hex(), "value": v.to_bytes().hex()} for k, v in pairs]},
            {"roots": [r.hex() for r in roots], "emptyRoot": EMPTY.hex()},
        )
    )
    # The story log's state after every entry, and proofs against the last.
    final = b.commitment.map
    roots_after = [(e.state_root or b"").hex() for e in b.entries]
    records = []
    for kind, name in ((KEY_STREAM, "stream"), (KEY_PARTY, "party")):
        for ident in ("registry", PROVIDER, VERIFIER, AUTHORITY, "nobody-here"):
            if kind == KEY_PARTY and ident == "registry":
                continue
            k = map_key(kind, ident)
            value = final.get(k)
            proof = final.prove(k)
            if verify_map_proof(final.root(), k, proof) != value:
                raise AssertionError("a map proof does not verify")
            records.append(
                {
                    "kind": name,
                    "id": ident,
                    "key": k.hex(),
                    "value": None if value is None else value.hex(),
                    "proof": _map_proof_json(proof),
                }
            )
    cases.append(
        _case(
            "the state of the log of log.json",
            {"entries": "log.json"},
            {"stateRoots": roots_after, "root": final.root().hex(), "records": records},
        )
    )
    # Refused map proofs: each against the final root, for acme-social's stream key.
    k = map_key(KEY_STREAM, PROVIDER)
    good = final.prove(k)
    if good.leaf is None:
        raise AssertionError("acme-social has a stream")
    flipped = bytearray(good.siblings[0])
    flipped[0] ^= 1
    other = next(r for r in records if r["value"] is not None and r["key"] != k.hex())
    bad = [
        ("a flipped sibling", MapProof((bytes(flipped), *good.siblings[1:]), good.leaf)),
        ("a changed value", MapProof(good.siblings, MapLeaf(good.leaf.key, bytes(48)))),
        ("a sibling dropped", MapProof(good.siblings[:-1], good.leaf)),
        ("an empty end instead of the leaf", MapProof(good.siblings, None)),
        (
            "another key's leaf off the path",
            MapProof(
                good.siblings,
                MapLeaf(bytes.fromhex(str(other["key"])), bytes.fromhex(str(other["value"]))),
            ),
        ),
    ]
    for name, proof in bad:
        cases.append(
            _refused(
                f"map proof: {name}",
                {"root": final.root().hex(), "key": k.hex(), "proof": _map_proof_json(proof)},
                "the proof does not verify",
                partial(verify_map_proof, final.root(), k, proof),
            )
        )
    # The bundle of acme-social at the whole log, and the same bundle cut short.
    signer = log_signer()
    bundle = b.bundle(PROVIDER, signer)
    record = verify_bundle(bundle.to_bytes())
    statements = record.statements()
    cases.append(
        _case(
            "bundle",
            {"bundle": bundle.to_bytes().decode("utf-8")},
            {
                "size": record.checkpoint.size,
                "streamLength": record.stream_length,
                "indexes": [p.index for p in record.entries],
                "companyKinds": [p.signed.statement.kind for p in statements],
            },
        )
    )
    last = max(e.index for e in bundle.entries if e.stream == PROVIDER)
    revoke = next(
        e.index
        for e in bundle.entries
        if e.stream == "registry" and b'"kind":"key.revoke"' in _payload(e.envelope)
    )
    cut = [
        ("the company's last entry left out", _drop(bundle, {last})),
        ("the provider's key revocation left out", _drop(bundle, {revoke})),
        (
            "the verifier's record left out",
            dataclasses.replace(
                bundle,
                state=dataclasses.replace(
                    bundle.state,
                    records=tuple(r for r in bundle.state.records if r.ident != VERIFIER),
                ),
            ),
        ),
        (
            "an older state proof with the newest checkpoint",
            dataclasses.replace(
                bundle, state=b.bundle(PROVIDER, signer, size=len(b.entries) - 1).state
            ),
        ),
    ]
    for name, damaged in cut:
        data = damaged.to_bytes()
        cases.append(
            _refused(
                f"bundle: {name}",
                {"bundle": data.decode("utf-8")},
                "the record is not whole at the checkpoint",
                partial(verify_bundle, data),
            )
        )
    return _doc(
        "The state commitment (§11) and evidence bundles (§10). Map keys, record values and "
        "party folds; roots of small maps; the state root after every entry of the log of "
        "log.json, its final root and the proof (siblings base64, leaf key and value hex) of "
        "each stream and party record, and of absent ones; refused map proofs; the bundle of "
        "acme-social at the whole log (the bundle file as text) and refused bundles cut short.",
        "§10, §11",
        cases,
    )


def _payload(envelope: bytes) -> bytes:
    return Envelope.parse_stored(envelope).payload


def _drop(bundle: Bundle, indexes: set[int]) -> Bundle:
    return dataclasses.replace(
        bundle, entries=tuple(e for e in bundle.entries if e.index not in indexes)
    )


# -- driver --------------------------------------------------------------------------------------


def build() -> dict[str, bytes]:
    """Every vector file's name and exact bytes."""
    b, refs = story_log()
    log_doc, _note = _log(b)
    log_tree = b.tree()
    files = {
        "canonical.json": _canonical(),
        "keys.json": _keys(),
        "dsse.json": _dsse(),
        "entry.json": _entry(b.entries),
        "merkle.json": _merkle(),
        "checkpoint.json": _checkpoint(log_tree.root(), log_tree.size),
        "statements.json": _statements(),
        "log.json": log_doc,
        "rules.json": _rules(b, refs),
        "statemap.json": _statemap(b),
        "engagements.json": _engagements(),
        "parties.json": _parties(),
        "rotation.json": _rotation(),
        "accreditations.json": _accreditations(),
        "datasets.json": _datasets(),
    }
    if tuple(files) != FILES:
        raise AssertionError("FILES is out of date")
    return files


# -- accreditations.json: disclosures and contiguous periods (SPEC §8.2, issue 17 §3) -----------

VERIFIER3 = "gapcheck-audit"


def accreditation_log() -> tuple[LogBuilder, dict[str, str]]:
    """The log of accreditations.json: the story log, then a verifier whose first grant (with
    every disclosure, backdated by validFrom) ends on 2026-12-31 and whose second, logged before
    that, starts on 2027-01-10: a gap of ten days. It records a test and issues a verdict on
    acme's claim inside the first period, in the gap (the rules accept it: they read the latest
    grant's validUntil), and inside the second period."""
    b, refs = story_log()
    acme, v3, reg = PROVIDER, VERIFIER3, "registry"
    claim = refs["claim3"]
    b.register(v3, "verifier", 11)
    first = {
        **example_accreditation_grant_body(v3),
        **example_disclosures("2026-11-01T00:00:00Z"),
        "validUntil": "2026-12-31T00:00:00Z",
    }
    b.append("accreditation.grant", reg, AUTHORITY, first)
    second = {
        **example_accreditation_grant_body(v3),
        "validFrom": "2027-01-10T00:00:00Z",
        "accreditingBody": "National Accreditation Service (example)",
    }
    b.append("accreditation.grant", reg, AUTHORITY, second, log_time_ms=_at("2026-12-20T00:00:00Z"))
    out = dict(refs)
    for name, at in (
        ("inFirst", "2026-12-25T10:00:00Z"),
        ("inGap", "2027-01-05T10:00:00Z"),
        ("inSecond", "2027-01-15T10:00:00Z"),
    ):
        test = b.append(
            "test.record", acme, v3, example_test_record_body(claim), log_time_ms=_at(at)
        )
        verdict = example_verdict_body(claim, [digest(test)])
        out[name] = digest(b.append("verdict.issue", acme, v3, verdict))
    return b, out


def _accreditations() -> bytes:
    from ledger import Views

    b, refs = accreditation_log()
    state, views = LogState(), Views()
    for e in b.entries:
        placed = state.open(e)
        state.admit(placed)
        views.apply(placed)
    record = views.verifier(VERIFIER3, at_ms=b.time_ms)
    if record is None:
        raise AssertionError("the verifier is registered")
    current = {
        v.digest.hex(): why is None for v, why in zip(record.verdicts, record.outside, strict=True)
    }
    if current != {refs["inFirst"]: True, refs["inGap"]: False, refs["inSecond"]: True}:
        raise AssertionError(f"unexpected readings: {current}")
    gap_size = 1 + next(e.index for e in b.entries if digest(e) == refs["inGap"])
    claim3 = bytes.fromhex(refs["claim3"])
    statuses = {
        str(size): views.replay(PROVIDER, size=size, at_ms=b.time_ms).claim(claim3).public_status
        for size in (gap_size, state.size)
    }
    case = _case(
        "the accreditation log",
        {"entries": [_raw_entry(e) for e in b.entries]},
        {
            "size": state.size,
            "verifier": VERIFIER3,
            "periods": [
                {
                    "start": format_timestamp(a.start_ms),
                    "end": None if a.end_ms is None else format_timestamp(a.end_ms),
                }
                for a in record.accreditations
            ],
            "gaps": [
                {"from": format_timestamp(x), "to": format_timestamp(y)} for x, y in record.gaps
            ],
            "current": current,
            "claim": refs["claim3"],
            "claimStatusAtSize": statuses,
        },
    )
    return _doc(
        "Accreditation periods (SPEC §8.2, 'accreditation periods'; issue 17 §3): the log of "
        "log.json, then a verifier granted twice, with disclosures: its first period runs from "
        "its validFrom to 2026-12-31, its second from 2027-01-10 (logged before: the rules read "
        "the latest grant's validUntil and accept the verdict made in between). expect.periods "
        "gives each grant's period (start: validFrom, else the grant's log time; end: "
        "validUntil or the suspension, null when open-ended), expect.gaps the stretches no "
        "period covers, expect.current whether each verdict of the verifier counts as current "
        "(made inside a period), and claimStatusAtSize the public status of the claim version "
        "they judge at two log sizes: just after the verdict made in the gap (unverified: it "
        "confirms nothing) and after the whole log. The browser replays the log (every entry "
        "accepted).",
        "§3, §8",
        [case],
    )


def main(argv: list[str] | None = None) -> int:
    """Write the vector file(s), or with ``--check`` report whether they are up to date."""
    description = __doc__.splitlines()[0] if __doc__ else None
    return write_or_check(build, VECTORS_DIR, argv, description, exclusive=True)


if __name__ == "__main__":
    sys.exit(main())
