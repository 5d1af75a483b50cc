"""DSSE v1 envelopes: PAE, signing, strict parsing and the one stored form (docs/SPEC.md §4).

The signature covers ``PAE(payloadType, payload)``; it is checked before the payload is parsed.
On input, base64 may be standard or URL-safe, with or without padding; the stored form is always
canonical JSON with standard padded base64. Only that unsigned wrapper is normalised: the payload
and signature bytes are kept exactly as received.

:meth:`Envelope.parse_stored` reads bytes that are exactly a stored form directly (orjson, then
the envelope's own re-encoding must equal the input); anything else takes the strict path,
:meth:`Envelope.parse` and that same comparison, which decides and words the error.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass
from typing import Any

import orjson

from attest import canonical
from attest._members import members, string
from attest.errors import EncodingError, SignatureError
from keys import KeyId, PrivateKey, PublicKey
from keys.errors import InvalidSignatureError

__all__ = [
    "MAX_ENVELOPE_BYTES",
    "PAYLOAD_TYPE",
    "Envelope",
    "Signature",
    "b64decode_lenient",
    "pae",
    "sign_envelope",
]

PAYLOAD_TYPE = "application/vnd.claimledger.statement.v1+json"
"""The only payload type claimledger accepts."""

MAX_ENVELOPE_BYTES = 256 * 1024
"""Envelopes larger than this are refused before they are parsed."""

_B64_STD = re.compile(r"[A-Za-z0-9+/]*={0,2}")
_B64_URL = re.compile(r"[A-Za-z0-9_-]*={0,2}")
_KEYID = re.compile(r"[0-9a-f]{64}")


def pae(payload_type: str, payload: bytes) -> bytes:
    """DSSE v1 Pre-Authentication Encoding; lengths are byte lengths in ASCII decimal."""
    t = payload_type.encode("utf-8")
    return b"DSSEv1 %d %s %d %s" % (len(t), t, len(payload), payload)


def b64decode_lenient(text: str, *, field: str) -> bytes:
    """Decode standard or URL-safe base64, padded or not, refusing everything else.

    Refused: other characters (whitespace included), a mix of both alphabets, impossible lengths,
    wrong padding and non-zero unused trailing bits (so each byte string has one encoding per
    alphabet and padding choice).

    Raises:
        EncodingError: the text is not base64 of one of the accepted forms.
    """
    if _B64_STD.fullmatch(text):
        std = text
    elif _B64_URL.fullmatch(text):
        std = text.replace("-", "+").replace("_", "/")
    else:
        raise EncodingError("not base64 (standard or URL-safe alphabet)", field=field)
    bare = std.rstrip("=")
    if "=" in std and len(std) % 4 != 0:
        raise EncodingError("base64 has wrong padding", field=field)
    if len(bare) % 4 == 1:
        raise EncodingError("base64 has an impossible length", field=field)
    try:
        raw = base64.b64decode(bare + "=" * (-len(bare) % 4), validate=True)
    except binascii.Error as exc:
        raise EncodingError(f"bad base64: {exc}", field=field) from exc
    if base64.b64encode(raw).decode("ascii").rstrip("=") != bare:
        raise EncodingError("base64 has non-zero trailing bits", field=field)
    return raw


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


@dataclass(frozen=True, slots=True)
class Signature:
    """One DSSE signature: the signer's key id and the 64 signature bytes."""

    keyid: KeyId
    sig: bytes


