// claimledger public pages: the "Verify this record" button on a company's page.
//
// Glue only: the checks are the engine's (verify.js, verifyRecord). The button fetches, from this
// server's /v1 API, the log's key, its latest signed checkpoint, and the company record (the
// evidence bundle: the company's entries and the registry records of the parties they involve,
// with their inclusion proofs, and the state proof that shows them whole at the checkpoint's
// size, SPEC §10-§11), then re-verifies everything in the browser against the ledger
// fingerprint printed in the page.
// Nothing the server says about the record is trusted; the checkpoint is the one fetched from
// /v1/log/checkpoint (not the bundle's copy), checked with the log key the genesis entry names.
// The record is then fetched for that checkpoint's size (/v1/streams/{id}/bundle?size=N, a URL
// that never changes, so any cache may keep it): checkpoint and record always match, even when a
// cache in between (docs/operating/caching.md) serves a checkpoint a few seconds old.
//
// Witnesses (SPEC §12): when the server publishes a witness policy (GET /v1/log/witness-policy,
// C2SP tlog-policy), the record is verified against the newest cosigned checkpoint instead
// (GET /v1/log/checkpoint/cosigned, the bundle fetched for its size), and that checkpoint must
// meet the policy's quorum: verifyPolicy checks every cosignature from a policy witness
// (Ed25519 always; ML-DSA-44 where this browser's WebCrypto has it, else the page says it cannot
// check it, and it does not count). Below quorum is a failure (QuorumError), never "verified".
// Without a policy the page says the record is checked against the log's own signature only.
//
// The outcome is written to #verify-result with data-outcome="ok" | "failed" | "error" and, on a
// located failure, data-index / data-position / data-stream / data-kind (the tests read these);
// data-policy="server" | "none", and with a policy data-quorum, data-witnesses (the witnesses
// whose cosignatures this browser checked) and data-unchecked (those it could not check).

import {
  QuorumError,
  VerificationFailure,
  b64,
  b64decode,
  fromHex,
  parseCheckpoint,
  parseNote,
  parsePolicy,
  parseVkey,
  policyShortfalls,
  TileReader,
  verifyConsistency,
  verifyPolicy,
  verifyRecord,
} from "./verify.js";

// The page's language (api/web/i18n.py): the server embeds the browser's part of its catalog
// (<script type="application/json" id="l10n">: {lang, plural, messages}); English needs none.
// tr(message, vars) translates a message and fills its {placeholders} from vars; trn(one, many,
// n) picks the plural form ({n} is the count). scripts/i18n.py extracts both: their messages
// must be literal strings.
const L10N = (() => {
  try {
    return JSON.parse(document.getElementById("l10n")?.textContent || "null");
  } catch {
    return null;
  }
})();
const MESSAGES = L10N?.messages || {};

function fill(text, vars) {
  return text.replace(/\{(\w+)\}/g, (m, k) => (k in vars ? String(vars[k]) : m));
}

function tr(msgid, vars = {}) {
  const text = MESSAGES[msgid];
  return fill(typeof text === "string" && text ? text : msgid, vars);
}

function trn(one, many, n, vars = {}) {
  const other = L10N?.plural === "gt1" ? n > 1 : n !== 1;
  const forms = MESSAGES[one];
  const text = Array.isArray(forms) && forms.every(Boolean) ? forms[other ? 1 : 0] : other ? many : one;
  return fill(text, { n, ...vars });
}

/** A translated message as nodes: its {placeholders} may be elements (a <code>, a link). */
function trNodes(msgid, vars) {
  return tr(msgid, Object.fromEntries(Object.keys(vars).map((k) => [k, `\u0000${k}\u0000`])))
    .split("\u0000")
    .map((piece, i) => (i % 2 ? vars[piece] : piece))
    .filter((piece) => piece !== "");
}

const PHASES = {
  fetch: tr("Downloading the record"),
  parse: tr("Reading the entries"),
  hash: tr("Checking signatures and proofs"),
  check: tr("Replaying the rules, entry by entry"),
  done: tr("Done"),
};

