// claimledger browser verifier: re-checks a company's record from raw bytes (docs/SPEC.md).
//
// An ES module with no third-party dependencies (the statement schemas of SPEC §3 are its
// sibling module schema.js): WebCrypto for SHA-256 and Ed25519, BigInt for the curve checks
// WebCrypto does not do (the KEY rule of SPEC §2.1 and rule 2 of §2.2). Nothing the
// server says is trusted: every signature, chain link, rule decision and inclusion proof is
// re-derived from the entries' bytes and checked against a checkpoint signed by the log key.
//
// Every failed check throws one error type, VerificationFailure, whose `kind` is the name of
// the matching Python error class (attest/errors.py, keys/errors.py) and which, for an entry,
// carries its stream, position and global index.
//
// Needs a secure context (https:, or http://127.0.0.1 / localhost): crypto.subtle is absent
// elsewhere.

import { isPartyId, parseTimestamp, REGISTRY_KINDS, SIGNER_SUBJECT_KINDS, statementProblems } from "./schema.js";

export { parseTimestamp, statementProblems };

const enc = new TextEncoder();
const dec = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

export const PAYLOAD_TYPE = "application/vnd.claimledger.statement.v1+json";
export const REGISTRY_STREAM = "registry";
export const CLOCK_SKEW_MS = 10 * 60 * 1000;
export const MAX_NOTE_SIZE = 1 << 20;
export const MAX_NOTE_SIGNATURES = 64;
export const MAX_PROOF_HASHES = 64;
const U64_LIMIT = 1n << 64n;

// ---------------------------------------------------------------------------------------------
// The one error type

export class VerificationFailure extends Error {
  /**
   * @param {string} kind  the Python error class this corresponds to, e.g. "SignatureError"
   * @param {string} what  what failed, in words
   * @param {{stream?: string, position?: number, index?: number, field?: string}} [where]
   */
  constructor(kind, what, where = {}) {
    super(VerificationFailure.describe(kind, what, where));
    this.name = "VerificationFailure";
    this.kind = kind;
    this.what = what;
    this.stream = where.stream ?? null;
    this.position = where.position ?? null;
    this.index = where.index ?? null;
    this.field = where.field ?? null;
  }

  static describe(kind, what, where) {
    const at = [];
    if (where.index !== undefined && where.index !== null) at.push(`index ${where.index}`);
    if (where.stream !== undefined && where.stream !== null) {
      at.push(where.position !== undefined && where.position !== null ? `${where.stream} position ${where.position}` : where.stream);
    }
    if (where.field) at.push(`field ${where.field}`);
    return `${kind}: ${what}${at.length ? ` (${at.join(", ")})` : ""}`;
  }

  /** The same failure, located at an entry (keeps a location already set). */
  located(where) {
    if (this.index !== null) return this;
    return new VerificationFailure(this.kind, this.what, { field: this.field, ...where });
  }

  toJSON() {
    return {
      kind: this.kind,
      what: this.what,
      stream: this.stream,
      position: this.position,
      index: this.index,
      field: this.field,
      message: this.message,
    };
  }
}

const fail = (kind, what, where) => {
  throw new VerificationFailure(kind, what, where);
};

// ---------------------------------------------------------------------------------------------
// Bytes: hex, base64, UTF-8

export function hex(bytes) {
  let s = "";
  for (const b of bytes) s += (b < 16 ? "0" : "") + b.toString(16);
  return s;
}

export function fromHex(text, what = "hex") {
  if (typeof text !== "string" || !/^(?:[0-9a-fA-F]{2})*$/.test(text)) {
    fail("EncodingError", `${what} is not hexadecimal`);
  }
  const out = new Uint8Array(text.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(text.substr(2 * i, 2), 16);
  return out;
}

export function b64(bytes) {
  let s = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    s += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
  }
  return btoa(s);
}

function atobBytes(text) {
  const s = atob(text);
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}

/** Strict standard base64 with padding: the text must be the re-encoding of its bytes. */
export function b64decode(text, what = "base64", kind = "EncodingError") {
  if (typeof text !== "string" || text.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(text)) {
    fail(kind, `${what} is not padded standard base64`);
  }
  let out;
  try {
    out = atobBytes(text);
  } catch {
    fail(kind, `${what} is not valid base64`);
  }
  if (b64(out) !== text) fail(kind, `${what} is not canonical base64 (non-zero trailing bits)`);
  return out;
}

/** DSSE decoding (SPEC §4): standard or URL-safe, padded or not; nothing else. */
export function b64decodeLenient(text, field) {
  let std;
  if (/^[A-Za-z0-9+/]*={0,2}$/.test(text)) std = text;
  else if (/^[A-Za-z0-9_-]*={0,2}$/.test(text)) std = text.replace(/-/g, "+").replace(/_/g, "/");
  else fail("EncodingError", "not base64 (standard or URL-safe alphabet)", { field });
  const bare = std.replace(/=+$/, "");
  if (std.includes("=") && std.length % 4 !== 0) {
    fail("EncodingError", "base64 has wrong padding", { field });
  }
  if (bare.length % 4 === 1) fail("EncodingError", "base64 has an impossible length", { field });
  const padded = bare + "=".repeat((4 - (bare.length % 4)) % 4);
  let out;
  try {
    out = atobBytes(padded);
  } catch {
    fail("EncodingError", "bad base64", { field });
  }
  if (b64(out).replace(/=+$/, "") !== bare) {
    fail("EncodingError", "base64 has non-zero trailing bits", { field });
  }
  return out;
}

export const utf8 = (text) => enc.encode(text);

export function decodeUtf8(bytes, what = "text", kind = "EncodingError") {
  try {
    return dec.decode(bytes);
  } catch {
    fail(kind, `${what} is not valid UTF-8`);
  }
}

function asBytes(value, what) {
  if (value instanceof Uint8Array) return value;
  if (typeof value === "string") return enc.encode(value);
  if (value instanceof ArrayBuffer) return new Uint8Array(value);
  throw new TypeError(`${what} must be bytes or a string`);
}

export function concat(...parts) {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

function u32(n) {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, n);
  return b;
}

function u64(n) {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, BigInt(n));
  return b;
}

const field = (bytes) => concat(u32(bytes.length), bytes);

function equalBytes(a, b) {
  if (a.length !== b.length) return false;
  let d = 0;
  for (let i = 0; i < a.length; i++) d |= a[i] ^ b[i];
  return d === 0;
}

// ---------------------------------------------------------------------------------------------
// Hashing (WebCrypto)

function subtle() {
  const s = globalThis.crypto && globalThis.crypto.subtle;
  if (!s) {
    fail(
      "VerificationError",
      "WebCrypto is unavailable here (the page must be served over https or from localhost)",
    );
  }
  return s;
}

export async function sha256(bytes) {
  return new Uint8Array(await subtle().digest("SHA-256", bytes));
}

export async function sha512(bytes) {
  return new Uint8Array(await subtle().digest("SHA-512", bytes));
}

// ---------------------------------------------------------------------------------------------
// Ed25519: the KEY rule (§2.1) and the SIGNATURE rule (§2.2)

const P = (1n << 255n) - 19n;
export const L = (1n << 252n) + 27742317777372353535851937790883648493n;
const mod = (a) => {
  const r = a % P;
  return r < 0n ? r + P : r;
};
function pow(b, e) {
  let r = 1n;
  b = mod(b);
  while (e > 0n) {
    if (e & 1n) r = (r * b) % P;
    b = (b * b) % P;
    e >>= 1n;
  }
  return r;
}
const inv = (a) => pow(a, P - 2n);
const D = mod(-121665n * inv(121666n));
const D2 = mod(2n * D);
const SQRT_M1 = pow(2n, (P - 1n) / 4n);

function leInt(bytes) {
  let n = 0n;
  for (let i = bytes.length - 1; i >= 0; i--) n = (n << 8n) | BigInt(bytes[i]);
  return n;
}

// Extended coordinates (X, Y, Z, T) with x = X/Z, y = Y/Z, xy = T/Z. The unified addition law is
// complete on edwards25519 (a = -1 is a square, d is not), so it also doubles.
const IDENTITY = [0n, 1n, 1n, 0n];
function add([X1, Y1, Z1, T1], [X2, Y2, Z2, T2]) {
  const A = mod((Y1 - X1) * (Y2 - X2));
  const B = mod((Y1 + X1) * (Y2 + X2));
  const C = mod(T1 * D2 * T2);
  const Dd = mod(2n * Z1 * Z2);
  const E = B - A;
  const F = Dd - C;
  const G = Dd + C;
  const H = B + A;
  return [mod(E * F), mod(G * H), mod(F * G), mod(E * H)];
}
function mul(point, scalar) {
  let r = IDENTITY;
  for (let i = BigInt(scalar.toString(2).length) - 1n; i >= 0n; i--) {
    r = add(r, r);
    if ((scalar >> i) & 1n) r = add(r, point);
  }
  return r;
}
const isIdentity = ([X, Y, Z]) => X === 0n && mod(Y - Z) === 0n;
function encodePoint([X, Y, Z]) {
  const zi = inv(Z);
  const x = mod(X * zi);
  const y = mod(Y * zi);
  const n = y | ((x & 1n) << 255n);
  const out = new Uint8Array(32);
  for (let i = 0; i < 32; i++) out[i] = Number((n >> BigInt(8 * i)) & 0xffn);
  return out;
}
const BASE = (() => {
  const y = mod(4n * inv(5n));
  const u = mod(y * y - 1n);
  const v = mod(D * y * y + 1n);
  let x = mod(u * v ** 3n * pow(u * v ** 7n, (P - 5n) / 8n));
  if (mod(v * x * x - u) !== 0n) x = mod(x * SQRT_M1);
  if (x & 1n) x = P - x;
  return [x, y, 1n, mod(x * y)];
})();

/** Decode a point per SPEC §2.1 rules 2-4; returns extended coordinates or a reason string. */
function decodePoint(bytes) {
  const n = leInt(bytes);
  const y = n & ((1n << 255n) - 1n);
  const s = n >> 255n;
  if (y >= P) return "y is not canonical (y >= p)";
  const u = mod(y * y - 1n);
  const v = mod(D * y * y + 1n);
  let x = mod(u * pow(v, 3n) * pow(u * pow(v, 7n), (P - 5n) / 8n));
  const vx2 = mod(v * x * x);
  if (vx2 !== u) {
    if (vx2 === mod(-u)) x = mod(x * SQRT_M1);
    else return "not a point on the curve (no x for this y)";
  }
  if (x === 0n && s === 1n) return "x = 0 with the sign bit set";
  if ((x & 1n) !== s) x = P - x;
  return [x, y, 1n, mod(x * y)];
}

const keyVerdicts = new Map(); // hex key -> null (accepted) or the reason it fails

/**
 * The KEY rule (SPEC §2.1). Throws KeyFormatError (length) or WeakKeyError (rules 2-6).
 * @param {Uint8Array} publicKey
 */
export function checkKey(publicKey) {
  if (!(publicKey instanceof Uint8Array)) throw new TypeError("publicKey must be a Uint8Array");
  if (publicKey.length !== 32) {
    fail("KeyFormatError", `an Ed25519 public key is 32 bytes, got ${publicKey.length}`);
  }
  const h = hex(publicKey);
  if (!keyVerdicts.has(h)) {
    let reason = null;
    const A = decodePoint(publicKey);
    if (typeof A === "string") reason = A;
    else if (isIdentity(add(add(add(A, A), add(A, A)), add(add(A, A), add(A, A))))) {
      reason = "a point of small order";
    } else if (!isIdentity(mul(A, L))) reason = "not in the prime-order subgroup ([L]A is not the identity)";
    keyVerdicts.set(h, reason);
  }
  const reason = keyVerdicts.get(h);
  if (reason !== null) fail("WeakKeyError", `public key ${h} is refused: ${reason}`);
}

// SPEC §2.2 rule 2: every 32-byte string a lenient decoder maps to a point of small order.
const SMALL_ORDER_R = new Set([
  "0000000000000000000000000000000000000000000000000000000000000000",
  "0000000000000000000000000000000000000000000000000000000000000080",
  "0100000000000000000000000000000000000000000000000000000000000000",
  "0100000000000000000000000000000000000000000000000000000000000080",
  "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05",
  "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85",
  "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",
  "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa",
  "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
  "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
  "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
  "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
  "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
  "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
]);

const cryptoKeys = new Map(); // hex key -> Promise<CryptoKey | null> (null: no WebCrypto Ed25519)

function importKey(publicKey) {
  const h = hex(publicKey);
  if (!cryptoKeys.has(h)) {
    cryptoKeys.set(
      h,
      subtle()
        .importKey("raw", publicKey, { name: "Ed25519" }, false, ["verify"])
        .catch((e) => {
          if (e && e.name === "NotSupportedError") return null;
          throw e;
        }),
    );
  }
  return cryptoKeys.get(h);
}

/** Which implementation checks rule 4: "webcrypto" or "bigint" (no Ed25519 in WebCrypto). */
export async function ed25519Backend() {
  const k = await importKey(encodePoint(BASE));
  return k === null ? "bigint" : "webcrypto";
}

// Rule 4 in BigInt, for browsers without WebCrypto Ed25519: R' = [S]B - [k]A, compare encodings.
async function cofactorlessBigInt(publicKey, message, signature, S) {
  const A = decodePoint(publicKey);
  const k = leInt(await sha512(concat(signature.subarray(0, 32), publicKey, message))) % L;
  const negA = [mod(-A[0]), A[1], A[2], mod(-A[3])];
  return equalBytes(encodePoint(add(mul(BASE, S), mul(negA, k))), signature.subarray(0, 32));
}

/**
 * The whole acceptance rule of SPEC §2: the KEY rule on `publicKey`, then the SIGNATURE rule.
 * Throws KeyFormatError / WeakKeyError (key) or InvalidSignatureError (signature).
 */
export async function verifySignature(publicKey, message, signature, { backend = "auto" } = {}) {
  checkKey(publicKey);
  message = asBytes(message, "message");
  if (!(signature instanceof Uint8Array) || signature.length !== 64) {
    fail("InvalidSignatureError", `an Ed25519 signature is 64 bytes, got ${signature.length}`);
  }
  if (SMALL_ORDER_R.has(hex(signature.subarray(0, 32)))) {
    fail("InvalidSignatureError", "signature R is a small-order point");
  }
  const S = leInt(signature.subarray(32));
  if (S >= L) fail("InvalidSignatureError", "signature S is not reduced (S >= L)");
  const key = backend === "bigint" ? null : await importKey(publicKey);
  const ok =
    key === null
      ? await cofactorlessBigInt(publicKey, message, signature, S)
      : await subtle().verify({ name: "Ed25519" }, key, signature, message);
  if (!ok) fail("InvalidSignatureError", "signature does not verify");
}

/** SPEC §2.3: hex(SHA-256("claimledger:v1:key" ‖ 0x00 ‖ A)). */
export async function keyId(publicKey) {
  if (publicKey.length !== 32) {
    fail("KeyFormatError", `an Ed25519 public key is 32 bytes, got ${publicKey.length}`);
  }
  return hex(await sha256(concat(utf8("claimledger:v1:key\0"), publicKey)));
}

/** SPEC §2.4: a public key in a statement, 44 characters of canonical padded base64. */
export function publicKeyFromB64(text) {
  if (typeof text !== "string" || !/^[A-Za-z0-9+/]{43}=$/.test(text)) {
    fail("KeyFormatError", "a public key must be 44 characters of standard base64 with padding");
  }
  const raw = b64decode(text, "public key", "KeyFormatError");
  checkKey(raw);
  return raw;
}

// ---------------------------------------------------------------------------------------------
// JSON: a strict RFC 8259 parser with the profile of SPEC §1.1, and the canonical form (§1.2)

const MAX_DEPTH = 64;

/** Parse JSON text strictly; duplicate keys refused. Numbers must be profile integers. */
export function parseJSON(text, { profile = true } = {}) {
  let i = 0;
  const bad = (why) => fail("EncodingError", `malformed JSON at character ${i}: ${why}`);
  const ws = () => {
    while (i < text.length) {
      const c = text.charCodeAt(i);
      if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) i++;
      else break;
    }
  };
  const str = () => {
    i++; // opening quote
    let out = "";
    let start = i;
    for (;;) {
      if (i >= text.length) bad("unterminated string");
      const c = text.charCodeAt(i);
      if (c === 0x22) {
        out += text.slice(start, i);
        i++;
        break;
      }
      if (c < 0x20) bad("control character in a string");
      if (c === 0x5c) {
        out += text.slice(start, i);
        const e = text[i + 1];
        const simple = { '"': '"', "\\": "\\", "/": "/", b: "\b", f: "\f", n: "\n", r: "\r", t: "\t" };
        if (e in simple) {
          out += simple[e];
          i += 2;
        } else if (e === "u" && /^[0-9a-fA-F]{4}$/.test(text.substr(i + 2, 4))) {
          out += String.fromCharCode(parseInt(text.substr(i + 2, 4), 16));
          i += 6;
        } else bad("bad escape");
        start = i;
      } else i++;
    }
    if (profile && !isWellFormed(out)) fail("EncodingError", "a string holds a lone surrogate");
    return out;
  };
  const num = () => {
    const m = /^-?(?:0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?/.exec(text.slice(i, i + 400));
    if (!m) bad("bad number");
    i += m[0].length;
    if (profile) {
      if (m[1] !== undefined || m[2] !== undefined) {
        fail("EncodingError", `number ${m[0]} is not an integer of the profile`);
      }
      const n = Number(m[0]);
      if (!Number.isSafeInteger(n)) fail("EncodingError", `integer ${m[0]} is out of range`);
      return n;
    }
    return Number(m[0]);
  };
  const value = (depth) => {
    ws();
    const c = text[i];
    if (c === "{" || c === "[") {
      if (depth >= MAX_DEPTH) fail("EncodingError", `nesting deeper than ${MAX_DEPTH}`);
      i++;
      ws();
      if (c === "[") {
        const arr = [];
        if (text[i] === "]") {
          i++;
          return arr;
        }
        for (;;) {
          arr.push(value(depth + 1));
          ws();
          if (text[i] === ",") i++;
          else if (text[i] === "]") {
            i++;
            return arr;
          } else bad("expected , or ]");
        }
      }
      const obj = Object.create(null);
      if (text[i] === "}") {
        i++;
        return obj;
      }
      for (;;) {
        ws();
        if (text[i] !== '"') bad("expected a key");
        const k = str();
        if (profile && !/^[\x20-\x7e]*$/.test(k)) fail("EncodingError", "a key is not printable ASCII");
        if (Object.prototype.hasOwnProperty.call(obj, k)) {
          fail("EncodingError", `duplicate member ${JSON.stringify(k)}`);
        }
        ws();
        if (text[i] !== ":") bad("expected :");
        i++;
        obj[k] = value(depth + 1);
        ws();
        if (text[i] === ",") i++;
        else if (text[i] === "}") {
          i++;
          return obj;
        } else bad("expected , or }");
      }
    }
    if (c === '"') return str();
    if (c === "-" || (c >= "0" && c <= "9")) return num();
    for (const [word, v] of [["true", true], ["false", false], ["null", null]]) {
      if (text.startsWith(word, i)) {
        i += word.length;
        return v;
      }
    }
    bad("unexpected character");
  };
  const v = value(0);
  ws();
  if (i !== text.length) bad("trailing data");
  return v;
}

