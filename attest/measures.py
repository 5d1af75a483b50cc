"""The versioned vocabulary of measure types a claim may name, with a small schema for each.

A claim's ``measure`` must be a key of :data:`MEASURES`; its ``details`` object must match that
measure's fields exactly (unknown detail fields are refused). The vocabulary is versioned by
:data:`VOCABULARY_VERSION`: adding a measure or a detail field, or widening a value list, makes a
new version; nothing is ever removed from a published version, so old claims stay valid.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from attest._schema import (
    INVALID,
    FrozenObject,
    Obj,
    Parser,
    array,
    boolean,
    choice,
    date_str,
    decimal_less,
    hex64,
    integer,
    language,
    name,
    non_negative_decimal,
    obj,
    uri,
    valid,
)

__all__ = ["MEASURES", "VOCABULARY_VERSION", "DetailField", "MeasureSpec", "measure_problem"]

VOCABULARY_VERSION = "2026-11"


@dataclass(frozen=True, slots=True)
class DetailField:
    """One member of a measure's ``details`` object.

    Attributes:
        name: the JSON member name.
        parse: the parser checking its value.
        required: whether the member must be present.
        doc: the value's format, as written in docs/SPEC.md §3.3.
    """

    name: str
    parse: Parser[Any]
    required: bool
    doc: str


Check = Callable[[Mapping[str, Any]], list[tuple[str, str]]]


@dataclass(frozen=True, slots=True)
class MeasureSpec:
    """One measure type of the vocabulary.

    Attributes:
        type: the measure type, e.g. ``detect.hash_known_image``.
        title: a plain-language title for the public page.
        asserts: what a claim of this measure asserts.
        fields: the members of its ``details`` object.
        check: cross-field rules over valid details: returns ``(member, message)`` pairs.
    """

    type: str
    title: str
    asserts: str
    fields: tuple[DetailField, ...]
    check: Check | None = None

    def read_details(self, o: Obj) -> FrozenObject:
        """Check a ``details`` object against this measure; returns it frozen."""
        values: dict[str, Any] = {}
        for f in self.fields:
            v = o.req(f.name, f.parse) if f.required else o.opt(f.name, f.parse)
            if v is not None:
                values[f.name] = v
        if self.check is not None and valid(*values.values()):
            for member, message in self.check(values):
                o.fail(member, message)
        raw = o.value
        return o.build(FrozenObject.of, raw or {})


def measure_problem(measure: str) -> str | None:
    """The problem with a measure type name, or ``None`` if it is in the vocabulary."""
    if measure in MEASURES:
        return None
    known = ", ".join(MEASURES)
    return (
        f"measure {measure!r} is not a known measure type "
        f"(vocabulary {VOCABULARY_VERSION}; known: {known})"
    )


# --------------------------------------------------------------------------------------------
# shared detail value formats


def _read_digest(o: Obj) -> object:
    sha = o.req("sha256", hex64)
    return o.build(lambda: sha)


def _read_document(o: Obj) -> object:
    u = o.req("uri", uri)
    d = o.req("digest", obj(_read_digest))
    return o.build(lambda: (u, d))


def _read_period(o: Obj) -> object:
    start = o.req("start", date_str)
    end = o.req("end", date_str)
    if start is not INVALID and end is not INVALID and end < start:
        o.fail("end", f"end {end} is before start {start}")
    return o.build(lambda: (start, end))


document = obj(_read_document)
period = obj(_read_period)


def _set(*options: str) -> Parser[tuple[str, ...]]:
    return array(choice(options), min_items=1, unique=True)


def _field(name: str, parse: Parser[Any], doc: str, *, required: bool = True) -> DetailField:
    return DetailField(name, parse, required, doc)


def _list_doc(options: tuple[str, ...]) -> str:
    return "[" + " | ".join(options) + "], ≥1, unique"


_LANGUAGES = array(language, min_items=1, unique=True)
_LANGUAGES_DOC = "[BCP 47 language tag], ≥1, unique"
_HOURS = non_negative_decimal
_HOURS_DOC = "non-negative decimal string (hours)"

HASH_SOURCES = ("NCMEC", "IWF", "C3P", "INHOPE", "Thorn", "Tech_Coalition", "internal")
MATCH_POINTS = ("upload", "pre_publication", "at_rest", "on_report", "in_transit")
IMAGE_HASHES = ("PhotoDNA", "PDQ", "MD5", "SHA-1", "proprietary")
VIDEO_HASHES = ("TMK+PDQF", "vPDQ", "CSAI_Match", "PhotoDNA_video", "MD5", "proprietary")
URL_SOURCES = ("IWF", "NCMEC", "C3P", "INHOPE", "internal")
URL_APPLIED_AT = ("posting", "messaging", "search_results", "link_previews", "profile_links")
POLICY_COVERS = (
    "csam",
    "grooming",
    "sextortion",
    "ai_generated_csam",
    "self_generated_imagery",
    "trafficking",
)
REVIEW_MODES = ("all_before_action", "sampled", "none")
GROOMING_INTERVENTIONS = (
    "warn_minor",
    "warn_sender",
    "block_contact",
    "restrict_account",
    "human_review",
    "report_to_authority",
)
LIVESTREAM_METHODS = ("real_time_classifier", "frame_hash_matching", "human_moderation", "sampling")
E2EE_METHODS = (
    "user_reporting_with_content",
    "metadata_signals",
    "behavioural_signals",
    "on_device_hash_matching",
    "on_device_nudity_warning",
    "none",
)
E2EE_LEAVES_DEVICE = ("nothing", "reported_messages", "match_result", "metadata")
GENAI_SAFEGUARDS = (
    "prompt_filtering",
    "output_classification",
    "training_data_filtering",
    "minor_likeness_blocking",
    "red_teaming",
)
GENAI_OUTPUTS = ("text", "image", "video", "audio")
RECIPIENTS = ("NCMEC", "IWF", "C3P", "national_hotline", "law_enforcement", "eSafety")
REPORT_SURFACES = (
    "public_posts",
    "profiles",
    "comments",
    "dm_unencrypted",
    "dm_e2ee",
    "group_chat",
    "livestream",
    "video_call",
    "cloud_storage",
    "file_sharing",
    "search",
    "genai",
)
BAN_EVASION_SIGNALS = ("device", "email", "phone", "payment", "ip_address", "behavioural")
AGE_METHODS = (
    "self_declaration",
    "facial_age_estimation",
    "id_document",
    "credit_card",
    "digital_id",
    "third_party_vouching",
    "behavioural_inference",
)
AGE_APPLIED_AT = ("sign_up", "feature_access", "periodic", "on_signal")
MINOR_SETTINGS = (
    "private_account",
    "not_suggested_to_strangers",
    "dms_from_connections_only",
    "location_hidden",
    "no_public_follower_list",
    "livestream_disabled",
    "sensitive_content_filter",
)


def _check_report_authority(d: Mapping[str, Any]) -> list[tuple[str, str]]:
    median, p90 = d.get("targetMedianHours"), d.get("targetP90Hours")
    if median is not None and p90 is not None and decimal_less(p90, median):
        return [("targetP90Hours", f"targetP90Hours {p90} is less than targetMedianHours {median}")]
    return []


def _check_classifier(d: Mapping[str, Any]) -> list[tuple[str, str]]:
    if "falsePositiveRate" in d and "falsePositiveMethod" not in d:
        return [("falsePositiveMethod", "falsePositiveRate needs a falsePositiveMethod")]
    return []


def _spec(
    type_: str, title: str, asserts: str, *fields: DetailField, check: Check | None = None
) -> MeasureSpec:
    return MeasureSpec(type_, title, asserts, fields, check)


_SPECS = (
    _spec(
        "policy.csea_definition",
        "The rules forbid child sexual abuse material, grooming and sextortion",
        "terms of service define and prohibit abuse material, grooming and sextortion",
        _field("policy", document, "{uri, digest}: the policy document"),
        _field("languages", _LANGUAGES, _LANGUAGES_DOC),
        _field("covers", _set(*POLICY_COVERS), _list_doc(POLICY_COVERS)),
    ),
    _spec(
        "detect.hash_known_image",
        "Known abuse images are matched and removed",
        "known images are matched against hash lists and blocked or removed",
        _field("technologies", _set(*IMAGE_HASHES), _list_doc(IMAGE_HASHES)),
        _field("hashSources", _set(*HASH_SOURCES), _list_doc(HASH_SOURCES)),
        _field("matchPoints", _set(*MATCH_POINTS), _list_doc(MATCH_POINTS)),
    ),
    _spec(
        "detect.hash_known_video",
        "Known abuse videos are matched and removed",
        "known videos are matched against hash lists and blocked or removed",
        _field("technologies", _set(*VIDEO_HASHES), _list_doc(VIDEO_HASHES)),
        _field("hashSources", _set(*HASH_SOURCES), _list_doc(HASH_SOURCES)),
        _field("matchPoints", _set(*MATCH_POINTS), _list_doc(MATCH_POINTS)),
    ),
    _spec(
        "detect.url_blocklist",
        "Links to known abuse sites are blocked",
        "links to known abuse sites are blocked",
        _field("listSources", _set(*URL_SOURCES), _list_doc(URL_SOURCES)),
        _field("appliedAt", _set(*URL_APPLIED_AT), _list_doc(URL_APPLIED_AT)),
    ),
    _spec(
        "detect.classifier_novel",
        "New abuse material is found by classifiers and checked by people",
        "classifiers find previously unseen material",
        _field("media", _set("image", "video"), _list_doc(("image", "video"))),
        _field("humanReview", choice(REVIEW_MODES), " | ".join(REVIEW_MODES)),
        _field(
            "falsePositiveRate",
            non_negative_decimal,
            "non-negative decimal string (a fraction, e.g. '0.02')",
            required=False,
        ),
        _field(
            "falsePositiveMethod",
            name,
            "string ≤ 200: how the rate was measured (required with falsePositiveRate)",
            required=False,
        ),
        check=_check_classifier,
    ),
    _spec(
        "detect.grooming_text",
        "Grooming and sextortion messages are detected",
        "grooming and sextortion language is detected and acted on",
        _field("languages", _LANGUAGES, _LANGUAGES_DOC),
        _field("interventions", _set(*GROOMING_INTERVENTIONS), _list_doc(GROOMING_INTERVENTIONS)),
    ),
    _spec(
        "detect.livestream",
        "Live video and video calls are checked",
        "live video and video calls are covered by detection",
        _field("methods", _set(*LIVESTREAM_METHODS), _list_doc(LIVESTREAM_METHODS)),
        _field(
            "samplingIntervalSeconds",
            integer(1, 3600),
            "integer 1..3600 (when sampling)",
            required=False,
        ),
    ),
    _spec(
        "detect.e2ee_measures",
        "Abuse is tackled on end-to-end encrypted chats too",
        "what is done on end-to-end encrypted surfaces, and what leaves the device",
        _field("methods", _set(*E2EE_METHODS), _list_doc(E2EE_METHODS)),
        _field("leavesDevice", _set(*E2EE_LEAVES_DEVICE), _list_doc(E2EE_LEAVES_DEVICE)),
    ),
    _spec(
        "detect.genai_safeguards",
        "AI features cannot be used to make abuse material",
        "generative features are prevented from producing abuse material",
        _field("safeguards", _set(*GENAI_SAFEGUARDS), _list_doc(GENAI_SAFEGUARDS)),
        _field("outputs", _set(*GENAI_OUTPUTS), _list_doc(GENAI_OUTPUTS)),
    ),
    _spec(
        "report.authority",
        "Abuse material found is reported to the authorities quickly",
        "confirmed material is reported to the proper authority in a timely way",
        _field("recipients", _set(*RECIPIENTS), _list_doc(RECIPIENTS)),
        _field(
            "targetMedianHours", _HOURS, _HOURS_DOC + ", confirmation to report", required=False
        ),
        _field("targetP90Hours", _HOURS, _HOURS_DOC + ", ≥ targetMedianHours", required=False),
        _field("preservationDays", integer(1, 3650), "integer 1..3650", required=False),
        check=_check_report_authority,
    ),
    _spec(
        "report.user_tool",
        "Users can report child abuse wherever they see it",
        "users can report abuse material on every surface",
        _field("surfaces", _set(*REPORT_SURFACES), _list_doc(REPORT_SURFACES)),
        _field("specificCategory", boolean, "boolean: a child-abuse reporting category exists"),
        _field("targetActionHours", _HOURS, _HOURS_DOC + ", report to action", required=False),
    ),
    _spec(
        "moderation.human_review",
        "Trained specialists review reports",
        "specialist human review of suspected abuse material",
        _field("coverageHoursPerWeek", integer(1, 168), "integer 1..168"),
        _field("languages", _LANGUAGES, _LANGUAGES_DOC),
    ),
    _spec(
        "enforcement.recidivism",
        "Offenders' accounts are closed and kept out",
        "offending accounts are closed and prevented from returning",
        _field("banEvasionSignals", _set(*BAN_EVASION_SIGNALS), _list_doc(BAN_EVASION_SIGNALS)),
        _field(
            "signalSharing",
            array(name, min_items=1, unique=True),
            "[string ≤ 200: programme, e.g. 'Lantern'], ≥1, unique",
            required=False,
        ),
    ),
    _spec(
        "age.assurance",
        "Users' ages are checked",
        "users' ages are established",
        _field("methods", _set(*AGE_METHODS), _list_doc(AGE_METHODS)),
        _field("appliedAt", _set(*AGE_APPLIED_AT), _list_doc(AGE_APPLIED_AT)),
    ),
    _spec(
        "defaults.minor_settings",
        "Children get safe settings by default",
        "accounts of minors start with safe settings",
        _field("settings", _set(*MINOR_SETTINGS), _list_doc(MINOR_SETTINGS)),
        _field("lockedForMinors", boolean, "boolean: minors cannot loosen them", required=False),
    ),
    _spec(
        "transparency.report",
        "A transparency report is published",
        "a transparency report on child abuse is published",
        _field("report", document, "{uri, digest}: the report"),
        _field("period", period, "{start: date, end: date ≥ start}"),
        _field(
            "metricsIncluded",
            array(name, min_items=1, unique=True),
            "[string ≤ 200], ≥1, unique",
            required=False,
        ),
    ),
    _spec(
        "governance.risk_assessment",
        "Risks to children are assessed",
        "the risk of child sexual abuse and exploitation on the service is assessed",
        _field("assessedOn", date_str, "date"),
        _field("regime", name, "string ≤ 200: e.g. 'UK OSA illegal content risk assessment'"),
        _field("summary", document, "{uri, digest}: a published summary", required=False),
    ),
)

MEASURES: Mapping[str, MeasureSpec] = MappingProxyType({s.type: s for s in _SPECS})
"""Every measure type of vocabulary :data:`VOCABULARY_VERSION`, by type name."""