class FetchProblem extends Error {}

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") node.className = v;
    else node.setAttribute(k, v);
  }
  for (const c of children) node.append(c instanceof Node ? c : String(c));
  return node;
}

async function get(url, what, { optional = false } = {}) {
  let response;
  try {
    response = await fetch(url, { cache: "no-store", credentials: "omit" });
  } catch (err) {
    throw new FetchProblem(`could not download ${what}: ${err.message}`);
  }
  if (optional && response.status === 404) return null;
  if (!response.ok) {
    let detail = "";
    try {
      const problem = await response.json();
      detail = problem.detail || problem.title || "";
    } catch {
      // not a problem+json body
    }
    throw new FetchProblem(tr("could not download {what}: HTTP {status}", { what, status: response.status }) + (detail ? ` (${detail})` : ""));
  }
  return response;
}

function checkpointSize(note) {
  return parseCheckpoint(parseNote(note).text).size;
}

function readBundle(bundleText, stream) {
  let bundle;
  try {
    bundle = JSON.parse(bundleText);
  } catch {
    throw new VerificationFailure("EncodingError", tr("the company record is not JSON"));
  }
  if (bundle === null || typeof bundle !== "object" || !Array.isArray(bundle.entries)) {
    throw new VerificationFailure("EncodingError", tr("the company record has no entries"));
  }
  if (bundle.stream !== stream) {
    throw new VerificationFailure("VerificationError", tr("the server sent the record of {got}, not of {wanted}", { got: JSON.stringify(bundle.stream), wanted: JSON.stringify(stream) }));
  }
  return bundle;
}

/**
 * Fetch the latest checkpoint, then the record for its size. The size comes from the checkpoint
 * (checked, signature and root, by the engine); a server that cannot make the record for it (a
 * read-only server whose checkpoint moved on) is asked again, with a newer checkpoint.
 */
async function download(stream, logVkey) {
  const enc = encodeURIComponent(stream);
  let problem = null;
  for (let attempt = 0; attempt < 3; attempt++) {
    const checkpointNote = await (await get("/v1/log/checkpoint", tr("the latest checkpoint"))).text();
    let size;
    try {
      size = checkpointSize(checkpointNote);
    } catch {
      size = null; // not a checkpoint: the engine names what is wrong with it
    }
    let bundleResponse;
    try {
      const url = size === null ? `/v1/streams/${enc}/bundle` : `/v1/streams/${enc}/bundle?size=${size}`;
      // Downloaded again at every press (no-store), although a shared cache may answer.
      bundleResponse = await get(url, tr("the company's record"));
    } catch (err) {
      if (!(err instanceof FetchProblem)) throw err;
      problem = err;
      continue;
    }
    const bundleText = await bundleResponse.text();
    const bundle = readBundle(bundleText, stream);
    if (size === null || checkpointSize(String(bundle.checkpoint)) === size) {
      return { logVkey, checkpointNote, entries: bundle.entries, state: bundle.state, bytes: bundleText.length, witness: null };
    }
    problem = new FetchProblem(tr("the server sent the record for another log size than its checkpoint's {size}", { size }));
  }
  throw problem;
}

const sameKey = (a, b) => a.name === b.name && a.publicKey.length === b.publicKey.length && a.publicKey.every((x, i) => x === b.publicKey[i]);

/**
 * With a witness policy: the newest cosigned checkpoint, checked against the policy (the log's
 * signature by the log's own key, every policy witness's cosignature, the quorum), then the
 * company's record at that checkpoint's size.
 */