function isWellFormed(s) {
  if (typeof s.isWellFormed === "function") return s.isWellFormed();
  return !/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(s);
}

/** The canonical form of a profile value (SPEC §1.2) as a string. */
export function canonicalString(v) {
  if (v === null || v === true || v === false) return String(v);
  if (typeof v === "number") {
    if (!Number.isSafeInteger(v)) fail("EncodingError", `${v} is not an integer of the profile`);
    return String(v === 0 ? 0 : v);
  }
  if (typeof v === "string") return JSON.stringify(v); // ECMAScript's escapes are §1.2's
  if (Array.isArray(v)) return `[${v.map(canonicalString).join(",")}]`;
  if (typeof v === "object") {
    const keys = Object.keys(v).sort(); // printable ASCII: code-unit order is byte order
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalString(v[k])}`).join(",")}}`;
  }
  throw new TypeError(`not a JSON value: ${typeof v}`);
}

export const canonicalEncode = (v) => utf8(canonicalString(v));

/** SPEC §1.3: decode bytes, refusing anything that is not the canonical form of its value. */
export function decodeCanonical(bytes) {
  if (bytes.length >= 3 && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) {
    fail("EncodingError", "starts with a byte order mark");
  }
  const text = decodeUtf8(bytes, "JSON");
  const v = parseJSON(text);
  if (canonicalString(v) !== text) fail("EncodingError", "not in canonical form (SPEC §1.2)");
  return v;
}

// ---------------------------------------------------------------------------------------------
// DSSE (SPEC §4)

/** PAE(type, body) = "DSSEv1" SP LEN(type) SP type SP LEN(body) SP body. */
export function pae(payloadType, payload) {
  const t = asBytes(payloadType, "payloadType");
  const b = asBytes(payload, "payload");
  return concat(utf8(`DSSEv1 ${t.length} `), t, utf8(` ${b.length} `), b);
}

function members(obj, where, names) {
  if (obj === null || typeof obj !== "object" || Array.isArray(obj)) {
    fail("EncodingError", "expected a JSON object", { field: where || "/" });
  }
  for (const k of Object.keys(obj).sort()) {
    if (!names.includes(k)) fail("EncodingError", `unknown member ${JSON.stringify(k)}`, { field: `${where}/${k}` });
  }
  for (const k of [...names].sort()) {
    if (!(k in obj)) fail("EncodingError", `missing member ${JSON.stringify(k)}`, { field: `${where}/${k}` });
  }
  return obj;
}

function str(v, where) {
  if (typeof v !== "string") fail("EncodingError", "expected a string", { field: where });
  return v;
}

/**
 * Parse a DSSE envelope. With `stored` (the default: what a ledger serves), the bytes must be
 * exactly the stored form (canonical JSON, standard padded base64); otherwise any JSON layout and
 * the DSSE base64 variants are accepted.
 * @returns {{payloadType: string, payload: Uint8Array, signatures: {keyid: string, sig: Uint8Array}[]}}
 */
export function parseEnvelope(data, { stored = true } = {}) {
  const bytes = asBytes(data, "envelope");
  if (bytes.length > 256 * 1024) fail("EncodingError", "envelope is larger than 256 KiB");
  const text = decodeUtf8(bytes, "envelope");
  const obj = members(parseJSON(text, { profile: false }), "", ["payload", "payloadType", "signatures"]);
  const payloadType = str(obj.payloadType, "/payloadType");
  const payload = b64decodeLenient(str(obj.payload, "/payload"), "/payload");
  if (!Array.isArray(obj.signatures)) fail("EncodingError", "signatures must be an array", { field: "/signatures" });
  const signatures = obj.signatures.map((item, n) => {
    const where = `/signatures/${n}`;
    const s = members(item, where, ["keyid", "sig"]);
    const keyid = str(s.keyid, `${where}/keyid`);
    if (!/^[0-9a-f]{64}$/.test(keyid)) fail("EncodingError", "keyid must be 64 lowercase hex characters", { field: where });
    const sig = b64decodeLenient(str(s.sig, `${where}/sig`), `${where}/sig`);
    if (sig.length !== 64) fail("EncodingError", `signature must be 64 bytes, not ${sig.length}`, { field: where });
    return { keyid, sig };
  });
  if (payloadType !== PAYLOAD_TYPE) {
    fail("EncodingError", `payloadType must be ${PAYLOAD_TYPE}`, { field: "/payloadType" });
  }
  if (signatures.length !== 1) {
    fail("EncodingError", `an envelope carries exactly one signature, not ${signatures.length}`, { field: "/signatures" });
  }
  const env = { payloadType, payload, signatures };
  if (stored && storedEnvelope(env) !== text) {
    fail("EncodingError", "stored envelope is not in its canonical stored form");
  }
  return env;
}

/** The stored form of an envelope, as text (SPEC §4). */
export function storedEnvelope(env) {
  return canonicalString({
    payload: b64(env.payload),
    payloadType: env.payloadType,
    signatures: env.signatures.map((s) => ({ keyid: s.keyid, sig: b64(s.sig) })),
  });
}

// ---------------------------------------------------------------------------------------------
// Entries, chains and leaves (SPEC §5, §6.1)

/** SPEC §5.1 entry hash of a parsed envelope (32 bytes). */
export async function entryHash(env) {
  return sha256(entryPreimage(env));
}

/** The bytes the entry hash is the SHA-256 of. */
export function entryPreimage(env) {
  const parts = [
    utf8("claimledger:v1:entry\0"),
    field(utf8(env.payloadType)),
    field(env.payload),
    u32(env.signatures.length),
  ];
  for (const s of env.signatures) parts.push(field(utf8(s.keyid)), field(s.sig));
  return concat(...parts);
}

/** SPEC §5.2: the `prev` (hex) of a stream's first statement. */
export async function genesisPrev(stream) {
  return hex(await sha256(concat(utf8("claimledger:v1:genesis\0"), utf8(stream))));
}

function u64Arg(n, what, kind = "EncodingError") {
  let v;
  if (typeof n === "bigint") v = n;
  else if (Number.isSafeInteger(n)) v = BigInt(n);
  else fail(kind, `${what} ${n} is not an integer`);
  if (v < 0n || v >= U64_LIMIT) fail(kind, `${what} ${n} is out of range`);
  return v;
}

/** SPEC §6.1 leaf data; `stateRoot` is the root of the state map after the entry (§11). */
export function leafData(index, stream, position, logTimeMs, ehash, stateRoot) {
  const i = u64Arg(index, "index");
  const p = u64Arg(position, "position");
  const t = u64Arg(logTimeMs, "log time");
  if (!(ehash instanceof Uint8Array) || ehash.length !== 32) fail("EncodingError", "entry hash must be 32 bytes");
  if (!(stateRoot instanceof Uint8Array) || stateRoot.length !== 32) fail("EncodingError", "state root must be 32 bytes");
  return concat(utf8("claimledger:v2:leaf\0"), u64(i), field(utf8(stream)), u64(p), u64(t), ehash, stateRoot);
}

// ---------------------------------------------------------------------------------------------
// RFC 9162 Merkle trees (SPEC §6)

export const leafHash = (data) => sha256(concat(Uint8Array.of(0), data));
export const nodeHash = (l, r) => sha256(concat(Uint8Array.of(1), l, r));

function hashArg(h, what) {
  if (!(h instanceof Uint8Array) || h.length !== 32) fail("ProofError", `${what} is not 32 bytes`);
  return h;
}

/** The root an inclusion proof implies (RFC 9162 §2.1.3.2 without the final compare). */
export async function rootFromInclusion(leaf, index, size, proof) {
  const fnStart = u64Arg(index, "leaf index", "ProofError");
  const sz = u64Arg(size, "tree size", "ProofError");
  if (fnStart >= sz) fail("ProofError", `leaf index ${index} is not below the tree size ${size}`);
  let node = hashArg(leaf, "leaf hash");
  proof = proof || [];
  if (proof.length > MAX_PROOF_HASHES) fail("ProofError", `proof has more than ${MAX_PROOF_HASHES} hashes`);
  proof.forEach((p, n) => hashArg(p, `proof hash ${n}`));
  let fn = fnStart;
  let sn = sz - 1n;
  for (const p of proof) {
    if (sn === 0n) fail("ProofError", `inclusion proof has ${proof.length} hashes, more than index ${index} in a tree of size ${size} needs`);
    if (fn & 1n || fn === sn) {
      node = await nodeHash(p, node);
      while (!(fn & 1n) && fn !== 0n) {
        fn >>= 1n;
        sn >>= 1n;
      }
    } else {
      node = await nodeHash(node, p);
    }
    fn >>= 1n;
    sn >>= 1n;
  }
  if (sn !== 0n) fail("ProofError", `inclusion proof has ${proof.length} hashes, fewer than index ${index} in a tree of size ${size} needs`);
  return node;
}

/** Throws ProofError unless `leaf` is leaf `index` of the tree of `size` leaves with `root`. */
export async function verifyInclusion(leaf, index, size, proof, root) {
  hashArg(root, "root");
  const got = await rootFromInclusion(leaf, index, size, proof);
  if (!equalBytes(got, root)) {
    fail("ProofError", `inclusion proof for index ${index} in a tree of size ${size} leads to root ${hex(got)}, not ${hex(root)}`);
  }
}

/**
 * RFC 9162 §2.1.4.2 with SPEC §6's edge cases: throws ProofError unless the tree of `size2`
 * leaves with `root2` extends the tree of `size1` leaves with `root1`.
 */
export async function verifyConsistency(size1, size2, proof, root1, root2) {
  const m = u64Arg(size1, "old tree size", "ProofError");
  const n = u64Arg(size2, "new tree size", "ProofError");
  const old = hashArg(root1, "root1");
  hashArg(root2, "root2");
  proof = proof || [];
  if (m > n) fail("ProofError", `old tree size ${size1} is larger than new tree size ${size2}`);
  if (m === n) {
    if (proof.length) fail("ProofError", `trees of equal size ${size1} need an empty consistency proof`);
    if (!equalBytes(root1, root2)) fail("ProofError", `trees of equal size ${size1} have different roots`);
    if (m === 0n && !equalBytes(root1, await sha256(new Uint8Array(0)))) fail("ProofError", "the root of the empty tree must be SHA-256 of the empty string");
    return;
  }
  if (m === 0n) fail("ProofError", `no consistency proof is needed or possible from ${size1} to ${size2}`);
  if (proof.length > MAX_PROOF_HASHES) fail("ProofError", `proof has more than ${MAX_PROOF_HASHES} hashes`);
  const path = proof.map((p, k) => hashArg(p, `proof hash ${k}`));
  if ((m & (m - 1n)) === 0n) path.unshift(old);
  if (!path.length) fail("ProofError", `consistency proof from ${size1} to ${size2} is empty`);
  let fn = m - 1n;
  let sn = n - 1n;
  while (fn & 1n) {
    fn >>= 1n;
    sn >>= 1n;
  }
  let fr = path[0];
  let sr = path[0];
  for (const c of path.slice(1)) {
    if (sn === 0n) fail("ProofError", `consistency proof from ${size1} to ${size2} has too many hashes (${path.length})`);
    if (fn & 1n || fn === sn) {
      fr = await nodeHash(c, fr);
      sr = await nodeHash(c, sr);
      while (!(fn & 1n) && fn !== 0n) {
        fn >>= 1n;
        sn >>= 1n;
      }
    } else {
      sr = await nodeHash(sr, c);
    }
    fn >>= 1n;
    sn >>= 1n;
  }
  if (sn !== 0n) fail("ProofError", `consistency proof from ${size1} to ${size2} has too few hashes (${path.length})`);
  if (!equalBytes(fr, old)) fail("ProofError", `consistency proof from ${size1} to ${size2} rebuilds old root ${hex(fr)}, not ${hex(old)}`);
  if (!equalBytes(sr, root2)) fail("ProofError", `consistency proof from ${size1} to ${size2} rebuilds new root ${hex(sr)}, not ${hex(root2)}`);
}

/** The root of a whole list of leaf hashes (MTH), for tests and small trees. */
export async function merkleRoot(leaves) {
  if (leaves.length === 0) return sha256(new Uint8Array(0));
  const frontier = []; // [height, hash]
  for (let n = 0; n < leaves.length; n++) {
    let h = leaves[n];
    let height = 0;
    let m = n;
    while (m & 1) {
      h = await nodeHash(frontier.pop()[1], h);
      height++;
      m >>= 1;
    }
    frontier.push([height, h]);
  }
  let root = frontier.pop()[1];
  while (frontier.length) root = await nodeHash(frontier.pop()[1], root);
  return root;
}

// ---------------------------------------------------------------------------------------------
// C2SP tlog-tiles (SPEC §14): node hashes and proofs computed from tiles

/** A tile index as tlog-tiles path elements: 3-digit groups, all but the last `x`-prefixed. */
export function tileIndexPath(index) {
  let v = BigInt(index);
  if (v < 0n) fail("EncodingError", `a tile index is not negative, not ${index}`);
  const groups = [String(v % 1000n).padStart(3, "0")];
  for (v /= 1000n; v > 0n; v /= 1000n) groups.push("x" + String(v % 1000n).padStart(3, "0"));
  return groups.reverse().join("/");
}

/** The path of hash tile (level, index, width) below a log's prefix: `tile/<L>/<N>[.p/<W>]`. */
export function tilePath(level, index, width = 256) {
  return `tile/${level}/${tileIndexPath(index)}${width === 256 ? "" : `.p/${width}`}`;
}

const splitSize = (n) => 1n << BigInt((n - 1n).toString(2).length - 1); // largest 2^k < n

/**
 * Any perfect node, root or RFC 9162 proof of the tree of `size` leaves, from hash tiles:
 * `fetchTile(path)` resolves to a tile's bytes. Each tile is fetched once (the full one where the
 * tree has it, else the partial tile of `size`). Tiles are untrusted: a proof computed here is
 * verified against a verified checkpoint's root (verifyConsistency, verifyInclusion).
 */
export class TileReader {
  constructor(size, fetchTile) {
    this.size = u64Arg(size, "tree size", "ProofError");
    this.fetchTile = fetchTile;
    this.tiles = new Map();
    this.fetched = [];
  }

  tile(level, index) {
    const key = `${level}/${index}`;
    if (!this.tiles.has(key)) {
      const lv = BigInt(level);
      const full = this.size >> (8n * (lv + 1n));
      const partial = Number((this.size >> (8n * lv)) % 256n);
      let width = 256;
      if (index === full && partial) width = partial;
      else if (index >= full) fail("ProofError", `a tree of ${this.size} leaves has no tile ${level}/${index}`);
      const path = tilePath(level, index, width);
      this.fetched.push(path);
      this.tiles.set(
        key,
        Promise.resolve(this.fetchTile(path)).then((data) => {
          if (!(data instanceof Uint8Array) || data.length !== width * 32) {
            fail("EncodingError", `${path} is ${data && data.length} bytes, not ${width * 32}`);
          }
          return data;
        }),
      );
    }
    return this.tiles.get(key);
  }

  /** node(height, index) of SPEC §6: from the tile at level ⌊height/8⌋, folding 2^(height mod 8) hashes. */
  async node(height, index) {
    const h = BigInt(height);
    const k = BigInt(index);
    if ((k + 1n) << h > this.size) fail("ProofError", `node(${height}, ${index}) is not in a tree of ${this.size} leaves`);
    const rest = h % 8n;
    const first = k << rest;
    const tile = await this.tile(Number(h / 8n), first >> 8n);
    const at = Number(first % 256n);
    let hashes = [];
    for (let i = 0; i < 1 << Number(rest); i++) hashes.push(tile.subarray((at + i) * 32, (at + i + 1) * 32));
    while (hashes.length > 1) {
      const next = [];
      for (let i = 0; i < hashes.length; i += 2) next.push(await nodeHash(hashes[i], hashes[i + 1]));
      hashes = next;
    }
    return hashes[0];
  }

  /** The hash of leaves [start, end) as one subtree (a node of some tree). */
  async subtree(start, end) {
    const width = end - start;
    if ((width & (width - 1n)) === 0n) {
      const level = BigInt(width.toString(2).length - 1);
      return this.node(level, start >> level);
    }
    const parts = [];
    let pos = start;
    for (let level = BigInt(width.toString(2).length - 1); level >= 0n; level--) {
      if ((width >> level) & 1n) {
        parts.push(await this.node(level, pos >> level));
        pos += 1n << level;
      }
    }
    let acc = parts.pop();
    while (parts.length) acc = await nodeHash(parts.pop(), acc);
    return acc;
  }

