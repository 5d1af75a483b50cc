"""The state commitment and completeness proofs (issue 14): ``python -m bench.bench_completeness``.

Three parts, every figure next to what it is compared with, measured in the same run:

1. **The map** — :meth:`attest.statemap.StateMap.set` at k keys (an update of a key already there,
   as when a stream's head moves, and an insertion of a new key), the map proof's length in
   hashes (mean and max over present keys: the O(log k) claim) and its verification, next to one
   SHA-256 of a map node's preimage (the unit the update is made of).
2. **What the commitment adds per entry** — a realistic log (``bench/_workload.py``'s signed
   claims, tests and verdicts over many providers) replayed by :class:`attest.rules.LogState` as
   it is and by a subclass whose ``_commit`` does nothing (the benchmark's counterfactual only),
   interleaved, in CPU time (these runs are long; on a shared machine CPU time is less
   disturbed by others' load than wall time). The difference is the commitment's cost per
   entry, given as a share of

   * full verification per entry (:class:`attest.verify.LogVerifier`, one process, with and
     without the commitment), and
   * ingest per entry, in CPU time of this process and of the signature workers, wall time
     beside it (``Ledger.submit_many`` in batches of 256 on a fresh SQLite file, with
     ``LogState._commit`` patched out *in this process* for the "off" runs: that ledger stores
     wrong state roots, so it lives in a throwaway file that is never reopened).

   Target: the commitment under 10 % of ingest.
3. **Bundles do not grow with the registry** — ledgers with 50 … 50,000 registered providers and
   one fixed company record (11 entries: 8 claims, a test record and a verdict by one verifier, a
   reply); for each: ``export_bundle`` time, bundle bytes and entries, ``attest.verify_bundle``
   (best of N) and, unless ``--no-browser``, ``verifyBundle`` of ``api/web/static/verify.js`` in
   headless Chromium (the page served by the real app on 127.0.0.1, as ``bench_browser_verify``
   does). Target: ≤ 1.5x from the smallest registry to the largest.

``--quick``: tiny sizes, few repeats (the smoke test; nothing is asserted about the figures).
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import hashlib
import os
import random
import shutil
import socket
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from attest.bundle import Bundle, verify_bundle
from attest.dsse import Envelope
from attest.entry import LogEntry, entry_hash, genesis_prev
from attest.rules import LogState, Placed
from attest.statemap import StateMap, verify_map_proof
from attest.statements import REGISTRY_STREAM, Statement
from attest.verify import LogVerifier
from bench._util import machine, run_like_the_shells, stamp
from bench._workload import (
    MEASURES,
    VERIFIER,
    VERIFIER_KEY,
    init_ledger,
    provider,
    provider_key,
    signed_entries,
    signed_envelope,
)
from keys import PrivateKey
from ledger import Ledger, export_bundle
from tests.attest.examples import (
    AUTHORITY,
    example_accreditation_grant_body,
    example_claim_body,
    example_party_register_body,
    example_provider_reply_body,
    example_test_record_body,
    example_verdict_body,
)
from tests.attest.logbuilder import AUTHORITY_KEY, key

CHROMIUM = os.environ.get("CLAIMLEDGER_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"]
INGEST_TARGET = 0.10
BUNDLE_TARGET = 1.5
BATCH = 256
REGISTER_BATCH = 1024

# verifyBundle on bundle text already in the page; the import is outside the clock.
BROWSER_JS = """async ([text, genesisHash, repeat]) => {
  const V = await import('/static/verify.js');
  const times = [];
  let r = null;
  for (let i = 0; i < repeat; i++) {
    const t0 = performance.now();
    r = await V.verifyBundle(text, {genesisHash});
    times.push(performance.now() - t0);
  }
  return {first: times[0], best: Math.min(...times), ok: r.ok === true,
          complete: r.complete === true, entries: r.entries};
}"""


def _load() -> str:
    one, five, _ = os.getloadavg()
    return f"load average {one:.2f} / {five:.2f}"


def _best_us(fn: Callable[[], object], n: int, rounds: int) -> float:
    """Microseconds per call of ``fn``: ``n`` calls per round, best of ``rounds`` rounds."""
    best = float("inf")
    for _ in range(rounds):
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        best = min(best, time.perf_counter() - t0)
    return best / n * 1e6


def _best_ms(fn: Callable[[], object], rounds: int) -> float:
    best = float("inf")
    for _ in range(rounds):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best * 1000


# -- 1. the map ------------------------------------------------------------------------------


def _map_key(i: int) -> bytes:
    return hashlib.sha256(b"claimledger bench map key %d" % i).digest()


def bench_map(sizes: Sequence[int], n: int, rounds: int) -> dict[int, float]:
    """Print the map's update, insertion and proof figures at each size; return µs per update."""
    pre = b"claimledger:v2:map-node\x00"
    a, b = bytes(32), bytes(range(32))
    sha_us = _best_us(lambda: hashlib.sha256(pre + a + b).digest(), 20 * n, rounds)
    print(f"baseline: one SHA-256 of a map node's preimage (88 bytes): {sha_us:.2f} us")
    print(
        f"{'k':>9} {'build us/key':>13} {'update us':>10} {'(SHA-256s)':>10} {'insert us':>10} "
        f"{'proof mean':>10} {'proof max':>9} {'verify us':>10}"
    )
    out: dict[int, float] = {}
    rng = random.Random(14)
    value = bytes(48)
    for k in sizes:
        gc.collect()
        keys = [_map_key(i) for i in range(k)]
        t0 = time.perf_counter()
        m = StateMap.build((x, value) for x in keys)
        build_us = (time.perf_counter() - t0) / k * 1e6
        sample = rng.sample(keys, min(n, k))
        fresh = [_map_key(k + i) for i in range(n)]
        values = [i.to_bytes(48, "big") for i in range(len(sample))]

        def updates(
            m: StateMap = m, sample: list[bytes] = sample, values: list[bytes] = values
        ) -> None:
            for x, v in zip(sample, values, strict=True):
                m = m.set(x, v)

        def inserts(m: StateMap = m, fresh: list[bytes] = fresh) -> None:
            for x in fresh:
                m = m.set(x, value)

        update_us = _best_us(updates, 1, rounds) / len(sample)
        insert_us = _best_us(inserts, 1, rounds) / len(fresh)
        proofs = [m.prove(x) for x in sample]
        lengths = [len(p.siblings) for p in proofs]
        root = m.root()
        pairs = list(zip(sample, proofs, strict=True))

        def verifies(pairs: list[Any] = pairs, root: bytes = root) -> None:
            for x, p in pairs:
                verify_map_proof(root, x, p)

        verify_us = _best_us(verifies, 1, rounds) / len(pairs)
        print(
            f"{k:>9,} {build_us:>13.1f} {update_us:>10.1f} {update_us / sha_us:>10.1f} "
            f"{insert_us:>10.1f} {sum(lengths) / len(lengths):>10.1f} {max(lengths):>9} "
            f"{verify_us:>10.1f}"
        )
        out[k] = update_us
        del m, keys, proofs, pairs
    gc.collect()
    return out