async function downloadWitnessed(stream, logVkey, policyText) {
  const policy = await parsePolicy(policyText);
  const logKey = await parseVkey(logVkey);
  let note = await get("/v1/log/checkpoint/cosigned", tr("the cosigned checkpoint"), { optional: true });
  if (note === null && policy.quorum !== "none") {
    const missing = policyShortfalls(policy, policy.quorum, new Set());
    throw new QuorumError(
      tr("this server publishes a witness policy (quorum {quorum}) but no checkpoint cosigned by its witnesses: {missing}", { quorum: policy.quorum, missing: missing.join("; ") }),
      { quorum: policy.quorum, cosigners: [], missing, unchecked: [] },
    );
  }
  note ??= await get("/v1/log/checkpoint", tr("the latest checkpoint")); // quorum none: no cosignature needed
  const checkpointNote = await note.text();
  const witnessed = await verifyPolicy(checkpointNote, policy, { logs: [logKey] });
  if (!sameKey(witnessed.log, logKey)) {
    throw new VerificationFailure("CheckpointError", tr("the cosigned checkpoint is signed by {name}, a log key of the witness policy, not by this log's key", { name: witnessed.log.name }));
  }
  const size = witnessed.checkpoint.size;
  const bundleResponse = await get(`/v1/streams/${encodeURIComponent(stream)}/bundle?size=${size}`, tr("the company's record"));
  const bundleText = await bundleResponse.text();
  const bundle = readBundle(bundleText, stream);
  let bundleSize;
  try {
    bundleSize = checkpointSize(String(bundle.checkpoint));
  } catch {
    bundleSize = null;
  }
  if (bundleSize !== size) {
    throw new VerificationFailure("CheckpointError", tr("the server sent the record for a log of {got} entries, not for the cosigned checkpoint's {size}", { got: bundleSize, size }));
  }
  return { logVkey, checkpointNote, entries: bundle.entries, state: bundle.state, bytes: bundleText.length, witness: { policy, witnessed } };
}

/** The witness policy this server publishes, then the record (cosigned if there is a policy). */
async function fetchRecord(stream) {
  const logVkey = (await (await get("/v1/log/key", tr("the log key"))).text()).trim();
  const policy = await get("/v1/log/witness-policy", tr("the witness policy"), { optional: true });
  if (policy === null) return download(stream, logVkey);
  return downloadWitnessed(stream, logVkey, new Uint8Array(await policy.arrayBuffer()));
}

// What this browser verified last, per log (its vkey names the origin and the key): a later
// checkpoint must extend it. Otherwise the server rewrote or rolled back history — the browser's
// counterpart of `claimledger verify`'s trust store.
const TRUSTED = "claimledger:trusted:";

function trustedFor(logVkey) {
  try {
    const t = JSON.parse(localStorage.getItem(TRUSTED + logVkey) || "null");
    return t && Number.isSafeInteger(t.size) && typeof t.root === "string" ? t : null;
  } catch {
    return null; // storage disabled or unreadable: nothing trusted yet
  }
}

// How long a server may keep showing a checkpoint older than one this browser verified before
// it counts as a rollback: well beyond any cache lifetime the server sends (5 s fresh + 30 s
// stale) and a lagging server's catch-up.
const OLDER_GRACE_MS = 10 * 60 * 1000;

/**
 * A checkpoint this browser verified before must be consistent with this one: returns
 * [what to say, data-history] or throws a ProofError.
 *
 * An older (smaller) checkpoint is not in itself a rollback: a cache or a lagging server may
 * serve one for a while, and witnesses lag the log (`older`, a cosigned checkpoint). It must be
 * a prefix of the one remembered (a consistency proof, verified here: a failure is a fork). If
 * the server cannot prove that yet (it answers as if it had fewer entries), the page says so;
 * only if it still cannot after OLDER_GRACE_MS is it a rollback.
 */
