"""Statements: the signed JSON objects of the ledger, their schemas and models.

:func:`parse_statement` reads an already-decoded JSON object (docs/SPEC.md §1) into a
:class:`Statement` and raises :class:`~attest.errors.SchemaError` listing *every* problem found,
each with an RFC 6901 pointer from the statement root (``/body/metrics/0/value``).
``Statement.to_dict()`` gives back the same plain object: ``parse_statement(d).to_dict() == d``.

Every model is a frozen, slotted dataclass with ``from_dict``/``to_dict``; building one directly
checks the same schema (its ``to_dict()`` is re-read), so no model holds a value that would not
parse. Schemas are docs/SPEC.md §3; who may sign what is the rules engine's business, not this
module's. Pure: no I/O, no clock.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType
from typing import Any, Self, TypeAlias, TypeGuard

from attest import _schema as s
from attest._schema import (
    INVALID,
    Ctx,
    FrozenObject,
    Model,
    Obj,
    format_timestamp,
    is_party_id,
    parse_timestamp,
    valid,
)
from attest.errors import FieldProblem, SchemaError
from attest.measures import MEASURES, measure_problem

__all__ = [
    "REGISTRY_KINDS",
    "REGISTRY_STREAM",
    "SIGNER_SUBJECT_KINDS",
    "STATEMENT_VERSION",
    "AccreditationGrant",
    "AccreditationSuspend",
    "AgeBand",
    "Assurance",
    "Body",
    "Claim",
    "ClaimStatus",
    "ClaimWithdraw",
    "Commitment",
    "CompromisedSince",
    "Cooperation",
    "Details",
    "Digest",
    "DocumentRef",
    "DumpFile",
    "DumpPublish",
    "EngagementClose",
    "EngagementOpen",
    "EngagementWithdraw",
    "Environment",
    "Evidence",
    "ExcludedSurface",
    "Genesis",
    "Independence",
    "KeyAdd",
    "KeyRevoke",
    "Kind",
    "LogKeyRotate",
    "Metric",
    "OtherService",
    "PartyOrName",
    "PartyRetire",
    "Period",
    "PlannedMethod",
    "Population",
    "PopulationKind",
    "ProviderReply",
    "ReferencePublish",
    "ReferenceRow",
    "ReferenceUnit",
    "Role",
    "ScopeMatch",
    "ScopeTested",
    "Statement",
    "Surface",
    "TestMethod",
    "TestRecord",
    "TestResult",
    "Trial",
    "TrialOutcome",
    "Verdict",
    "VerdictResult",
    "Window",
    "format_timestamp",
    "is_party_id",
    "parse_statement",
    "parse_timestamp",
]

REGISTRY_STREAM = "registry"
STATEMENT_VERSION = 1
GLOBAL = "GLOBAL"

Details: TypeAlias = FrozenObject
"""A claim's measure-specific ``details``: an immutable JSON object (see :mod:`attest.measures`)."""


# --------------------------------------------------------------------------------------------
# enumerations


class Kind(StrEnum):
    """The kind of a statement, which fixes its body schema and its stream."""

    GENESIS = "genesis"
    PARTY_REGISTER = "party.register"
    KEY_ADD = "key.add"
    KEY_REVOKE = "key.revoke"
    ACCREDITATION_GRANT = "accreditation.grant"
    ACCREDITATION_SUSPEND = "accreditation.suspend"
    PARTY_RETIRE = "party.retire"
    LOG_KEY_ROTATE = "log.key.rotate"
    CLAIM_PUBLISH = "claim.publish"
    CLAIM_SUPERSEDE = "claim.supersede"
    CLAIM_WITHDRAW = "claim.withdraw"
    TEST_RECORD = "test.record"
    VERDICT_ISSUE = "verdict.issue"
    PROVIDER_REPLY = "provider.reply"
    ENGAGEMENT_OPEN = "engagement.open"
    ENGAGEMENT_CLOSE = "engagement.close"
    ENGAGEMENT_WITHDRAW = "engagement.withdraw"
    REFERENCE_PUBLISH = "reference.publish"
    DUMP_PUBLISH = "dump.publish"


REGISTRY_KINDS = frozenset(
    {
        Kind.GENESIS,
        Kind.PARTY_REGISTER,
        Kind.KEY_ADD,
        Kind.KEY_REVOKE,
        Kind.ACCREDITATION_GRANT,
        Kind.ACCREDITATION_SUSPEND,
        Kind.PARTY_RETIRE,
        Kind.LOG_KEY_ROTATE,
        Kind.REFERENCE_PUBLISH,
        Kind.DUMP_PUBLISH,
    }
)
"""Kinds that go to the ``registry`` stream; every other kind goes to a provider's stream."""

SIGNER_SUBJECT_KINDS = frozenset(
    {Kind.GENESIS, Kind.LOG_KEY_ROTATE, Kind.REFERENCE_PUBLISH, Kind.DUMP_PUBLISH}
)
"""Registry kinds about their signer, the authority (SPEC §11.1); the others name ``body.party``."""


class Role(StrEnum):
    """The role a party is registered with."""

    PROVIDER = "provider"
    VERIFIER = "verifier"


class Surface(StrEnum):
    """A part of a service where a measure may apply."""

    PUBLIC_POSTS = "public_posts"
    PROFILES = "profiles"
    COMMENTS = "comments"
    DM_UNENCRYPTED = "dm_unencrypted"
    DM_E2EE = "dm_e2ee"
    GROUP_CHAT = "group_chat"
    LIVESTREAM = "livestream"
    VIDEO_CALL = "video_call"
    CLOUD_STORAGE = "cloud_storage"
    FILE_SHARING = "file_sharing"
    SEARCH = "search"
    GENAI = "genai"


class ClaimStatus(StrEnum):
    """Whether a claimed measure runs."""

    DEPLOYED = "deployed"
    PILOT = "pilot"
    PLANNED = "planned"
    DISCONTINUED = "discontinued"


class PopulationKind(StrEnum):
    """Which users a claim covers."""

    ALL_USERS = "all_users"
    UNDER_18 = "under_18"
    AGE_BAND = "age_band"


class TestMethod(StrEnum):
    """How a verifier tested a claim."""

    __test__ = False  # not a pytest test class

    SEEDED_CANARY_HASH = "seeded_canary_hash"
    TEST_ACCOUNT_PROBE = "test_account_probe"
    REPORTING_FLOW_REVIEW = "reporting_flow_review"
    TAKEDOWN_LATENCY = "takedown_latency"
    DATA_RECONCILIATION = "data_reconciliation"
    DOCUMENT_REVIEW = "document_review"
    CONFIG_INSPECTION = "config_inspection"


class ReferenceUnit(StrEnum):
    """What a reference dataset's counts count (SPEC §3.3, ``reference.publish``)."""

    REPORTS = "reports"
    PIECES = "pieces"
    ACCOUNTS = "accounts"


class Cooperation(StrEnum):
    """How far the provider cooperated with a test."""

    NONE = "none"
    NOTIFIED = "notified"
    COORDINATED = "coordinated"


class TrialOutcome(StrEnum):
    """The outcome of one trial of a test."""

    PASS = "pass"  # noqa: S105 (not a password)
    FAIL = "fail"
    INCONCLUSIVE = "inconclusive"


class TestResult(StrEnum):
    """The overall result of a test record."""

    __test__ = False  # not a pytest test class

    PASSED = "PASSED"
    WARNED = "WARNED"
    FAILED = "FAILED"
    NOT_RUN = "NOT_RUN"


class VerdictResult(StrEnum):
    """A verifier's conclusion on a claim version (DOMAIN.md, "Verdicts")."""

    CONFIRMED = "CONFIRMED"
    CONFIRMED_WITH_COMMENTS = "CONFIRMED_WITH_COMMENTS"
    NO_EVIDENCE_FOUND = "NO_EVIDENCE_FOUND"
    CONTRADICTED = "CONTRADICTED"
    INCONCLUSIVE = "INCONCLUSIVE"


