// claimledger statement schemas (docs/SPEC.md §3) for the browser verifier.
//
// A port of the Python readers, kept in their shape so the two can be read side by side:
//
//   1. the reader toolkit of attest/_schema.py (Ctx, Obj, the scalar parsers, arrays);
//   2. the scalar formats of §3.2 (party ids, timestamps, dates, keys, URIs, decimals);
//   3. the measure vocabulary of attest/measures.py and each measure's `details` schema;
//   4. the statement kinds of attest/statements.py (§3.1 envelope, §3.3 bodies).
//
// statementProblems(value) returns every problem found, each {pointer, message} with an
// RFC 6901 pointer from the statement root, in the order Python's parse_statement reports them
// (document order of its readers). verify.js refuses a statement with the first one, exactly as
// attest.errors.SchemaError names its first problem. Messages follow Python's, not to the letter.
//
// Values are JSON as decoded by verify.js (objects without prototype, safe-integer numbers).
// Members are visited in canonical order (RFC 8785: sorted by UTF-16 code units), which is the
// order of the members in the canonical payload and so the order Python's dict keeps them in.

// ---------------------------------------------------------------------------------------------
// 1. The reader toolkit (attest/_schema.py)

export const NAME_MAX = 200;
export const TEXT_MAX = 4000;
export const URI_MAX = 2000;
export const LIST_MAX = 100;
const SAFE_INT = 2 ** 53 - 1;

/** Returned by a parser for a value it found wrong (after recording the problem). */
const INVALID = Symbol("INVALID");

/** True when none of `values` is INVALID. */
const valid = (...values) => !values.includes(INVALID);

const hasOwn = (o, k) => Object.prototype.hasOwnProperty.call(o, k);
const isObject = (v) => v !== null && typeof v === "object" && !Array.isArray(v);

/** The member names of a JSON object in canonical order (see the header). */
const memberNames = (o) => Object.keys(o).sort();

/** The RFC 6901 pointer to member or item `token` of the value at `pointer`. */
function child(pointer, token) {
  return `${pointer}/${String(token).replaceAll("~", "~0").replaceAll("/", "~1")}`;
}

/** A short name for the field at `pointer`: `party`, `keys[2]`, `the statement`. */
function label(pointer) {
  const tokens = pointer
    .split("/")
    .slice(1)
    .map((t) => t.replaceAll("~1", "/").replaceAll("~0", "~"));
  if (!tokens.length) return "the statement";
  let suffix = "";
  while (tokens.length > 1 && /^[0-9]+$/.test(tokens[tokens.length - 1])) suffix = `[${tokens.pop()}]${suffix}`;
  return `${tokens[tokens.length - 1]}${suffix}`;
}

/** `/body` or `the statement` for the root, for messages about an object. */
const where = (pointer) => pointer || "the statement";

/** The JSON type name of a decoded value. */
function jsonType(v) {
  if (v === null) return "null";
  if (typeof v === "boolean") return "boolean";
  if (typeof v === "number") return Number.isInteger(v) ? "integer" : "number";
  if (typeof v === "string") return "string";
  if (Array.isArray(v)) return "array";
  return typeof v === "object" ? "object" : typeof v;
}

/** A short quoted rendering of a bad value for a message. */
function show(value, limit = 60) {
  const text = JSON.stringify(value) ?? String(value);
  return text.length <= limit ? text : `${text.slice(0, limit - 3)}...`;
}

/** Problems found so far. */
class Ctx {
  constructor() {
    this.problems = [];
  }

  /** Record a problem; returns INVALID so parsers can `return ctx.add(...)`. */
  add(pointer, message) {
    this.problems.push({ pointer, message });
    return INVALID;
  }
}

/** Reads the members of one JSON object, recording problems in a Ctx (Python's Obj). */
class Obj {
  constructor(value, pointer, ctx) {
    this.ctx = ctx;
    this.pointer = pointer;
    this.mark = ctx.problems.length;
    this.seen = new Set();
    if (isObject(value)) {
      this.value = value;
    } else {
      this.value = null;
      const what = pointer ? label(pointer) : "the statement";
      ctx.add(pointer, `${what} must be an object, got ${jsonType(value)}`);
    }
  }

  /** The pointer to member `name`. */
  at(name) {
    return child(this.pointer, name);
  }

  /** Whether member `name` is present (raw), without reading it. */
  raw(name) {
    return this.value !== null && hasOwn(this.value, name) ? this.value[name] : undefined;
  }

  /** Read a required member. */
  req(name, parse) {
    this.seen.add(name);
    if (this.value === null) return INVALID;
    if (!hasOwn(this.value, name)) {
      return this.ctx.add(this.at(name), `missing required field '${name}' in ${where(this.pointer)}`);
    }
    return parse(this.value[name], this.at(name), this.ctx);
  }

  /** Read an optional member: undefined when absent; present as null is a problem. */
  opt(name, parse) {
    this.seen.add(name);
    if (this.value === null) return INVALID;
    if (!hasOwn(this.value, name)) return undefined;
    return parse(this.value[name], this.at(name), this.ctx);
  }

  /** Record a problem if member `name` is present. */
  forbid(name, why) {
    this.seen.add(name);
    if (this.value !== null && hasOwn(this.value, name)) {
      this.ctx.add(this.at(name), `field '${name}' is not allowed here: ${why}`);
    }
  }

  /** Count member `name` as known without reading it (its reader could not run). */
  skip(name) {
    this.seen.add(name);
  }

  /** Record a problem at member `name`. */
  fail(name, message) {
    this.ctx.add(this.at(name), message);
  }