async function checkAgainstTrusted(logVkey, size, root, { older = false } = {}) {
  const t = trustedFor(logVkey);
  const rewritten = (why) =>
    new VerificationFailure(
      "ProofError",
      tr("the log is not consistent with the checkpoint this browser verified on {at} ({size} entries): {why}", { at: t.at, size: t.size, why }),
    );
  if (t === null) return ["", ""];
  if (size < t.size) {
    let r;
    try {
      r = await get(`/v1/log/proof/consistency?from=${size}&to=${t.size}`, tr("a consistency proof"));
    } catch (err) {
      if (!(err instanceof FetchProblem)) throw err;
      const since = Date.parse(t.olderSince || "") || Date.now();
      if (Date.now() - since > OLDER_GRACE_MS) {
        throw rewritten(
          tr("since {since} the server shows only {size} entries and cannot prove the {before} it showed before (history was rolled back)", {
            since: `${new Date(since).toISOString().slice(0, 19)}Z`,
            size,
            before: t.size,
          }),
        );
      }
      noteOlder(logVkey, t, since);
      return [
        tr("this server showed an older checkpoint ({size} entries) than the one this browser verified on {at} ({before} entries) — a copy from a cache, or a server that has not caught up — and cannot yet prove that the newer one extends it. The record above is verified at the older checkpoint. Verify again in a minute; if the server still shows fewer entries, history was rolled back", { size, at: t.at, before: t.size }),
        "older-unproven",
      ];
    }
    const proof = (await r.json()).hashes.map((h, k) => b64decode(h, `consistency proof hash ${k}`, "ProofError"));
    try {
      await verifyConsistency(size, t.size, proof, fromHex(root), fromHex(t.root));
    } catch (err) {
      throw rewritten(tr("it is not a prefix of it ({detail}): history was rewritten", { detail: err.what || err.message }));
    }
    return older
      ? [tr("a prefix of the checkpoint verified on {at} ({size} entries)", { at: t.at, size: t.size }), "consistent"]
      : [
          tr("this server showed an older checkpoint ({size} entries, likely a cached copy) than the one this browser verified on {at} ({before} entries); the newer one extends it (consistency proof checked)", { size, at: t.at, before: t.size }),
          "older",
        ];
  }
  if (size === t.size) {
    if (t.root !== root) throw rewritten(tr("the same size has another root (a fork)"));
    return [tr("the same checkpoint as on {at}", { at: t.at }), "consistent"];
  }
  let proof = await proofFromTiles(t.size, size, fromHex(t.root), fromHex(root));
  const via = proof === null ? "" : tr("; proved from the log's tiles");
  if (proof === null) {
    const r = await get(`/v1/log/proof/consistency?from=${t.size}&to=${size}`, tr("a consistency proof"));
    proof = (await r.json()).hashes.map((h, k) => b64decode(h, `consistency proof hash ${k}`, "ProofError"));
  }
  try {
    await verifyConsistency(t.size, size, proof, fromHex(t.root), fromHex(root));
  } catch (err) {
    throw rewritten(tr("history was rewritten ({detail})", { detail: err.what || err.message }));
  }
  return [tr("consistent with the checkpoint verified on {at} ({size} entries{via})", { at: t.at, size: t.size, via }), "consistent"];
}

/**
 * A consistency proof from `from` to `to` computed from the log's tiles (C2SP tlog-tiles at the
 * site root, SPEC §14) and verified here against both roots; or null when the server serves no
 * tiles for `to` (tiles are served for the sizes of checkpoints the log kept: its `/checkpoint`
 * names the newest) or they prove nothing (a damaged cache). The caller then asks
 * /v1/log/proof/consistency, and a fork is still a fork.
 */
async function proofFromTiles(from, to, rootFrom, rootTo) {
  try {
    const r = await fetch("/checkpoint", { credentials: "omit" });
    if (!r.ok || BigInt(checkpointSize(await r.text())) !== BigInt(to)) return null;
    const reader = new TileReader(to, async (path) => {
      const tile = await fetch(`/${path}`, { credentials: "omit" });
      if (!tile.ok) throw new FetchProblem(`${path}: HTTP ${tile.status}`);
      return new Uint8Array(await tile.arrayBuffer());
    });
    const proof = await reader.consistencyProof(from);
    await verifyConsistency(from, to, proof, rootFrom, rootTo);
    return proof;
  } catch {
    return null;
  }
}