class Assurance(StrEnum):
    """The level of assurance of a verdict."""

    LIMITED = "limited"
    REASONABLE = "reasonable"


class ScopeMatch(StrEnum):
    """How much of the claim's scope the tests covered."""

    FULL = "full"
    PARTIAL = "partial"
    NONE = "none"


# --------------------------------------------------------------------------------------------
# shared value formats

_ORIGIN = s.pattern(r"[\x21-\x7e]+", "printable ASCII without spaces", 100)
_FRAMEWORK_REF = s.pattern(
    r"[A-Z][A-Za-z0-9-]*:[A-Za-z0-9_.:-]+", "a framework reference like 'OFCOM:ICU-C9'", s.NAME_MAX
)
_REASON = s.text
_SURFACE = s.enum(Surface)
_KIND = s.enum(Kind)
_ROLE = s.enum(Role)
_CLAIM_STATUS = s.enum(ClaimStatus)
_TEST_METHOD = s.enum(TestMethod)
_COOPERATION = s.enum(Cooperation)
_TRIAL_OUTCOME = s.enum(TrialOutcome)
_TEST_RESULT = s.enum(TestResult)
_VERDICT_RESULT = s.enum(VerdictResult)
_ASSURANCE = s.enum(Assurance)
_SCOPE_MATCH = s.enum(ScopeMatch)
_SURFACES = s.array(_SURFACE, min_items=1, unique=True)
_NAMES = s.array(s.name, min_items=1, unique=True)
_TEXTS = s.array(s.text, min_items=1)
_LIMITATIONS = s.array(s.text)
_KEYS = s.array(s.b64_key, min_items=1, max_items=8, unique=True)
_TESTS = s.array(s.hex64, min_items=1, max_items=1000, unique=True)
_CLAIMS = s.array(s.hex64, min_items=1, unique=True)


def _jurisdiction(value: object, parent: str, token: s.Token, ctx: Ctx) -> str:
    if value == GLOBAL:
        return GLOBAL
    return s.alpha2(value, parent, token, ctx)


_JURISDICTIONS = s.array(_jurisdiction, min_items=1, unique=True)


def _read_jurisdictions(value: object, parent: str, token: s.Token, ctx: Ctx) -> tuple[str, ...]:
    result = _JURISDICTIONS(value, parent, token, ctx)
    if result is not INVALID and GLOBAL in result and any(j != GLOBAL for j in result):
        pointer = s.pointer_of(parent, token)
        return ctx.add(  # type: ignore[no-any-return]
            pointer, f"{s.label(pointer)}: 'GLOBAL' cannot be combined with country codes"
        )
    return result


_MEASURE_NAME = s.string(s.NAME_MAX)


def _measure(value: object, parent: str, token: s.Token, ctx: Ctx) -> str:
    result = _MEASURE_NAME(value, parent, token, ctx)
    if result is not INVALID and result not in MEASURES:  # measure_problem is None for the rest
        problem = measure_problem(result)
        if problem is not None:
            return ctx.add(s.pointer_of(parent, token), problem)  # type: ignore[no-any-return]
    return result


_MEASURES = s.array(_measure, min_items=1, max_items=64, unique=True)
_FRAMEWORK_REFS = s.array(_FRAMEWORK_REF, min_items=1, unique=True)


# --------------------------------------------------------------------------------------------
# small shared models


@dataclass(frozen=True, slots=True)
class Digest(Model):
    """The SHA-256 digest of an external document: ``{"sha256": <hex hash>}``."""

    sha256: str

    @classmethod
    def _read(cls, o: Obj) -> Self:
        sha256 = o.req("sha256", s.hex64)
        return o.build(cls, sha256)

    def to_dict(self) -> dict[str, Any]:
        """The JSON object form."""
        return {"sha256": self.sha256}


_DIGEST = s.obj(Digest._read)
_DIGESTS = s.array(_DIGEST, min_items=1, unique=True)


@dataclass(frozen=True, slots=True)
class DocumentRef(Model):
    """A public document by URI and digest: ``{uri, digest}`` (e.g. a test protocol)."""

    uri: str
    digest: Digest

    @classmethod
    def _read(cls, o: Obj) -> Self:
        uri = o.req("uri", s.uri)
        digest = o.req("digest", _DIGEST)
        return o.build(cls, uri, digest)

    def to_dict(self) -> dict[str, Any]:
        """The JSON object form."""
        return {"uri": self.uri, "digest": self.digest.to_dict()}


_DOCUMENT = s.obj(DocumentRef._read)


@dataclass(frozen=True, slots=True)
class Evidence(Model):
    """A public evidence document: ``{uri, digest, title?}``."""

    uri: str
    digest: Digest
    title: str | None = None

    @classmethod
    def _read(cls, o: Obj) -> Self:
        uri = o.req("uri", s.uri)
        digest = o.req("digest", _DIGEST)
        title = o.opt("title", s.name)
        return o.build(cls, uri, digest, title)

    def to_dict(self) -> dict[str, Any]:
        """The JSON object form."""
        out: dict[str, Any] = {"uri": self.uri, "digest": self.digest.to_dict()}
        if self.title is not None:
            out["title"] = self.title
        return out


_EVIDENCE = s.array(s.obj(Evidence._read), min_items=1, unique=True)


@dataclass(frozen=True, slots=True)
class Period(Model):
    """A span of calendar dates, both inclusive: ``{start: date, end: date ≥ start}``."""

    start: str
    end: str

    @classmethod
    def _read(cls, o: Obj) -> Self:
        start = o.req("start", s.date_str)
        end = o.req("end", s.date_str)
        if start is not INVALID and end is not INVALID and end < start:
            o.fail("end", f"end {end} is before start {start}")
        return o.build(cls, start, end)

    def to_dict(self) -> dict[str, Any]:
        """The JSON object form."""
        return {"start": self.start, "end": self.end}


_PERIOD = s.obj(Period._read)


@dataclass(frozen=True, slots=True)
class Window(Model):
    """A span of time: ``{start: timestamp, end: timestamp ≥ start}``."""

    start: str
    end: str

    @classmethod
    def _read(cls, o: Obj) -> Self:
        start = o.req("start", s.timestamp)
        end = o.req("end", s.timestamp)
        # The fixed-width timestamp form sorts as text in time order.
        if start is not INVALID and end is not INVALID and end < start:
            o.fail("end", f"end {end} is before start {start}")
        return o.build(cls, start, end)

    def to_dict(self) -> dict[str, Any]:
        """The JSON object form."""
        return {"start": self.start, "end": self.end}

    @property
    def start_ms(self) -> int:
        """``start`` in milliseconds since the epoch."""
        return parse_timestamp(self.start)

    @property
    def end_ms(self) -> int:
        """``end`` in milliseconds since the epoch."""
        return parse_timestamp(self.end)


_WINDOW = s.obj(Window._read)


# --------------------------------------------------------------------------------------------
# registry bodies


@dataclass(frozen=True, slots=True)
class Genesis(Model):
    """Body of ``genesis``: the log's origin and the authority and log keys.

    The statement's ``signer`` is the authority's party id.
    """

    origin: str
    authority_name: str
    authority_key: str
    log_key: str

    @classmethod
    def _read(cls, o: Obj) -> Self:
        origin = o.req("origin", _ORIGIN)
        authority_name = o.req("authorityName", s.name)
        authority_key = o.req("authorityKey", s.b64_key)
        log_key = o.req("logKey", s.b64_key)
        if authority_key is not INVALID and log_key is not INVALID and authority_key == log_key:
            o.fail("logKey", "logKey must differ from authorityKey")
        return o.build(cls, origin, authority_name, authority_key, log_key)

    def to_dict(self) -> dict[str, Any]:
        """The JSON object form."""
        return {
            "origin": self.origin,
            "authorityName": self.authority_name,
            "authorityKey": self.authority_key,
            "logKey": self.log_key,
        }