# -- signing helpers -------------------------------------------------------------------------


def _provider_body(i: int) -> dict[str, Any]:
    body = example_party_register_body(provider(i), "provider", keys=[])
    body["keys"] = [provider_key(i).public_key.b64()]
    return body


def _registrations(ledger: Ledger, providers: range) -> list[bytes]:
    """The verifier's registration and accreditation, then ``providers``' registrations, signed
    by the authority as one chain from the registry's current head (before any submission)."""
    bodies: list[tuple[str, dict[str, Any]]] = [
        ("party.register", example_party_register_body(VERIFIER, "verifier", keys=[VERIFIER_KEY])),
        ("accreditation.grant", example_accreditation_grant_body(VERIFIER, list(MEASURES))),
    ]
    bodies += [("party.register", _provider_body(i)) for i in providers]
    prev = ledger.head(REGISTRY_STREAM)[0]
    authority = key(AUTHORITY_KEY)
    out: list[bytes] = []
    for kind, body in bodies:
        env = signed_envelope(kind, REGISTRY_STREAM, prev, AUTHORITY, body, authority)
        prev = entry_hash(env).hex()
        out.append(env.to_bytes())
    return out


def _submit(ledger: Ledger, envelopes: Sequence[bytes], batch: int) -> None:
    for k in range(0, len(envelopes), batch):
        results = ledger.submit_many(envelopes[k : k + batch])
        bad = [r for r in results if isinstance(r, Exception)]
        if bad:
            raise SystemExit(f"workload refused: {bad[0]}")