  async root() {
    return this.size === 0n ? sha256(new Uint8Array(0)) : this.subtree(0n, this.size);
  }

  /** PATH(index, D[0:size]) of RFC 9162 §2.1.3.1, leaf side first. */
  async inclusionProof(index) {
    const m = u64Arg(index, "leaf index", "ProofError");
    if (m >= this.size) fail("ProofError", `leaf index ${index} is not in a tree of size ${this.size}`);
    const path = [];
    let start = 0n;
    let end = this.size;
    while (end - start > 1n) {
      const k = splitSize(end - start);
      if (m < start + k) {
        path.push(await this.subtree(start + k, end));
        end = start + k;
      } else {
        path.push(await this.subtree(start, start + k));
        start += k;
      }
    }
    return path.reverse();
  }

  /** PROOF(old, D[0:size]) of RFC 9162 §2.1.4.1, for 0 < old <= size. */
  async consistencyProof(old) {
    let m = u64Arg(old, "old tree size", "ProofError");
    if (!(0n < m && m <= this.size)) fail("ProofError", `no consistency proof from size ${old} to size ${this.size}`);
    const proof = [];
    let start = 0n;
    let end = this.size;
    let whole = true;
    while (m !== end - start) {
      const k = splitSize(end - start);
      if (m <= k) {
        proof.push(await this.subtree(start + k, end));
        end = start + k;
      } else {
        proof.push(await this.subtree(start, start + k));
        start += k;
        m -= k;
        whole = false;
      }
    }
    if (!whole) proof.push(await this.subtree(start, end));
    return proof.reverse();
  }
}

// ---------------------------------------------------------------------------------------------
// C2SP signed notes and checkpoints (SPEC §7)

const CONTROL = /[\x00-\x09\x0b-\x1f]/;
// Python's str.isspace(): the Unicode White_Space characters plus U+001C..U+001F.
const UNICODE_SPACE = /[\t\n\v\f\r\x1c-\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]/;
const cpFail = (what) => fail("CheckpointError", what);

function noteText(bytes, what) {
  const text = decodeUtf8(bytes, what, "CheckpointError");
  const m = CONTROL.exec(text);
  if (m) cpFail(`${what} contains the control character U+${m[0].charCodeAt(0).toString(16).padStart(4, "0").toUpperCase()}; only newline is allowed`);
  if (!text.endsWith("\n")) cpFail(`${what} does not end with a newline`);
  return text;
}

function checkKeyName(name) {
  if (!name) cpFail("a note key name must be non-empty");
  if (UNICODE_SPACE.test(name) || name.includes("+") || CONTROL.test(name)) {
    cpFail(`note key name ${JSON.stringify(name)} contains a space, a plus sign or a control character`);
  }
}

/** SPEC §7.3: SHA-256(name ‖ 0x0A ‖ 0x01 ‖ public key)[0:4]. */
export async function noteKeyId(name, publicKey) {
  checkKeyName(name);
  return (await sha256(concat(utf8(name), Uint8Array.of(0x0a, 0x01), publicKey))).subarray(0, 4);
}

/** Parse a verifier key `<name>+<8 hex key id>+<base64(0x01 ‖ key)>` (SPEC §7.3). */
export async function parseVkey(vkey) {
  if (typeof vkey !== "string") cpFail("a verifier key must be a string");
  const a = vkey.indexOf("+");
  const b = a < 0 ? -1 : vkey.indexOf("+", a + 1);
  if (b < 0) cpFail("verifier key is not <name>+<key id>+<key>");
  const name = vkey.slice(0, a);
  const idHex = vkey.slice(a + 1, b);
  checkKeyName(name);
  if (!/^[0-9a-f]{8}$/.test(idHex)) cpFail(`verifier key id ${JSON.stringify(idHex)} is not 8 lowercase hex digits`);
  const data = b64decode(vkey.slice(b + 1), "verifier key data", "CheckpointError");
  if (data.length !== 33 || data[0] !== 0x01) cpFail("verifier key data must be 0x01 (Ed25519) followed by a 32-byte public key");
  const publicKey = data.slice(1);
  try {
    checkKey(publicKey);
  } catch (e) {
    if (e instanceof VerificationFailure) cpFail(`verifier key ${name} holds a refused key: ${e.what}`);
    throw e;
  }
  const keyId = fromHex(idHex);
  if (!equalBytes(keyId, await noteKeyId(name, publicKey))) cpFail(`key id ${idHex} of note key ${name} does not match its name and public key`);
  return { name, keyId, publicKey };
}

/** The vkey text (§7.3) of a note key {name, keyId, publicKey}. */
export const vkeyText = (v) => `${v.name}+${hex(v.keyId)}+${b64(concat(Uint8Array.of(1), v.publicKey))}`;

/** The vkey of a note key (name, raw public key). */
export async function vkeyFor(name, publicKey) {
  return { name, keyId: await noteKeyId(name, publicKey), publicKey };
}

/**
 * Parse a signed note (SPEC §7.2) within the limits.
 * @returns {{text: Uint8Array, signatures: {name: string, keyId: Uint8Array, signature: Uint8Array}[]}}
 */
export function parseNote(note) {
  const bytes = asBytes(note, "note");
  if (bytes.length > MAX_NOTE_SIZE) cpFail(`signed note is ${bytes.length} bytes, more than ${MAX_NOTE_SIZE}`);
  const text = noteText(bytes, "signed note");
  const split = text.lastIndexOf("\n\n");
  if (split < 0) cpFail("signed note has no blank line before its signatures");
  const block = text.slice(split + 2, -1);
  const lines = block ? block.split("\n") : [];
  if (!lines.length) cpFail("signed note has no signature lines");
  if (lines.length > MAX_NOTE_SIGNATURES) cpFail(`signed note has ${lines.length} signature lines, more than ${MAX_NOTE_SIGNATURES}`);
  const signatures = lines.map((line, n) => {
    if (!line.startsWith("\u2014 ")) cpFail(`signature line ${n + 1} does not start with an em dash and a space`);
    const fields = line.slice(2).split(" ");
    if (fields.length !== 2) cpFail(`signature line ${n + 1} is not '— <key name> <signature>'`);
    checkKeyName(fields[0]);
    const blob = b64decode(fields[1], `signature line ${n + 1}`, "CheckpointError");
    if (blob.length <= 4) cpFail(`signature line ${n + 1} holds a key id but no signature`);
    return { name: fields[0], keyId: blob.slice(0, 4), signature: blob.slice(4) };
  });
  return { text: utf8(text.slice(0, split + 1)), signatures };
}

/** Verify a note against one key ({name, keyId, publicKey}); returns the signed text bytes. */
export async function verifyNote(note, verifier) {
  const { text, signatures } = parseNote(note);
  let verified = 0;
  for (const [n, s] of signatures.entries()) {
    if (s.name !== verifier.name || !equalBytes(s.keyId, verifier.keyId)) continue;
    try {
      await verifySignature(verifier.publicKey, text, s.signature);
    } catch (e) {
      if (e instanceof VerificationFailure) cpFail(`signature line ${n + 1} by ${verifier.name}+${hex(verifier.keyId)} does not verify: ${e.what}`);
      throw e;
    }
    verified++;
  }
  if (!verified) cpFail(`signed note has no signature by ${verifier.name}+${hex(verifier.keyId)} (among ${signatures.length} signature line(s))`);
  return text;
}

/**
 * Parse a checkpoint body (SPEC §7.1) strictly.
 * @returns {{origin: string, size: bigint, root: Uint8Array, extensions: string[]}}
 */
export function parseCheckpoint(body) {
  const lines = noteText(asBytes(body, "checkpoint"), "checkpoint body").slice(0, -1).split("\n");
  if (lines.length < 3) cpFail(`checkpoint body has ${lines.length} line(s); it needs origin, size and root hash`);
  const [origin, sizeText, rootText, ...extensions] = lines;
  if (!origin) cpFail("checkpoint origin line is empty");
  if (!/^(?:0|[1-9][0-9]{0,19})$/.test(sizeText)) cpFail(`checkpoint tree size ${JSON.stringify(sizeText.slice(0, 40))} is not a decimal number without leading zeros`);
  const size = BigInt(sizeText);
  if (size >= U64_LIMIT) cpFail(`checkpoint tree size ${size} is not below 2^64`);
  const root = b64decode(rootText, "checkpoint root hash", "CheckpointError");
  if (root.length !== 32) cpFail(`checkpoint root hash is ${root.length} bytes, not 32`);
  extensions.forEach((line, n) => {
    if (!line) cpFail(`checkpoint extension line ${n + 1} is empty`);
  });
  return { origin, size, root, extensions };
}

/** Verify a signed checkpoint with the log's note key; its origin must be `origin` (default: the key's name). */
export async function verifyCheckpoint(note, verifier, origin = verifier.name) {
  const cp = parseCheckpoint(await verifyNote(note, verifier));
  if (cp.origin !== origin) cpFail(`checkpoint origin is ${JSON.stringify(cp.origin)}, expected ${JSON.stringify(origin)}`);
  return cp;
}

// ---------------------------------------------------------------------------------------------
// The state commitment (SPEC §11): a sparse Merkle map of every stream's head and every party's
// registry record, a port of attest/statemap.py and attest/completeness.py.

export const MAP_EMPTY = new Uint8Array(32); // the hash of an empty subtree, the empty map's root
export const KEY_STREAM = 1;
export const KEY_PARTY = 2;
const MAP_KINDS = { stream: KEY_STREAM, party: KEY_PARTY };
const MAX_MAP_SIBLINGS = 256;
const MAX_STATE_RECORDS = 4096;
const RECORD_ID = /^[a-z][a-z0-9-]{0,61}[a-z0-9]$/; // a party id, or "registry"

/** SPEC §11.1: the bytes map_key(type, id) is the SHA-256 of. */
export const mapKeyPreimage = (type, id) => concat(utf8("claimledger:v2:map-key\0"), Uint8Array.of(type), utf8(id));
export const mapKey = (type, id) => sha256(mapKeyPreimage(type, id));
export const streamKey = (stream) => mapKey(KEY_STREAM, stream);
export const partyKey = (party) => mapKey(KEY_PARTY, party);

/** SPEC §11.1: the 48 bytes of a record, u64(count) ‖ u64(last index) ‖ digest. */
export function recordBytes(count, lastIndex, digest) {
  return concat(u64(u64Arg(count, "record count")), u64(u64Arg(lastIndex, "record index")), digest);
}

/** A map value as a record {count, lastIndex, digest}; EncodingError unless 48 bytes, count ≥ 1. */
export function parseRecord(value) {
  if (value.length !== 48) fail("EncodingError", `a record is 48 bytes, not ${value.length}`);
  const view = new DataView(value.buffer, value.byteOffset, 16);
  const count = view.getBigUint64(0);
  if (count === 0n) fail("EncodingError", "a record counts at least one entry");
  // Beyond 2^53 a count cannot be any record's held in a browser: it compares unequal anyway.
  return { count: Number(count), lastIndex: Number(view.getBigUint64(8)), digest: value.slice(16) };
}

/** SPEC §11.1: the next fold of a party's record (the fold of no entry is 32 zero bytes). */
export const partyFold = (acc, ehash) => sha256(concat(utf8("claimledger:v2:party-fold\0"), acc, ehash));
const mapLeafHash = (key, value) => sha256(concat(utf8("claimledger:v2:map-leaf\0"), key, value));
const mapNodeHash = (left, right) => sha256(concat(utf8("claimledger:v2:map-node\0"), left, right));
const bitOf = (key, depth) => (key[depth >> 3] >> (7 - (depth & 7))) & 1;
const subtreeHash = (node) => (node === null ? MAP_EMPTY : node.hash);

async function mapNode(left, right) {
  return { left, right, hash: await mapNodeHash(subtreeHash(left), subtreeHash(right)) };
}

/**
 * The map of SPEC §11.2: a binary trie over the keys' bits in which a subtree holding one key is
 * that key's leaf and an empty subtree is null, so the root depends on the set of pairs only.
 * Nodes are never changed, only replaced along the path of the key set (O(depth) hashes).
 */
export class StateMap {
  constructor() {
    this.top = null; // null | {key, value, hash} (a leaf) | {left, right, hash}
  }

  root() {
    return subtreeHash(this.top);
  }

  async set(key, value) {
    if (!(key instanceof Uint8Array) || key.length !== 32) fail("EncodingError", "a map key is 32 bytes");
    const path = [];
    let node = this.top;
    while (node !== null && node.key === undefined) {
      path.push(node);
      node = bitOf(key, path.length - 1) ? node.right : node.left;
    }
    let fresh = { key, value, hash: await mapLeafHash(key, value) };
    if (node !== null && !equalBytes(node.key, key)) {
      // Two leaves below this depth: a node where their keys first differ, and a chain of
      // one-sided nodes above it back up to this depth.
      let d = path.length;
      while (bitOf(node.key, d) === bitOf(key, d)) d++;
      fresh = bitOf(key, d) ? await mapNode(node, fresh) : await mapNode(fresh, node);
      while (d > path.length) {
        d--;
        fresh = bitOf(key, d) ? await mapNode(null, fresh) : await mapNode(fresh, null);
      }
    }
    for (let d = path.length - 1; d >= 0; d--) {
      const parent = path[d];
      fresh = bitOf(key, d) ? await mapNode(parent.left, fresh) : await mapNode(fresh, parent.right);
    }
    this.top = fresh;
  }
}

/**
 * The state commitment kept entry by entry (SPEC §11.2): after each entry, its stream's record and,
 * for a registry entry, the record of the party it is about. `add` returns the state root after it.
 */
export class Commitment {
  constructor() {
    this.map = new StateMap();
    this.parties = new Map(); // party -> {count, acc}
  }

  async add(stream, index, position, ehash, about) {
    await this.map.set(await streamKey(stream), recordBytes(position + 1, index, ehash));
    if (about !== null) {
      const { count, acc } = this.parties.get(about) ?? { count: 0, acc: MAP_EMPTY };
      const next = { count: count + 1, acc: await partyFold(acc, ehash) };
      this.parties.set(about, next);
      await this.map.set(await partyKey(about), recordBytes(next.count, index, next.acc));
    }
    return this.map.root();
  }
}

/**
 * SPEC §11.3: verify a map proof {siblings, leaf: null | {key, value}} for `key` against `root`.
 * Returns the key's value, or null when the proof shows it absent. Throws ProofError.
 */
export async function verifyMapProof(root, key, proof) {
  const { siblings } = proof;
  const leaf = proof.leaf ?? null;
  if (key.length !== 32 || root.length !== 32) fail("ProofError", "map keys and roots are 32 bytes");
  if (siblings.length > MAX_MAP_SIBLINGS) fail("ProofError", `a map proof has at most ${MAX_MAP_SIBLINGS} siblings`);
  if (siblings.some((s) => s.length !== 32)) fail("ProofError", "every sibling of a map proof is 32 bytes");
  const depth = siblings.length;
  let h = MAP_EMPTY;
  let value = null;
  if (leaf !== null) {
    if (leaf.key.length !== 32) fail("ProofError", "a map leaf's key is 32 bytes");
    for (let d = 0; d < depth; d++) {
      if (bitOf(leaf.key, d) !== bitOf(key, d)) fail("ProofError", "the proof's leaf is not on the key's path");
    }
    if (equalBytes(leaf.key, key)) value = leaf.value;
    h = await mapLeafHash(leaf.key, leaf.value);
  }
  for (let d = depth - 1; d >= 0; d--) {
    h = bitOf(key, d) ? await mapNodeHash(siblings[d], h) : await mapNodeHash(h, siblings[d]);
  }
  if (!equalBytes(h, root)) fail("ProofError", "the map proof does not lead to the state root");
  return value;
}

// Strict readers of the state proof's JSON (SPEC §11.4), as attest/completeness.py's from_dict.
function uintAt(v, where) {
  if (!Number.isSafeInteger(v) || v < 0) fail("EncodingError", "must be a non-negative integer", { field: where });
  return v;
}

function hexAt(v, where, chars = 64) {
  if (typeof v !== "string" || v.length !== chars || !/^[0-9a-f]*$/.test(v)) {
    fail("EncodingError", "must be lowercase hex of the right length", { field: where });
  }
  return fromHex(v);
}

function hashesAt(v, where, limit) {
  if (!Array.isArray(v)) fail("EncodingError", "must be an array", { field: where });
  if (v.length > limit) fail("EncodingError", `at most ${limit} hashes`, { field: where });
  return v.map((h, n) => {
    const at = `${where}/${n}`;
    const bytes = b64decode(str(h, at), "a hash", "EncodingError");
    if (bytes.length !== 32) fail("EncodingError", "a hash is 32 bytes", { field: at });
    return bytes;
  });
}

/** Parse a state proof (SPEC §11.4) strictly; failures are EncodingError at their pointer. */
export function parseStateProof(obj, where = "") {
  const s = members(obj, where, ["inclusionProof", "leaf", "records"]);
  if (!Array.isArray(s.records) || s.records.length > MAX_STATE_RECORDS) {
    fail("EncodingError", `records must be an array of at most ${MAX_STATE_RECORDS}`, { field: `${where}/records` });
  }
  const l = members(s.leaf, `${where}/leaf`, ["entryHash", "index", "logTimeMs", "position", "stateRoot", "stream"]);
  const leaf = {
    index: uintAt(l.index, `${where}/leaf/index`),
    stream: str(l.stream, `${where}/leaf/stream`),
    position: uintAt(l.position, `${where}/leaf/position`),
    logTimeMs: uintAt(l.logTimeMs, `${where}/leaf/logTimeMs`),
    entryHash: hexAt(l.entryHash, `${where}/leaf/entryHash`),
    stateRoot: hexAt(l.stateRoot, `${where}/leaf/stateRoot`),
  };
  const inclusionProof = hashesAt(s.inclusionProof, `${where}/inclusionProof`, MAX_PROOF_HASHES);
  const records = s.records.map((r, n) => {
    const at = `${where}/records/${n}`;
    const m = members(r, at, ["id", "kind", "leaf", "siblings"]);
    if (!Object.hasOwn(MAP_KINDS, str(m.kind, `${at}/kind`))) fail("EncodingError", "kind must be party or stream", { field: `${at}/kind` });
    if (!RECORD_ID.test(str(m.id, `${at}/id`))) fail("EncodingError", `${JSON.stringify(m.id.slice(0, 80))} is not a party id`, { field: `${at}/id` });
    let mapLeaf = null;
    if (m.leaf !== null) {
      const ml = members(m.leaf, `${at}/leaf`, ["key", "value"]);
      mapLeaf = { key: hexAt(ml.key, `${at}/leaf/key`), value: hexAt(ml.value, `${at}/leaf/value`, 96) };
    }
    return { kind: m.kind, id: m.id, leaf: mapLeaf, siblings: hashesAt(m.siblings, `${at}/siblings`, MAX_MAP_SIBLINGS) };
  });
  return { leaf, inclusionProof, records };
}

