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
//
// The outcome is written to #verify-result with data-outcome="ok" | "failed" | "error" and, on a
// located failure, data-index / data-position / data-stream / data-kind (the tests read these).

import {
  VerificationFailure,
  b64decode,
  fromHex,
  parseCheckpoint,
  parseNote,
  verifyConsistency,
  verifyRecord,
} from "./verify.js";

const PHASES = {
  fetch: "Downloading the record",
  parse: "Reading the entries",
  hash: "Checking signatures and proofs",
  check: "Replaying the rules, entry by entry",
  done: "Done",
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

async function get(url, what) {
  let response;
  try {
    response = await fetch(url, { cache: "no-store", credentials: "omit" });
  } catch (err) {
    throw new FetchProblem(`could not download ${what}: ${err.message}`);
  }
  if (!response.ok) {
    let detail = "";
    try {
      const problem = await response.json();
      detail = problem.detail || problem.title || "";
    } catch {
      // not a problem+json body
    }
    throw new FetchProblem(`could not download ${what}: HTTP ${response.status}${detail ? ` (${detail})` : ""}`);
  }
  return response;
}

function checkpointSize(note) {
  return parseCheckpoint(parseNote(note).text).size;
}

/** Fetch the key, a checkpoint and the record, retrying if the log grew between the requests. */
async function download(stream) {
  const enc = encodeURIComponent(stream);
  const logVkey = (await (await get("/v1/log/key", "the log key")).text()).trim();
  for (let attempt = 0; attempt < 3; attempt++) {
    const [noteResponse, bundleResponse] = await Promise.all([
      get("/v1/log/checkpoint", "the latest checkpoint"),
      get(`/v1/streams/${enc}/bundle`, "the company's record"),
    ]);
    const checkpointNote = await noteResponse.text();
    const bundleText = await bundleResponse.text();
    let bundle;
    try {
      bundle = JSON.parse(bundleText);
    } catch {
      throw new VerificationFailure("EncodingError", "the company record is not JSON");
    }
    if (bundle === null || typeof bundle !== "object" || !Array.isArray(bundle.entries)) {
      throw new VerificationFailure("EncodingError", "the company record has no entries");
    }
    if (bundle.stream !== stream) {
      throw new VerificationFailure("VerificationError", `the server sent the record of ${JSON.stringify(bundle.stream)}, not of ${JSON.stringify(stream)}`);
    }
    // The proofs are for the bundle's tree size; use the fetched checkpoint if it is for that
    // size (it is checked, signature and root, by the engine). A different size means the log
    // grew in between: fetch both again.
    if (checkpointSize(checkpointNote) === checkpointSize(String(bundle.checkpoint))) {
      return { logVkey, checkpointNote, entries: bundle.entries, state: bundle.state, bytes: bundleText.length };
    }
  }
  throw new FetchProblem("the log kept growing while the record was downloaded; try again");
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

async function checkAgainstTrusted(logVkey, size, root) {
  const t = trustedFor(logVkey);
  const rewritten = (why) =>
    new VerificationFailure(
      "ProofError",
      `the log is not consistent with the checkpoint this browser verified on ${t.at} ` +
        `(${t.size} entries): ${why}`,
    );
  if (t === null) return "";
  if (size < t.size) throw rewritten("it now has fewer entries (history was rolled back)");
  if (size === t.size) {
    if (t.root !== root) throw rewritten("the same size has another root (a fork)");
    return `the same checkpoint as on ${t.at}`;
  }
  const r = await get(`/v1/log/proof/consistency?from=${t.size}&to=${size}`, "a consistency proof");
  const proof = (await r.json()).hashes.map((h, k) => b64decode(h, `consistency proof hash ${k}`, "ProofError"));
  try {
    await verifyConsistency(t.size, size, proof, fromHex(t.root), fromHex(root));
  } catch (err) {
    throw rewritten(`history was rewritten (${err.what || err.message})`);
  }
  return `consistent with the checkpoint verified on ${t.at} (${t.size} entries)`;
}

function remember(logVkey, size, root) {
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

const plural = (n, one, many) => `${n} ${n === 1 ? one : many}`;

/** "3 claims, 1 test record, 1 verdict and no replies": what the company's record holds. */
function counted(kinds) {
  const n = (...names) => names.reduce((sum, k) => sum + (kinds[k] || 0), 0);
  const parts = [
    plural(n("claim.publish", "claim.supersede"), "claim", "claims"),
    plural(n("test.record"), "test record", "test records"),
    plural(n("verdict.issue"), "verdict", "verdicts"),
    plural(n("provider.reply"), "reply", "replies"),
  ];
  return `${parts.slice(0, -1).join(", ")} and ${parts.at(-1)}`;
}

function showOk(out, result, stream, got, seconds) {
  const company = result.heads[stream] || { head: "", length: 0 };
  const registry = result.entries - result.streamLength;
  out.className = "verify-result ok";
  out.dataset.outcome = "ok";
  out.dataset.complete = String(result.size);
  out.replaceChildren(
    el("h3", {}, "✔ Record verified in your browser"),
    el(
      "p",
      {},
      `Verified ${counted(result.kinds)} of this company: ${plural(result.streamLength, "entry", "entries")} ` +
        `of its record, and ${plural(registry, "registry entry", "registry entries")} about the parties they involve, ` +
        `in ${seconds.toFixed(2)} s. Every signature, every chain link, every rule and every inclusion proof holds, ` +
        "against a checkpoint signed by the log's key.",
    ),
    el(
      "p",
      {},
      `The record is complete at size ${result.size}: the log's signed state at that size counts exactly these ` +
        `${result.streamLength} entries of this company, and every key change and accreditation of the parties ` +
        "they involve; nothing was left out or cut off.",
    ),
    el(
      "ul",
      {},
      el("li", {}, "Checkpoint: ", `${result.size} entries, root `, el("code", { class: "hash" }, result.root)),
      el("li", {}, "Log key: ", el("code", { class: "hash" }, got.logVkey)),
      el("li", {}, "Ledger fingerprint: ", el("code", { class: "hash" }, result.genesisHash)),
      el("li", {}, "Latest entry of this company: ", el("code", { class: "hash" }, company.head)),
    ),
  );
}

function showFailure(out, err, stream) {
  out.className = "verify-result failed";
  const located = err instanceof VerificationFailure;
  out.dataset.outcome = located ? "failed" : "error";
  const title = located ? "✖ Verification failed" : "✖ Could not check the record";
  const parts = [el("h3", {}, title)];
  if (located && err.index !== null) {
    const where = err.stream === "registry" ? "the registry of parties and keys" : `the record of ${err.stream}`;
    out.dataset.index = String(err.index);
    out.dataset.position = String(err.position);
    out.dataset.stream = String(err.stream);
    parts.push(
      el("p", {}, `The entry at position ${err.position} of ${where} (log index ${err.index}) does not check out: ${err.what}.`),
    );
    const target = document.getElementById(`entry-${err.index}`);
    if (target && err.stream === stream) {
      target.classList.add("failed-entry");
      parts.push(el("p", {}, el("a", { href: `#entry-${err.index}` }, `Show entry ${err.index}`)));
    }
  } else if (located) {
    parts.push(el("p", {}, `${err.what}.`));
  } else {
    parts.push(el("p", {}, `${err.message}.`));
  }
  if (located && err.kind === "IncompleteRecordError") {
    parts.push(
      el(
        "p",
        {},
        "The server's copy of this record is not the whole record that the log's signed state counts: " +
          "entries were left out or cut off.",
      ),
    );
  }
  if (located) {
    out.dataset.kind = err.kind;
    parts.push(
      el(
        "p",
        {},
        `Check that failed: ${err.kind}${err.field ? ` at ${err.field}` : ""}. ` +
          "What this server shows for this company cannot be trusted until this is explained.",
      ),
    );
  }
  out.replaceChildren(...parts);
}

async function run(button) {
  const stream = button.dataset.stream;
  const genesisHash = button.dataset.genesis;
  const box = document.getElementById("verify-progress");
  const bar = document.getElementById("verify-bar");
  const phase = document.getElementById("verify-phase");
  const out = document.getElementById("verify-result");
  for (const old of document.querySelectorAll(".failed-entry")) old.classList.remove("failed-entry");
  for (const k of ["outcome", "index", "position", "stream", "kind", "ms", "history", "complete"]) delete out.dataset[k];
  out.replaceChildren();
  button.disabled = true;
  button.setAttribute("aria-busy", "true");
  box.hidden = false;
  const started = performance.now();
  try {
    setProgress(bar, phase, PHASES.fetch, 0.02);
    const got = await download(stream);
    setProgress(bar, phase, `${PHASES.fetch}: ${got.entries.length} entries`, 0.2);
    const result = await verifyRecord(
      { entries: got.entries, state: got.state, checkpointNote: got.checkpointNote, logVkey: got.logVkey, genesisHash, stream },
      ({ phase: p, done, total }) => {
        const f = total ? done / total : 0;
        const at = p === "hash" ? 0.2 + 0.4 * f : p === "check" ? 0.6 + 0.4 * f : p === "done" ? 1 : 0.2;
        setProgress(bar, phase, total && p !== "done" ? `${PHASES[p] || p} (${done} of ${total})` : PHASES[p] || p, at);
      },
    );
    const history = await checkAgainstTrusted(got.logVkey, result.size, result.root);
    remember(got.logVkey, result.size, result.root);
    const seconds = (performance.now() - started) / 1000;
    setProgress(bar, phase, PHASES.done, 1);
    showOk(out, result, stream, got, seconds);
    if (history) {
      out.querySelector("ul").append(el("li", {}, `History: ${history}.`));
      out.dataset.history = "consistent";
    }
    out.dataset.ms = String(Math.round(result.ms));
  } catch (err) {
    setProgress(bar, phase, "Stopped", bar.value / 100);
    showFailure(out, err, stream);
  } finally {
    out.dataset.totalMs = String(Math.round(performance.now() - started));
    button.disabled = false;
    button.removeAttribute("aria-busy");
    button.textContent = "Verify again";
    out.setAttribute("tabindex", "-1");
    out.focus();
  }
}

const button = document.getElementById("verify-button");
if (button) {
  button.hidden = false;
  button.addEventListener("click", () => run(button));
}