def _company_record() -> list[bytes]:
    """Provider 0's record: 8 claims, a test record and a verdict by the verifier, a reply."""
    name, k, verifier = provider(0), provider_key(0), key(VERIFIER_KEY)
    prev = genesis_prev(name)
    out: list[Envelope] = []

    def add(kind: str, signer: str, body: dict[str, Any], sk: PrivateKey) -> str:
        nonlocal prev
        env = signed_envelope(kind, name, prev, signer, body, sk)
        prev = entry_hash(env).hex()
        out.append(env)
        return hashlib.sha256(env.payload).hexdigest()

    claim = ""
    for i in range(8):
        claim = add("claim.publish", name, example_claim_body(MEASURES[i % len(MEASURES)]), k)
    test = add("test.record", VERIFIER, example_test_record_body(claim), verifier)
    verdict = add("verdict.issue", VERIFIER, example_verdict_body(claim, [test]), verifier)
    add("provider.reply", name, example_provider_reply_body(verdict), k)
    return [e.to_bytes() for e in out]


# -- 2. what the commitment adds per entry ---------------------------------------------------


class _NoCommitment(LogState):
    """:class:`LogState` without the state commitment: the benchmark's counterfactual only."""

    __slots__ = ()

    def _commit(self, st: Statement, index: int, length: int, ehash: bytes) -> None:
        return None


@contextlib.contextmanager
def _commitment_off() -> Iterator[None]:
    """Patch the commitment out of every :class:`LogState` in this process, for a while."""
    original = LogState._commit
    LogState._commit = _NoCommitment._commit  # type: ignore[method-assign, assignment]
    try:
        yield
    finally:
        LogState._commit = original  # type: ignore[method-assign]


@dataclass
class _Ingest:
    wall_us: float
    cpu_us: float  # this process: the caller and the sequencer
    workers_us: float  # the SignaturePool's worker processes (opening envelopes)

    @property
    def total_us(self) -> float:
        return self.cpu_us + self.workers_us