@dataclass(frozen=True, slots=True)
class Envelope:
    """A DSSE v1 envelope holding one claimledger statement.

    Build one with :meth:`parse` (untrusted bytes) or :func:`sign_envelope`. Construction checks
    the invariants: the claimledger payload type and exactly one signature.
    """

    payload_type: str
    payload: bytes
    signatures: tuple[Signature, ...]

    def __post_init__(self) -> None:
        if self.payload_type != PAYLOAD_TYPE:
            raise EncodingError(
                f"payloadType must be {PAYLOAD_TYPE!r}, not {self.payload_type!r}",
                field="/payloadType",
            )
        if len(self.signatures) != 1:
            raise EncodingError(
                f"an envelope carries exactly one signature, not {len(self.signatures)}",
                field="/signatures",
            )

    @property
    def signature(self) -> Signature:
        """The envelope's only signature."""
        return self.signatures[0]

    @classmethod
    def parse(cls, data: bytes) -> Envelope:
        """Parse untrusted envelope bytes strictly (any JSON layout; DSSE base64 variants).

        Raises:
            EncodingError: too large, not UTF-8 JSON, duplicate or unknown members, wrong types,
                bad base64, wrong payload type, or not exactly one signature.
        """
        if len(data) > MAX_ENVELOPE_BYTES:
            raise EncodingError(f"envelope is larger than {MAX_ENVELOPE_BYTES} bytes")
        try:
            obj = json.loads(data.decode("utf-8"), object_pairs_hook=_no_duplicates)
        except UnicodeDecodeError as exc:
            raise EncodingError("envelope is not UTF-8") from exc
        except ValueError as exc:
            raise EncodingError(f"envelope is not valid JSON: {exc}") from exc
        except RecursionError as exc:  # nesting deep enough to exhaust the parser's stack
            raise EncodingError("envelope is not valid JSON: nested too deeply") from exc
        obj = members(obj, "", {"payload", "payloadType", "signatures"})
        payload_type = string(obj["payloadType"], "/payloadType")
        payload = b64decode_lenient(string(obj["payload"], "/payload"), field="/payload")
        sigs = obj["signatures"]
        if not isinstance(sigs, list):
            raise EncodingError("signatures must be an array", field="/signatures")
        parsed: list[Signature] = []
        for i, item in enumerate(sigs):
            where = f"/signatures/{i}"
            s = members(item, where, {"keyid", "sig"})
            keyid = string(s["keyid"], where + "/keyid")
            if not _KEYID.fullmatch(keyid):
                raise EncodingError("keyid must be 64 lowercase hex characters", field=where)
            sig = b64decode_lenient(string(s["sig"], where + "/sig"), field=where + "/sig")
            if len(sig) != 64:
                raise EncodingError(f"signature must be 64 bytes, not {len(sig)}", field=where)
            parsed.append(Signature(KeyId(keyid), sig))
        return cls(payload_type, payload, tuple(parsed))

    @classmethod
    def parse_stored(cls, data: bytes) -> Envelope:
        """Parse an envelope that must be in the stored (canonical) form.

        Raises:
            EncodingError: as :meth:`parse`, or the bytes are not exactly the stored form.
        """
        if type(data) is bytes:
            fast = _parse_stored_fast(cls, data)
            if fast is not None:
                return fast
        env = cls.parse(data)
        if env.to_bytes() != data:
            raise EncodingError("stored envelope is not in its canonical stored form")
        return env

    def to_dict(self) -> dict[str, Any]:
        """The envelope as a JSON object with standard padded base64."""
        return {
            "payload": _b64(self.payload),
            "payloadType": self.payload_type,
            "signatures": [{"keyid": s.keyid, "sig": _b64(s.sig)} for s in self.signatures],
        }

    def to_bytes(self) -> bytes:
        """The stored form: canonical JSON (docs/SPEC.md §1) of :meth:`to_dict`."""
        return canonical.encode(self.to_dict())

    def pae(self) -> bytes:
        """The bytes the signature covers."""
        return pae(self.payload_type, self.payload)

    def verify(self, key: PublicKey) -> bytes:
        """Verify the signature with ``key`` and return the (still unparsed) payload bytes.

        Raises:
            SignatureError: the key id does not match ``key`` or the signature does not verify.
        """
        sig = self.signature
        if sig.keyid != key.key_id:
            raise SignatureError(
                f"signature key id {sig.keyid} does not match key {key.key_id}",
                field="/signatures/0/keyid",
            )
        try:
            key.verify(sig.sig, self.pae())
        except InvalidSignatureError as exc:
            raise SignatureError(
                f"signature by key {sig.keyid} does not verify: {exc}",
                field="/signatures/0/sig",
            ) from exc
        return self.payload


def sign_envelope(payload: bytes, key: PrivateKey) -> Envelope:
    """Sign canonical statement bytes into an envelope."""
    pub = key.public_key
    sig = key.sign(pae(PAYLOAD_TYPE, payload))
    return Envelope(PAYLOAD_TYPE, payload, (Signature(pub.key_id, sig),))


def _parse_stored_fast(cls: type[Envelope], data: bytes) -> Envelope | None:
    """The envelope of ``data`` if ``data`` is exactly a stored form, else ``None`` (and then
    :meth:`Envelope.parse_stored`'s strict path decides, and words any error).

    It accepts only what the strict path accepts, with an equal envelope: it returns ``env`` only
    when ``env.to_bytes() == data``, the strict path's own final test. Such bytes are within the
    size limit and are the canonical JSON of ``env.to_dict()``: the standard library parser reads
    them to that dict (one member per key, nothing else), whose payload and signature are the
    standard padded base64 of ``env``'s bytes, which ``b64decode_lenient`` accepts and decodes
    back to those bytes; the key id passed the same pattern and the signature is 64 bytes. So the
    strict path builds an equal envelope and accepts it. Anything else returns ``None`` here.
    """
    if len(data) > MAX_ENVELOPE_BYTES:
        return None
    try:
        obj = orjson.loads(data)
    except orjson.JSONDecodeError:
        return None
    if type(obj) is not dict or len(obj) != 3:
        return None
    payload, sigs = obj.get("payload"), obj.get("signatures")
    if obj.get("payloadType") != PAYLOAD_TYPE or type(payload) is not str or type(sigs) is not list:
        return None
    if len(sigs) != 1 or type(sigs[0]) is not dict or len(sigs[0]) != 2:
        return None
    keyid, sig = sigs[0].get("keyid"), sigs[0].get("sig")
    if type(keyid) is not str or type(sig) is not str or not _KEYID.fullmatch(keyid):
        return None
    try:
        raw_payload = base64.b64decode(payload, validate=True)
        raw_sig = base64.b64decode(sig, validate=True)
    except ValueError:  # binascii.Error, or a character outside ASCII
        return None
    if len(raw_sig) != 64:
        return None
    env = cls(PAYLOAD_TYPE, raw_payload, (Signature(KeyId(keyid), raw_sig),))
    return env if env.to_bytes() == data else None


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in pairs:
        if k in out:
            raise ValueError(f"duplicate member {k!r}")
        out[k] = v
    return out
