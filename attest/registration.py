"""Registration requests: a new party asks the authority to register it (SPEC §15).

A provider or verifier makes its key, then sends the authority a *registration request*: who it is
(party id, role, name, jurisdiction, website) and its public key, signed by that key. The signature
proves possession of the private key (the authority registers no key its holder cannot sign with)
and binds the key to the identity asked for. The signed bytes are a domain-separated prefix and the
canonical JSON (§1.2) of the request object; the document that travels is JSON in any layout::

    {"request": {"v": 1, "party": ..., "role": ..., "name": ..., "jurisdiction": ...,
                 "website": ... (optional), "key": <b64>, "createdAt": <timestamp>},
     "keyId": <hex key id of key>, "signature": <b64 of 64 bytes>}

Nothing here is logged: the authority reads a verified request, checks the identity out of band,
and signs an ordinary ``party.register`` statement (§3.3) from it.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from typing import Any

from attest import canonical
from attest._schema import parse_timestamp
from attest.errors import EncodingError, FieldProblem, SchemaError, SignatureError
from attest.statements import PartyRegister, Role
from keys import InvalidSignatureError, KeysError, PrivateKey, PublicKey

__all__ = [
    "REQUEST_DOMAIN",
    "REQUEST_VERSION",
    "RegistrationRequest",
    "sign_registration_request",
    "verify_registration_request",
]

REQUEST_DOMAIN = b"claimledger:v1:registration-request\x00"
"""The prefix of the signed bytes: no statement (§4, DSSE PAE) or hash preimage starts with it."""

REQUEST_VERSION = 1

_REQUEST_MEMBERS = {"v", "party", "role", "name", "jurisdiction", "website", "key", "createdAt"}
_DOCUMENT_MEMBERS = {"request", "keyId", "signature"}


@dataclass(frozen=True, slots=True)
class RegistrationRequest:
    """What a party asks to be registered as; checked like a ``party.register`` body when built.

    Attributes:
        party: the party id asked for.
        role: ``provider`` or ``verifier``.
        name: the legal or public name.
        jurisdiction: ISO 3166-1 alpha-2 country code.
        key: the public key, standard base64 (§2.4).
        created_at: when the request was made (§3.2 timestamp).
        website: the party's website, if given.
    """

    party: str
    role: Role
    name: str
    jurisdiction: str
    key: str
    created_at: str
    website: str | None = None

    def __post_init__(self) -> None:
        try:
            parse_timestamp(self.created_at)
        except ValueError as exc:
            raise EncodingError(f"createdAt: {exc}", field="/request/createdAt") from None
        self.register_body()  # the same schema as the party.register the authority will sign

    @property
    def public_key(self) -> PublicKey:
        """The key, decoded by the KEY rule (§2.1).

        Raises:
            EncodingError: not a valid public key.
        """
        try:
            return PublicKey.from_b64(self.key)
        except KeysError as exc:
            raise EncodingError(f"unusable public key: {exc}", field="/request/key") from exc

    def to_dict(self) -> dict[str, Any]:
        """The request object, whose canonical form is signed."""
        out: dict[str, Any] = {
            "v": REQUEST_VERSION,
            "party": self.party,
            "role": self.role.value,
            "name": self.name,
            "jurisdiction": self.jurisdiction,
            "key": self.key,
            "createdAt": self.created_at,
        }
        if self.website is not None:
            out["website"] = self.website
        return out

    def message(self) -> bytes:
        """The signed bytes: ``REQUEST_DOMAIN ‖ canonical(request)``."""
        return REQUEST_DOMAIN + canonical.encode(self.to_dict())

    def register_body(self) -> dict[str, Any]:
        """The ``party.register`` body that registers what was asked.

        Raises:
            SchemaError: the request's members do not make a valid ``party.register`` body.
        """
        body: dict[str, Any] = {
            "party": self.party,
            "role": self.role.value,
            "name": self.name,
            "jurisdiction": self.jurisdiction,
            "keys": [self.key],
        }
        if self.website is not None:
            body["website"] = self.website
        try:
            return PartyRegister.from_dict(body).to_dict()
        except SchemaError as exc:
            raise _under_request(exc) from None


def _under_request(exc: SchemaError) -> SchemaError:
    """A ``party.register`` body's problems, pointed at the request's members."""
    renamed = {"/keys": "/key", "/keys/0": "/key"}
    problems = [
        FieldProblem(f"/request{renamed.get(p.pointer, p.pointer)}", p.message)
        for p in exc.problems
    ]
    return SchemaError(problems)


def sign_registration_request(request: RegistrationRequest, key: PrivateKey) -> dict[str, Any]:
    """The request document, signed with ``key`` (which must be the request's key).

    Raises:
        ValueError: ``key`` is not the request's key.
    """
    public = key.public_key
    if public.b64() != request.key:
        raise ValueError("a registration request is signed by the key it asks to register")
    return {
        "request": request.to_dict(),
        "keyId": public.key_id,
        "signature": base64.b64encode(key.sign(request.message())).decode("ascii"),
    }


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in pairs:
        if k in out:
            raise EncodingError(f"duplicate member {k!r}")
        out[k] = v
    return out


def _refuse_float(text: str) -> Any:
    raise EncodingError(f"numbers are integers only, got {text}")


def _members(value: object, pointer: str, allowed: set[str], optional: set[str]) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise SchemaError([_problem(pointer or "/", "must be an object")])
    problems = [
        _problem(f"{pointer}/{k}", f"unknown member {k!r}") for k in value if k not in allowed
    ]
    problems += [
        _problem(f"{pointer}/{k}", f"missing required member {k!r}")
        for k in sorted(allowed - optional)
        if k not in value
    ]
    if problems:
        raise SchemaError(problems)
    return value


def _problem(pointer: str, message: str) -> FieldProblem:
    return FieldProblem(pointer, message)


def _string(value: object, pointer: str) -> str:
    if not isinstance(value, str):
        raise SchemaError([_problem(pointer, "must be a string")])
    return value


def verify_registration_request(data: bytes) -> RegistrationRequest:
    """Read a registration request document and check its proof of possession.

    Returns:
        The request, signed by the key it names.

    Raises:
        EncodingError: not UTF-8 JSON of the profile (duplicate members, floats), a bad public
            key or bad base64.
        SchemaError: missing, unknown or invalid members (each located by a JSON pointer).
        SignatureError: ``keyId`` is not the key's id, or the signature does not verify under the
            request's key by the SIGNATURE rule (§2.2): the request was not signed by that key,
            or was changed after it was signed.
    """
    try:
        value = json.loads(
            data.decode("utf-8"), object_pairs_hook=_no_duplicates, parse_float=_refuse_float
        )
    except UnicodeDecodeError as exc:
        raise EncodingError("a registration request is UTF-8 JSON") from exc
    except ValueError as exc:
        raise EncodingError(f"not valid JSON: {exc}") from exc
    except RecursionError:
        raise EncodingError("not valid JSON: nested too deeply") from None
    canonical.check_profile(value)
    doc = _members(value, "", _DOCUMENT_MEMBERS, set())
    req = _members(doc["request"], "/request", _REQUEST_MEMBERS, {"website"})
    if type(req["v"]) is not int or req["v"] != REQUEST_VERSION:
        raise SchemaError([_problem("/request/v", f"must be {REQUEST_VERSION}")])
    website = req.get("website")
    role = _string(req["role"], "/request/role")
    if role not in (Role.PROVIDER.value, Role.VERIFIER.value):
        raise SchemaError([_problem("/request/role", "must be provider or verifier")])
    request = RegistrationRequest(
        party=_string(req["party"], "/request/party"),
        role=Role(role),
        name=_string(req["name"], "/request/name"),
        jurisdiction=_string(req["jurisdiction"], "/request/jurisdiction"),
        key=_string(req["key"], "/request/key"),
        created_at=_string(req["createdAt"], "/request/createdAt"),
        website=None if website is None else _string(website, "/request/website"),
    )
    public = request.public_key
    keyid = _string(doc["keyId"], "/keyId")
    if keyid != public.key_id:
        raise SignatureError(
            f"keyId {keyid} is not the id of the request's key ({public.key_id})", field="/keyId"
        )
    try:
        signature = base64.b64decode(_string(doc["signature"], "/signature"), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise EncodingError(f"signature is not base64: {exc}", field="/signature") from exc
    try:
        public.verify(signature, request.message())
    except InvalidSignatureError as exc:
        raise SignatureError(
            "the proof of possession does not verify: the request was not signed by the key it "
            f"names, or was changed after it was signed ({exc})",
            field="/signature",
        ) from exc
    return request