  /** Refuse unknown members; the object, or INVALID if anything in it was wrong. */
  build() {
    if (this.value !== null) {
      for (const key of memberNames(this.value)) {
        if (!this.seen.has(key)) this.ctx.add(child(this.pointer, key), `unknown field '${key}' in ${where(this.pointer)}`);
      }
    }
    return this.ctx.problems.length > this.mark ? INVALID : this.value;
  }
}

/** A parser for a JSON object read by `read(o: Obj)`. */
const obj = (read) => (value, pointer, ctx) => read(new Obj(value, pointer, ctx));

// -- scalar parsers: each (value, pointer, ctx) -> value or INVALID

const problem = (ctx, pointer, what) => ctx.add(pointer, `${label(pointer)} ${what}`);
const wrongType = (ctx, pointer, value, name) => problem(ctx, pointer, `must be ${name}, got ${jsonType(value)}`);

// Python's str.strip() removes what str.isspace() calls whitespace: these code points (all in the
// BMP). It is not ECMAScript's trim(): U+001C..U+001F and U+0085 are in, U+FEFF is out.
const PY_SPACE = new Set(
  "\t\n\v\f\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000",
);

function pyStrip(s) {
  let a = 0;
  let b = s.length;
  while (a < b && PY_SPACE.has(s[a])) a++;
  while (b > a && PY_SPACE.has(s[b - 1])) b--;
  return s.slice(a, b);
}

/** Length in Unicode code points (Python's len), not UTF-16 code units. */
function codePoints(s) {
  let n = 0;
  for (const _ of s) n++;
  return n;
}

const CONTROL = /[\x00-\x1f\x7f]/;
const CONTROL_TEXT = /[\x00-\x08\x0b-\x1f\x7f]/;

/**
 * A non-blank string of at most `maxLen` code points. Single-line strings (the default) refuse
 * control characters and leading or trailing whitespace; `multiline` text allows tab and newline.
 * `check(value)` returns an extra problem (a phrase completing "<field> ...") or null.
 */
function string(maxLen = NAME_MAX, { multiline = false, check = null } = {}) {
  const controls = multiline ? CONTROL_TEXT : CONTROL;
  return (value, pointer, ctx) => {
    if (typeof value !== "string") return wrongType(ctx, pointer, value, "a string");
    const stripped = pyStrip(value);
    if (!stripped) return problem(ctx, pointer, "must not be empty or blank");
    if (controls.test(value)) return problem(ctx, pointer, "contains a control character");
    if (!multiline && value !== stripped) return problem(ctx, pointer, "must not have leading or trailing whitespace");
    // A format check first: its message says more than a length would.
    if (check !== null) {
      const p = check(value);
      if (p !== null) return problem(ctx, pointer, p);
    }
    if (value.length > maxLen) {
      const n = codePoints(value);
      if (n > maxLen) return problem(ctx, pointer, `is ${n} characters long; the limit is ${maxLen}`);
    }
    return value;
  };
}

/** A string matching `regex` in full (anchored ^...$, no flags); `what` names the format. */
function pattern(regex, what, maxLen = NAME_MAX) {
  return string(maxLen, { check: (v) => (regex.test(v) ? null : `must be ${what}, got ${show(v)}`) });
}

/** An integer (never a boolean) in [minimum, maximum]. */
function integer(minimum, maximum) {
  return (value, pointer, ctx) => {
    if (typeof value !== "number" || !Number.isInteger(value)) return wrongType(ctx, pointer, value, "an integer");
    if (value < minimum || value > maximum) return problem(ctx, pointer, `must be between ${minimum} and ${maximum}, got ${value}`);
    return value;
  };
}

/** A JSON boolean. */
function boolean(value, pointer, ctx) {
  if (typeof value !== "boolean") return wrongType(ctx, pointer, value, "a boolean");
  return value;
}

/** A string equal to one of `options` (Python's enum() and choice(): exact case). */
function oneOf(options) {
  const allowed = new Set(options);
  const known = options.join(", ");
  return (value, pointer, ctx) => {
    if (typeof value !== "string") return wrongType(ctx, pointer, value, "a string");
    if (!allowed.has(value)) return problem(ctx, pointer, `${show(value)} is not one of: ${known}`);
    return value;
  };
}

/**
 * A string equal for two values exactly when they are equal as JSON (SPEC §3.2 "unique"): the
 * same type at every depth (true is not 1), the same members whatever their order.
 */
function jsonKey(v) {
  if (Array.isArray(v)) return `[${v.map(jsonKey).join(",")}]`;
  if (v !== null && typeof v === "object") {
    return `{${Object.keys(v).sort().map((k) => `${JSON.stringify(k)}:${jsonKey(v[k])}`).join(",")}}`;
  }
  return JSON.stringify(v);
}

/** No two items can be equal: fewer than two, or all distinct strings (Python's _distinct). */
const distinct = (items) => items.length < 2 || (items.every((x) => typeof x === "string") && new Set(items).size === items.length);

/**
 * A JSON array of `min`..`max` items read by `item`. With `unique`, an item equal (as JSON) to an
 * earlier one is a problem at the later item (reported before the item's own problems).
 */
function array(item, { min = 0, max = LIST_MAX, unique = false } = {}) {
  const need = min === 1 ? "item" : "items";
  return (value, pointer, ctx) => {
    if (!Array.isArray(value)) return wrongType(ctx, pointer, value, "an array");
    if (value.length < min) return problem(ctx, pointer, `must have at least ${min} ${need}, got ${value.length}`);
    if (value.length > max) return problem(ctx, pointer, `must have at most ${max} items, got ${value.length}`);
    const first = unique && !distinct(value) ? new Map() : null; // JSON value -> its first index
    const out = [];
    value.forEach((raw, i) => {
      if (first !== null) {
        const key = jsonKey(raw);
        const j = first.get(key);
        if (j === undefined) first.set(key, i);
        else ctx.add(child(pointer, i), `${label(pointer)}[${i}] repeats ${label(pointer)}[${j}]`);
      }
      out.push(item(raw, child(pointer, i), ctx));
    });
    return valid(...out) ? out : INVALID;
  };
}