def _children_cpu_s() -> float:
    """CPU seconds used so far by this process's live child processes (the pool's workers)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for task in Path("/proc/self/task").iterdir():
        with contextlib.suppress(OSError):
            for pid in (task / "children").read_text().split():
                with contextlib.suppress(OSError):
                    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
                    total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / tick


def _ingest_once(
    tmp: Path, tag: str, workload: Sequence[bytes], providers: int, keep: bool
) -> tuple[_Ingest, list[LogEntry], bytes]:
    """Ingest ``workload`` into a fresh SQLite ledger (parties registered untimed)."""
    path = tmp / f"ingest-{tag}.db"
    ledger = init_ledger(f"sqlite:///{path}")
    try:
        # >= 128 registrations per call: the ledger's pool starts here, outside the clock.
        _submit(ledger, _registrations(ledger, range(providers)), REGISTER_BATCH)
        gc.collect()
        w0, c0, t0 = _children_cpu_s(), time.process_time(), time.perf_counter()
        _submit(ledger, workload, BATCH)
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        workers = _children_cpu_s() - w0
        raws = list(ledger.iter_log()) if keep else []
        note = ledger.checkpoint() if keep else b""
    finally:
        ledger.close()
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
    n = len(workload)
    return _Ingest(wall / n * 1e6, cpu / n * 1e6, workers / n * 1e6), raws, note


def _replay_us(placed: Sequence[Placed], first: int, cls: type[LogState]) -> float:
    """CPU µs per entry of ``admit`` for ``placed[first:]`` (the earlier ones applied untimed)."""
    state = cls()
    for p in placed[:first]:
        state.admit(p)
    t0 = time.process_time()
    for p in placed[first:]:
        state.admit(p)
    return (time.process_time() - t0) / (len(placed) - first) * 1e6


def _verify_us(raws: Sequence[LogEntry], first: int, commitment: bool, note: bytes) -> float:
    """CPU µs per entry of :meth:`LogVerifier.feed` for ``raws[first:]``, one process."""
    v = LogVerifier()
    if not commitment:
        # Without the commitment the stored state roots cannot match: feed none (the
        # verifier then uses its own, empty, root; the comparison skipped is one bytes ==).
        v.state = _NoCommitment()
        raws = [replace(r, state_root=None) for r in raws]
    for r in raws[:first]:
        v.feed(r)
    t0 = time.process_time()
    for r in raws[first:]:
        v.feed(r)
    us = (time.process_time() - t0) / (len(raws) - first) * 1e6
    if commitment:
        v.finish(note)  # it verified, against the ledger's own checkpoint
    return us


@dataclass
class _PerEntry:
    providers: int
    keys: int
    commit_us: float
    verify_on: float
    verify_off: float
    ingest_on: _Ingest
    ingest_off: _Ingest


def bench_per_entry(
    tmp: Path, entries: int, providers: int, repeat: int, replay_repeat: int
) -> _PerEntry:
    t0 = time.perf_counter()
    workload = list(signed_entries(entries, providers))
    print(
        f"\n## {entries:,} entries over {providers:,} providers (signed in "
        f"{time.perf_counter() - t0:.1f} s, untimed); {_load()}"
    )
    # Ingest, interleaved: on/off, then off/on, ...
    on: list[_Ingest] = []
    off: list[_Ingest] = []
    raws: list[LogEntry] = []
    note = b""
    for r in range(repeat):
        for variant in ("on", "off") if r % 2 == 0 else ("off", "on"):
            tag = f"{providers}-{r}-{variant}"
            if variant == "on":
                got, rr, nn = _ingest_once(tmp, tag, workload, providers, keep=not raws)
                on.append(got)
                if rr:
                    raws, note = rr, nn
            else:
                with _commitment_off():
                    got, _, _ = _ingest_once(tmp, tag, workload, providers, keep=False)
                off.append(got)
    ingest_on = min(on, key=lambda i: i.total_us)
    ingest_off = min(off, key=lambda i: i.total_us)
    first = len(raws) - len(workload)  # genesis and registrations: applied untimed

    # Open every entry once (untimed): what the rules replay.
    opener = LogVerifier()
    placed = [opener.feed(r) for r in raws]
    opener.finish(note)
    keys = opener.state.state_map.size
    replay_on: list[float] = []
    replay_off: list[float] = []
    for r in range(replay_repeat):
        pair = ((LogState, replay_on), (_NoCommitment, replay_off))
        for cls, out in pair if r % 2 == 0 else pair[::-1]:
            gc.collect()
            out.append(_replay_us(placed, first, cls))
    del placed, opener
    verify_on: list[float] = []
    verify_off: list[float] = []
    for r in range(repeat):
        vpair = ((True, verify_on), (False, verify_off))
        for commitment, vout in vpair if r % 2 == 0 else vpair[::-1]:
            gc.collect()
            vout.append(_verify_us(raws, first, commitment, note))
    commit_us = min(replay_on) - min(replay_off)
    res = _PerEntry(
        providers, keys, commit_us, min(verify_on), min(verify_off), ingest_on, ingest_off
    )
    print(
        f"log: {len(raws):,} entries ({first:,} genesis + registry, untimed; {len(workload):,} "
        f"timed), state map at the end: {keys:,} keys; best of {replay_repeat} (replay) and "
        f"{repeat} (verify, ingest), interleaved; {_load()}"
    )
    print(
        f"  replay (LogState.admit), CPU us/entry: with commitment {min(replay_on):6.1f}, "
        f"without {min(replay_off):6.1f}  -> commitment {commit_us:5.1f} us/entry"
    )
    print(
        f"  full verification (LogVerifier.feed, one process), CPU us/entry: with "
        f"{res.verify_on:6.1f}, without {res.verify_off:6.1f} "
        f"(difference {res.verify_on - res.verify_off:5.1f}); "
        f"commitment share {commit_us / res.verify_on:.1%}"
    )
    i_on, i_off = ingest_on, ingest_off
    print(
        f"  ingest (submit_many, batches of {BATCH}, SQLite), us/entry: with: CPU "
        f"{i_on.total_us:6.1f} ({i_on.cpu_us:.1f} ledger process + {i_on.workers_us:.1f} "
        f"workers), wall {i_on.wall_us:6.1f}; without: CPU {i_off.total_us:6.1f} "
        f"({i_off.cpu_us:.1f} + {i_off.workers_us:.1f}), wall {i_off.wall_us:6.1f}"
    )
    share = commit_us / i_on.total_us
    verdict = "met" if share < INGEST_TARGET else "NOT met"
    print(
        f"  commitment share of ingest: {share:.1%} of its CPU per entry "
        f"(target < {INGEST_TARGET:.0%}: {verdict} at k = {keys:,}); "
        f"{commit_us / i_on.cpu_us:.1%} of the ledger process's CPU, "
        f"{commit_us / i_on.wall_us:.1%} of wall time; measured directly, with - without: "
        f"CPU {i_on.total_us - i_off.total_us:+.1f}, ledger process "
        f"{i_on.cpu_us - i_off.cpu_us:+.1f} us/entry"
    )
    print(
        "  (the runs 'without' patch LogState._commit out in this process: their ledgers store "
        "wrong state roots, so each was a throwaway file, deleted unopened)"
    )
    return res


# -- 3. bundles against the registry's size --------------------------------------------------


@dataclass
class _BundleRow:
    parties: int
    build_s: float
    log_size: int
    registry_bytes: int
    export_ms: float
    bundle_bytes: int
    entries: int
    map_siblings: int
    inclusion: int
    verify_ms: float
    browser_first_ms: float | None = None
    browser_best_ms: float | None = None


def _build_company_ledger(path: Path, parties: int) -> tuple[Ledger, float, float]:
    """A ledger with ``parties`` registered providers (provider 0 is the company) and the
    company's record; returns it, the seconds spent signing and the seconds in all."""
    t0 = time.perf_counter()
    ledger = init_ledger(f"sqlite:///{path}")
    regs = _registrations(ledger, range(parties))
    company = _company_record()
    signing = time.perf_counter() - t0
    _submit(ledger, regs, REGISTER_BATCH)
    _submit(ledger, company, BATCH)
    return ledger, signing, time.perf_counter() - t0