/** Remember when this browser first saw the server unable to prove its remembered checkpoint. */
function noteOlder(logVkey, t, since) {
  if (t.olderSince) return;
  try {
    localStorage.setItem(TRUSTED + logVkey, JSON.stringify({ ...t, olderSince: new Date(since).toISOString() }));
  } catch {
    // storage disabled: nothing is remembered
  }
}

function remember(logVkey, size, root) {
  const t = trustedFor(logVkey);
  if (t !== null && t.size > size) {
    // Keep the larger one (this one is its prefix); the server proved it again, if it could.
    if (t.olderSince && root !== null) {
      try {
        const { olderSince, ...kept } = t;
        localStorage.setItem(TRUSTED + logVkey, JSON.stringify(kept));
      } catch {
        // storage disabled
      }
    }
    return;
  }
  try {
    const at = new Date().toISOString().slice(0, 19) + "Z";
    localStorage.setItem(TRUSTED + logVkey, JSON.stringify({ size, root, at }));
  } catch {
    // storage disabled: nothing is remembered, and the next visit checks from scratch
  }
}

function setProgress(bar, phase, label, fraction) {
  bar.value = Math.round(100 * Math.min(Math.max(fraction, 0), 1));
  phase.textContent = label;
}

/** "3 claims, 1 test record, 1 verdict, 2 engagements and 0 replies": what the company's record holds. */
function counted(kinds) {
  const n = (...names) => names.reduce((sum, k) => sum + (kinds[k] || 0), 0);
  const parts = [
    trn("{n} claim", "{n} claims", n("claim.publish", "claim.supersede")),
    trn("{n} test record", "{n} test records", n("test.record")),
    trn("{n} verdict", "{n} verdicts", n("verdict.issue")),
    trn("{n} engagement", "{n} engagements", n("engagement.open")),
    trn("{n} reply", "{n} replies", n("provider.reply")),
  ];
  return tr("{list} and {last}", { list: parts.slice(0, -1).join(", "), last: parts.at(-1) });
}

function showOk(out, result, stream, got, seconds, words) {
  const company = result.heads[stream] || { head: "", length: 0 };
  const registry = result.entries - result.streamLength;
  out.className = "verify-result ok";
  out.dataset.outcome = "ok";
  out.dataset.complete = String(result.size);
  out.replaceChildren(
    el("h3", {}, tr("✔ Record verified in your browser")),
    el(
      "p",
      {},
      tr("Verified {contents} of this company: {entries} of its record, and {registry} about the parties they involve, in {seconds} s. Every signature, every chain link, every rule and every inclusion proof holds, against a checkpoint signed by the log's key.", {
        contents: counted(result.kinds),
        entries: trn("{n} entry", "{n} entries", result.streamLength),
        registry: trn("{n} registry entry", "{n} registry entries", registry),
        seconds: seconds.toFixed(2),
      }),
    ),
    el(
      "p",
      {},
      tr("The record is complete at size {size}: the log's signed state at that size counts exactly these {count} entries of this company, and every key change and accreditation of the parties they involve; nothing was left out or cut off.", { size: result.size, count: result.streamLength }),
    ),
    el(
      "ul",
      {},
      // The root in base64, as the checkpoint note, the CLI and the log page show it (one encoding).
      el("li", {}, ...trNodes("Checkpoint: {size} entries, root {root}", { size: String(result.size), root: el("code", { class: "hash", id: "checkpoint-root" }, b64(fromHex(result.root))) })),
      el("li", {}, tr("Log key:"), " ", el("code", { class: "hash" }, got.logVkey)),
      el("li", {}, tr("Ledger fingerprint:"), " ", el("code", { class: "hash" }, result.genesisHash)),
      el("li", {}, tr("Latest entry of this company:"), " ", el("code", { class: "hash" }, company.head)),
    ),
  );
  // SPEC §8.2 rule 5: entries signed with a key the authority since stated compromised.
  const compromised = Object.entries(result.compromised || {});
  if (compromised.length > 0) {
    out.append(
      el(
        "p",
        { class: "flag", id: "verify-compromised", "data-count": String(compromised.length) },
        el("strong", {}, `${tr(words.label)}: ${trn("{n} entry", "{n} entries", compromised.length)}. `),
        trn(
          "Signed with keys the authority later stated were compromised at the time (log index {which}). They stay in the log; they confirm nothing.",
          "Signed with keys the authority later stated were compromised at the time (log indexes {which}). They stay in the log; they confirm nothing.",
          compromised.length,
          { which: compromised.map(([i, r]) => tr("{index}, revoked at {revoked}", { index: i, revoked: r })).join("; ") },
        ),
        " ",
        el("span", { class: "next-step", "data-state": "key_compromised" }, tr(words.next)),
      ),
    );
  }
}