/**
 * SPEC §11.5: verify a parsed state proof against a verified checkpoint {size, root}.
 * Returns a Map from "kind id" (e.g. "party acme-social") to its record at the checkpoint's
 * size, or null where the proof shows none. Throws ProofError (EncodingError: a bad record).
 */
export async function verifyState(checkpoint, proof) {
  const { leaf } = proof;
  const size = BigInt(checkpoint.size);
  if (size === 0n || BigInt(leaf.index) !== size - 1n) {
    fail("ProofError", `the state proof's leaf has index ${leaf.index}, not the last index of the checkpoint's tree (${size - 1n})`, { field: "/leaf/index" });
  }
  const data = leafData(leaf.index, leaf.stream, leaf.position, leaf.logTimeMs, leaf.entryHash, leaf.stateRoot);
  try {
    await verifyInclusion(await leafHash(data), leaf.index, size, proof.inclusionProof, checkpoint.root);
  } catch (err) {
    if (err instanceof VerificationFailure) fail("ProofError", `the state proof's leaf is not in the checkpoint's tree: ${err.what}`);
    throw err;
  }
  const out = new Map();
  for (const [n, r] of proof.records.entries()) {
    const name = `${r.kind} ${r.id}`;
    if (out.has(name)) fail("ProofError", `the record of ${name} is proved twice`);
    let value;
    try {
      value = await verifyMapProof(leaf.stateRoot, await mapKey(MAP_KINDS[r.kind], r.id), r);
    } catch (err) {
      if (err instanceof VerificationFailure) fail("ProofError", `the proof of the record of ${name} fails: ${err.what}`, { field: `/records/${n}` });
      throw err;
    }
    out.set(name, value === null ? null : parseRecord(value));
  }
  return out;
}

/**
 * What a payload says about itself before anything in it is verified (as attest/bundle.py's
 * _claimed), from its canonical decoding `v` (undefined if it has none): its signer and, for a
 * registry entry, the party it is about (§11.1). Null values where it cannot be read;
 * `readable` is false when the payload is not a canonical JSON object.
 */
function claimedBy(v) {
  if (v === undefined || v === null || typeof v !== "object" || Array.isArray(v)) return { readable: false, signer: null, about: null };
  const signer = typeof v.signer === "string" ? v.signer : null;
  let about = null;
  if (SIGNER_SUBJECT_KINDS.has(v.kind)) about = signer;
  else if (REGISTRY_KINDS.has(v.kind) && v.body !== null && typeof v.body === "object" && !Array.isArray(v.body)) {
    about = typeof v.body.party === "string" ? v.body.party : null;
  }
  return { readable: true, signer, about };
}

/** The party a parsed statement is about (§11.1), or null for entries of provider streams. */
export const subject = (st) => (SIGNER_SUBJECT_KINDS.has(st.kind) ? st.signer : REGISTRY_KINDS.has(st.kind) ? st.body.party : null);

/**
 * SPEC §10.3 step 6: the company's stream and the registry record of every party it involves
 * are whole at the checkpoint's size, checked on the entries as read, before any rule runs.
 * `items` are the parsed entries ({index, position, raw.stream, where, entryHash, claimed}).
 */