def _serve(ledger: Ledger) -> tuple[Any, threading.Thread, str]:
    import uvicorn

    from api import create_app
    from api.web import mount

    app = create_app(ledger)
    mount(app)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    return server, thread, f"http://127.0.0.1:{port}"


def _in_browser(
    context: Any, base: str, stream: str, text: str, genesis: str, repeat: int
) -> tuple[float, float]:
    """(best of ``repeat`` fresh pages' first call, best of ``repeat`` calls in one page), ms."""
    firsts: list[float] = []
    best = float("inf")
    page = context.new_page()
    try:
        for _ in range(repeat):
            page.goto(f"{base}/providers/{stream}")  # a fresh document: the engine's key caches
            r = page.evaluate(BROWSER_JS, [text, genesis, 1])
            if not (r["ok"] and r["complete"]):
                raise SystemExit(f"the browser did not verify the bundle: {r}")
            firsts.append(float(r["first"]))
        r = page.evaluate(BROWSER_JS, [text, genesis, repeat])
        best = float(r["best"])
    finally:
        page.close()
    return min(firsts), best


def _one_bundle(tmp: Path, parties: int, rounds: int, context: Any) -> _BundleRow:
    stream = provider(0)
    path = tmp / f"bundle-{parties}.db"
    ledger, signing, build = _build_company_ledger(path, parties)
    print(
        f"built {parties:,} parties + the company's record in {build:.1f} s "
        f"({signing:.1f} s of it signing; untimed); {_load()}"
    )
    try:
        genesis = ledger.state.genesis_hash or b""
        bundle = export_bundle(ledger, stream)
        export_ms = _best_ms(lambda: export_bundle(ledger, stream), rounds)
        record = verify_bundle(bundle, genesis_hash=genesis)
        verify_ms = _best_ms(lambda: verify_bundle(bundle, genesis_hash=genesis), rounds)
        parsed = Bundle.parse(bundle)
        registry = ledger.stream_entries(REGISTRY_STREAM)
        row = _BundleRow(
            parties=parties,
            build_s=build,
            log_size=ledger.size,
            registry_bytes=sum(len(e.envelope) for e in registry),
            export_ms=export_ms,
            bundle_bytes=len(bundle),
            entries=len(record.entries),
            map_siblings=max(len(p.proof.siblings) for p in parsed.state.records),
            inclusion=max(len(e.inclusion_proof) for e in parsed.entries),
            verify_ms=verify_ms,
        )
        print(
            f"  bundle verified: {row.entries} entries "
            f"({record.counts()['entries']} of the company's stream), {row.bundle_bytes:,} bytes"
        )
        if context is not None:
            server, thread, base = _serve(ledger)
            try:
                row.browser_first_ms, row.browser_best_ms = _in_browser(
                    context, base, stream, bundle.decode(), genesis.hex(), rounds
                )
            finally:
                server.should_exit = True
                thread.join(timeout=10)
            print(f"  browser verifyBundle verified it too ({row.browser_first_ms:.1f} ms)")
        return row
    finally:
        ledger.close()
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)