@dataclass(frozen=True, slots=True)
class PartyRegister(Model):
    """Body of ``party.register``: admits a provider or verifier with its first keys."""

    party: str
    role: Role
    name: str
    jurisdiction: str
    keys: tuple[str, ...]
    website: str | None = None

    @classmethod
    def _read(cls, o: Obj) -> Self:
        party = o.req("party", s.party_id)
        role = o.req("role", _ROLE)
        name = o.req("name", s.name)
        jurisdiction = o.req("jurisdiction", s.alpha2)
        website = o.opt("website", s.uri)
        keys = o.req("keys", _KEYS)
        return o.build(cls, party, role, name, jurisdiction, keys, website)

    def to_dict(self) -> dict[str, Any]:
        """The JSON object form."""
        out: dict[str, Any] = {
            "party": self.party,
            "role": self.role.value,
            "name": self.name,
            "jurisdiction": self.jurisdiction,
            "keys": list(self.keys),
        }
        if self.website is not None:
            out["website"] = self.website
        return out


@dataclass(frozen=True, slots=True)
class KeyAdd(Model):
    """Body of ``key.add``: a new public key for a party."""

    party: str
    key: str

    @classmethod
    def _read(cls, o: Obj) -> Self:
        party = o.req("party", s.party_id)
        key = o.req("key", s.b64_key)
        return o.build(cls, party, key)

    def to_dict(self) -> dict[str, Any]:
        """The JSON object form."""
        return {"party": self.party, "key": self.key}


@dataclass(frozen=True, slots=True)
class CompromisedSince(Model):
    """Where a revoked key's compromise began: ``{index: log index}`` or ``{time: timestamp}``.

    Exactly one of the two (SPEC §8.2 rule 5). A time is compared with entries' log times, which
    the log assigns, never with ``signedAt``, which whoever held the key chose.
    """

    index: int | None = None
    time: str | None = None

    @classmethod
    def _read(cls, o: Obj) -> Self:
        index = o.opt("index", _LOG_INDEX)
        time = o.opt("time", s.timestamp)
        if o.value is not None and (index is None) == (time is None):
            o.ctx.add(o.pointer, f"{s.label(o.pointer)} needs exactly one of 'index' and 'time'")
        return o.build(cls, index, time)

    def to_dict(self) -> dict[str, Any]:
        """The JSON object form."""
        return {"index": self.index} if self.index is not None else {"time": self.time}


_LOG_INDEX = s.integer(1, 2**53 - 1)
_COMPROMISED_SINCE = s.obj(CompromisedSince._read)


@dataclass(frozen=True, slots=True)
class KeyRevoke(Model):
    """Body of ``key.revoke``: a party's key (by key id) signs nothing after this entry.

    With ``compromised_since``, the entries it signed from there until this one read as not to be
    relied on (SPEC §8.2 rule 5); they stay in the log.
    """

    party: str
    key_id: str
    reason: str
    compromised_since: CompromisedSince | None = None

    @classmethod
    def _read(cls, o: Obj) -> Self:
        party = o.req("party", s.party_id)
        key_id = o.req("keyId", s.hex64)
        reason = o.req("reason", _REASON)
        since = o.opt("compromisedSince", _COMPROMISED_SINCE)
        return o.build(cls, party, key_id, reason, since)

    def to_dict(self) -> dict[str, Any]:
        """The JSON object form."""
        out: dict[str, Any] = {"party": self.party, "keyId": self.key_id, "reason": self.reason}
        if self.compromised_since is not None:
            out["compromisedSince"] = self.compromised_since.to_dict()
        return out


@dataclass(frozen=True, slots=True)
class PartyRetire(Model):
    """Body of ``party.retire``: the party signs nothing after this entry; its past stays."""

    party: str
    reason: str

    @classmethod
    def _read(cls, o: Obj) -> Self:
        party = o.req("party", s.party_id)
        reason = o.req("reason", _REASON)
        return o.build(cls, party, reason)

    def to_dict(self) -> dict[str, Any]:
        """The JSON object form."""
        return {"party": self.party, "reason": self.reason}


_FROM_SIZE = s.integer(2, 2**53 - 1)


@dataclass(frozen=True, slots=True)
class LogKeyRotate(Model):
    """Body of ``log.key.rotate``: from tree size ``from_size`` on, checkpoints (and snapshots) are
    signed by the log key ``key`` instead of the one in force before (SPEC §7.6, §8.2 rule 5).

    The rules require ``from_size`` to be greater than the size of the log once this entry is in
    it, so that a checkpoint signed by the old key covers the rotation.
    """

    key: str
    from_size: int

    @classmethod
    def _read(cls, o: Obj) -> Self:
        key = o.req("key", s.b64_key)
        from_size = o.req("fromSize", _FROM_SIZE)
        return o.build(cls, key, from_size)

    def to_dict(self) -> dict[str, Any]:
        """The JSON object form."""
        return {"key": self.key, "fromSize": self.from_size}


@dataclass(frozen=True, slots=True)
class OtherService(Model):
    """Another service a verifier sells to a provider: ``{provider: party id, services: text}``."""

    provider: str
    services: str

    @classmethod
    def _read(cls, o: Obj) -> Self:
        provider = o.req("provider", s.party_id)
        services = o.req("services", s.text)
        return o.build(cls, provider, services)

    def to_dict(self) -> dict[str, Any]:
        """The JSON object form."""
        return {"provider": self.provider, "services": self.services}


@dataclass(frozen=True, slots=True)
class Independence(Model):
    """A verifier's independence declaration: other services sold to providers (may be empty:
    none, said on purpose), its fee band and how its teams rotate."""

    other_services: tuple[OtherService, ...]
    fee_band: str
    rotation: str

    @classmethod
    def _read(cls, o: Obj) -> Self:
        other = o.req("otherServices", _OTHER_SERVICES)
        fee_band = o.req("feeBand", s.name)
        rotation = o.req("rotation", s.text)
        return o.build(cls, other, fee_band, rotation)

    def to_dict(self) -> dict[str, Any]:
        """The JSON object form."""
        return {
            "otherServices": [x.to_dict() for x in self.other_services],
            "feeBand": self.fee_band,
            "rotation": self.rotation,
        }


_OTHER_SERVICES = s.array(s.obj(OtherService._read), unique=True)
_METHODS = s.array(_TEST_METHOD, min_items=1, unique=True)


@dataclass(frozen=True, slots=True)
class AccreditationGrant(Model):
    """Body of ``accreditation.grant``: a verifier may test and judge these measures.

    The disclosures (issue 17 §3) are optional members, so grants logged before them keep their
    meaning (``v`` stays 1): the accrediting body, the methods in scope, the team's
    qualifications, an independence declaration, and the start of the validity period
    (``validFrom``; absent, the period starts at the grant's log time, SPEC §8.2).
    """

    party: str
    scheme: str
    measures: tuple[str, ...]
    valid_until: str | None = None
    accrediting_body: str | None = None
    methods: tuple[TestMethod, ...] = ()
    qualifications: tuple[str, ...] = ()
    independence: Independence | None = None
    valid_from: str | None = None

    @classmethod
    def _read(cls, o: Obj) -> Self:
        party = o.req("party", s.party_id)
        scheme = o.req("scheme", s.name)
        measures = o.req("measures", _MEASURES)
        valid_until = o.opt("validUntil", s.timestamp)
        body = o.opt("accreditingBody", s.name)
        methods = o.opt("methods", _METHODS)
        qualifications = o.opt("qualifications", _TEXTS)
        independence = o.opt("independence", _INDEPENDENCE)
        valid_from = o.opt("validFrom", s.timestamp)
        # Fixed-width UTC timestamps: text order is time order.
        if (
            isinstance(valid_from, str)
            and isinstance(valid_until, str)
            and valid_from >= valid_until
        ):
            o.fail("validFrom", f"validFrom {valid_from} must be before validUntil {valid_until}")
        return o.build(
            cls,
            party,
            scheme,
            measures,
            valid_until,
            body,
            methods or (),
            qualifications or (),
            independence,
            valid_from,
        )

    def to_dict(self) -> dict[str, Any]:
        """The JSON object form."""
        out: dict[str, Any] = {
            "party": self.party,
            "scheme": self.scheme,
            "measures": list(self.measures),
        }
        if self.valid_until is not None:
            out["validUntil"] = self.valid_until
        if self.accrediting_body is not None:
            out["accreditingBody"] = self.accrediting_body
        if self.methods:
            out["methods"] = [m.value for m in self.methods]
        if self.qualifications:
            out["qualifications"] = list(self.qualifications)
        if self.independence is not None:
            out["independence"] = self.independence.to_dict()
        if self.valid_from is not None:
            out["validFrom"] = self.valid_from
        return out