/**
 * SPEC §8.4: whether this browser's comparison of the company's reported counts with the current
 * reference tables (verifyRecord's `reconciliations`) is what the page's cards show (each card's
 * table digest, status and reason). Null when neither has any, or when the page shows an earlier
 * date (the browser verified today's record).
 */
function reconciliationPart(result, stream) {
  if (document.getElementById("asof-banner")) return null;
  const mine = (result.reconciliations || []).filter((r) => r.stream === stream);
  const cards = [...document.querySelectorAll("li.reconciliation")];
  if (mine.length === 0 && cards.length === 0) return null;
  const shown = new Map(cards.map((c) => [c.dataset.dataset, [c.dataset.status, c.dataset.reason ?? null]]));
  const differ = mine.filter((r) => {
    const s = shown.get(r.digest);
    return s === undefined || s[0] !== r.status || s[1] !== r.reason;
  });
  const agrees = differ.length === 0 && mine.length === cards.length;
  const attrs = { id: "verify-reconciliation", "data-agrees": String(agrees), "data-count": String(mine.length) };
  if (agrees) {
    return el("p", attrs, trn(
      "Reported counts against published tables: this browser compared them itself and reads what the page shows ({n} table).",
      "Reported counts against published tables: this browser compared them itself and reads what the page shows ({n} tables).",
      mine.length,
    ));
  }
  // Compared differently (or not shown), by log index; else the page shows a table not found here.
  const why = differ.length
    ? tr("the table logged at index {which} reads otherwise here", { which: differ.map((r) => r.index).join(", ") })
    : tr("the page shows a table this browser did not find in the verified record");
  return el("p", { ...attrs, class: "flag" }, tr(
    "Reported counts against published tables: this browser's own comparison differs from what the page shows ({why}). Trust the comparison made here, from the verified record.",
    { why },
  ));
}

/** "this browser cannot check post-quantum ML-DSA-44 signatures; use claimledger verify --policy" */
const mldsaNote = () => trNodes("this browser cannot check post-quantum ML-DSA-44 signatures; use {command}", { command: el("code", {}, "claimledger verify --policy") });

/** "A (witness.example/w1, Ed25519)": a witness in words. */
const witnessWords = (w) => `${w.name} (${w.cosigner}, ${w.label === "ml-dsa-44" ? "ML-DSA-44" : "Ed25519"})`;