def bench_bundles(tmp: Path, sizes: Sequence[int], rounds: int, browser: bool) -> list[_BundleRow]:
    with contextlib.ExitStack() as stack:
        context: Any = None
        if browser:
            from playwright.sync_api import sync_playwright

            pw = stack.enter_context(sync_playwright())
            context = pw.chromium.launch_persistent_context(
                str(tmp / "chromium"), executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
            )
            stack.callback(context.close)
        return [_one_bundle(tmp, parties, rounds, context) for parties in sizes]


def _print_bundles(rows: Sequence[_BundleRow], rounds: int) -> None:
    print(
        f"\n{'parties':>8} {'log size':>9} {'registry (v1 would carry)':>26} {'export ms':>9} "
        f"{'bundle bytes':>12} {'entries':>7} {'map proof':>9} {'incl. proof':>11} "
        f"{'verify_bundle ms':>16} {'browser ms (fresh/warm)':>23}"
    )
    for r in rows:
        browser = (
            "—"
            if r.browser_first_ms is None or r.browser_best_ms is None
            else f"{r.browser_first_ms:.1f} / {r.browser_best_ms:.1f}"
        )
        print(
            f"{r.parties:>8,} {r.log_size:>9,} {r.registry_bytes / 1024:>22,.0f} KiB "
            f"{r.export_ms:>9.2f} {r.bundle_bytes:>12,} {r.entries:>7} {r.map_siblings:>9} "
            f"{r.inclusion:>11} {r.verify_ms:>16.2f} {browser:>23}"
        )
    lo, hi = rows[0], rows[-1]
    figures: list[tuple[str, float, float]] = [
        ("bundle bytes", lo.bundle_bytes, hi.bundle_bytes),
        ("verify_bundle time", lo.verify_ms, hi.verify_ms),
        ("export_bundle time", lo.export_ms, hi.export_ms),
    ]
    if lo.browser_first_ms is not None and hi.browser_first_ms is not None:
        figures.append(
            ("browser verifyBundle, fresh page", lo.browser_first_ms, hi.browser_first_ms)
        )
    if lo.browser_best_ms is not None and hi.browser_best_ms is not None:
        figures.append(("browser verifyBundle, warm", lo.browser_best_ms, hi.browser_best_ms))
    print(f"(times: best of {rounds}) {hi.parties:,} vs {lo.parties:,} parties:")
    for name, a, b in figures:
        ratio = b / a
        target = (
            ""
            if name.startswith("export")
            else (f"  target <= {BUNDLE_TARGET}x: {'met' if ratio <= BUNDLE_TARGET else 'NOT met'}")
        )
        print(f"  {name}: {ratio:.2f}x{target}")