_INDEPENDENCE = s.obj(Independence._read)


@dataclass(frozen=True, slots=True)
class AccreditationSuspend(Model):
    """Body of ``accreditation.suspend``: a verifier's accreditation stops."""

    party: str
    reason: str

    @classmethod
    def _read(cls, o: Obj) -> Self:
        party = o.req("party", s.party_id)
        reason = o.req("reason", _REASON)
        return o.build(cls, party, reason)

    def to_dict(self) -> dict[str, Any]:
        """The JSON object form."""
        return {"party": self.party, "reason": self.reason}


# --------------------------------------------------------------------------------------------
# claims


@dataclass(frozen=True, slots=True)
class AgeBand:
    """An inclusive band of ages in whole years, ``0 <= min <= max <= 120``."""

    min: int
    max: int


@dataclass(frozen=True, slots=True)
class Population:
    """Which users a claim covers.

    JSON: ``"all_users"``, ``"under_18"`` or ``{"ageBand": {"min": int, "max": int}}``.
    ``age_band`` is set exactly when ``kind`` is :attr:`PopulationKind.AGE_BAND`.
    """

    kind: PopulationKind
    age_band: AgeBand | None = None

    def __post_init__(self) -> None:
        if s.checks_off():
            return
        if (self.kind is PopulationKind.AGE_BAND) != (self.age_band is not None):
            raise SchemaError(
                [FieldProblem("", "age_band must be set exactly when kind is age_band")]
            )
        ctx = Ctx(build=False)
        _read_population(self.to_json(), "", None, ctx)
        if ctx.problems:
            raise SchemaError(ctx.problems)

    def to_json(self) -> str | dict[str, Any]:
        """The JSON form: a string, or an ``ageBand`` object."""
        if self.age_band is None:
            return self.kind.value
        return {"ageBand": {"min": self.age_band.min, "max": self.age_band.max}}


def _read_age_band(o: Obj) -> AgeBand:
    low = o.req("min", _AGE)
    high = o.req("max", _AGE)
    if low is not INVALID and high is not INVALID and high < low:
        o.fail("max", f"max {high} is less than min {low}")
    return o.build(AgeBand, low, high)


def _read_population_object(o: Obj) -> Population:
    band = o.req("ageBand", _AGE_BAND)
    return o.build(Population, PopulationKind.AGE_BAND, band)


_AGE = s.integer(0, 120)
_AGE_BAND = s.obj(_read_age_band)
_POPULATION_OBJECT = s.obj(_read_population_object)
_POPULATION_KINDS = {k.value: k for k in (PopulationKind.ALL_USERS, PopulationKind.UNDER_18)}


def _read_population(value: object, parent: str, token: s.Token, ctx: Ctx) -> Population:
    if _is_object(value):
        return _POPULATION_OBJECT(value, parent, token, ctx)
    if value in (PopulationKind.ALL_USERS.value, PopulationKind.UNDER_18.value):
        if not ctx.build:
            return s.UNBUILT  # type: ignore[no-any-return]
        kind = _POPULATION_KINDS[value] if type(value) is str else PopulationKind(value)
        return Population(kind)
    pointer = s.pointer_of(parent, token)
    return ctx.add(  # type: ignore[no-any-return]
        pointer,
        f"{s.label(pointer)} must be 'all_users', 'under_18' or "
        f'{{"ageBand": {{"min": ..., "max": ...}}}}, got {s.show(value)}',
    )


@dataclass(frozen=True, slots=True)
class ExcludedSurface(Model):
    """A surface the claim does not cover, with the reason: ``{surface, reason}``."""

    surface: Surface
    reason: str

    @classmethod
    def _read(cls, o: Obj) -> Self:
        surface = o.req("surface", _SURFACE)
        reason = o.req("reason", _REASON)
        return o.build(cls, surface, reason)

    def to_dict(self) -> dict[str, Any]:
        """The JSON object form."""
        return {"surface": self.surface.value, "reason": self.reason}


_EXCLUDED_SURFACES = s.array(s.obj(ExcludedSurface._read), min_items=1, max_items=len(Surface))


@dataclass(frozen=True, slots=True)
class Metric(Model):
    """One reported number: ``{name, period, value: int | decimal string, unit, method}``."""

    name: str
    period: Period
    value: int | str
    unit: str
    method: str

    @classmethod
    def _read(cls, o: Obj) -> Self:
        name = o.req("name", s.name)
        period = o.req("period", _PERIOD)
        value = o.req("value", s.int_or_decimal)
        unit = o.req("unit", s.name)
        method = o.req("method", s.text)
        return o.build(cls, name, period, value, unit, method)

    def to_dict(self) -> dict[str, Any]:
        """The JSON object form."""
        return {
            "name": self.name,
            "period": self.period.to_dict(),
            "value": self.value,
            "unit": self.unit,
            "method": self.method,
        }


_METRICS = s.array(s.obj(Metric._read), min_items=1)
_DETAILS: Mapping[str, s.Parser[Details]] = MappingProxyType(
    {name: s.obj(spec.read_details) for name, spec in MEASURES.items()}
)
"""The parser of each measure's ``details`` object."""