async function checkComplete(items, company, records, authority, size) {
  const parties = new Set([...records.keys()].filter((k) => k.startsWith("party ")).map((k) => k.slice(6)));
  const needed = [[company, "the company itself"]];
  if (authority !== null) needed.push([authority, "the authority"]);
  const held = (e) => (e.claimed.readable ? e.entryHash : new Uint8Array(0));
  const stream = []; // [index, entry hash] of the company's entries
  for (const e of items) {
    if (BigInt(e.index) >= size) fail("ProofError", `entry index ${e.index} is not below the checkpoint's tree size ${size}`, e.where);
    if (e.raw.stream === company) {
      if (e.position !== stream.length) {
        fail("IncompleteRecordError", `the record of ${company} is incomplete: position ${stream.length} is missing (the next entry has position ${e.position})`, e.where);
      }
      if (e.claimed.signer !== null) needed.push([e.claimed.signer, `who signed the entry at index ${e.index}`]);
      stream.push([e.index, held(e)]);
    } else if (e.raw.stream !== REGISTRY_STREAM) {
      fail("VerificationError", `entry of stream ${JSON.stringify(e.raw.stream)} in a bundle of ${JSON.stringify(company)}`, e.where);
    }
  }
  for (const [party, why] of needed) {
    if (!parties.has(party)) fail("IncompleteRecordError", `the bundle leaves out the registry record of ${party} (${why})`, { field: "/state/records" });
  }
  const about = new Map([...parties].map((p) => [p, []]));
  for (const e of items) {
    if (e.raw.stream !== REGISTRY_STREAM || e.claimed.about === null) continue;
    if (!about.has(e.claimed.about)) {
      fail("VerificationError", `a registry entry about ${e.claimed.about}, whose registry record the bundle does not prove`, e.where);
    }
    about.get(e.claimed.about).push([e.index, held(e)]);
  }
  if (!records.has(`stream ${company}`)) {
    fail("IncompleteRecordError", `the bundle does not prove the head of stream ${company} at its checkpoint`, { field: "/state/records" });
  }
  for (const party of [...about.keys()].sort()) {
    const record = records.get(`party ${party}`);
    const given = about.get(party);
    let acc = MAP_EMPTY;
    for (const [, ehash] of given) acc = await partyFold(acc, ehash);
    const count = record === null ? 0 : record.count;
    if (given.length !== count || (record !== null && (!equalBytes(acc, record.digest) || given.at(-1)[0] !== record.lastIndex))) {
      const last = record === null ? "" : `, the last at index ${record.lastIndex}`;
      fail("IncompleteRecordError", `the registry record of ${party} is incomplete: the log's state at size ${size} counts ${count} registry entries about ${party}${last}; the ${given.length} given do not match it`, { stream: REGISTRY_STREAM });
    }
  }
  const head = records.get(`stream ${company}`);
  const count = head === null ? 0 : head.count;
  if (stream.length !== count) {
    fail("IncompleteRecordError", `the record of ${company} is incomplete: the log's state at size ${size} counts ${count} entries in stream ${company}, and ${stream.length} were given`, { stream: company });
  }
  if (head !== null) {
    const [index, ehash] = stream.at(-1);
    if (index !== head.lastIndex || !equalBytes(ehash, head.digest)) {
      fail("IncompleteRecordError", `the head of stream ${company} at size ${size} is entry ${hex(head.digest)} at index ${head.lastIndex}, not the entry ${hex(ehash)} at index ${index} given`, { stream: company });
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Statements: the schemas of SPEC §3 (the §3.1 envelope and every §3.3 body), in schema.js, a
// port of attest/statements.py, attest/measures.py and attest/_schema.py.

const HEX64 = /^[0-9a-f]{64}$/;

/** A decoded statement, or SchemaError at the first problem Python's parse_statement reports. */
function schemaStatement(v) {
  const problems = statementProblems(v);
  if (problems.length) {
    const [first] = problems;
    const all = problems.map((p) => `${p.pointer}: ${p.message}`).join("; ");
    fail("SchemaError", problems.length > 1 ? `${problems.length} problems: ${all}` : first.message, { field: first.pointer });
  }
  return v;
}

/** Canonical-or-reject decode of a payload (§1.3), then the statement checks above. */
export function parseStatement(payload) {
  return schemaStatement(decodeCanonical(payload));
}

// ---------------------------------------------------------------------------------------------
// The rules (SPEC §8.2), a port of attest/rules.py's LogState (sparse mode: a company record)

class Rules {
  constructor({ sparse = true } = {}) {
    this.sparse = sparse;
    this.size = 0;
    this.lastLogTime = 0;
    this.origin = null;
    this.authority = null;
    this.logKeys = []; // SPEC §7.6: [{fromSize, key: raw bytes, index}], the genesis's first
    this.genesisHash = null;
    this.heads = new Map(); // stream -> [hex head, length]
    this.parties = new Map(); // party -> {role, keys: [], retiredAt}
    this.keys = new Map(); // key id -> {party, raw, revokedAt, compromisedIndex, compromisedMs}
    this.accreditations = new Map(); // party -> {measures: Set, validUntil, suspended}
    this.claims = new Map(); // digest hex -> {stream, measure, status, services, surfaces, jurisdictions}
    this.tests = new Map(); // digest hex -> [stream, claim hex, engagement hex or null]
    this.verdicts = new Map(); // digest hex -> stream
    this.verdictFindings = new Map(); // digest hex -> [result, number of recommendations]
    this.engagements = new Map(); // digest hex -> {stream, verifier, claims, startMs, endMs, methods, status, verdicts}
    this.dumps = new Map(); // dump.publish date -> index
    this.genesisPrevs = new Map(); // stream -> hex (precomputed)
  }

  head(stream) {
    return this.heads.get(stream) || [this.genesisPrevs.get(stream), 0];
  }

  // SPEC §7.6: the log key that signs the checkpoint of tree size `size` (a BigInt or number).
  logKeyAt(size) {
    let key = null;
    for (const p of this.logKeys) if (BigInt(p.fromSize) <= BigInt(size)) key = p.key;
    return key;
  }

  isLogKey(text) {
    return this.logKeys.some((p) => b64(p.key) === text);
  }

  // SPEC §8.2 rule 5: the index of the revocation stating the key compromised when it signed the
  // entry at `index` (logged at `logTimeMs`), or null if the entry reads as usual.
  compromised(index, logTimeMs, keyid) {
    const k = this.keys.get(keyid);
    if (!k || k.revokedAt === null || index >= k.revokedAt) return null;
    if (k.compromisedIndex !== null && index >= k.compromisedIndex) return k.revokedAt;
    if (k.compromisedMs !== null && logTimeMs >= k.compromisedMs) return k.revokedAt;
    return null;
  }

  notRetired(party) {
    const retired = this.party(party).retiredAt;
    if (retired !== null) fail("NotAuthorisedError", `${party} was retired at index ${retired}`, { field: "/body/party" });
  }

  check(e) {
    const st = e.statement;
    const no = (what, fieldName) => fail("NotAuthorisedError", what, { field: fieldName });
    // Place.
    if (e.index < this.size || (e.index !== this.size && !this.sparse)) no(`index ${e.index} is not the next index ${this.size}`);
    if (e.logTimeMs < this.lastLogTime) no(`log time ${e.logTimeMs} is before the previous entry's ${this.lastLogTime}`);
    const [head, length] = this.head(st.stream);
    // Sparse: a registry entry may follow a gap (entries about parties the record does not hold).
    const gap = this.sparse && st.stream === REGISTRY_STREAM && e.position > length;
    if (e.position !== length && !gap) no(`position ${e.position} is not the next position ${length} of ${st.stream}`);
    const isGenesis = st.kind === "genesis";
    if (isGenesis !== (e.index === 0)) {
      no(isGenesis ? "a genesis statement must be the first entry of the log, and only it" : `the first entry of a log must be a genesis statement, not ${st.kind}`, "/kind");
    }
    // Chain.
    if (st.prev !== head && e.position === length) fail("ChainError", `prev ${st.prev} is not the head of stream ${st.stream} (head ${head} at length ${length})`, { field: "/prev" });
    // Clock.
    if (parseTimestamp(st.signedAt) > e.logTimeMs + CLOCK_SKEW_MS) no(`signedAt ${st.signedAt} is later than the log time allows`, "/signedAt");
    if (e.index === 0) return;
    // Signer's key.
    if (!this.parties.has(st.signer)) fail("UnknownKeyError", `signer ${st.signer} is not a registered party`, { field: "/signer" });
    const k = this.keys.get(e.keyid);
    if (!k || k.party !== st.signer) fail("UnknownKeyError", `key ${e.keyid} is not a key of ${st.signer}`, { field: "/signatures/0/keyid" });
    if (k.revokedAt !== null) fail("RevokedKeyError", `key ${e.keyid} of ${st.signer} was revoked at index ${k.revokedAt}`, { field: "/signatures/0/keyid" });
    const retired = this.parties.get(st.signer).retiredAt;
    if (retired !== null) no(`${st.signer} was retired at index ${retired} and signs nothing since`, "/signer");
    if (REGISTRY_KINDS.has(st.kind)) this.checkRegistry(e);
    else this.checkProvider(e);
  }

  requireAuthority(st) {
    if (st.signer !== this.authority) fail("NotAuthorisedError", `only the authority may sign ${st.kind}, not ${st.signer}`, { field: "/signer" });
  }

  party(party) {
    const p = this.parties.get(party);
    if (!p) fail("DanglingReferenceError", `party ${party} is not registered`, { field: "/body/party" });
    return p;
  }

  checkNewKey(e, text, pointer) {
    const kid = e.keyIds.get(text);
    if (this.keys.has(kid) || this.isLogKey(text)) {
      fail("NotAuthorisedError", `key ${kid} is already in use`, { field: pointer });
    }
  }

  checkRegistry(e) {
    const st = e.statement;
    const b = st.body;
    switch (st.kind) {
      case "party.register": {
        this.requireAuthority(st);
        if (this.parties.has(b.party) || b.party === REGISTRY_STREAM) fail("NotAuthorisedError", `party ${b.party} is already registered`, { field: "/body/party" });
        const seen = new Set();
        b.keys.forEach((k, n) => {
          this.checkNewKey(e, k, `/body/keys/${n}`);
          if (seen.has(k)) fail("NotAuthorisedError", "a key is listed twice", { field: `/body/keys/${n}` });
          seen.add(k);
        });
        break;
      }
      case "key.add":
        this.party(b.party);
        if (st.signer !== this.authority && st.signer !== b.party) fail("NotAuthorisedError", `${st.signer} may not add keys for ${b.party}`, { field: "/signer" });
        this.notRetired(b.party);
        this.checkNewKey(e, b.key, "/body/key");
        break;
      case "key.revoke": {
        this.party(b.party);
        if (st.signer !== this.authority && st.signer !== b.party) fail("NotAuthorisedError", `${st.signer} may not revoke keys of ${b.party}`, { field: "/signer" });
        const known = this.keys.get(b.keyId);
        if (!known || known.party !== b.party) fail("DanglingReferenceError", `key ${b.keyId} is not a key of ${b.party}`, { field: "/body/keyId" });
        if (known.revokedAt !== null) fail("NotAuthorisedError", `key ${b.keyId} is already revoked (index ${known.revokedAt})`, { field: "/body/keyId" });
        if ("compromisedSince" in b) {
          const since = b.compromisedSince;
          if (st.signer !== this.authority) fail("NotAuthorisedError", "only the authority may state that a key was compromised", { field: "/body/compromisedSince" });
          if ("index" in since && since.index >= e.index) fail("NotAuthorisedError", `compromisedSince index ${since.index} is not before this revocation (index ${e.index})`, { field: "/body/compromisedSince/index" });
          if ("time" in since && parseTimestamp(since.time) > e.logTimeMs) fail("NotAuthorisedError", `compromisedSince time ${since.time} is after this revocation's log time`, { field: "/body/compromisedSince/time" });
        }
        break;
      }
      case "party.retire": {
        this.requireAuthority(st);
        const p = this.party(b.party);
        if (b.party === this.authority) fail("NotAuthorisedError", "the authority cannot retire itself", { field: "/body/party" });
        if (p.retiredAt !== null) fail("NotAuthorisedError", `${b.party} is already retired (index ${p.retiredAt})`, { field: "/body/party" });
        break;
      }
      case "log.key.rotate": {
        this.requireAuthority(st);
        const field = { field: "/body/fromSize" };
        if (b.fromSize <= e.index + 1) fail("NotAuthorisedError", `fromSize ${b.fromSize} must be greater than ${e.index + 1}, the size of the log once this rotation is in it, so that a checkpoint signed by the key in force covers it`, field);
        const last = this.logKeys[this.logKeys.length - 1];
        if (last !== undefined && last.fromSize > e.index + 1) fail("NotAuthorisedError", `the rotation at index ${last.index} takes effect at size ${last.fromSize}; a further rotation may be logged only once the tree has reached it`, field);
        const kid = e.keyIds.get(b.key);
        if (this.keys.has(kid) || this.isLogKey(b.key)) fail("NotAuthorisedError", `key ${kid} is already in use (a party's key or a log key, now or before): a log key is new`, { field: "/body/key" });
        break;
      }
      case "accreditation.grant":
        this.requireAuthority(st);
        this.notRetired(b.party);
        if (this.party(b.party).role !== "verifier") fail("NotAuthorisedError", `only verifiers can be accredited; ${b.party} is not one`, { field: "/body/party" });
        break;
      case "accreditation.suspend": {
        this.requireAuthority(st);
        const acc = this.accreditations.get(b.party);
        if (!acc || acc.suspended) fail("DanglingReferenceError", `${b.party} holds no accreditation to suspend`, { field: "/body/party" });
        break;
      }
      case "reference.publish":
        this.requireAuthority(st);
        break;
      case "dump.publish": {
        this.requireAuthority(st);
        if (b.checkpointSize > e.index) fail("NotAuthorisedError", `checkpointSize ${b.checkpointSize} is not a log size before this entry (index ${e.index})`, { field: "/body/checkpointSize" });
        const earlier = this.dumps.get(b.date);
        if (earlier !== undefined) fail("NotAuthorisedError", `the dump of ${b.date} is already logged (index ${earlier})`, { field: "/body/date" });
        break;
      }
      default:
        fail("NotAuthorisedError", `unexpected ${st.kind} on the registry stream`);
    }
  }

  accredited(e, measure) {
    const st = e.statement;
    const no = (what) => fail("NotAuthorisedError", what, { field: "/signer" });
    if (this.parties.get(st.signer).role !== "verifier") no(`only accredited verifiers sign ${st.kind}; ${st.signer} is not a verifier`);
    const acc = this.accreditations.get(st.signer);
    if (!acc || acc.suspended) no(`verifier ${st.signer} is ${acc ? "suspended" : "not accredited"}`);
    if (acc.validUntil !== null && e.logTimeMs > acc.validUntil) no(`the accreditation of verifier ${st.signer} has expired`);
    if (!acc.measures.has(measure)) no(`verifier ${st.signer} is not accredited for measure ${measure}`);
  }

  claim(stream, digest, pointer) {
    const c = this.claims.get(digest);
    if (!c || c.stream !== stream) fail("DanglingReferenceError", `claim ${digest} is not a claim version in stream ${stream}`, { field: pointer });
    return c;
  }

  checkProvider(e) {
    const st = e.statement;
    const b = st.body;
    const owner = this.parties.get(st.stream);
    if (!owner || owner.role !== "provider") fail("NotAuthorisedError", `stream ${st.stream} is not the stream of a registered provider`, { field: "/stream" });
    if (owner.retiredAt !== null) fail("NotAuthorisedError", `provider ${st.stream} was retired at index ${owner.retiredAt}: its stream is closed`, { field: "/stream" });
    if (st.kind.startsWith("engagement.")) {
      this.checkEngagementEntry(e);
      return;
    }
    const providerSigns = ["claim.publish", "claim.supersede", "claim.withdraw", "provider.reply"].includes(st.kind);
    if (providerSigns && st.signer !== st.stream) fail("NotAuthorisedError", `${st.signer} may not sign ${st.kind} on the stream of ${st.stream}`, { field: "/signer" });
    switch (st.kind) {
      case "claim.publish":
      case "claim.supersede":
        if ((st.kind === "claim.supersede") !== ("supersedes" in b)) fail("NotAuthorisedError", "only claim.supersede names a superseded claim");
        if ("supersedes" in b) {
          const old = this.claim(st.stream, b.supersedes, "/body/supersedes");
          if (old.status !== "active") fail("NotAuthorisedError", `claim ${b.supersedes} is ${old.status}, not active`, { field: "/body/supersedes" });
        }
        break;
      case "claim.withdraw": {
        const c = this.claim(st.stream, b.claim, "/body/claim");
        if (c.status !== "active") fail("NotAuthorisedError", `claim ${b.claim} is ${c.status}, not active`, { field: "/body/claim" });
        break;
      }
      case "test.record": {
        const c = this.claim(st.stream, b.claim, "/body/claim");
        this.accredited(e, c.measure);
        if ("engagement" in b) this.checkEngagedTest(st, b, c);
        break;
      }
      case "verdict.issue":
        this.accredited(e, this.claim(st.stream, b.claim, "/body/claim").measure);
        b.tests.forEach((t, n) => {
          const test = this.tests.get(t);
          if (!test || test[0] !== st.stream) fail("DanglingReferenceError", `test record ${t} is not in stream ${st.stream}`, { field: `/body/tests/${n}` });
          if (test[1] !== b.claim) fail("DanglingReferenceError", `test record ${t} tests another claim version`, { field: `/body/tests/${n}` });
        });
        if ("engagement" in b) {
          this.engaged(st, b.engagement, b.claim);
          b.tests.forEach((t, n) => {
            if (this.tests.get(t)[2] !== b.engagement) fail("EngagementError", `test record ${t} was not recorded under engagement ${b.engagement}`, { field: `/body/tests/${n}` });
          });
        }
        break;
      case "provider.reply":
        if (this.verdicts.get(b.verdict) !== st.stream) fail("DanglingReferenceError", `verdict ${b.verdict} is not in stream ${st.stream}`, { field: "/body/verdict" });
        this.checkCommitments(b);
        break;
    }
  }

  /** Each commitment of a reply answers a finding its verdict opened (SPEC §8.2 rule 6). */
  checkCommitments(b) {
    const [result, recommendations] = this.verdictFindings.get(b.verdict);
    (b.commitments || []).forEach((c, i) => {
      const at = `/body/commitments/${i}`;
      if (result === "CONTRADICTED" || result === "NO_EVIDENCE_FOUND") {
        if ("recommendation" in c) fail("DanglingReferenceError", `verdict ${b.verdict} is ${result}: it opened one finding, not one per recommendation (omit recommendation)`, { field: `${at}/recommendation` });
      } else if (result === "CONFIRMED_WITH_COMMENTS" && recommendations > 0) {
        if (!("recommendation" in c)) fail("DanglingReferenceError", `verdict ${b.verdict} opened a finding per recommendation: name the one this commitment answers`, { field: at });
        if (c.recommendation >= recommendations) fail("DanglingReferenceError", `verdict ${b.verdict} has ${recommendations} recommendations: there is no recommendation ${c.recommendation}`, { field: `${at}/recommendation` });
      } else {
        fail("DanglingReferenceError", `verdict ${b.verdict} is ${result} with no recommendation: it opened no finding to commit to`, { field: at });
      }
    });
  }

  // -- engagements (SPEC §8.2, rule 7)

  engagement(stream, digest) {
    const g = this.engagements.get(digest);
    if (!g || g.stream !== stream) fail("DanglingReferenceError", `engagement ${digest} is not an engagement in stream ${stream}`, { field: "/body/engagement" });
    return g;
  }

  /** The engagement a test record or verdict names: the signer's, open, covering the claim. */
  engaged(st, digest, claim) {
    const g = this.engagement(st.stream, digest);
    if (g.verifier !== st.signer) fail("EngagementError", `engagement ${digest} was opened by ${g.verifier}, not ${st.signer}`, { field: "/body/engagement" });
    if (g.status !== "open") fail("EngagementError", `engagement ${digest} is ${g.status}, not open`, { field: "/body/engagement" });
    if (!g.claims.includes(claim)) fail("EngagementError", `engagement ${digest} does not cover claim version ${claim}`, { field: "/body/claim" });
    return g;
  }

  checkEngagedTest(st, b, c) {
    const g = this.engaged(st, b.engagement, b.claim);
    if (parseTimestamp(b.window.start) < g.startMs || parseTimestamp(b.window.end) > g.endMs) {
      fail("EngagementError", `test window ${b.window.start}..${b.window.end} is not inside the window of engagement ${b.engagement}`, { field: "/body/window" });
    }
    const planned = g.methods.some(([m, uri, sha]) => m === b.method && uri === b.protocol.uri && sha === b.protocol.digest.sha256);
    if (!planned) fail("EngagementError", `method ${b.method} with protocol ${b.protocol.uri} is not in the plan of engagement ${b.engagement}`, { field: "/body/method" });
    const env = b.environment;
    if (!c.services.includes(env.service)) fail("OutOfScopeError", `service ${JSON.stringify(env.service)} is not among the services of the claim`, { field: "/body/environment/service" });
    if (!c.surfaces.includes(env.surface)) fail("OutOfScopeError", `surface ${env.surface} is not among the surfaces of the claim`, { field: "/body/environment/surface" });
    if (!c.jurisdictions.includes(env.jurisdiction) && !c.jurisdictions.includes("GLOBAL")) {
      fail("OutOfScopeError", `jurisdiction ${env.jurisdiction} is not among the jurisdictions of the claim`, { field: "/body/environment/jurisdiction" });
    }
  }

  checkEngagementEntry(e) {
    const st = e.statement;
    const b = st.body;
    if (st.kind === "engagement.open") {
      b.claims.forEach((digest, n) => {
        const c = this.claim(st.stream, digest, `/body/claims/${n}`);
        if (c.status !== "active") fail("NotAuthorisedError", `claim ${digest} is ${c.status}, not active`, { field: `/body/claims/${n}` });
        this.accredited(e, c.measure);
      });
      if (parseTimestamp(b.window.start) < e.logTimeMs - CLOCK_SKEW_MS) {
        fail("EngagementError", `the window starts at ${b.window.start}, before the engagement was logged: an engagement is registered before testing`, { field: "/body/window/start" });
      }
      return;
    }
    const g = this.engagement(st.stream, b.engagement);
    const allowed = st.kind === "engagement.close" ? [g.verifier] : [g.verifier, st.stream];
    if (!allowed.includes(st.signer)) fail("NotAuthorisedError", `${st.signer} may not sign ${st.kind} for an engagement of ${g.verifier}`, { field: "/signer" });
    if (g.status !== "open") fail("EngagementError", `engagement ${b.engagement} is ${g.status}, not open`, { field: "/body/engagement" });
    if (st.kind === "engagement.close" && !g.verdicts.includes(b.verdict)) {
      if (this.verdicts.get(b.verdict) !== st.stream) fail("DanglingReferenceError", `verdict ${b.verdict} is not in stream ${st.stream}`, { field: "/body/verdict" });
      fail("EngagementError", `verdict ${b.verdict} was not issued under engagement ${b.engagement}`, { field: "/body/verdict" });
    }
  }

  addKey(e, party, text) {
    const kid = e.keyIds.get(text);
    this.keys.set(kid, { party, raw: e.rawKeys.get(text), revokedAt: null, compromisedIndex: null, compromisedMs: null });
    this.parties.get(party).keys.push(kid);
  }

  apply(e) {
    const st = e.statement;
    const b = st.body;
    this.size = e.index + 1;
    this.lastLogTime = e.logTimeMs;
    this.heads.set(st.stream, [hex(e.entryHash), e.position + 1]);
    switch (st.kind) {
      case "genesis":
        this.origin = b.origin;
        this.authority = st.signer;
        this.logKeys = [{ fromSize: 0, key: e.rawKeys.get(b.logKey), index: 0 }];
        this.genesisHash = e.entryHash;
        this.parties.set(st.signer, { role: "authority", keys: [], retiredAt: null });
        this.addKey(e, st.signer, b.authorityKey);
        break;
      case "party.register":
        this.parties.set(b.party, { role: b.role, keys: [], retiredAt: null });
        for (const k of b.keys) this.addKey(e, b.party, k);
        break;
      case "key.add":
        this.addKey(e, b.party, b.key);
        break;
      case "key.revoke": {
        const k = this.keys.get(b.keyId);
        k.revokedAt = e.index;
        if ("compromisedSince" in b && "index" in b.compromisedSince) k.compromisedIndex = b.compromisedSince.index;
        else if ("compromisedSince" in b) k.compromisedMs = parseTimestamp(b.compromisedSince.time);
        break;
      }
      case "party.retire":
        this.parties.get(b.party).retiredAt = e.index;
        break;
      case "log.key.rotate":
        this.logKeys.push({ fromSize: b.fromSize, key: e.rawKeys.get(b.key), index: e.index });
        break;
      case "accreditation.grant":
        this.accreditations.set(b.party, { measures: new Set(b.measures), validUntil: "validUntil" in b ? parseTimestamp(b.validUntil) : null, suspended: false });
        break;
      case "accreditation.suspend":
        this.accreditations.get(b.party).suspended = true;
        break;
      case "claim.publish":
      case "claim.supersede":
        if ("supersedes" in b) this.claims.get(b.supersedes).status = "superseded";
        this.claims.set(e.digest, { stream: st.stream, measure: b.measure, status: "active", services: b.services, surfaces: b.surfaces, jurisdictions: b.jurisdictions });
        break;
      case "claim.withdraw":
        this.claims.get(b.claim).status = "withdrawn";
        break;
      case "test.record":
        this.tests.set(e.digest, [st.stream, b.claim, "engagement" in b ? b.engagement : null]);
        break;
      case "verdict.issue":
        this.verdicts.set(e.digest, st.stream);
        this.verdictFindings.set(e.digest, [b.result, (b.recommendations || []).length]);
        if ("engagement" in b) this.engagements.get(b.engagement).verdicts.push(e.digest);
        break;
      case "engagement.open":
        this.engagements.set(e.digest, {
          stream: st.stream,
          verifier: st.signer,
          claims: b.claims,
          startMs: parseTimestamp(b.window.start),
          endMs: parseTimestamp(b.window.end),
          methods: b.methods.map((m) => [m.method, m.protocol.uri, m.protocol.digest.sha256]),
          status: "open",
          verdicts: [],
        });
        break;
      case "engagement.close":
        this.engagements.get(b.engagement).status = "closed";
        break;
      case "engagement.withdraw":
        this.engagements.get(b.engagement).status = "withdrawn";
        break;
      case "dump.publish":
        this.dumps.set(b.date, e.index);
        break;
    }
  }
}

function publicKeysIn(st) {
  const b = st.body;
  switch (st.kind) {
    case "genesis":
      return [b.authorityKey, b.logKey];
    case "party.register":
      return b.keys;
    case "key.add":
    case "log.key.rotate":
      return [b.key];
    default:
      return [];
  }
}
// ---------------------------------------------------------------------------------------------
// Verifying a company record (SPEC §8.2 sparse mode, §8.3, §10.3, and inclusion proofs)

function entryNumber(raw, name, n) {
  const v = raw[name];
  if (!Number.isSafeInteger(v) || v < 0) fail("EncodingError", `entry ${n}: ${name} must be a non-negative integer`);
  return v;
}

// Proof hashes as bytes, 64 lowercase hex characters (the API, log.json) or padded base64 (bundles).
function proofBytes(proof) {
  if (!Array.isArray(proof)) fail("ProofError", "the entry has no inclusion proof");
  return proof.map((h) => {
    if (h instanceof Uint8Array) return h;
    if (typeof h === "string" && /^[0-9a-f]{64}$/.test(h)) return fromHex(h);
    if (typeof h === "string" && h.length === 44) return b64decode(h, "proof hash", "ProofError");
    fail("ProofError", "a proof hash is neither 64 hex characters nor 44 of base64");
  });
}

/**
 * Re-verify a company record in the browser.
 *
 * @param {object} record
 * @param {object[]} record.entries  raw entries in index order: one provider's stream and the
 *   registry entries about the parties it involves (or the whole log): {index, stream, position,
 *   logTimeMs, envelope (stored envelope text or bytes), stateRoot (hex, the state root the
 *   entry's leaf commits to), inclusionProof ([hex or b64], leaf side first, in the
 *   checkpoint's tree)}.
 * @param {string|Uint8Array} record.checkpointNote  the log's signed checkpoint note.
 * @param {string} [record.logVkey]  the log's note verifier key. If given, the checkpoint is
 *   checked with it and it must be the log key and origin that the genesis entry names; if
 *   absent, both are taken from the genesis entry (then pin genesisHash).
 * @param {string} [record.genesisHash]  the pinned ledger fingerprint (hex genesis entry hash).
 * @param {string} [record.stream]  the company: only its stream and the registry are admitted,
 *   and `state` must prove them whole (SPEC §10.3 step 6).
 * @param {object} [record.state]  the state proof at the checkpoint's size (SPEC §11.4, the
 *   bundle's `state` member); required with `stream`.
 * @param {{sparse?: boolean}} [record.options]  sparse (default true): indexes may skip other
 *   entries. With sparse false the entries must be the whole log of the checkpoint, and the
 *   state root after every entry is recomputed and compared with the one served.
 * @param {(p: {phase: string, done: number, total: number}) => void} [onProgress]
 * @returns {Promise<object>} {ok: true, size, root, origin, entries, genesisHash, heads, ms},
 *   and for a company record `complete` (true), `streamLength` and `kinds` (the number of the
 *   company's entries of each kind); and what the record reads as after its last entry:
 *   `compromised`, `retired`, `findings`, `accreditationGaps`, `notCurrent` and
 *   `reconciliations` (SPEC §8.4, each registered provider against each current table).
 * @throws {VerificationFailure} the first failure, located at its entry when there is one.
 */
export async function verifyRecord(record, onProgress = () => {}) {
  const started = performance.now();
  const { entries, checkpointNote, logVkey, genesisHash } = record;
  const sparse = record.options?.sparse ?? true;
  const company = record.stream ?? null; // a company record: only the registry and this stream
  if (!Array.isArray(entries) || entries.length === 0) fail("VerificationError", "the record has no entries");
  const total = entries.length;
  onProgress({ phase: "parse", done: 0, total });

  // 1. The checkpoint's claimed tree size and root, not yet trusted: the inclusion proofs are
  //    computed against them in parallel, and compared only after the note's signature verified.
  // options.unsafeSkipCheckpoint (tests of the rules only): no checkpoint, no inclusion proofs.
  const noCheckpoint = record.options?.unsafeSkipCheckpoint === true;
  const claimed = noCheckpoint ? null : parseCheckpoint(parseNote(checkpointNote).text);
  // The state proof is what shows a company record whole: without it there is nothing to check.
  let stateProof = null;
  if (company !== null && !noCheckpoint) {
    if (record.state === undefined || record.state === null) {
      fail("IncompleteRecordError", `the record of ${company} comes without a state proof: nothing shows that it is whole`, { field: "/state" });
    }
    stateProof = parseStateProof(record.state, "/state");
  } else if (record.state !== undefined && record.state !== null) {
    fail("VerificationError", "a state proof is checked only for a company record (name its stream)", { field: "/state" });
  }
  const needStateRoots = sparse && !noCheckpoint; // a full verifier computes its own

  // 2. Parse every entry. Failures are kept and reported in index order: `error` for the log's
  //    own fields, `envError` for the envelope, `payloadError` for the statement.
  const items = entries.map((raw, n) => {
    const e = { n, raw, error: null, envError: null, payloadError: null, where: { index: raw?.index } };
    try {
      e.index = entryNumber(raw, "index", n);
      e.position = entryNumber(raw, "position", n);
      e.logTimeMs = entryNumber(raw, "logTimeMs", n);
      if (typeof raw.stream !== "string") fail("EncodingError", "stream must be a string");
      e.where = { stream: raw.stream, position: e.position, index: e.index };
      if (needStateRoots || raw.stateRoot !== undefined) {
        if (typeof raw.stateRoot !== "string" || !HEX64.test(raw.stateRoot)) fail("EncodingError", "stateRoot must be 64 lowercase hex characters", { field: "/stateRoot" });
        e.stateRoot = fromHex(raw.stateRoot);
      }
    } catch (err) {
      e.error = err;
      return e;
    }
    try {
      e.env = parseEnvelope(raw.envelope, { stored: true });
      e.keyid = e.env.signatures[0].keyid;
      e.sig = e.env.signatures[0].sig;
    } catch (err) {
      e.envError = err;
    }
    // The payload is decoded once: read as it claims to be (completeness), then checked.
    let decoded;
    if (e.env) {
      try {
        decoded = decodeCanonical(e.env.payload);
        e.statement = schemaStatement(decoded);
      } catch (err) {
        e.payloadError = err;
      }
    }
    e.claimed = claimedBy(decoded);
    return e;
  });
  const readable = items.filter((e) => !e.error && !e.envError);

  // 3. Everything that does not depend on the rules' state, in parallel: key ids, genesis
  //    values, entry hashes, digests, leaf hashes and inclusion roots, and each signature under
  //    the key its keyid names at that index (the rules then check the key was the signer's).
  onProgress({ phase: "hash", done: 0, total });
  const keyIds = new Map(); // b64 -> key id
  const rawKeys = new Map(); // b64 -> raw bytes
  const keyErrors = new Map(); // b64 -> failure (format or KEY rule)
  const firstSeen = new Map(); // key id -> {raw, index}
  const streams = new Set([REGISTRY_STREAM]);
  const keyTexts = [];
  for (const e of readable) {
    streams.add(e.raw.stream);
    if (!e.statement) continue;
    streams.add(e.statement.stream);
    for (const t of publicKeysIn(e.statement)) {
      if (!rawKeys.has(t) && !keyErrors.has(t)) {
        try {
          rawKeys.set(t, publicKeyFromB64(t));
          keyTexts.push([t, e.index]);
        } catch (err) {
          keyErrors.set(t, err);
        }
      }
    }
  }
  const rules = new Rules({ sparse });
  await Promise.all([
    ...keyTexts.map(async ([t, index]) => {
      const kid = await keyId(rawKeys.get(t));
      keyIds.set(t, kid);
      if (!firstSeen.has(kid) || firstSeen.get(kid).index > index) firstSeen.set(kid, { raw: rawKeys.get(t), index });
    }),
    ...[...streams].map(async (s) => rules.genesisPrevs.set(s, await genesisPrev(s))),
  ]);
  // The root an entry's inclusion proof leads to, from its leaf with the given state root.
  const inclusionRoot = async (e, stateRoot) => {
    try {
      const leaf = await leafHash(leafData(e.index, e.raw.stream, e.position, e.logTimeMs, e.entryHash, stateRoot));
      e.root = await rootFromInclusion(leaf, e.index, claimed.size, proofBytes(e.raw.inclusionProof));
    } catch (err) {
      e.proofError = err;
    }
  };
  let hashed = 0;
  await Promise.all(
    readable.map(async (e) => {
      e.entryHash = await entryHash(e.env);
      e.digest = hex(await sha256(e.env.payload));
      if (needStateRoots) await inclusionRoot(e, e.stateRoot);
      let key = null;
      if (e.index === 0) key = rawKeys.get(e.statement?.body?.authorityKey) ?? null;
      else if (firstSeen.has(e.keyid) && firstSeen.get(e.keyid).index < e.index) key = firstSeen.get(e.keyid).raw;
      if (key) {
        e.sigError = await verifySignature(key, pae(e.env.payloadType, e.env.payload), e.sig).then(
          () => null,
          (err) => err,
        );
      }
      hashed++;
      if (hashed % 250 === 0) onProgress({ phase: "hash", done: hashed, total });
    }),
  );
  // A whole log: replay the state commitment (§11.2) from the entries themselves, and build each
  // leaf with the root computed here (the served one is compared entry by entry in step 6). The
  // replay stops at the first entry that cannot be read, where verification stops too.
  if (!sparse) {
    const commitment = new Commitment();
    for (const e of items) {
      if (e.error || e.envError || !e.statement) break;
      e.ownStateRoot = await commitment.add(e.raw.stream, e.index, e.position, e.entryHash, subject(e.statement));
    }
    if (!noCheckpoint) await Promise.all(readable.filter((e) => e.ownStateRoot).map((e) => inclusionRoot(e, e.ownStateRoot)));
  }

  // 4. The checkpoint, when the log key is given: before any entry, so that a checkpoint from
  //    another key is reported as such.
  let verifier = null;
  let checkpoint = null;
  if (!noCheckpoint && logVkey !== undefined && logVkey !== null) {
    verifier = await parseVkey(logVkey);
    checkpoint = await verifyCheckpoint(checkpointNote, verifier);
  }

  // 5. The log's fields of every entry, and their order.
  let previous = -1;
  for (const e of items) {
    try {
      if (e.error) throw e.error;
      if (e.index <= previous) fail("VerificationError", `entries are not in index order: index ${e.index} after ${previous}`);
      previous = e.index;
      if (e.n === 0 && e.index !== 0) fail("VerificationError", "the first entry of a record must be the genesis entry (index 0)");
    } catch (err) {
      if (err instanceof VerificationFailure) throw err.located(e.where);
      throw err;
    }
  }

  // 6. Every entry in index order: open (§8.1), decide (§8.2), apply, and check its inclusion.
  //    A company record is first shown whole (§10.3 step 6) once the genesis has named the log.
  const included = (e) => {
    if (noCheckpoint) return;
    if (e.proofError) throw e.proofError;
    if (!equalBytes(e.root, checkpoint.root)) {
      fail("ProofError", `the inclusion proof leads to root ${hex(e.root)}, not the checkpoint's root ${hex(checkpoint.root)}`);
    }
  };
  let complete = null;
  for (const e of items) {
    const where = e.where;
    try {
      if (e.envError) throw e.envError;
      if (checkpoint !== null && BigInt(e.index) >= checkpoint.size) fail("ProofError", `entry index ${e.index} is not below the checkpoint's tree size ${checkpoint.size}`);
      const st = e.statement;
      if (e.index === 0) {
        if (e.payloadError) throw e.payloadError;
        if (st.kind !== "genesis") fail("NotAuthorisedError", `the first entry of a log must be a genesis statement, not ${st.kind}`);
        if (keyErrors.has(st.body.authorityKey)) fail("EncodingError", `unusable public key: ${keyErrors.get(st.body.authorityKey).what}`, { field: "/body/authorityKey" });
        if (keyIds.get(st.body.authorityKey) !== e.keyid) fail("SignatureError", `signature key id ${e.keyid} does not match the genesis authority key`, { field: "/signatures/0/keyid" });
        if (e.sigError) fail("SignatureError", `signature by key ${e.keyid} does not verify: ${e.sigError.what}`, { field: "/signatures/0/sig" });
      } else {
        const unknown = { field: "/signatures/0/keyid" };
        if (!rules.keys.has(e.keyid)) fail("UnknownKeyError", `key ${e.keyid} is not registered`, unknown);
        if (e.sigError === undefined) fail("UnknownKeyError", `key ${e.keyid} is not registered at an earlier index`, unknown);
        if (e.sigError) fail("SignatureError", `signature by key ${e.keyid} does not verify: ${e.sigError.what}`, { field: "/signatures/0/sig" });
        if (e.payloadError) throw e.payloadError;
      }
      // The log's placement (leaf data) names the stream; it must be the statement's.
      if (st.stream !== e.raw.stream) fail("EncodingError", `the log places this entry in stream ${e.raw.stream}, but the statement is for ${st.stream}`, { field: "/stream" });
      for (const t of publicKeysIn(st)) {
        if (keyErrors.has(t)) fail("EncodingError", `unusable public key: ${keyErrors.get(t).what}`, { field: "/body" });
      }
      rules.check({ ...e, keyIds, rawKeys, statement: st });
      if (e.index === 0 && genesisHash && hex(e.entryHash) !== genesisHash.toLowerCase()) {
        fail("VerificationError", `genesis entry does not match the pinned ledger fingerprint ${genesisHash}`);
      }
      rules.apply({ ...e, keyIds, rawKeys, statement: st });
      if (!sparse && e.stateRoot !== undefined && !equalBytes(e.stateRoot, e.ownStateRoot)) {
        fail("VerificationError", `the log's state root ${hex(e.stateRoot)} for this entry is not the state commitment replayed from the log, ${hex(e.ownStateRoot)}`);
      }
      if (e.index === 0 && !noCheckpoint) {
        // The genesis names the log key and origin: the checkpoint must be theirs.
        // §7.6: the key in force at the checkpoint's size, as the record's rotations say before
        // they are verified (it only chooses the key; the replay must confirm it at the end).
        const inForce = claimedLogKey(items, rawKeys, claimed.size) ?? rules.logKeyAt(0);
        if (verifier) {
          if (!equalBytes(verifier.publicKey, inForce) || verifier.name !== rules.origin) {
            fail("CheckpointError", `the log key given (${logVkey}) is not the log key in force at the checkpoint's size, under the origin the genesis entry names`);
          }
          if (checkpoint.origin !== rules.origin) fail("CheckpointError", `checkpoint origin is ${checkpoint.origin}, the genesis names ${rules.origin}`);
        } else {
          verifier = await vkeyFor(rules.origin, inForce);
          checkpoint = await verifyLogCheckpoint(checkpointNote, verifier, rules.origin, items, rawKeys);
        }
      }
      if (e.n !== 0) included(e);
    } catch (err) {
      if (err instanceof VerificationFailure) throw err.located(where);
      throw err;
    }
    if (e.n === 0) {
      // The genesis has named the log and its checkpoint: now the company record is shown
      // whole (§10.3 step 6), before any other entry is opened. Its failures are the record's.
      if (stateProof !== null) {
        const records = await verifyState(checkpoint, stateProof);
        await checkComplete(items, company, records, rules.authority, checkpoint.size);
        complete = records.get(`stream ${company}`);
      }
      try {
        included(e);
      } catch (err) {
        if (err instanceof VerificationFailure) throw err.located(where);
        throw err;
      }
    }
    if ((e.n + 1) % 250 === 0) onProgress({ phase: "check", done: e.n + 1, total });
  }
  if (company !== null && rules.parties.get(company)?.role !== "provider") {
    fail("VerificationError", `${company} is not a provider registered in the record's registry entries`, { field: "/stream" });
  }
  if (!noCheckpoint && !equalBytes(rules.logKeyAt(checkpoint.size), verifier.publicKey)) {
    fail("CheckpointError", `the checkpoint is signed by ${vkeyText(verifier)}, but the record's rotations put another log key in force at size ${checkpoint.size}`);
  }
  if (!noCheckpoint && !sparse && BigInt(rules.size) !== checkpoint.size) {
    fail("CheckpointError", `checkpoint is for ${checkpoint.size} entries but ${rules.size} were checked`);
  }
  onProgress({ phase: "done", done: total, total });
  const heads = {};
  for (const [s, [head, length]] of rules.heads) heads[s] = { head, length };
  const result = {
    ok: true,
    entries: total,
    indexes: items.map((e) => e.index),
    size: checkpoint ? Number(checkpoint.size) : null,
    root: checkpoint ? hex(checkpoint.root) : null,
    origin: rules.origin,
    genesisHash: hex(rules.genesisHash),
    logKeys: await Promise.all(rules.logKeys.map(async (p) => ({ fromSize: p.fromSize, index: p.index, vkey: vkeyText(await vkeyFor(rules.origin, p.key)) }))),
    heads,
    ...readAfter(rules, items),
    ms: performance.now() - started,
  };
  if (stateProof !== null) {
    const kinds = {};
    for (const e of items) if (e.raw.stream === company) kinds[e.statement.kind] = (kinds[e.statement.kind] ?? 0) + 1;
    Object.assign(result, { complete: true, streamLength: complete === null ? 0 : complete.count, kinds });
  }
  return result;
}

/**
 * SPEC §7.6: the log key the record's `log.key.rotate` entries (as read, not yet verified) put in
 * force at tree size `size`, or null for the genesis's. It only chooses the key to verify the
 * checkpoint with; the replay of the entries confirms it.
 */
function claimedLogKey(items, rawKeys, size) {
  let key = null;
  for (const e of items) {
    const st = e.statement;
    if (!st || e.index === 0 || st.kind !== "log.key.rotate" || e.raw.stream !== REGISTRY_STREAM) continue;
    if (BigInt(st.body.fromSize) <= BigInt(size) && rawKeys.has(st.body.key)) key = rawKeys.get(st.body.key);
  }
  return key;
}

/**
 * A checkpoint verified with the log key in force at its size (§7.6); a note signed instead by
 * another of the log's keys the record names is refused saying which, like attest/verify.py.
 */
async function verifyLogCheckpoint(note, verifier, origin, items, rawKeys) {
  try {
    return await verifyCheckpoint(note, verifier, origin);
  } catch (err) {
    if (!(err instanceof VerificationFailure)) throw err;
    const { text, signatures } = parseNote(note);
    const size = parseCheckpoint(text).size;
    const periods = [{ fromSize: 0, index: 0, key: null }];
    for (const e of items) {
      const st = e.statement;
      if (st && e.index === 0 && st.kind === "genesis") periods[0].key = rawKeys.get(st.body.logKey) ?? null;
      else if (st && st.kind === "log.key.rotate" && e.raw.stream === REGISTRY_STREAM && rawKeys.has(st.body.key)) periods.push({ fromSize: st.body.fromSize, index: e.index, key: rawKeys.get(st.body.key) });
    }
    for (const p of periods) {
      if (p.key === null || equalBytes(p.key, verifier.publicKey)) continue;
      const other = await vkeyFor(verifier.name, p.key);
      if (!signatures.some((l) => l.name === other.name && equalBytes(l.keyId, other.keyId))) continue;
      const later = periods.find((q) => q.fromSize > p.fromSize);
      const why = BigInt(p.fromSize) > size ? `which is the log key only from size ${p.fromSize}` : `which a log.key.rotate (index ${later.index}) replaced from size ${later.fromSize}`;
      fail("CheckpointError", `the checkpoint of size ${size} is signed by log key ${vkeyText(other)}, ${why}; the checkpoint of size ${size} must be signed by ${vkeyText(verifier)}`);
    }
    throw err;
  }
}

/**
 * How the accepted entries read after the whole record (SPEC §8.2 rule 5): `compromised` maps the
 * index of each entry signed with a key the authority later stated compromised to the index of
 * that revocation (not to be relied on; still accepted), `retired` each retired party to the
 * index of its party.retire.
 */
function readAfter(rules, items) {
  const compromised = {};
  for (const e of items) {
    if (e.index === 0) continue;
    const r = rules.compromised(e.index, e.logTimeMs, e.keyid);
    if (r !== null) compromised[String(e.index)] = r;
  }
  const retired = {};
  for (const [party, p] of [...rules.parties].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) if (p.retiredAt !== null) retired[party] = p.retiredAt;
  const providers = [...rules.parties].filter(([, p]) => p.role === "provider").map(([party]) => party);
  return { compromised, retired, findings: readFindings(items), ...readPeriods(items), reconciliations: readReconciliations(items, providers) };
}

/**
 * SPEC §8.4 (derived, not ruled; the rule of attest/reconcile.py): each provider's reported
 * counts against each current reference table, provider by provider (in the order given), then
 * table by table in the log order of the current tables. A later `reference.publish` with the
 * same (dataset, recipient, unit, period) replaces an earlier one. Each result is `{stream,
 * index, digest}` of the table and `{status, reason, listedAs, count, reported}` as SPEC §8.4
 * words them.
 */
function readReconciliations(items, providers) {
  const current = new Map(); // JSON of the key -> the latest table with it, in log order
  const versions = new Map(); // claim digest -> {stream, body, status}, in log order
  for (const e of items) {
    const st = e.statement;
    if (!st) continue;
    const b = st.body;
    if (st.kind === "reference.publish") {
      const key = JSON.stringify([b.dataset, b.recipient, b.unit, b.period.start, b.period.end]);
      current.delete(key);
      current.set(key, e);
    } else if (st.kind === "claim.publish" || st.kind === "claim.supersede") {
      if ("supersedes" in b && versions.has(b.supersedes)) versions.get(b.supersedes).status = "superseded";
      versions.set(e.digest, { stream: st.stream, body: b, status: "active" });
    } else if (st.kind === "claim.withdraw" && versions.has(b.claim)) {
      versions.get(b.claim).status = "withdrawn";
    }
  }
  const out = [];
  for (const party of providers) {
    const claims = [...versions].filter(([, v]) => v.stream === party && v.status === "active").map(([digest, v]) => [digest, v.body]);
    for (const t of current.values()) {
      out.push({ stream: party, index: t.index, digest: t.digest, ...reconcile(t.statement.body, party, claims) });
    }
  }
  return out;
}

/**
 * SPEC §8.4, the comparison of `party` with table `table` over its active claim versions
 * `claims` ([hex digest, body] in log order), checked in the SPEC's order.
 */
function reconcile(table, party, claims) {
  const row = table.rows.find((r) => r.party === party);
  if (row === undefined) return { status: "not_comparable", reason: "no_row", listedAs: null, count: null, reported: [] };
  const out = (status, reason, metrics) => ({
    status,
    reason,
    listedAs: row.listedAs,
    count: row.count,
    reported: metrics.map(([claim, m]) => ({ claim, name: m.name, value: m.value })),
  });
  const mine = claims.filter(([, c]) => c.measure === "report.authority");
  if (!mine.length) return out("not_comparable", "no_claim", []);
  const named = mine.filter(([, c]) => (c.details?.recipients ?? []).includes(table.recipient));
  if (!named.length) return out("not_comparable", "recipient", []);
  const every = named.flatMap(([d, c]) => (c.metrics ?? []).map((m) => [d, m]));
  const samePeriod = every.filter(([, m]) => m.period.start === table.period.start && m.period.end === table.period.end);
  if (!samePeriod.length) return out("not_comparable", "period", every);
  const sameUnit = samePeriod.filter(([, m]) => m.unit === table.unit);
  if (!sameUnit.length) return out("not_comparable", "unit", samePeriod);
  const ok = sameUnit.every(([, m]) => reportedEquals(m.value, row.count));
  return out(ok ? "consistent" : "inconsistent", null, sameUnit);
}

/** SPEC §8.4: a reported value (an integer or a decimal string) equals a count when its numeric value does ("61034.0" equals 61034). */
export function reportedEquals(value, count) {
  if (typeof value === "number") return value === count;
  const m = /^(-?[0-9]+)(?:\.([0-9]+))?$/.exec(value);
  if (m === null) return false;
  return /^0*$/.test(m[2] ?? "") && BigInt(m[1]) === BigInt(count);
}

const DAY_MS = 86_400_000;

/**
 * The findings of the record, as every view reads them (SPEC §8.2, "Findings"; derived, not
 * ruled), in the order of the verdicts that opened them: a CONTRADICTED or NO_EVIDENCE_FOUND
 * verdict opens one (`recommendation` null), a CONFIRMED_WITH_COMMENTS verdict one per
 * recommendation (its index); `closedBy` is the first later verdict on a newer version of the
 * claim (down its supersedes chain), `commitments` what the provider's replies to the verdict
 * committed to for it (whether one is overdue depends on the time: commitmentOverdue).
 */
function readFindings(items) {
  const successor = new Map(); // claim digest -> the claim version superseding it
  const verdictsOf = new Map(); // claim digest -> its verdicts, in log order
  const verdicts = [];
  const replies = [];
  for (const e of items) {
    const st = e.statement;
    if (!st) continue;
    const b = st.body;
    if (st.kind === "claim.supersede") successor.set(b.supersedes, e.digest);
    else if (st.kind === "verdict.issue") {
      verdictsOf.set(b.claim, [...(verdictsOf.get(b.claim) ?? []), e]);
      verdicts.push(e);
    } else if (st.kind === "provider.reply") replies.push(e);
  }
  const out = [];
  for (const v of verdicts) {
    const b = v.statement.body;
    let opens = [];
    if (b.result === "CONTRADICTED" || b.result === "NO_EVIDENCE_FOUND") opens = [null];
    else if (b.result === "CONFIRMED_WITH_COMMENTS") opens = (b.recommendations ?? []).map((_, i) => i);
    if (!opens.length) continue;
    const newer = [];
    for (let c = successor.get(b.claim); c !== undefined; c = successor.get(c)) newer.push(...(verdictsOf.get(c) ?? []));
    const closer = newer.filter((w) => w.index > v.index).sort((x, y) => x.index - y.index)[0] ?? null;
    for (const i of opens) {
      const commitments = [];
      for (const r of replies) {
        if (r.statement.body.verdict !== v.digest) continue;
        for (const c of r.statement.body.commitments ?? []) {
          if ((c.recommendation ?? null) === i) commitments.push({ due: c.due, reply: r.digest });
        }
      }
      out.push({ stream: v.raw.stream, verdict: v.digest, recommendation: i, closedBy: closer === null ? null : closer.digest, commitments });
    }
  }
  return out;
}

/** Whether a commitment due on `due` (a date) is past due at `atMs`: the whole due day (UTC) has passed (SPEC §8.2, "Findings"); only while its finding is open. */
export function commitmentOverdue(due, atMs) {
  return atMs >= parseTimestamp(`${due}T00:00:00Z`) + DAY_MS;
}

/**
 * Accreditation periods (SPEC §8.2; derived, not ruled): each grant's period runs from its
 * validFrom (else its log time) to the earlier of its validUntil and the first suspension
 * after it. `accreditationGaps` gives each verifier's gaps ([from, to] in ms), `notCurrent`
 * the digests of the verdicts made outside every period of their signer, in log order.
 */
function readPeriods(items) {
  const grants = new Map(); // verifier -> [{start, until, suspended}]
  for (const e of items) {
    const st = e.statement;
    if (!st) continue;
    const b = st.body;
    if (st.kind === "accreditation.grant") {
      const start = "validFrom" in b ? parseTimestamp(b.validFrom) : e.logTimeMs;
      const until = "validUntil" in b ? parseTimestamp(b.validUntil) : null;
      grants.set(b.party, [...(grants.get(b.party) ?? []), { start, until, suspended: null }]);
    } else if (st.kind === "accreditation.suspend") {
      for (const g of grants.get(b.party) ?? []) {
        if (g.suspended === null && !(g.until !== null && g.until < e.logTimeMs)) g.suspended = e.logTimeMs;
      }
    }
  }
  const end = (g) => (g.until === null ? g.suspended : g.suspended === null ? g.until : Math.min(g.until, g.suspended));
  const accreditationGaps = {};
  for (const [verifier, gs] of grants) {
    const periods = gs.map((g) => [g.start, end(g)]).sort((x, y) => x[0] - y[0]);
    const gaps = [];
    let reach = periods[0][1];
    for (const [start, stop] of periods.slice(1)) {
      if (reach === null) break;
      if (start > reach) gaps.push([reach, start]);
      if (stop === null || stop > reach) reach = stop;
    }
    if (gaps.length) accreditationGaps[verifier] = gaps;
  }
  const notCurrent = [];
  for (const e of items) {
    if (e.statement?.kind !== "verdict.issue") continue;
    const t = e.logTimeMs;
    const inside = (grants.get(e.statement.signer) ?? []).some((g) => g.start <= t && (end(g) === null || t <= end(g)));
    if (!inside) notCurrent.push(e.digest);
  }
  return { accreditationGaps, notCurrent };
}

const BUNDLE_FORMAT = "claimledger.bundle.v2";
const BUNDLE_MEMBERS = ["checkpoint", "entries", "format", "genesis", "logKey", "origin", "state", "stream"];
const BUNDLE_ENTRY_MEMBERS = ["envelope", "inclusionProof", "index", "logTimeMs", "position", "stateRoot", "stream"];

/** Read a bundle entry strictly, as attest/bundle.py does (SPEC §10.1). */
function checkBundleEntry(e, where) {
  members(e, where, BUNDLE_ENTRY_MEMBERS);
  if (!Array.isArray(e.inclusionProof)) fail("EncodingError", "must be an array", { field: `${where}/inclusionProof` });
  if (e.inclusionProof.length > MAX_PROOF_HASHES) fail("EncodingError", `an inclusion proof has at most ${MAX_PROOF_HASHES} hashes`, { field: `${where}/inclusionProof` });
  if (!/^[\x00-\x7f]*$/.test(str(e.envelope, `${where}/envelope`))) fail("EncodingError", "a stored envelope is ASCII", { field: `${where}/envelope` });
  if (typeof e.stateRoot !== "string" || !HEX64.test(e.stateRoot)) fail("EncodingError", "must be 64 lowercase hex characters", { field: `${where}/stateRoot` });
  for (const k of ["index", "stream", "position", "logTimeMs"]) {
    if (k === "stream") str(e.stream, `${where}/stream`);
    else uintAt(e[k], `${where}/${k}`);
  }
  hashesAt(e.inclusionProof, `${where}/inclusionProof`, MAX_PROOF_HASHES);
}

/**
 * Verify an evidence bundle (SPEC §10, format claimledger.bundle.v2): its canonical bytes (or
 * the parsed object), optionally against a pinned ledger fingerprint. The bundle's own
 * `genesis`, `origin` and `logKey` must agree with its genesis entry, which is where trust comes
 * from (pin `genesisHash`); its `state` must prove the company's record whole.
 * @returns {Promise<object>} as verifyRecord, plus `stream`.
 * @throws {VerificationFailure}
 */
export async function verifyBundle(bundle, { genesisHash } = {}, onProgress = () => {}) {
  const raw = bundle instanceof Uint8Array || typeof bundle === "string" ? asBytes(bundle, "bundle") : null;
  if (raw !== null && raw.length > 256 * 1024 * 1024) fail("EncodingError", "bundle is larger than 256 MiB");
  const b = raw !== null ? decodeCanonical(raw) : bundle;
  members(b, "", BUNDLE_MEMBERS);
  if (b.format !== BUNDLE_FORMAT) fail("EncodingError", `unknown bundle format, expected ${BUNDLE_FORMAT}`, { field: "/format" });
  for (const k of ["checkpoint", "logKey", "origin", "stream", "genesis"]) str(b[k], `/${k}`);
  if (!isPartyId(b.stream)) fail("EncodingError", `stream ${JSON.stringify(b.stream)} is not a party id`, { field: "/stream" });
  if (!HEX64.test(b.genesis)) fail("EncodingError", "genesis must be 64 lowercase hex characters", { field: "/genesis" });
  if (!Array.isArray(b.entries)) fail("EncodingError", "entries must be an array", { field: "/entries" });
  b.entries.forEach((e, n) => checkBundleEntry(e, `/entries/${n}`));
  const result = await verifyRecord({ entries: b.entries, checkpointNote: b.checkpoint, logVkey: b.logKey, genesisHash, stream: b.stream, state: b.state }, onProgress);
  if (result.genesisHash !== b.genesis) fail("VerificationError", `the bundle names genesis ${b.genesis} but its genesis entry hashes to ${result.genesisHash}`, { field: "/genesis" });
  if (b.origin !== result.origin) fail("CheckpointError", `the bundle's origin ${b.origin} is not the genesis origin ${result.origin}`);
  return { ...result, stream: b.stream };
}

// ---------------------------------------------------------------------------------------------
// Witness cosignatures and policies (SPEC §12): a port of attest/cosignature.py and
// attest/policy.py. A witness (cosigner) adds a signature line to a checkpoint note:
//
//     — <cosigner name> base64(key id (4) ‖ timestamp (u64, big-endian) ‖ signature)
//
// Ed25519 `cosignature/v1` (type 0x04) is checked with verifySignature, the strict rule of §2.
// ML-DSA-44 `subtree/v1` (type 0x06) is checked with WebCrypto's ML-DSA-44 (the WICG "modern
// algorithms" draft: importKey("raw-public", …, {name: "ML-DSA-44"}), verify with the empty
// context) where the browser has it; where it does not, such a cosignature is reported as not
// checkable and does not count toward a quorum. A checkpoint below quorum is a QuorumError,
// never a success. Timestamps are BigInt (u64).

export const COSIGNATURE_ED25519 = 0x04;
export const COSIGNATURE_MLDSA44 = 0x06;
export const MAX_COSIGNATURE_TIMESTAMP = (1n << 63n) - 1n;
export const MLDSA44_PUBLIC_KEY_SIZE = 1312;
export const MLDSA44_SIGNATURE_SIZE = 2420;
export const MAX_POLICY_SIZE = 1 << 20;
export const MAX_POLICY_ENTRIES = 256;
export const POLICY_NONE = "none";

const COSIGNER_TYPES = new Map([
  [COSIGNATURE_ED25519, { label: "ed25519", keySize: 32, signatureSize: 64 }],
  [COSIGNATURE_MLDSA44, { label: "ml-dsa-44", keySize: MLDSA44_PUBLIC_KEY_SIZE, signatureSize: MLDSA44_SIGNATURE_SIZE }],
]);
const COSIGNATURE_V1_HEADER = utf8("cosignature/v1\n");
const SUBTREE_V1_LABEL = Uint8Array.of(...utf8("subtree/v1\n"), 0);
const coFail = (what) => fail("CosignatureError", what);
const policyFail = (what) => fail("PolicyError", what);

/** A checkpoint that verified under a log key but whose cosignatures do not meet the quorum. */
export class QuorumError extends VerificationFailure {
  /**
   * @param {string} what
   * @param {{quorum: string, cosigners: string[], missing: string[], unchecked: string[]}} details
   *   cosigners: the policy names whose cosignatures verified; missing: one line per group or
   *   witness that fell short, outermost first (as attest.policy.QuorumError.missing);
   *   unchecked: witnesses whose cosignatures this browser cannot check (ML-DSA-44).
   */
  constructor(what, { quorum, cosigners, missing, unchecked = [] }) {
    super("QuorumError", what);
    this.name = "QuorumError";
    this.quorum = quorum;
    this.cosigners = cosigners;
    this.missing = missing;
    this.unchecked = unchecked;
  }

  toJSON() {
    return { ...super.toJSON(), quorum: this.quorum, cosigners: this.cosigners, missing: this.missing, unchecked: this.unchecked };
  }
}

function cosignerName(name) {
  try {
    checkKeyName(name);
  } catch (e) {
    if (e instanceof VerificationFailure) coFail(`cosigner ${e.what}`);
    throw e;
  }
}

function cosignatureTimestamp(timestamp) {
  if (typeof timestamp === "number" && Number.isSafeInteger(timestamp)) timestamp = BigInt(timestamp);
  if (typeof timestamp !== "bigint") coFail(`a cosignature timestamp must be an integer, not ${String(timestamp)}`);
  if (timestamp < 0n || timestamp > MAX_COSIGNATURE_TIMESTAMP) coFail(`cosignature timestamp ${timestamp} is not in [0, 2^63 - 1]`);
  return timestamp;
}

/** SPEC §12.1: SHA-256(name ‖ 0x0A ‖ type ‖ public key)[0:4]. */
export async function cosignerKeyId(name, kind, publicKey) {
  cosignerName(name);
  return (await sha256(concat(utf8(name), Uint8Array.of(0x0a, kind), publicKey))).subarray(0, 4);
}

/** SPEC §12.2: the bytes an Ed25519 cosignature/v1 signs (header, time line, whole note text). */
export function cosignatureV1Message(text, timestamp) {
  const t = cosignatureTimestamp(timestamp);
  return concat(COSIGNATURE_V1_HEADER, utf8(`time ${t}\n`), asBytes(text, "note text"));
}

/** SPEC §12.3: the ML-DSA-44 cosigned_message of subtree [start, end) with hash `root`. */
export function subtreeV1Message(cosigner, timestamp, origin, start, end, root) {
  cosignerName(cosigner);
  const t = cosignatureTimestamp(timestamp);
  const nameBytes = utf8(cosigner);
  const originBytes = utf8(origin);
  for (const [what, part] of [["cosigner name", nameBytes], ["log origin", originBytes]]) {
    if (part.length < 1 || part.length > 255) coFail(`a subtree/v1 ${what} is 1 to 255 bytes, got ${part.length}`);
  }
  const bounds = [start, end].map((b) => {
    const v = typeof b === "number" && Number.isSafeInteger(b) ? BigInt(b) : b;
    if (typeof v !== "bigint" || v < 0n || v >= U64_LIMIT) coFail(`subtree bounds must be u64 integers, got ${String(b)}`);
    return v;
  });
  if (bounds[0] > bounds[1]) coFail(`subtree start ${bounds[0]} is after its end ${bounds[1]}`);
  if (bounds[0] !== 0n && t !== 0n) coFail("a subtree cosignature with a non-zero start has timestamp 0");
  if (!(root instanceof Uint8Array) || root.length !== 32) coFail("a subtree hash is 32 bytes");
  return concat(
    SUBTREE_V1_LABEL,
    Uint8Array.of(nameBytes.length),
    nameBytes,
    u64(t),
    Uint8Array.of(originBytes.length),
    originBytes,
    u64(bounds[0]),
    u64(bounds[1]),
    root,
  );
}

/**
 * Parse a cosigner vkey `<name>+<8 lowercase hex key id>+<base64(type ‖ public key)>` (§12.1):
 * type 0x04 (Ed25519, the KEY rule of §2.1 holds) or 0x06 (ML-DSA-44, 1312 bytes), key id checked.
 * @returns {Promise<{name: string, kind: number, label: string, publicKey: Uint8Array, keyId: Uint8Array, vkey: string}>}
 * @throws {VerificationFailure} CosignatureError
 */
export async function parseCosignerVkey(vkey) {
  if (typeof vkey !== "string") coFail(`a cosigner vkey must be a string, not ${typeof vkey}`);
  const a = vkey.indexOf("+");
  const b = a < 0 ? -1 : vkey.indexOf("+", a + 1);
  if (b < 0) coFail(`cosigner vkey ${JSON.stringify(vkey.slice(0, 100))} is not <name>+<key id>+<key>`);
  const name = vkey.slice(0, a);
  const idHex = vkey.slice(a + 1, b);
  cosignerName(name);
  if (!/^[0-9a-f]{8}$/.test(idHex)) coFail(`cosigner key id ${JSON.stringify(idHex.slice(0, 20))} is not 8 lowercase hex digits`);
  const data = b64decode(vkey.slice(b + 1), "cosigner vkey data", "CosignatureError");
  if (!data.length || !COSIGNER_TYPES.has(data[0])) {
    const got = data.length ? `0x${data[0].toString(16).padStart(2, "0")}` : "nothing";
    coFail(`cosigner vkey ${JSON.stringify(name)} has signature type ${got}, not 0x04 (Ed25519 cosignature/v1) or 0x06 (ML-DSA-44 subtree/v1)`);
  }
  return cosignerKey(name, data[0], data.slice(1), fromHex(idHex));
}

/** A cosigner key from its parts; the key id, if given, must be the one computed. */
export async function cosignerKey(name, kind, publicKey, keyId = null) {
  const type = COSIGNER_TYPES.get(kind);
  if (!type) coFail(`unknown cosignature type ${kind}`);
  if (!(publicKey instanceof Uint8Array) || publicKey.length !== type.keySize) {
    coFail(`a ${type.label} cosigner key is ${type.keySize} bytes`);
  }
  if (kind === COSIGNATURE_ED25519) {
    try {
      checkKey(publicKey);
    } catch (e) {
      if (e instanceof VerificationFailure) coFail(`cosigner key ${JSON.stringify(name)} is refused: ${e.what}`);
      throw e;
    }
  } // any 1312 bytes are an ML-DSA-44 public key (FIPS 204 pkDecode)
  const expected = await cosignerKeyId(name, kind, publicKey);
  if (keyId !== null && !equalBytes(keyId, expected)) {
    coFail(`key id ${hex(keyId)} of cosigner ${JSON.stringify(name)} does not match its name, type and key (expected ${hex(expected)})`);
  }
  const id = keyId ?? expected;
  return { name, kind, label: type.label, publicKey, keyId: id, vkey: `${name}+${hex(id)}+${b64(concat(Uint8Array.of(kind), publicKey))}` };
}

// ML-DSA-44 in WebCrypto: a CryptoKey per public key, or null where the browser has none.
const mldsaKeys = new Map();
let mldsaProbe = null;

/**
 * Which implementation checks ML-DSA-44 cosignatures here: "webcrypto", or "none" when this
 * browser's WebCrypto has no ML-DSA-44 (those cosignatures are then reported as not checkable).
 */
export function mldsaBackend() {
  if (mldsaProbe === null) {
    mldsaProbe = (async () => {
      try {
        const s = globalThis.crypto && globalThis.crypto.subtle;
        if (!s) return "none";
        await s.importKey("raw-public", new Uint8Array(MLDSA44_PUBLIC_KEY_SIZE), { name: "ML-DSA-44" }, false, ["verify"]);
        return "webcrypto";
      } catch {
        return "none"; // NotSupportedError (unknown algorithm) or TypeError (unknown format)
      }
    })();
  }
  return mldsaProbe;
}

function importMldsa(publicKey) {
  const h = hex(publicKey);
  if (!mldsaKeys.has(h)) mldsaKeys.set(h, subtle().importKey("raw-public", publicKey, { name: "ML-DSA-44" }, false, ["verify"]));
  return mldsaKeys.get(h);
}

async function useMldsa(mldsa) {
  if (mldsa === "none") return false;
  if (mldsa !== "auto" && mldsa !== "webcrypto") throw new TypeError(`mldsa must be "auto", "webcrypto" or "none", not ${mldsa}`);
  const backend = await mldsaBackend();
  if (mldsa === "webcrypto" && backend !== "webcrypto") fail("VerificationError", "this browser's WebCrypto has no ML-DSA-44");
  return backend === "webcrypto";
}

/**
 * Verify one cosignature (the bytes after the key id: timestamp ‖ signature) over a note text,
 * as CosignerKey.verify does. An ML-DSA-44 cosignature where the browser has no ML-DSA-44 is
 * checked for form only (length, timestamp, its message can be built) and returned with
 * `checked: false`.
 * @returns {Promise<{timestamp: bigint, checked: boolean}>}
 * @throws {VerificationFailure} CosignatureError
 */
export async function verifyCosignatureBytes(key, text, signature, { mldsa = "auto" } = {}) {
  const type = COSIGNER_TYPES.get(key.kind);
  const expected = 8 + type.signatureSize;
  if (signature.length !== expected) coFail(`a ${type.label} cosignature is ${expected} bytes after the key id, got ${signature.length}`);
  const timestamp = new DataView(signature.buffer, signature.byteOffset, 8).getBigUint64(0);
  const raw = signature.subarray(8);
  const keyName = `${key.name}+${hex(key.keyId)}`;
  if (key.kind === COSIGNATURE_ED25519) {
    const message = cosignatureV1Message(text, timestamp);
    try {
      await verifySignature(key.publicKey, message, raw);
    } catch (e) {
      if (e instanceof VerificationFailure) coFail(`cosignature by ${keyName} does not verify: ${e.what}`);
      throw e;
    }
    return { timestamp, checked: true };
  }
  let cp;
  try {
    cp = parseCheckpoint(text);
  } catch (e) {
    if (e instanceof VerificationFailure) coFail(`cosigned note is not a checkpoint: ${e.what}`);
    throw e;
  }
  const message = subtreeV1Message(key.name, timestamp, cp.origin, 0n, cp.size, cp.root);
  if (!(await useMldsa(mldsa))) return { timestamp, checked: false };
  let ok;
  try {
    ok = await subtle().verify({ name: "ML-DSA-44" }, await importMldsa(key.publicKey), raw, message);
  } catch (e) {
    coFail(`cosignature by ${keyName} could not be checked by WebCrypto (ML-DSA-44): ${e && e.name}`);
  }
  if (!ok) coFail(`cosignature by ${keyName} does not verify (ML-DSA-44)`);
  return { timestamp, checked: true };
}

/** The latest timestamp among `key`'s lines (every one must verify), or null if it has none. */
async function verifyLines(text, signatures, key, options) {
  let latest = null;
  let checked = true;
  for (const [n, s] of signatures.entries()) {
    if (s.name !== key.name || !equalBytes(s.keyId, key.keyId)) continue;
    let got;
    try {
      got = await verifyCosignatureBytes(key, text, s.signature, options);
    } catch (e) {
      if (e instanceof VerificationFailure && e.kind === "CosignatureError") coFail(`signature line ${n + 1}: ${e.what}`);
      throw e;
    }
    latest = latest === null || got.timestamp > latest ? got.timestamp : latest;
    checked = checked && got.checked;
  }
  return latest === null ? null : { timestamp: latest, checked };
}

/**
 * SPEC §12.4: the cosignature of `key` on a checkpoint note. Lines of other keys are ignored;
 * every line with the key's name and key id must verify, and there must be one.
 * @returns {Promise<{checkpoint: object, timestamp: bigint, checked: boolean}>} `checked` is
 *   false for an ML-DSA-44 key in a browser without ML-DSA-44 (then nothing is verified).
 * @throws {VerificationFailure} CheckpointError (malformed note), CosignatureError
 */
export async function verifyCosignature(note, key, options = {}) {
  const { text, signatures } = parseNote(note);
  const checkpoint = parseCheckpoint(text);
  const found = await verifyLines(text, signatures, key, options);
  if (found === null) {
    coFail(`checkpoint has no cosignature by ${key.name}+${hex(key.keyId)} (${key.label}, among ${signatures.length} signature line(s))`);
  }
  return { checkpoint, ...found };
}

// tlog-policy (SPEC §12.5)

const POLICY_BAD_OCTET = /[\x00-\x08\x0b-\x1f\x7f]/;

function policyUrl(fields, at, number) {
  if (fields.length === at) return null;
  if (fields.length === at + 1) return fields[at];
  policyFail(`policy line ${number}: too many fields`);
}

/**
 * Parse a tlog-policy file strictly, exactly as attest.policy.parse_policy.
 * @param {Uint8Array|string} data
 * @returns {Promise<{logs: {key: object, url: string|null}[], witnesses: Map<string, {name: string, key: object, url: string|null}>, groups: Map<string, {name: string, threshold: number, members: string[]}>, quorum: string}>}
 * @throws {VerificationFailure} PolicyError
 */
export async function parsePolicy(data) {
  const bytes = asBytes(data, "policy");
  if (bytes.length > MAX_POLICY_SIZE) policyFail(`policy is ${bytes.length} bytes, more than ${MAX_POLICY_SIZE}`);
  // Octets first (one code point per byte): a comment may hold any octet with the high bit set;
  // the other lines are decoded as UTF-8 one by one below (as attest.policy.parse_policy).
  let text = "";
  for (let i = 0; i < bytes.length; i += 8192) {
    text += String.fromCharCode.apply(null, bytes.subarray(i, i + 8192));
  }
  const bad = POLICY_BAD_OCTET.exec(text);
  if (bad) {
    const at = text.slice(0, bad.index).split("\n").length;
    policyFail(`policy line ${at} contains the control octet 0x${bad[0].charCodeAt(0).toString(16).padStart(2, "0")}; only tab and newline are allowed`);
  }
  if (text && !text.endsWith("\n")) policyFail("policy does not end with a newline (every line ends in one)");
  const logs = [];
  const witnesses = new Map();
  const groups = new Map();
  const usedAsMember = new Set();
  const logKeys = new Set();
  const witnessKeys = new Set();
  let quorum = null;
  const newName = (name, number) => {
    if (name === POLICY_NONE) policyFail(`policy line ${number}: the name ${JSON.stringify(POLICY_NONE)} is predefined`);
    if (witnesses.has(name) || groups.has(name)) policyFail(`policy line ${number}: the name ${JSON.stringify(name)} is already defined`);
  };
  const lines = text ? text.split("\n").slice(0, -1) : [];
  for (const [k, raw] of lines.entries()) {
    const number = k + 1;
    const octets = raw.replace(/^[ \t]+|[ \t]+$/g, "");
    if (!octets || octets.startsWith("#")) continue;
    let line;
    try {
      line = dec.decode(Uint8Array.from(octets, (c) => c.charCodeAt(0)));
    } catch {
      policyFail(`policy line ${number} is not valid UTF-8; only a comment line may hold other octets`);
    }
    const fields = line.split(/[ \t]+/);
    const keyword = fields[0];
    if (keyword === "log") {
      if (fields.length < 2) policyFail(`policy line ${number}: 'log' needs a vkey`);
      let key;
      try {
        key = await parseVkey(fields[1]);
      } catch (e) {
        if (e instanceof VerificationFailure) policyFail(`policy line ${number}: log key: ${e.what}`);
        throw e;
      }
      if (logKeys.has(hex(key.publicKey))) policyFail(`policy line ${number}: duplicate log key`);
      logKeys.add(hex(key.publicKey));
      logs.push({ key, url: policyUrl(fields, 2, number) });
      if (logs.length > MAX_POLICY_ENTRIES) policyFail(`policy has more than ${MAX_POLICY_ENTRIES} logs`);
    } else if (keyword === "witness") {
      if (fields.length < 3) policyFail(`policy line ${number}: 'witness' needs a name and a vkey`);
      const name = fields[1];
      newName(name, number);
      let key;
      try {
        key = await parseCosignerVkey(fields[2]);
      } catch (e) {
        if (e instanceof VerificationFailure) policyFail(`policy line ${number}: witness key: ${e.what}`);
        throw e;
      }
      if (witnessKeys.has(hex(key.publicKey))) policyFail(`policy line ${number}: duplicate witness key`);
      witnessKeys.add(hex(key.publicKey));
      witnesses.set(name, { name, key, url: policyUrl(fields, 3, number) });
      if (witnesses.size > MAX_POLICY_ENTRIES) policyFail(`policy has more than ${MAX_POLICY_ENTRIES} witnesses`);
    } else if (keyword === "group") {
      if (fields.length < 4) policyFail(`policy line ${number}: 'group' needs a name, a threshold and members`);
      const [, name, thresholdText, ...members] = fields;
      newName(name, number);
      for (const member of members) {
        if (member === POLICY_NONE) policyFail(`policy line ${number}: ${JSON.stringify(POLICY_NONE)} cannot be a group member`);
        if (!witnesses.has(member) && !groups.has(member)) policyFail(`policy line ${number}: group member ${JSON.stringify(member)} is not defined above`);
        if (usedAsMember.has(member)) {
          policyFail(`policy line ${number}: ${JSON.stringify(member)} is already a group member (each name may be listed as a member once)`);
        }
        usedAsMember.add(member);
      }
      let threshold;
      if (thresholdText === "all") threshold = members.length;
      else if (thresholdText === "any") threshold = 1;
      else if (/^[1-9][0-9]{0,8}$/.test(thresholdText) && Number(thresholdText) <= members.length) threshold = Number(thresholdText);
      else {
        policyFail(`policy line ${number}: threshold ${JSON.stringify(thresholdText.slice(0, 20))} is not 'all', 'any' or a decimal k with 1 <= k <= ${members.length}`);
      }
      groups.set(name, { name, threshold, members });
      if (groups.size > MAX_POLICY_ENTRIES) policyFail(`policy has more than ${MAX_POLICY_ENTRIES} groups`);
    } else if (keyword === "quorum") {
      if (fields.length !== 2) policyFail(`policy line ${number}: 'quorum' takes exactly one name`);
      if (quorum !== null) policyFail(`policy line ${number}: a second quorum line`);
      if (fields[1] !== POLICY_NONE && !witnesses.has(fields[1]) && !groups.has(fields[1])) {
        policyFail(`policy line ${number}: quorum ${JSON.stringify(fields[1])} is not a witness or group defined above`);
      }
      quorum = fields[1];
    } else {
      policyFail(`policy line ${number}: unknown keyword ${JSON.stringify(keyword.slice(0, 40))}`);
    }
  }
  if (quorum === null) policyFail("policy has no quorum line");
  return { logs, witnesses, groups, quorum };
}

/** Whether `name` (a witness, a group or "none") is met by the witness names in `cosigners`. */
export function policyWitnessed(policy, name, cosigners) {
  if (name === POLICY_NONE) return true;
  if (policy.witnesses.has(name)) return cosigners.has(name);
  const group = policy.groups.get(name);
  const met = group.members.filter((m) => policyWitnessed(policy, m, cosigners)).length;
  return met >= group.threshold;
}

/** One line per unmet witness or group under `name`, outermost first (Policy.shortfalls). */
export function policyShortfalls(policy, name, cosigners) {
  if (policyWitnessed(policy, name, cosigners)) return [];
  if (policy.witnesses.has(name)) return [`witness ${name} did not cosign`];
  const group = policy.groups.get(name);
  const met = group.members.filter((m) => policyWitnessed(policy, m, cosigners));
  const lines = [
    `group ${name} needs ${group.threshold} of ${group.members.length} (${group.members.join(", ")}), has ${met.length}` +
      (met.length ? ` (${met.join(", ")})` : ""),
  ];
  for (const member of group.members) {
    if (!met.includes(member)) lines.push(...policyShortfalls(policy, member, cosigners));
  }
  return lines;
}

/** `<origin> size <n> root <base64>`: how messages name a checkpoint. */
export const describeCheckpoint = (cp) => `${cp.origin} size ${cp.size} root ${b64(cp.root)}`;

/**
 * SPEC §12.5: verify a checkpoint note's log signature and its cosignatures against a policy,
 * as attest.policy.verify_policy does. `logs`: log keys known from context ({name, keyId,
 * publicKey}, as parseVkey returns), accepted besides the policy's own.
 * @returns {Promise<{checkpoint: object, log: object, quorum: string, cosigners: object[], unchecked: object[]}>}
 *   cosigners: the witnesses whose cosignatures verified, in policy order; unchecked: those
 *   whose cosignatures this browser cannot check (ML-DSA-44 without WebCrypto support), which
 *   do not count toward the quorum. Each is {name, cosigner, kind, label, keyId, timestamp}.
 * @throws {VerificationFailure} CheckpointError, CosignatureError, or QuorumError (below quorum)
 */
export async function verifyPolicy(note, policy, { logs = [], mldsa = "auto" } = {}) {
  const { text, signatures } = parseNote(note);
  const candidates = [...policy.logs.map((l) => l.key), ...logs];
  const log = candidates.find((k) => signatures.some((s) => s.name === k.name && equalBytes(s.keyId, k.keyId)));
  if (!log) cpFail(`checkpoint is not signed by any of the ${candidates.length} log key(s) accepted`);
  const checkpoint = await verifyCheckpoint(note, log);
  const cosigners = [];
  const unchecked = [];
  for (const [name, witness] of policy.witnesses) {
    const found = await verifyLines(text, signatures, witness.key, { mldsa });
    if (found === null) continue;
    const k = witness.key;
    const entry = { name, cosigner: k.name, kind: k.kind, label: k.label, keyId: hex(k.keyId), timestamp: found.timestamp };
    (found.checked ? cosigners : unchecked).push(entry);
  }
  const names = new Set(cosigners.map((c) => c.name));
  if (!policyWitnessed(policy, policy.quorum, names)) {
    const missing = policyShortfalls(policy, policy.quorum, names);
    const got = cosigners.map((c) => c.name).join(", ") || "none";
    const notChecked = unchecked.length
      ? `; not checkable in this browser (no ML-DSA-44 in WebCrypto): ${unchecked.map((c) => c.name).join(", ")}`
      : "";
    throw new QuorumError(
      `checkpoint ${describeCheckpoint(checkpoint)} is below quorum ${policy.quorum}: cosigned by ${got}; ${missing.join("; ")}${notChecked}`,
      { quorum: policy.quorum, cosigners: cosigners.map((c) => c.name), missing, unchecked: unchecked.map((c) => c.name) },
    );
  }
  return { checkpoint, log, quorum: policy.quorum, cosigners, unchecked };
}

/**
 * SPEC §12.8: a checkpoint shown must be consistent with one held (attest.policy.check_consistent);
 * the proof goes from the smaller tree to the larger.
 * @throws {VerificationFailure} CheckpointError (two logs), SplitViewError (naming both)
 */
export async function checkConsistent(held, other, proof) {
  if (held.origin !== other.origin) cpFail(`checkpoints of two different logs: ${JSON.stringify(held.origin)} and ${JSON.stringify(other.origin)}`);
  const [small, large] = held.size <= other.size ? [held, other] : [other, held];
  try {
    await verifyConsistency(small.size, large.size, proof, small.root, large.root);
  } catch (e) {
    if (e instanceof VerificationFailure && e.kind === "ProofError") {
      fail(
        "SplitViewError",
        `log ${held.origin} shows two histories: the checkpoint held (${describeCheckpoint(held)}) and the checkpoint shown (${describeCheckpoint(other)}) are not consistent: ${e.what}`,
      );
    }
    throw e;
  }
}