def main(argv: Sequence[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--quick", action="store_true", help="tiny sizes (smoke test)")
    ap.add_argument("--no-browser", action="store_true", help="skip headless Chromium")
    ap.add_argument("--entries", type=int, default=20_000)
    ap.add_argument("--providers", type=int, nargs="+", default=[2_000, 10_000])
    ap.add_argument("--parties", type=int, nargs="+", default=[50, 500, 5_000, 50_000])
    ap.add_argument("--repeat", type=int, default=3, help="interleaved ingest/verify repeats")
    args = ap.parse_args(argv)
    map_sizes = [1_000, 10_000, 100_000, 200_000]
    n, rounds, replay_repeat, bundle_rounds = 2_000, 7, 7, 20
    if args.quick:
        args.entries, args.providers, args.parties, args.repeat = 300, [20], [5, 20], 1
        map_sizes, n, rounds, replay_repeat, bundle_rounds = [100, 1_000], 100, 2, 2, 2
    print(f"# bench_completeness — {stamp()} — {machine()}")
    print(run_like_the_shells())
    print(_load())

    print("\n# 1. the state map: StateMap.set, proofs (O(log k))")
    update_us = bench_map(map_sizes, n, rounds)

    tmp = Path(tempfile.mkdtemp(prefix="claimledger-bench-completeness-"))
    try:
        print("\n# 2. what the commitment adds per entry")
        results = [
            bench_per_entry(tmp, args.entries, p, args.repeat, replay_repeat)
            for p in args.providers
        ]
        largest = max(update_us)
        worst = results[-1]
        near = min(update_us, key=lambda k: abs(k - worst.keys))
        extra = update_us[largest] - update_us[near]
        estimate = (worst.commit_us + extra) / worst.ingest_on.total_us
        print(
            f"\nestimate at k = {largest:,} (not measured through the ledger): the commitment "
            f"measured at {worst.providers:,} providers plus what one map update costs more at "
            f"k = {largest:,} than at k = {near:,} ({extra:+.1f} us) would be "
            f"{estimate:.1%} of that ingest's CPU per entry ({worst.ingest_on.total_us:.1f} us)"
        )

        print("\n# 3. bundles against the registry's size (one fixed 11-entry company record)")
        rows = bench_bundles(tmp, args.parties, bundle_rounds, browser=not args.no_browser)
        _print_bundles(rows, bundle_rounds)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"\nend: {_load()}")


if __name__ == "__main__":
    main()