// ---------------------------------------------------------------------------------------------
// 2. Scalar formats of §3.2 (attest/_schema.py)

export const REGISTRY_STREAM = "registry";
const RESERVED_PARTY_IDS = new Set([REGISTRY_STREAM]);
const PARTY_ID = /^[a-z][a-z0-9-]{1,62}$/;
const TIMESTAMP = /^([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})Z$/;
const DATE = /^([0-9]{4})-([0-9]{2})-([0-9]{2})$/;
const B64_KEY = /^[A-Za-z0-9+/]{43}=$/;
const B64_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const DECIMAL = /^-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?$/;
const URI_CHARS = /^[\x21-\x7e]+$/;

/** Whether `v` is a party id: ^[a-z][a-z0-9-]{1,62}$, no final `-`, not reserved. */
export const isPartyId = (v) => typeof v === "string" && PARTY_ID.test(v) && !v.endsWith("-") && !RESERVED_PARTY_IDS.has(v);

/** A real proleptic Gregorian date, years 1..9999 (Python's datetime.date). */
function isRealDate(y, m, d) {
  if (y < 1 || m < 1 || m > 12 || d < 1) return false;
  const leap = y % 4 === 0 && (y % 100 !== 0 || y % 400 === 0);
  const days = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][m - 1];
  return d <= days;
}

/** The problem with a timestamp string (a phrase after "must be a timestamp: "), or null. */
function timestampProblem(value) {
  const m = TIMESTAMP.exec(value);
  if (!m) return `${show(value)} is not of the form YYYY-MM-DDTHH:MM:SSZ (UTC, whole seconds)`;
  const [y, mo, d, h, mi, s] = m.slice(1).map(Number);
  if (!isRealDate(y, mo, d) || h > 23 || mi > 59 || s > 59) return `${show(value)} is not a real instant`;
  if (y < 1970) return `${show(value)} is before 1970-01-01T00:00:00Z`;
  return null;
}

/** Milliseconds since the epoch of `YYYY-MM-DDTHH:MM:SSZ` (a real instant, not before 1970), or null. */
export function parseTimestamp(v) {
  if (typeof v !== "string" || timestampProblem(v) !== null) return null;
  const [y, mo, d, h, mi, s] = TIMESTAMP.exec(v).slice(1).map(Number);
  return Date.UTC(y, mo - 1, d, h, mi, s); // y >= 1970: no two-digit-year mapping
}

const isTime = (v) => parseTimestamp(v) !== null;

function dateProblem(value) {
  const m = DATE.exec(value);
  if (!m) return `${show(value)} is not of the form YYYY-MM-DD`;
  const [y, mo, d] = m.slice(1).map(Number);
  return isRealDate(y, mo, d) ? null : `${show(value)} is not a real date`;
}

function checkParty(value) {
  if (RESERVED_PARTY_IDS.has(value)) return `must be a party id, but ${show(value)} is reserved`;
  if (!isPartyId(value)) return `must be a party id (^[a-z][a-z0-9-]{1,62}$, not ending in '-'), got ${show(value)}`;
  return null;
}

function checkB64Key(value) {
  if (!B64_KEY.test(value)) return "must be a 32-byte Ed25519 public key in padded standard base64 (44 characters)";
  // 43 characters carry 258 bits: the last one's two low bits are padding and must be zero.
  if (B64_ALPHABET.indexOf(value[42]) & 3) return "is not canonical base64 (non-zero trailing bits)";
  return null;
}

// -- URIs: SPEC §3.2's grammar, as attest/_schema.py reads it (no URL parser).

const URI_LABEL = "[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?";
const URI_HOST_PORT = new RegExp(`^${URI_LABEL}(?:\\.${URI_LABEL})*(?::[0-9]{1,5})?$`);