@dataclass(frozen=True, slots=True)
class Claim(Model):
    """Body of ``claim.publish`` and ``claim.supersede``: a provider's claim about one measure.

    ``supersedes`` (the digest of the claim version replaced) is required for
    ``claim.supersede`` and forbidden for ``claim.publish``; the statement checks which.
    Optional arrays are either absent (empty here) or non-empty.
    """

    measure: str
    services: tuple[str, ...]
    surfaces: tuple[Surface, ...]
    jurisdictions: tuple[str, ...]
    population: Population
    status: ClaimStatus
    effective_from: str
    details: Details
    excluded_surfaces: tuple[ExcludedSurface, ...] = ()
    effective_until: str | None = None
    metrics: tuple[Metric, ...] = ()
    evidence: tuple[Evidence, ...] = ()
    framework_refs: tuple[str, ...] = ()
    supersedes: str | None = None

    @classmethod
    def _read(cls, o: Obj) -> Self:
        return cls._read_as(o, None)

    @classmethod
    def _read_as(cls, o: Obj, kind: Kind | None) -> Self:
        measure = o.req("measure", _measure)
        services = o.req("services", _NAMES)
        surfaces = o.req("surfaces", _SURFACES)
        excluded = o.opt("excludedSurfaces", _EXCLUDED_SURFACES)
        jurisdictions = o.req("jurisdictions", _read_jurisdictions)
        population = o.req("population", _read_population)
        status = o.req("status", _CLAIM_STATUS)
        effective_from = o.req("effectiveFrom", s.date_str)
        effective_until = o.opt("effectiveUntil", s.date_str)
        if valid(measure):
            details = o.req("details", _DETAILS[measure])
        else:
            o.skip("details")
            details = INVALID
        metrics = o.opt("metrics", _METRICS)
        evidence = o.opt("evidence", _EVIDENCE)
        refs = o.opt("frameworkRefs", _FRAMEWORK_REFS)
        if kind is Kind.CLAIM_PUBLISH:
            o.forbid("supersedes", "claim.publish starts a new claim; use claim.supersede")
            supersedes = None
        elif kind is Kind.CLAIM_SUPERSEDE:
            supersedes = o.req("supersedes", s.hex64)
        else:
            supersedes = o.opt("supersedes", s.hex64)

        if (
            effective_from is not INVALID
            and effective_until is not INVALID
            and effective_until is not None
            and effective_until < effective_from
        ):
            o.fail(
                "effectiveUntil",
                f"effectiveUntil {effective_until} is before effectiveFrom {effective_from}",
            )
        if excluded is not None and excluded is not INVALID and surfaces is not INVALID:
            _check_excluded(o, o.value or {}, surfaces)

        return o.build(
            cls,
            measure=measure,
            services=services,
            surfaces=surfaces,
            jurisdictions=jurisdictions,
            population=population,
            status=status,
            effective_from=effective_from,
            details=details,
            excluded_surfaces=excluded or (),
            effective_until=effective_until,
            metrics=metrics or (),
            evidence=evidence or (),
            framework_refs=refs or (),
            supersedes=supersedes,
        )

    def to_dict(self) -> dict[str, Any]:
        """The JSON object form."""
        out: dict[str, Any] = {
            "measure": self.measure,
            "services": list(self.services),
            "surfaces": [x.value for x in self.surfaces],
        }
        if self.excluded_surfaces:
            out["excludedSurfaces"] = [x.to_dict() for x in self.excluded_surfaces]
        out["jurisdictions"] = list(self.jurisdictions)
        out["population"] = self.population.to_json()
        out["status"] = self.status.value
        out["effectiveFrom"] = self.effective_from
        if self.effective_until is not None:
            out["effectiveUntil"] = self.effective_until
        out["details"] = self.details.to_dict()
        if self.metrics:
            out["metrics"] = [x.to_dict() for x in self.metrics]
        if self.evidence:
            out["evidence"] = [x.to_dict() for x in self.evidence]
        if self.framework_refs:
            out["frameworkRefs"] = list(self.framework_refs)
        if self.supersedes is not None:
            out["supersedes"] = self.supersedes
        return out


def _check_excluded(o: Obj, raw: Mapping[str, Any], surfaces: tuple[Surface, ...]) -> None:
    seen: dict[str, int] = {}
    pointer = o.at("excludedSurfaces")
    for i, item in enumerate(raw["excludedSurfaces"]):
        surface = item["surface"]
        at = s.child(s.child(pointer, i), "surface")
        if surface in surfaces:
            o.ctx.add(at, f"surface {surface!r} is both claimed and excluded")
        elif surface in seen:
            o.ctx.add(at, f"surface {surface!r} is excluded twice (also at [{seen[surface]}])")
        seen.setdefault(surface, i)


@dataclass(frozen=True, slots=True)
class ClaimWithdraw(Model):
    """Body of ``claim.withdraw``: the provider withdraws a claim version (by digest)."""

    claim: str
    reason: str

    @classmethod
    def _read(cls, o: Obj) -> Self:
        claim = o.req("claim", s.hex64)
        reason = o.req("reason", _REASON)
        return o.build(cls, claim, reason)

    def to_dict(self) -> dict[str, Any]:
        """The JSON object form."""
        return {"claim": self.claim, "reason": self.reason}


# --------------------------------------------------------------------------------------------
# tests, verdicts, replies


@dataclass(frozen=True, slots=True)
class Environment(Model):
    """Where a test ran: ``{service, surface, jurisdiction: alpha-2, clientVersion?}``."""

    service: str
    surface: Surface
    jurisdiction: str
    client_version: str | None = None

    @classmethod
    def _read(cls, o: Obj) -> Self:
        service = o.req("service", s.name)
        surface = o.req("surface", _SURFACE)
        jurisdiction = o.req("jurisdiction", s.alpha2)
        client_version = o.opt("clientVersion", s.name)
        return o.build(cls, service, surface, jurisdiction, client_version)

    def to_dict(self) -> dict[str, Any]:
        """The JSON object form."""
        out: dict[str, Any] = {
            "service": self.service,
            "surface": self.surface.value,
            "jurisdiction": self.jurisdiction,
        }
        if self.client_version is not None:
            out["clientVersion"] = self.client_version
        return out


_ENVIRONMENT = s.obj(Environment._read)


@dataclass(frozen=True, slots=True)
class Trial(Model):
    """One trial of a test: ``{name, expected, observed, outcome, evidence?: [digest]}``."""

    name: str
    expected: str
    observed: str
    outcome: TrialOutcome
    evidence: tuple[Digest, ...] = ()

    @classmethod
    def _read(cls, o: Obj) -> Self:
        name = o.req("name", s.name)
        expected = o.req("expected", s.text)
        observed = o.req("observed", s.text)
        outcome = o.req("outcome", _TRIAL_OUTCOME)
        evidence = o.opt("evidence", _DIGESTS)
        return o.build(cls, name, expected, observed, outcome, evidence or ())

    def to_dict(self) -> dict[str, Any]:
        """The JSON object form."""
        out: dict[str, Any] = {
            "name": self.name,
            "expected": self.expected,
            "observed": self.observed,
            "outcome": self.outcome.value,
        }
        if self.evidence:
            out["evidence"] = [x.to_dict() for x in self.evidence]
        return out


_TRIALS = s.array(s.obj(Trial._read), max_items=1000)


@dataclass(frozen=True, slots=True)
class TestRecord(Model):
    """Body of ``test.record``: a verifier's record of one test of one claim version."""

    __test__ = False  # not a pytest test class

    claim: str
    method: TestMethod
    protocol: DocumentRef
    environment: Environment
    window: Window
    cooperation: Cooperation
    trials: tuple[Trial, ...]
    summary: str
    result: TestResult
    limitations: tuple[str, ...]
    engagement: str | None = None
    not_tested: tuple[str, ...] | None = None

    @classmethod
    def _read(cls, o: Obj) -> Self:
        claim = o.req("claim", s.hex64)
        method = o.req("method", _TEST_METHOD)
        protocol = o.req("protocol", _DOCUMENT)
        environment = o.req("environment", _ENVIRONMENT)
        window = o.req("window", _WINDOW)
        cooperation = o.req("cooperation", _COOPERATION)
        trials = o.req("trials", _TRIALS)
        summary = o.req("summary", s.text)
        result = o.req("result", _TEST_RESULT)
        limitations = o.req("limitations", _LIMITATIONS)
        engagement = o.opt("engagement", s.hex64)
        not_tested: tuple[str, ...] | None = None
        if engagement is None:
            o.forbid("notTested", "it goes with engagement (a test record without one is legacy)")
        else:
            not_tested = o.req("notTested", _LIMITATIONS)
        if result is not INVALID and trials is not INVALID and o.value is not None:
            _check_trials(o, result, o.value["trials"])
        return o.build(
            cls,
            claim,
            method,
            protocol,
            environment,
            window,
            cooperation,
            trials,
            summary,
            result,
            limitations,
            engagement,
            not_tested,
        )

    def to_dict(self) -> dict[str, Any]:
        """The JSON object form."""
        return {
            "claim": self.claim,
            "method": self.method.value,
            "protocol": self.protocol.to_dict(),
            "environment": self.environment.to_dict(),
            "window": self.window.to_dict(),
            "cooperation": self.cooperation.value,
            "trials": [x.to_dict() for x in self.trials],
            "summary": self.summary,
            "result": self.result.value,
            "limitations": list(self.limitations),
            **(
                {}
                if self.engagement is None
                else {"engagement": self.engagement, "notTested": list(self.not_tested or ())}
            ),
        }