/** What the page says about witnesses after a verified record. */
function witnessParts(out, got, size) {
  if (got.witness === null) {
    out.dataset.policy = "none";
    return [
      el(
        "p",
        { class: "witness-none" },
        tr("Checked against the log's own signature only: this server publishes no witness policy, so no independent witness has cosigned the checkpoint. A log that showed other readers another history would not be caught by this check alone."),
      ),
    ];
  }
  const { policy, witnessed } = got.witness;
  out.dataset.policy = "server";
  out.dataset.quorum = witnessed.quorum;
  out.dataset.witnesses = witnessed.cosigners.map((c) => c.name).join(" ");
  out.dataset.unchecked = witnessed.unchecked.map((c) => c.name).join(" ");
  const parts = [];
  const who = witnessed.cosigners.length ? witnessed.cosigners.map(witnessWords).join(", ") : tr("no witness");
  parts.push(
    el(
      "p",
      { class: "witness-ok" },
      tr("Witnessed: the checkpoint of size {size} meets the quorum {quorum} of the witness policy this server publishes ({witnesses}). Cosignatures checked in your browser: {who}. Entries logged after size {size} are not included until the witnesses cosign a later checkpoint.", {
        size,
        quorum: witnessed.quorum,
        witnesses: trn("{n} witness", "{n} witnesses", policy.witnesses.size),
        who,
      }),
    ),
  );
  if (witnessed.unchecked.length) {
    parts.push(
      el(
        "p",
        { class: "witness-unchecked" },
        tr("Not checked: {who}:", { who: witnessed.unchecked.map(witnessWords).join(", ") }),
        " ",
        ...mldsaNote(),
        tr(". These cosignatures do not count toward the quorum here."),
      ),
    );
  }
  parts.push(
    el(
      "p",
      {},
      ...trNodes("The policy is the one this server publishes: compare its witnesses' keys with keys you trust, or verify with your own policy ({command}).", {
        command: el("code", {}, "claimledger verify --policy FILE"),
      }),
    ),
  );
  return parts;
}

function quorumParts(out, err) {
  out.dataset.policy = "server";
  out.dataset.quorum = err.quorum;
  out.dataset.witnesses = err.cosigners.join(" ");
  out.dataset.unchecked = err.unchecked.join(" ");
  const parts = [
    el(
      "p",
      {},
      tr("The checkpoint is below the quorum {quorum} of this server's witness policy, so the record is not verified. Cosigned (checked in your browser) by: {who}.", {
        quorum: err.quorum,
        who: err.cosigners.join(", ") || tr("no witness"),
      }),
    ),
    el("ul", { class: "witness-missing" }, ...err.missing.map((m) => el("li", {}, m))),
  ];
  if (err.unchecked.length) {
    parts.push(el("p", { class: "witness-unchecked" }, tr("Not checked: {who}:", { who: err.unchecked.join(", ") }), " ", ...mldsaNote(), "."));
  }
  parts.push(el("p", { class: "witness-detail" }, ...trNodes("In detail: {what}.", { what: engineWords(err.what) })));
  return parts;
}

/** The engine's own account of a failed check (verify.js): English, marked so (lang="en") when
 * the page is in another language. */
function engineWords(text) {
  return L10N ? el("span", { lang: "en" }, text) : text;
}

function showFailure(out, err, stream) {
  out.className = "verify-result failed";
  const located = err instanceof VerificationFailure;
  out.dataset.outcome = located ? "failed" : "error";
  const title = located ? tr("✖ Verification failed") : tr("✖ Could not check the record");
  const parts = [el("h3", {}, title)];
  if (located && err.index !== null) {
    const where = err.stream === "registry" ? tr("the registry of parties and keys") : tr("the record of {stream}", { stream: err.stream });
    out.dataset.index = String(err.index);
    out.dataset.position = String(err.position);
    out.dataset.stream = String(err.stream);
    parts.push(
      el("p", {}, ...trNodes("The entry at position {position} of {where} (log index {index}) does not check out: {what}.", {
        position: String(err.position),
        where,
        index: String(err.index),
        what: engineWords(err.what),
      })),
    );
    const target = document.getElementById(`entry-${err.index}`);
    if (target && err.stream === stream) {
      target.classList.add("failed-entry");
      parts.push(el("p", {}, el("a", { href: `#entry-${err.index}` }, tr("Show entry {index}", { index: err.index }))));
    }
  } else if (located && err instanceof QuorumError) {
    parts.push(...quorumParts(out, err));
  } else if (located) {
    parts.push(el("p", {}, engineWords(err.what), "."));
  } else {
    parts.push(el("p", {}, `${err.message}.`));
  }
  if (located && err.kind === "IncompleteRecordError") {
    parts.push(
      el(
        "p",
        {},
        tr("The server's copy of this record is not the whole record that the log's signed state counts: entries were left out or cut off."),
      ),
    );
  }
  if (located) {
    out.dataset.kind = err.kind;
    parts.push(
      el(
        "p",
        {},
        err.field ? tr("Check that failed: {kind} at {field}.", { kind: err.kind, field: err.field }) : tr("Check that failed: {kind}.", { kind: err.kind }),
        " ",
        tr("What this server shows for this company cannot be trusted until this is explained."),
      ),
    );
  }
  out.replaceChildren(...parts);
}