function checkUri(value) {
  if (!URI_CHARS.test(value)) return "must be an absolute URI of printable ASCII characters without spaces";
  let rest;
  if (value.startsWith("https://")) rest = value.slice(8);
  else if (value.startsWith("http://")) rest = value.slice(7);
  else return `must be an absolute https:// or http:// URI, got ${show(value)}`;
  const end = rest.search(/[/?#]/);
  const authority = end < 0 ? rest : rest.slice(0, end);
  if (!URI_HOST_PORT.test(authority)) {
    return `must name a host: a DNS name with an optional port (no user info, no IP literal in brackets), got ${show(value)}`;
  }
  return null;
}

function checkDecimal(value) {
  return DECIMAL.test(value) ? null : `must be a decimal string like '12' or '-0.25', got ${show(value)}`;
}

function checkNonNegativeDecimal(value) {
  const p = checkDecimal(value);
  if (p === null && value.startsWith("-")) return `must not be negative, got ${show(value)}`;
  return p;
}

const partyId = string(63, { check: checkParty });
const hex64 = pattern(/^[0-9a-f]{64}$/, "64 lowercase hex characters", 64);
const prefixed = (prefix, p) => (p === null ? null : `${prefix}${p}`);
const timestamp = string(20, { check: (v) => prefixed("must be a timestamp: ", timestampProblem(v)) });
const dateStr = string(10, { check: (v) => prefixed("must be a date: ", dateProblem(v)) });
const b64Key = string(44, { check: checkB64Key });
const uri = string(URI_MAX, { check: checkUri });
const decimal = string(40, { check: checkDecimal });
const nonNegativeDecimal = string(40, { check: checkNonNegativeDecimal });
const name = string(NAME_MAX);
const text = string(TEXT_MAX, { multiline: true });
const alpha2 = pattern(/^[A-Z]{2}$/, "an ISO 3166-1 alpha-2 code (two capital letters)", 2);
const language = pattern(/^[a-z]{2,3}(?:-[A-Za-z0-9]{2,8})*$/, "a BCP 47 language tag such as 'en' or 'pt-BR'", 35);

/** A checked decimal string as an exact fraction [numerator, denominator] of BigInts. */
function decimalValue(value) {
  const negative = value.startsWith("-");
  const [whole, frac = ""] = value.replace(/^-/, "").split(".");
  const num = BigInt(whole + frac);
  return [negative ? -num : num, 10n ** BigInt(frac.length)];
}

/** Whether decimal string `a` is numerically less than `b`. */
function decimalLess(a, b) {
  const [an, ad] = decimalValue(a);
  const [bn, bd] = decimalValue(b);
  return an * bd < bn * ad;
}

const safeInteger = integer(-SAFE_INT, SAFE_INT);

/** A JSON integer or a decimal string (the profile has no floats). */
function intOrDecimal(value, pointer, ctx) {
  if (typeof value === "number" && Number.isInteger(value)) return safeInteger(value, pointer, ctx);
  if (typeof value === "string") return decimal(value, pointer, ctx);
  return problem(ctx, pointer, `must be an integer or a decimal string, got ${jsonType(value)}`);
}

// ---------------------------------------------------------------------------------------------
// 3. The measure vocabulary `2026-11` (attest/measures.py)

export const VOCABULARY_VERSION = "2026-11";

function readDigest(o) {
  o.req("sha256", hex64);
  return o.build();
}

function readDocument(o) {
  o.req("uri", uri);
  o.req("digest", obj(readDigest));
  return o.build();
}

function readPeriod(o) {
  const start = o.req("start", dateStr);
  const end = o.req("end", dateStr);
  if (valid(start, end) && end < start) o.fail("end", `end ${end} is before start ${start}`);
  return o.build();
}

const documentRef = obj(readDocument);
const period = obj(readPeriod);
const set = (...options) => array(oneOf(options), { min: 1, unique: true });
const field = (fieldName, parse, { required = true } = {}) => ({ name: fieldName, parse, required });

const LANGUAGES = array(language, { min: 1, unique: true });
const HOURS = nonNegativeDecimal;
const HASH_SOURCES = ["NCMEC", "IWF", "C3P", "INHOPE", "Thorn", "Tech_Coalition", "internal"];
const MATCH_POINTS = ["upload", "pre_publication", "at_rest", "on_report", "in_transit"];
export const SURFACE_VALUES = [
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
];

function checkReportAuthority(d) {
  const median = d.get("targetMedianHours");
  const p90 = d.get("targetP90Hours");
  if (median !== undefined && p90 !== undefined && decimalLess(p90, median)) {
    return [["targetP90Hours", `targetP90Hours ${p90} is less than targetMedianHours ${median}`]];
  }
  return [];
}

function checkClassifier(d) {
  if (d.has("falsePositiveRate") && !d.has("falsePositiveMethod")) {
    return [["falsePositiveMethod", "falsePositiveRate needs a falsePositiveMethod"]];
  }
  return [];
}

/** Each measure type: the members of its `details` object and its cross-field rules. */
const MEASURES = new Map(
  [
    ["policy.csea_definition", [
      field("policy", documentRef),
      field("languages", LANGUAGES),
      field("covers", set("csam", "grooming", "sextortion", "ai_generated_csam", "self_generated_imagery", "trafficking")),
    ]],
    ["detect.hash_known_image", [
      field("technologies", set("PhotoDNA", "PDQ", "MD5", "SHA-1", "proprietary")),
      field("hashSources", set(...HASH_SOURCES)),
      field("matchPoints", set(...MATCH_POINTS)),
    ]],
    ["detect.hash_known_video", [
      field("technologies", set("TMK+PDQF", "vPDQ", "CSAI_Match", "PhotoDNA_video", "MD5", "proprietary")),
      field("hashSources", set(...HASH_SOURCES)),
      field("matchPoints", set(...MATCH_POINTS)),
    ]],
    ["detect.url_blocklist", [
      field("listSources", set("IWF", "NCMEC", "C3P", "INHOPE", "internal")),
      field("appliedAt", set("posting", "messaging", "search_results", "link_previews", "profile_links")),
    ]],
    ["detect.classifier_novel", [
      field("media", set("image", "video")),
      field("humanReview", oneOf(["all_before_action", "sampled", "none"])),
      field("falsePositiveRate", nonNegativeDecimal, { required: false }),
      field("falsePositiveMethod", name, { required: false }),
    ], checkClassifier],
    ["detect.grooming_text", [
      field("languages", LANGUAGES),
      field("interventions", set("warn_minor", "warn_sender", "block_contact", "restrict_account", "human_review", "report_to_authority")),
    ]],
    ["detect.livestream", [
      field("methods", set("real_time_classifier", "frame_hash_matching", "human_moderation", "sampling")),
      field("samplingIntervalSeconds", integer(1, 3600), { required: false }),
    ]],
    ["detect.e2ee_measures", [
      field("methods", set("user_reporting_with_content", "metadata_signals", "behavioural_signals", "on_device_hash_matching", "on_device_nudity_warning", "none")),
      field("leavesDevice", set("nothing", "reported_messages", "match_result", "metadata")),
    ]],
    ["detect.genai_safeguards", [
      field("safeguards", set("prompt_filtering", "output_classification", "training_data_filtering", "minor_likeness_blocking", "red_teaming")),
      field("outputs", set("text", "image", "video", "audio")),
    ]],
    ["report.authority", [
      field("recipients", set("NCMEC", "IWF", "C3P", "national_hotline", "law_enforcement", "eSafety")),
      field("targetMedianHours", HOURS, { required: false }),
      field("targetP90Hours", HOURS, { required: false }),
      field("preservationDays", integer(1, 3650), { required: false }),
    ], checkReportAuthority],
    ["report.user_tool", [
      field("surfaces", set(...SURFACE_VALUES)),
      field("specificCategory", boolean),
      field("targetActionHours", HOURS, { required: false }),
    ]],
    ["moderation.human_review", [
      field("coverageHoursPerWeek", integer(1, 168)),
      field("languages", LANGUAGES),
    ]],
    ["enforcement.recidivism", [
      field("banEvasionSignals", set("device", "email", "phone", "payment", "ip_address", "behavioural")),
      field("signalSharing", array(name, { min: 1, unique: true }), { required: false }),
    ]],
    ["age.assurance", [
      field("methods", set("self_declaration", "facial_age_estimation", "id_document", "credit_card", "digital_id", "third_party_vouching", "behavioural_inference")),
      field("appliedAt", set("sign_up", "feature_access", "periodic", "on_signal")),
    ]],
    ["defaults.minor_settings", [
      field("settings", set("private_account", "not_suggested_to_strangers", "dms_from_connections_only", "location_hidden", "no_public_follower_list", "livestream_disabled", "sensitive_content_filter")),
      field("lockedForMinors", boolean, { required: false }),
    ]],
    ["transparency.report", [
      field("report", documentRef),
      field("period", period),
      field("metricsIncluded", array(name, { min: 1, unique: true }), { required: false }),
    ]],
    ["governance.risk_assessment", [
      field("assessedOn", dateStr),
      field("regime", name),
      field("summary", documentRef, { required: false }),
    ]],
  ].map(([type, fields, check = null]) => [type, { type, fields, readDetails: readDetailsOf(fields, check) }]),
);

/** MeasureSpec.read_details: a `details` object against one measure's fields. */
function readDetailsOf(fields, check) {
  return (o) => {
    const values = new Map();
    for (const f of fields) {
      const v = f.required ? o.req(f.name, f.parse) : o.opt(f.name, f.parse);
      if (v !== undefined) values.set(f.name, v);
    }
    if (check !== null && valid(...values.values())) {
      for (const [member, message] of check(values)) o.fail(member, message);
    }
    return o.build();
  };
}

/** The problem with a measure type name, or null if it is in the vocabulary. */
function measureProblem(measure) {
  if (MEASURES.has(measure)) return null;
  return `measure ${show(measure)} is not a known measure type (vocabulary ${VOCABULARY_VERSION}; known: ${[...MEASURES.keys()].join(", ")})`;
}

// ---------------------------------------------------------------------------------------------
// 4. Statements (attest/statements.py)

export const STATEMENT_VERSION = 1;
const GLOBAL = "GLOBAL";

export const REGISTRY_KINDS = new Set(["genesis", "party.register", "key.add", "key.revoke", "accreditation.grant", "accreditation.suspend", "party.retire", "log.key.rotate", "reference.publish", "dump.publish"]);
/** Registry kinds about their signer, the authority (SPEC §11.1); the others name body.party. */
export const SIGNER_SUBJECT_KINDS = new Set(["genesis", "log.key.rotate", "reference.publish", "dump.publish"]);
export const KINDS = ["genesis", "party.register", "key.add", "key.revoke", "accreditation.grant", "accreditation.suspend", "party.retire", "log.key.rotate", "claim.publish", "claim.supersede", "claim.withdraw", "test.record", "verdict.issue", "provider.reply", "engagement.open", "engagement.close", "engagement.withdraw", "reference.publish", "dump.publish"];

// -- shared value formats

const ORIGIN = pattern(/^[\x21-\x7e]+$/, "printable ASCII without spaces", 100);
const FRAMEWORK_REF = pattern(/^[A-Z][A-Za-z0-9-]*:[A-Za-z0-9_.:-]+$/, "a framework reference like 'OFCOM:ICU-C9'", NAME_MAX);
const REASON = text;
const SURFACE = oneOf(SURFACE_VALUES);
const SURFACES = array(SURFACE, { min: 1, unique: true });
const NAMES = array(name, { min: 1, unique: true });
const TEXTS = array(text, { min: 1 });

function jurisdiction(value, pointer, ctx) {
  if (value === GLOBAL) return GLOBAL;
  return alpha2(value, pointer, ctx);
}

const JURISDICTION_LIST = array(jurisdiction, { min: 1, unique: true });

function jurisdictions(value, pointer, ctx) {
  const result = JURISDICTION_LIST(value, pointer, ctx);
  if (result !== INVALID && result.includes(GLOBAL) && result.some((j) => j !== GLOBAL)) {
    return ctx.add(pointer, `${label(pointer)}: 'GLOBAL' cannot be combined with country codes`);
  }
  return result;
}

const MEASURE_NAME = string(NAME_MAX);

function measure(value, pointer, ctx) {
  const result = MEASURE_NAME(value, pointer, ctx);
  if (result !== INVALID) {
    const p = measureProblem(result);
    if (p !== null) return ctx.add(pointer, p);
  }
  return result;
}

// -- small shared objects

const DIGEST = obj(readDigest);
const DOCUMENT = obj(readDocument);

function readEvidence(o) {
  o.req("uri", uri);
  o.req("digest", DIGEST);
  o.opt("title", name);
  return o.build();
}

const EVIDENCE = array(obj(readEvidence), { min: 1, unique: true });
const PERIOD = obj(readPeriod);

function readWindow(o) {
  const start = o.req("start", timestamp);
  const end = o.req("end", timestamp);
  // The fixed-width timestamp form sorts as text in time order.
  if (valid(start, end) && end < start) o.fail("end", `end ${end} is before start ${start}`);
  return o.build();
}

// -- registry bodies

function readGenesis(o) {
  o.req("origin", ORIGIN);
  o.req("authorityName", name);
  const authorityKey = o.req("authorityKey", b64Key);
  const logKey = o.req("logKey", b64Key);
  if (valid(authorityKey, logKey) && authorityKey === logKey) o.fail("logKey", "logKey must differ from authorityKey");
  return o.build();
}

function readPartyRegister(o) {
  o.req("party", partyId);
  o.req("role", oneOf(["provider", "verifier"]));
  o.req("name", name);
  o.req("jurisdiction", alpha2);
  o.opt("website", uri);
  o.req("keys", array(b64Key, { min: 1, max: 8, unique: true }));
  return o.build();
}

function readKeyAdd(o) {
  o.req("party", partyId);
  o.req("key", b64Key);
  return o.build();
}

function readCompromisedSince(o) {
  const index = o.opt("index", integer(1, SAFE_INT));
  const time = o.opt("time", timestamp);
  if (o.value !== null && (index === undefined) === (time === undefined)) {
    o.ctx.add(o.pointer, `${label(o.pointer)} needs exactly one of 'index' and 'time'`);
  }
  return o.build();
}

function readKeyRevoke(o) {
  o.req("party", partyId);
  o.req("keyId", hex64);
  o.req("reason", REASON);
  o.opt("compromisedSince", obj(readCompromisedSince));
  return o.build();
}

function readLogKeyRotate(o) {
  o.req("key", b64Key);
  o.req("fromSize", integer(2, SAFE_INT));
  return o.build();
}

function readPartyRetire(o) {
  o.req("party", partyId);
  o.req("reason", REASON);
  return o.build();
}

function readOtherService(o) {
  o.req("provider", partyId);
  o.req("services", text);
  return o.build();
}

function readIndependence(o) {
  o.req("otherServices", array(obj(readOtherService), { unique: true }));
  o.req("feeBand", name);
  o.req("rotation", text);
  return o.build();
}

function readAccreditationGrant(o) {
  o.req("party", partyId);
  o.req("scheme", name);
  o.req("measures", array(measure, { min: 1, max: 64, unique: true }));
  const until = o.opt("validUntil", timestamp);
  o.opt("accreditingBody", name);
  o.opt("methods", array(TEST_METHOD, { min: 1, unique: true }));
  o.opt("qualifications", TEXTS);
  o.opt("independence", obj(readIndependence));
  const from = o.opt("validFrom", timestamp);
  if (typeof from === "string" && typeof until === "string" && from >= until) {
    o.fail("validFrom", `validFrom ${from} must be before validUntil ${until}`);
  }
  return o.build();
}

function readAccreditationSuspend(o) {
  o.req("party", partyId);
  o.req("reason", REASON);
  return o.build();
}

// -- claims

function readAgeBand(o) {
  const low = o.req("min", integer(0, 120));
  const high = o.req("max", integer(0, 120));
  if (valid(low, high) && high < low) o.fail("max", `max ${high} is less than min ${low}`);
  return o.build();
}

function readPopulationObject(o) {
  o.req("ageBand", obj(readAgeBand));
  return o.build();
}

function population(value, pointer, ctx) {
  if (isObject(value)) return obj(readPopulationObject)(value, pointer, ctx);
  if (value === "all_users" || value === "under_18") return value;
  return ctx.add(pointer, `${label(pointer)} must be 'all_users', 'under_18' or {"ageBand": {"min": ..., "max": ...}}, got ${show(value)}`);
}

function readExcludedSurface(o) {
  o.req("surface", SURFACE);
  o.req("reason", REASON);
  return o.build();
}

function readMetric(o) {
  o.req("name", name);
  o.req("period", PERIOD);
  o.req("value", intOrDecimal);
  o.req("unit", name);
  o.req("method", text);
  return o.build();
}

/** Claim._read_as: the body of claim.publish and claim.supersede. */
function readClaim(o, kind) {
  const m = o.req("measure", measure);
  o.req("services", NAMES);
  const surfaces = o.req("surfaces", SURFACES);
  const excluded = o.opt("excludedSurfaces", array(obj(readExcludedSurface), { min: 1, max: SURFACE_VALUES.length }));
  o.req("jurisdictions", jurisdictions);
  o.req("population", population);
  o.req("status", oneOf(["deployed", "pilot", "planned", "discontinued"]));
  const effectiveFrom = o.req("effectiveFrom", dateStr);
  const effectiveUntil = o.opt("effectiveUntil", dateStr);
  if (valid(m)) o.req("details", obj(MEASURES.get(m).readDetails));
  else o.skip("details");
  o.opt("metrics", array(obj(readMetric), { min: 1 }));
  o.opt("evidence", EVIDENCE);
  o.opt("frameworkRefs", array(FRAMEWORK_REF, { min: 1, unique: true }));
  if (kind === "claim.publish") o.forbid("supersedes", "claim.publish starts a new claim; use claim.supersede");
  else o.req("supersedes", hex64);

  if (valid(effectiveFrom, effectiveUntil) && effectiveUntil !== undefined && effectiveUntil < effectiveFrom) {
    o.fail("effectiveUntil", `effectiveUntil ${effectiveUntil} is before effectiveFrom ${effectiveFrom}`);
  }
  if (excluded !== undefined && valid(excluded, surfaces)) checkExcluded(o, o.value.excludedSurfaces, surfaces);
  return o.build();
}

function checkExcluded(o, items, surfaces) {
  const seen = new Map();
  const pointer = o.at("excludedSurfaces");
  items.forEach((item, i) => {
    const surface = item.surface;
    const at = child(child(pointer, i), "surface");
    if (surfaces.includes(surface)) o.ctx.add(at, `surface ${show(surface)} is both claimed and excluded`);
    else if (seen.has(surface)) o.ctx.add(at, `surface ${show(surface)} is excluded twice (also at [${seen.get(surface)}])`);
    if (!seen.has(surface)) seen.set(surface, i);
  });
}

function readClaimWithdraw(o) {
  o.req("claim", hex64);
  o.req("reason", REASON);
  return o.build();
}

// -- tests, verdicts, replies

function readEnvironment(o) {
  o.req("service", name);
  o.req("surface", SURFACE);
  o.req("jurisdiction", alpha2);
  o.opt("clientVersion", name);
  return o.build();
}

function readTrial(o) {
  o.req("name", name);
  o.req("expected", text);
  o.req("observed", text);
  o.req("outcome", oneOf(["pass", "fail", "inconclusive"]));
  o.opt("evidence", array(DIGEST, { min: 1, unique: true }));
  return o.build();
}

const TEST_METHOD = oneOf(["seeded_canary_hash", "test_account_probe", "reporting_flow_review", "takedown_latency", "data_reconciliation", "document_review", "config_inspection"]);

function readTestRecord(o) {
  o.req("claim", hex64);
  o.req("method", TEST_METHOD);
  o.req("protocol", DOCUMENT);
  o.req("environment", obj(readEnvironment));
  o.req("window", obj(readWindow));
  o.req("cooperation", oneOf(["none", "notified", "coordinated"]));
  const trials = o.req("trials", array(obj(readTrial), { max: 1000 }));
  o.req("summary", text);
  const result = o.req("result", oneOf(["PASSED", "WARNED", "FAILED", "NOT_RUN"]));
  o.req("limitations", array(text));
  const engagement = o.opt("engagement", hex64);
  if (engagement === undefined) o.forbid("notTested", "it goes with engagement (a test record without one is legacy)");
  else o.req("notTested", array(text));
  if (valid(result, trials) && o.value !== null) checkTrials(o, result, o.value.trials);
  return o.build();
}

function checkTrials(o, result, trials) {
  const outcomes = trials.map((t) => t.outcome);
  if (!trials.length && result !== "NOT_RUN") o.fail("trials", `trials must have at least 1 item when result is ${result}`);
  if (result === "PASSED" && outcomes.includes("fail")) o.fail("result", "result is PASSED but a trial failed");
  if (result === "FAILED" && !outcomes.includes("fail")) o.fail("result", "result is FAILED but no trial failed");
  const seen = new Map();
  trials.forEach((t, i) => {
    if (seen.has(t.name)) o.ctx.add(child(child(o.at("trials"), i), "name"), `trial name ${show(t.name)} repeats trials[${seen.get(t.name)}]`);
    else seen.set(t.name, i);
  });
}

function readScopeTested(o) {
  o.req("surfaces", SURFACES);
  o.req("jurisdictions", jurisdictions);
  return o.build();
}

function readVerdict(o) {
  o.req("claim", hex64);
  o.req("tests", array(hex64, { min: 1, max: 1000, unique: true }));
  const result = o.req("result", oneOf(["CONFIRMED", "CONFIRMED_WITH_COMMENTS", "NO_EVIDENCE_FOUND", "CONTRADICTED", "INCONCLUSIVE"]));
  o.req("assurance", oneOf(["limited", "reasonable"]));
  o.req("scopeTested", obj(readScopeTested));
  const scopeMatch = o.req("scopeMatch", oneOf(["full", "partial", "none"]));
  o.req("validUntil", timestamp);
  const comments = o.opt("comments", text);
  o.opt("recommendations", TEXTS);
  o.req("conflictsOfInterest", text);
  o.opt("engagement", hex64);
  if (valid(result, scopeMatch)) {
    if (result === "CONFIRMED" && scopeMatch !== "full") {
      o.fail("scopeMatch", "a CONFIRMED verdict needs scopeMatch 'full' (use CONFIRMED_WITH_COMMENTS for a partial scope)");
    }
    if (result === "CONFIRMED_WITH_COMMENTS" && comments === undefined) o.fail("comments", "a CONFIRMED_WITH_COMMENTS verdict needs comments");
  }
  return o.build();
}

function readCommitment(o) {
  o.req("action", text);
  o.req("due", dateStr);
  o.opt("recommendation", integer(0, 99));
  return o.build();
}

function readProviderReply(o) {
  o.req("verdict", hex64);
  o.req("text", text);
  o.opt("evidence", EVIDENCE);
  o.opt("commitments", array(obj(readCommitment), { min: 1, unique: true }));
  return o.build();
}

// -- engagements

function readPlannedMethod(o) {
  o.req("method", TEST_METHOD);
  o.req("protocol", DOCUMENT);
  return o.build();
}

function readPartyOrName(o) {
  const party = o.opt("party", partyId);
  const who = o.opt("name", name);
  if (o.value !== null && (party === undefined) === (who === undefined)) {
    o.ctx.add(o.pointer, `${label(o.pointer)} needs exactly one of 'party' and 'name'`);
  }
  return o.build();
}

function readEngagementOpen(o) {
  o.req("claims", array(hex64, { min: 1, unique: true }));
  o.req("methods", array(obj(readPlannedMethod), { min: 1, unique: true }));
  o.req("window", obj(readWindow));
  o.req("commissionedBy", obj(readPartyOrName));
  o.req("paidBy", obj(readPartyOrName));
  o.req("conflicts", array(text));
  return o.build();
}

function readEngagementClose(o) {
  o.req("engagement", hex64);
  o.req("verdict", hex64);
  return o.build();
}

function readEngagementWithdraw(o) {
  o.req("engagement", hex64);
  o.req("reason", REASON);
  return o.build();
}

// -- authority datasets: reference counts and open-data dumps

const COUNT = integer(0, SAFE_INT);

function readReferenceRow(o) {
  o.req("listedAs", name);
  o.req("count", COUNT);
  o.opt("party", partyId);
  return o.build();
}

function readReferencePublish(o) {
  o.req("dataset", name);
  o.req("recipient", oneOf(["NCMEC", "IWF", "C3P", "national_hotline", "law_enforcement", "eSafety"]));
  o.req("source", DOCUMENT);
  o.req("unit", oneOf(["reports", "pieces", "accounts"]));
  o.req("period", PERIOD);
  const rows = o.req("rows", array(obj(readReferenceRow), { min: 1, max: 5000 }));
  if (valid(rows) && o.value !== null) {
    // No two rows list the same name or map the same party (the later one is reported).
    const pointer = o.at("rows");
    const names = new Map();
    const parties = new Map();
    o.value.rows.forEach((row, i) => {
      if (names.has(row.listedAs)) {
        const at = child(child(pointer, i), "listedAs");
        o.ctx.add(at, `${label(at)}: the same name is listed in row ${names.get(row.listedAs)}`);
      } else names.set(row.listedAs, i);
      if (hasOwn(row, "party")) {
        if (parties.has(row.party)) {
          const at = child(child(pointer, i), "party");
          o.ctx.add(at, `${label(at)}: ${row.party} is already mapped in row ${parties.get(row.party)}`);
        } else parties.set(row.party, i);
      }
    });
  }
  return o.build();
}

function readDumpFile(o) {
  o.req("name", pattern(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, "a file name of letters, digits, '.', '_', '-'", 100));
  o.req("sha256", hex64);
  o.req("size", COUNT);
  return o.build();
}

function readDumpPublish(o) {
  o.req("date", dateStr);
  o.req("checkpointSize", integer(1, SAFE_INT));
  const files = o.req("files", array(obj(readDumpFile), { min: 1 }));
  if (valid(files) && o.value !== null) {
    const pointer = o.at("files");
    const seen = new Map();
    o.value.files.forEach((f, i) => {
      if (seen.has(f.name)) {
        const at = child(child(pointer, i), "name");
        o.ctx.add(at, `${label(at)}: the same name as file ${seen.get(f.name)}`);
      } else seen.set(f.name, i);
    });
  }
  return o.build();
}

const BODY_READERS = new Map([
  ["genesis", readGenesis],
  ["party.register", readPartyRegister],
  ["key.add", readKeyAdd],
  ["key.revoke", readKeyRevoke],
  ["accreditation.grant", readAccreditationGrant],
  ["accreditation.suspend", readAccreditationSuspend],
  ["party.retire", readPartyRetire],
  ["log.key.rotate", readLogKeyRotate],
  ["claim.publish", (o) => readClaim(o, "claim.publish")],
  ["claim.supersede", (o) => readClaim(o, "claim.supersede")],
  ["claim.withdraw", readClaimWithdraw],
  ["test.record", readTestRecord],
  ["verdict.issue", readVerdict],
  ["provider.reply", readProviderReply],
  ["engagement.open", readEngagementOpen],
  ["engagement.close", readEngagementClose],
  ["engagement.withdraw", readEngagementWithdraw],
  ["reference.publish", readReferencePublish],
  ["dump.publish", readDumpPublish],
]);

// -- the statement

const VERSION_INTEGER = integer(-SAFE_INT, SAFE_INT);

function version(value, pointer, ctx) {
  const v = VERSION_INTEGER(value, pointer, ctx);
  if (v !== INVALID && v !== STATEMENT_VERSION) return ctx.add(pointer, `v must be ${STATEMENT_VERSION} (the statement format version), got ${v}`);
  return v;
}

function stream(value, pointer, ctx) {
  if (value === REGISTRY_STREAM) return REGISTRY_STREAM;
  return partyId(value, pointer, ctx);
}

function readStatement(o) {
  o.req("v", version);
  const kind = o.req("kind", oneOf(KINDS));
  const streamName = o.req("stream", stream);
  o.req("prev", hex64);
  o.req("signer", partyId);
  const signedAt = o.req("signedAt", timestamp);
  if (valid(kind)) o.req("body", obj(BODY_READERS.get(kind)));
  else o.skip("body");
  if (valid(kind, streamName)) {
    if (REGISTRY_KINDS.has(kind) && streamName !== REGISTRY_STREAM) {
      o.fail("stream", `a ${kind} statement goes to stream 'registry'`);
    } else if (!REGISTRY_KINDS.has(kind) && streamName === REGISTRY_STREAM) {
      o.fail("stream", `a ${kind} statement goes to a provider's stream, not 'registry'`);
    }
  }
  const body = o.raw("body");
  if (valid(kind, signedAt) && isObject(body)) checkTimes(o, kind, signedAt, body);
  return o.build();
}

/** Times in a body that must be consistent with signedAt (checked on valid values only). */
function checkTimes(o, kind, signedAt, body) {
  const at = o.at("body");
  const until = hasOwn(body, "validUntil") ? body.validUntil : undefined;
  if ((kind === "verdict.issue" || kind === "accreditation.grant") && isTime(until) && until <= signedAt) {
    o.ctx.add(child(at, "validUntil"), `validUntil ${until} must be later than signedAt ${signedAt}`);
  }
  const window = hasOwn(body, "window") ? body.window : undefined;
  if (kind === "test.record" && isObject(window) && hasOwn(window, "end") && isTime(window.end)) {
    const end = window.end;
    if (end > signedAt) {
      o.ctx.add(child(child(at, "window"), "end"), `window end ${end} is after signedAt ${signedAt}: a test is recorded after it ends`);
    }
  }
}

/**
 * Every problem with a decoded statement (docs/SPEC.md §3), in the order attest.statements'
 * parse_statement reports them: [{pointer, message}], empty when the statement is valid.
 */
export function statementProblems(value) {
  const ctx = new Ctx();
  readStatement(new Obj(value, "", ctx));
  return ctx.problems;
}