def _check_trials(o: Obj, result: TestResult, trials: list[Any]) -> None:
    outcomes = [t.get("outcome") for t in trials]
    if not trials and result is not TestResult.NOT_RUN:
        o.fail("trials", f"trials must have at least 1 item when result is {result.value}")
    if result is TestResult.PASSED and TrialOutcome.FAIL.value in outcomes:
        o.fail("result", "result is PASSED but a trial failed")
    if result is TestResult.FAILED and TrialOutcome.FAIL.value not in outcomes:
        o.fail("result", "result is FAILED but no trial failed")
    seen: dict[str, int] = {}
    for i, t in enumerate(trials):
        name = t.get("name")
        if name in seen:
            o.ctx.add(
                s.child(s.child(o.at("trials"), i), "name"),
                f"trial name {name!r} repeats trials[{seen[name]}]",
            )
        seen.setdefault(name, i)


@dataclass(frozen=True, slots=True)
class ScopeTested(Model):
    """The scope a verdict's tests covered: ``{surfaces: [...], jurisdictions: [...]}``."""

    surfaces: tuple[Surface, ...]
    jurisdictions: tuple[str, ...]

    @classmethod
    def _read(cls, o: Obj) -> Self:
        surfaces = o.req("surfaces", _SURFACES)
        jurisdictions = o.req("jurisdictions", _read_jurisdictions)
        return o.build(cls, surfaces, jurisdictions)

    def to_dict(self) -> dict[str, Any]:
        """The JSON object form."""
        return {
            "surfaces": [x.value for x in self.surfaces],
            "jurisdictions": list(self.jurisdictions),
        }


_SCOPE_TESTED = s.obj(ScopeTested._read)


@dataclass(frozen=True, slots=True)
class Verdict(Model):
    """Body of ``verdict.issue``: a verifier's conclusion on one claim version."""

    claim: str
    tests: tuple[str, ...]
    result: VerdictResult
    assurance: Assurance
    scope_tested: ScopeTested
    scope_match: ScopeMatch
    valid_until: str
    conflicts_of_interest: str
    comments: str | None = None
    recommendations: tuple[str, ...] = ()
    engagement: str | None = None

    @classmethod
    def _read(cls, o: Obj) -> Self:
        claim = o.req("claim", s.hex64)
        tests = o.req("tests", _TESTS)
        result = o.req("result", _VERDICT_RESULT)
        assurance = o.req("assurance", _ASSURANCE)
        scope_tested = o.req("scopeTested", _SCOPE_TESTED)
        scope_match = o.req("scopeMatch", _SCOPE_MATCH)
        valid_until = o.req("validUntil", s.timestamp)
        comments = o.opt("comments", s.text)
        recommendations = o.opt("recommendations", _TEXTS)
        conflicts = o.req("conflictsOfInterest", s.text)
        engagement = o.opt("engagement", s.hex64)
        if result is not INVALID and scope_match is not INVALID:
            if result is VerdictResult.CONFIRMED and scope_match is not ScopeMatch.FULL:
                o.fail(
                    "scopeMatch",
                    "a CONFIRMED verdict needs scopeMatch 'full' "
                    "(use CONFIRMED_WITH_COMMENTS for a partial scope)",
                )
            if result is VerdictResult.CONFIRMED_WITH_COMMENTS and comments is None:
                o.fail("comments", "a CONFIRMED_WITH_COMMENTS verdict needs comments")
        return o.build(
            cls,
            claim,
            tests,
            result,
            assurance,
            scope_tested,
            scope_match,
            valid_until,
            conflicts,
            comments,
            recommendations or (),
            engagement,
        )

    def to_dict(self) -> dict[str, Any]:
        """The JSON object form."""
        out: dict[str, Any] = {
            "claim": self.claim,
            "tests": list(self.tests),
            "result": self.result.value,
            "assurance": self.assurance.value,
            "scopeTested": self.scope_tested.to_dict(),
            "scopeMatch": self.scope_match.value,
            "validUntil": self.valid_until,
        }
        if self.comments is not None:
            out["comments"] = self.comments
        if self.recommendations:
            out["recommendations"] = list(self.recommendations)
        out["conflictsOfInterest"] = self.conflicts_of_interest
        if self.engagement is not None:
            out["engagement"] = self.engagement
        return out

    @property
    def valid_until_ms(self) -> int:
        """``validUntil`` in milliseconds since the epoch."""
        return parse_timestamp(self.valid_until)


@dataclass(frozen=True, slots=True)
class Commitment(Model):
    """One action a provider's reply commits to (issue 17 §2): ``{action: text, due: date,
    recommendation?: index}``. ``recommendation`` names the finding it answers when the verdict
    is a ``CONFIRMED_WITH_COMMENTS`` (the index of one of its recommendations); an unfavourable
    verdict opens one finding and its commitments name none (SPEC §8.2 rule 6)."""

    action: str
    due: str
    recommendation: int | None = None

    @classmethod
    def _read(cls, o: Obj) -> Self:
        action = o.req("action", s.text)
        due = o.req("due", s.date_str)
        recommendation = o.opt("recommendation", _RECOMMENDATION_INDEX)
        return o.build(cls, action, due, recommendation)

    def to_dict(self) -> dict[str, Any]:
        """The JSON object form."""
        out: dict[str, Any] = {"action": self.action, "due": self.due}
        if self.recommendation is not None:
            out["recommendation"] = self.recommendation
        return out


_RECOMMENDATION_INDEX = s.integer(0, 99)
_COMMITMENTS = s.array(s.obj(Commitment._read), min_items=1, unique=True)


@dataclass(frozen=True, slots=True)
class ProviderReply(Model):
    """Body of ``provider.reply``: the provider's public reply to a verdict (by digest), with
    the actions it commits to, if any (new optional member: statements without it keep their
    meaning, ``v`` stays 1)."""

    verdict: str
    text: str
    evidence: tuple[Evidence, ...] = ()
    commitments: tuple[Commitment, ...] = ()

    @classmethod
    def _read(cls, o: Obj) -> Self:
        verdict = o.req("verdict", s.hex64)
        text = o.req("text", s.text)
        evidence = o.opt("evidence", _EVIDENCE)
        commitments = o.opt("commitments", _COMMITMENTS)
        return o.build(cls, verdict, text, evidence or (), commitments or ())

    def to_dict(self) -> dict[str, Any]:
        """The JSON object form."""
        out: dict[str, Any] = {"verdict": self.verdict, "text": self.text}
        if self.evidence:
            out["evidence"] = [x.to_dict() for x in self.evidence]
        if self.commitments:
            out["commitments"] = [c.to_dict() for c in self.commitments]
        return out


# --------------------------------------------------------------------------------------------
# engagements


@dataclass(frozen=True, slots=True)
class PlannedMethod(Model):
    """One method an engagement plans to use: ``{method, protocol: document}``."""

    method: TestMethod
    protocol: DocumentRef

    @classmethod
    def _read(cls, o: Obj) -> Self:
        method = o.req("method", _TEST_METHOD)
        protocol = o.req("protocol", _DOCUMENT)
        return o.build(cls, method, protocol)

    def to_dict(self) -> dict[str, Any]:
        """The JSON object form."""
        return {"method": self.method.value, "protocol": self.protocol.to_dict()}


_PLAN = s.array(s.obj(PlannedMethod._read), min_items=1, unique=True)


@dataclass(frozen=True, slots=True)
class PartyOrName(Model):
    """Who commissioned or pays for an engagement: ``{party: party id}`` or ``{name}``.

    Exactly one of the two. A party id is not checked against the registry (the rules need no
    other party's record to decide an engagement); pages link it when it is registered.
    """

    party: str | None = None
    name: str | None = None

    @classmethod
    def _read(cls, o: Obj) -> Self:
        party = o.opt("party", s.party_id)
        name = o.opt("name", s.name)
        if o.value is not None and (party is None) == (name is None):
            o.ctx.add(o.pointer, f"{s.label(o.pointer)} needs exactly one of 'party' and 'name'")
        return o.build(cls, party, name)

    def to_dict(self) -> dict[str, Any]:
        """The JSON object form."""
        return {"party": self.party} if self.party is not None else {"name": self.name}

    @property
    def label(self) -> str:
        """The party id or the name."""
        return self.party or self.name or ""