/** The page's one table of verdict wording (static/verdict-words.json, which the server's
 * templates read too): per state a label, what it means and what a parent can do next. */
let wordsOnce = null;
function verdictWords() {
  wordsOnce ??= get("/static/verdict-words.json", tr("the verdict wording")).then((r) => r.json()).then((w) => w.states)
    .catch((err) => {
      wordsOnce = null; // try again on the next click
      throw err;
    });
  return wordsOnce;
}

async function run(button) {
  const stream = button.dataset.stream;
  const genesisHash = button.dataset.genesis;
  const box = document.getElementById("verify-progress");
  const bar = document.getElementById("verify-bar");
  const phase = document.getElementById("verify-phase");
  const out = document.getElementById("verify-result");
  for (const old of document.querySelectorAll(".failed-entry")) old.classList.remove("failed-entry");
  for (const k of ["outcome", "index", "position", "stream", "kind", "ms", "history", "complete", "policy", "quorum", "witnesses", "unchecked"]) {
    delete out.dataset[k];
  }
  out.replaceChildren();
  button.disabled = true;
  button.setAttribute("aria-busy", "true");
  box.hidden = false;
  const started = performance.now();
  try {
    setProgress(bar, phase, PHASES.fetch, 0.02);
    const got = await fetchRecord(stream);
    setProgress(bar, phase, `${PHASES.fetch}: ${trn("{n} entry", "{n} entries", got.entries.length)}`, 0.2);
    const result = await verifyRecord(
      { entries: got.entries, state: got.state, checkpointNote: got.checkpointNote, logVkey: got.logVkey, genesisHash, stream },
      ({ phase: p, done, total }) => {
        const f = total ? done / total : 0;
        const at = p === "hash" ? 0.2 + 0.4 * f : p === "check" ? 0.6 + 0.4 * f : p === "done" ? 1 : 0.2;
        setProgress(bar, phase, total && p !== "done" ? `${PHASES[p] || p} (${tr("{done} of {total}", { done, total })})` : PHASES[p] || p, at);
      },
    );
    const [history, historyKind] = await checkAgainstTrusted(got.logVkey, result.size, result.root, { older: got.witness !== null });
    remember(got.logVkey, result.size, historyKind === "older-unproven" ? null : result.root);
    const seconds = (performance.now() - started) / 1000;
    setProgress(bar, phase, PHASES.done, 1);
    showOk(out, result, stream, got, seconds, (await verdictWords()).key_compromised);
    out.querySelector("ul").before(...witnessParts(out, got, result.size));
    const reconciled = reconciliationPart(result, stream);
    if (reconciled) out.querySelector("ul").after(reconciled);
    if (history) {
      out.querySelector("ul").append(el("li", historyKind === "older-unproven" ? { class: "flag" } : {}, tr("History: {history}.", { history })));
      out.dataset.history = historyKind;
    }
    out.dataset.ms = String(Math.round(result.ms));
  } catch (err) {
    setProgress(bar, phase, tr("Stopped"), bar.value / 100);
    showFailure(out, err, stream);
  } finally {
    out.dataset.totalMs = String(Math.round(performance.now() - started));
    button.disabled = false;
    button.removeAttribute("aria-busy");
    button.textContent = tr("Verify again");
    out.setAttribute("tabindex", "-1");
    out.focus();
  }
}

const button = document.getElementById("verify-button");
if (button) {
  button.hidden = false;
  button.addEventListener("click", () => run(button));
}