_PARTY_OR_NAME = s.obj(PartyOrName._read)


@dataclass(frozen=True, slots=True)
class EngagementOpen(Model):
    """Body of ``engagement.open``: a verifier registers an engagement before it tests.

    The provider is the statement's ``stream``; the verifier is its ``signer``.
    """

    claims: tuple[str, ...]
    methods: tuple[PlannedMethod, ...]
    window: Window
    commissioned_by: PartyOrName
    paid_by: PartyOrName
    conflicts: tuple[str, ...]

    @classmethod
    def _read(cls, o: Obj) -> Self:
        claims = o.req("claims", _CLAIMS)
        methods = o.req("methods", _PLAN)
        window = o.req("window", _WINDOW)
        commissioned_by = o.req("commissionedBy", _PARTY_OR_NAME)
        paid_by = o.req("paidBy", _PARTY_OR_NAME)
        conflicts = o.req("conflicts", _LIMITATIONS)
        return o.build(cls, claims, methods, window, commissioned_by, paid_by, conflicts)

    def to_dict(self) -> dict[str, Any]:
        """The JSON object form."""
        return {
            "claims": list(self.claims),
            "methods": [m.to_dict() for m in self.methods],
            "window": self.window.to_dict(),
            "commissionedBy": self.commissioned_by.to_dict(),
            "paidBy": self.paid_by.to_dict(),
            "conflicts": list(self.conflicts),
        }


@dataclass(frozen=True, slots=True)
class EngagementClose(Model):
    """Body of ``engagement.close``: the verifier closes an engagement with one of its verdicts."""

    engagement: str
    verdict: str

    @classmethod
    def _read(cls, o: Obj) -> Self:
        engagement = o.req("engagement", s.hex64)
        verdict = o.req("verdict", s.hex64)
        return o.build(cls, engagement, verdict)

    def to_dict(self) -> dict[str, Any]:
        """The JSON object form."""
        return {"engagement": self.engagement, "verdict": self.verdict}


@dataclass(frozen=True, slots=True)
class EngagementWithdraw(Model):
    """Body of ``engagement.withdraw``: the verifier or the provider ends an engagement."""

    engagement: str
    reason: str

    @classmethod
    def _read(cls, o: Obj) -> Self:
        engagement = o.req("engagement", s.hex64)
        reason = o.req("reason", _REASON)
        return o.build(cls, engagement, reason)

    def to_dict(self) -> dict[str, Any]:
        """The JSON object form."""
        return {"engagement": self.engagement, "reason": self.reason}


# --------------------------------------------------------------------------------------------
# authority datasets: reference counts and open-data dumps


@dataclass(frozen=True, slots=True)
class ReferenceRow(Model):
    """One row of a reference dataset: ``{listedAs, count, party?}``.

    ``listedAs`` is the provider's name exactly as the source lists it; ``party`` (when the
    authority has mapped it) the registered party id it is compared with (SPEC §8.4).
    """

    listed_as: str
    count: int
    party: str | None = None

    @classmethod
    def _read(cls, o: Obj) -> Self:
        listed_as = o.req("listedAs", s.name)
        count = o.req("count", _COUNT)
        party = o.opt("party", s.party_id)
        return o.build(cls, listed_as, count, party)

    def to_dict(self) -> dict[str, Any]:
        """The JSON object form."""
        out: dict[str, Any] = {"listedAs": self.listed_as, "count": self.count}
        if self.party is not None:
            out["party"] = self.party
        return out


_COUNT = s.integer(0, s.SAFE_INT)
_REFERENCE_ROWS = s.array(s.obj(ReferenceRow._read), min_items=1, max_items=5000)
_RECIPIENT = s.choice(("NCMEC", "IWF", "C3P", "national_hotline", "law_enforcement", "eSafety"))
_REFERENCE_UNIT = s.enum(ReferenceUnit)


@dataclass(frozen=True, slots=True)
class ReferencePublish(Model):
    """Body of ``reference.publish``: the authority logs a published table of per-provider counts.

    E.g. NCMEC's CyberTipline reports by electronic service provider for a year. A provider's
    ``report.authority`` metrics for the same period and unit are compared with its row (§8.4).
    """

    dataset: str
    recipient: str
    source: DocumentRef
    unit: ReferenceUnit
    period: Period
    rows: tuple[ReferenceRow, ...]

    @classmethod
    def _read(cls, o: Obj) -> Self:
        dataset = o.req("dataset", s.name)
        recipient = o.req("recipient", _RECIPIENT)
        source = o.req("source", _DOCUMENT)
        unit = o.req("unit", _REFERENCE_UNIT)
        period = o.req("period", _PERIOD)
        rows = o.req("rows", _REFERENCE_ROWS)
        if valid(rows) and o.value is not None:
            _check_rows(o, o.value["rows"])
        return o.build(cls, dataset, recipient, source, unit, period, rows)

    def to_dict(self) -> dict[str, Any]:
        """The JSON object form."""
        return {
            "dataset": self.dataset,
            "recipient": self.recipient,
            "source": self.source.to_dict(),
            "unit": self.unit.value,
            "period": self.period.to_dict(),
            "rows": [r.to_dict() for r in self.rows],
        }

    def row_of(self, party: str) -> ReferenceRow | None:
        """The row mapped to ``party``, if any."""
        for r in self.rows:
            if r.party == party:
                return r
        return None


def _check_rows(o: Obj, raw: list[Mapping[str, Any]]) -> None:
    """No two rows list the same name or map the same party (the later one is reported)."""
    pointer = o.at("rows")
    names: dict[str, int] = {}
    parties: dict[str, int] = {}
    for i, row in enumerate(raw):
        name, party = row["listedAs"], row.get("party")
        if name in names:
            at = s.child(s.child(pointer, i), "listedAs")
            o.ctx.add(at, f"{s.label(at)}: the same name is listed in row {names[name]}")
        names.setdefault(name, i)
        if party is not None:
            if party in parties:
                at = s.child(s.child(pointer, i), "party")
                o.ctx.add(at, f"{s.label(at)}: {party} is already mapped in row {parties[party]}")
            parties.setdefault(party, i)


_FILE_NAME = s.pattern(
    r"[A-Za-z0-9][A-Za-z0-9._-]*", "a file name of letters, digits, '.', '_', '-'", 100
)


@dataclass(frozen=True, slots=True)
class DumpFile(Model):
    """One file of an open-data dump: ``{name, sha256, size}``."""

    name: str
    sha256: str
    size: int

    @classmethod
    def _read(cls, o: Obj) -> Self:
        name = o.req("name", _FILE_NAME)
        sha256 = o.req("sha256", s.hex64)
        size = o.req("size", _COUNT)
        return o.build(cls, name, sha256, size)

    def to_dict(self) -> dict[str, Any]:
        """The JSON object form."""
        return {"name": self.name, "sha256": self.sha256, "size": self.size}


_DUMP_FILES = s.array(s.obj(DumpFile._read), min_items=1)


@dataclass(frozen=True, slots=True)
class DumpPublish(Model):
    """Body of ``dump.publish``: the authority pins the open-data dump of a day (SPEC §17).

    ``checkpointSize`` is the log size the dump was cut at; each file by name, SHA-256 and size.
    """

    date: str
    checkpoint_size: int
    files: tuple[DumpFile, ...]

    @classmethod
    def _read(cls, o: Obj) -> Self:
        day = o.req("date", s.date_str)
        size = o.req("checkpointSize", _LOG_INDEX)
        files = o.req("files", _DUMP_FILES)
        if valid(files) and o.value is not None:
            seen: dict[str, int] = {}
            pointer = o.at("files")
            for i, f in enumerate(o.value["files"]):
                if f["name"] in seen:
                    at = s.child(s.child(pointer, i), "name")
                    o.ctx.add(at, f"{s.label(at)}: the same name as file {seen[f['name']]}")
                seen.setdefault(f["name"], i)
        return o.build(cls, day, size, files)

    def to_dict(self) -> dict[str, Any]:
        """The JSON object form."""
        return {
            "date": self.date,
            "checkpointSize": self.checkpoint_size,
            "files": [f.to_dict() for f in self.files],
        }


Body: TypeAlias = (
    Genesis
    | PartyRegister
    | KeyAdd
    | KeyRevoke
    | AccreditationGrant
    | AccreditationSuspend
    | PartyRetire
    | LogKeyRotate
    | Claim
    | ClaimWithdraw
    | TestRecord
    | Verdict
    | ProviderReply
    | EngagementOpen
    | EngagementClose
    | EngagementWithdraw
    | ReferencePublish
    | DumpPublish
)

_BODY_READERS: Mapping[Kind, Callable[[Obj], Body]] = MappingProxyType(
    {
        Kind.GENESIS: Genesis._read,
        Kind.PARTY_REGISTER: PartyRegister._read,
        Kind.KEY_ADD: KeyAdd._read,
        Kind.KEY_REVOKE: KeyRevoke._read,
        Kind.ACCREDITATION_GRANT: AccreditationGrant._read,
        Kind.ACCREDITATION_SUSPEND: AccreditationSuspend._read,
        Kind.PARTY_RETIRE: PartyRetire._read,
        Kind.LOG_KEY_ROTATE: LogKeyRotate._read,
        Kind.CLAIM_PUBLISH: lambda o: Claim._read_as(o, Kind.CLAIM_PUBLISH),
        Kind.CLAIM_SUPERSEDE: lambda o: Claim._read_as(o, Kind.CLAIM_SUPERSEDE),
        Kind.CLAIM_WITHDRAW: ClaimWithdraw._read,
        Kind.TEST_RECORD: TestRecord._read,
        Kind.VERDICT_ISSUE: Verdict._read,
        Kind.PROVIDER_REPLY: ProviderReply._read,
        Kind.ENGAGEMENT_OPEN: EngagementOpen._read,
        Kind.ENGAGEMENT_CLOSE: EngagementClose._read,
        Kind.ENGAGEMENT_WITHDRAW: EngagementWithdraw._read,
        Kind.REFERENCE_PUBLISH: ReferencePublish._read,
        Kind.DUMP_PUBLISH: DumpPublish._read,
    }
)
_BODY_PARSERS: Mapping[Kind, s.Parser[Body]] = MappingProxyType(
    {kind: s.obj(read) for kind, read in _BODY_READERS.items()}
)


# --------------------------------------------------------------------------------------------
# the statement


_VERSION_INTEGER = s.integer(-(2**53) + 1, 2**53 - 1)


def _read_version(value: object, parent: str, token: s.Token, ctx: Ctx) -> int:
    v = _VERSION_INTEGER(value, parent, token, ctx)
    if v is not INVALID and v != STATEMENT_VERSION:
        return ctx.add(  # type: ignore[no-any-return]
            s.pointer_of(parent, token),
            f"v must be {STATEMENT_VERSION} (the statement format version), got {v}",
        )
    return v


def _read_stream(value: object, parent: str, token: s.Token, ctx: Ctx) -> str:
    if value == REGISTRY_STREAM:
        return REGISTRY_STREAM
    return s.party_id(value, parent, token, ctx)


@dataclass(frozen=True, slots=True)
class Statement(Model):
    """A statement: the envelope members of docs/SPEC.md §3.1 and a kind-specific body.

    Attributes:
        v: the statement format version, always :data:`STATEMENT_VERSION`.
        kind: the statement kind, which fixes the body type and the stream.
        stream: ``registry`` for registry kinds, otherwise the provider's party id.
        prev: the hex entry hash of the stream's head as the signer saw it.
        signer: the signing party's id.
        signed_at: the signer's clock, ``YYYY-MM-DDTHH:MM:SSZ``.
        body: the kind's body model.
    """

    v: int
    kind: Kind
    stream: str
    prev: str
    signer: str
    signed_at: str
    body: Body

    @classmethod
    def _read(cls, o: Obj) -> Self:
        v = o.req("v", _read_version)
        kind = o.req("kind", _KIND)
        stream = o.req("stream", _read_stream)
        prev = o.req("prev", s.hex64)
        signer = o.req("signer", s.party_id)
        signed_at = o.req("signedAt", s.timestamp)
        if valid(kind):
            body = o.req("body", _BODY_PARSERS[kind])
        else:
            o.skip("body")
            body = INVALID
        if kind is not INVALID and stream is not INVALID:
            if kind in REGISTRY_KINDS and stream != REGISTRY_STREAM:
                o.fail("stream", f"a {kind.value} statement goes to stream 'registry'")
            elif kind not in REGISTRY_KINDS and stream == REGISTRY_STREAM:
                o.fail(
                    "stream",
                    f"a {kind.value} statement goes to a provider's stream, not 'registry'",
                )
        if (
            kind is not INVALID
            and signed_at is not INVALID
            and kind in _TIMED_KINDS
            and o.value is not None
            and _is_object(o.value.get("body"))
        ):
            _check_times(o, kind, signed_at, o.value["body"])
        return o.build(cls, v, kind, stream, prev, signer, signed_at, body)

    def to_dict(self) -> dict[str, Any]:
        """The plain JSON object (``parse_statement(d).to_dict() == d``)."""
        return {
            "v": self.v,
            "kind": self.kind.value,
            "stream": self.stream,
            "prev": self.prev,
            "signer": self.signer,
            "signedAt": self.signed_at,
            "body": self.body.to_dict(),
        }

    @property
    def signed_at_ms(self) -> int:
        """``signedAt`` in milliseconds since the Unix epoch."""
        return parse_timestamp(self.signed_at)


_TIMED_KINDS = frozenset({Kind.VERDICT_ISSUE, Kind.ACCREDITATION_GRANT, Kind.TEST_RECORD})
"""The kinds whose body has times that _check_times compares with signedAt (none for others)."""


def _check_times(o: Obj, kind: Kind, signed_at: str, body: Mapping[str, Any]) -> None:
    """Times in a body that must be consistent with ``signedAt`` (checked on valid values only)."""
    until = body.get("validUntil")
    if (
        kind in (Kind.VERDICT_ISSUE, Kind.ACCREDITATION_GRANT)
        and isinstance(until, str)
        and _is_time(until)
        and until <= signed_at
    ):
        o.ctx.add(
            s.child(o.at("body"), "validUntil"),
            f"validUntil {until} must be later than signedAt {signed_at}",
        )
    window = body.get("window")
    if kind is Kind.TEST_RECORD and _is_object(window) and _is_time(window.get("end")):
        end = window["end"]
        if end > signed_at:
            o.ctx.add(
                s.child(s.child(o.at("body"), "window"), "end"),
                f"window end {end} is after signedAt {signed_at}: a test is recorded after it ends",
            )


def _is_object(value: object) -> TypeGuard[Mapping[str, Any]]:
    """``isinstance(value, Mapping)``, answering the usual plain dict without the ABC check."""
    return type(value) is dict or isinstance(value, Mapping)


def _is_time(value: object) -> bool:
    if not isinstance(value, str):
        return False
    try:
        parse_timestamp(value)
    except ValueError:
        return False
    return True


def parse_statement(obj: Mapping[str, Any]) -> Statement:
    """Read a decoded statement object (docs/SPEC.md §3) into a :class:`Statement`.

    Args:
        obj: the JSON object, as decoded by the canonical-JSON layer.

    Returns:
        The statement, whose ``to_dict()`` equals ``obj``.

    Raises:
        SchemaError: listing every problem found, each with a JSON pointer from the root.
    """
    return Statement.from_dict(obj)
