"""The public pages at national scale: ``python -m bench.bench_pages``.

Generates (once, cached under ``--cache``, default ``/tmp/claimledger-bench-pages``) a SQLite
ledger with ``--companies`` registered companies (100,000 by default), each with one claim naming
one service of its own (so as many services), and a test and a verdict on every tenth claim;
and a small one with 1,000 companies made the same way. Generation goes through the normal write
path (``Ledger.submit_many`` in batches of 1,000: the registry entries pre-signed as one chain,
then the claims), and its time is reported (and remembered in the cache's ``meta.json``).

Then, with the pages on a real uvicorn server on 127.0.0.1, it measures:

* **home page** (``/``): bytes, server time (HTTP, median of ``--repeat``), and time to usable in
  headless Chromium at 390 x 844 px (navigation start to ``DOMContentLoaded`` and to ``load``,
  and the page's widest element ≤ 390 px), median of ``--repeat`` fresh loads;
* **search**: ``GET /v1/search?q=`` over HTTP, p50/p99 of ``--queries`` sequential queries
  (prefixes of 2-8 characters of real names, whole names, one-edit typos, misses), and the same
  queries in process (``Views.find_names``);
* **company page** (``/providers/{id}``): median server time for the same company shape among
  1,000 and among 100,000 companies (both servers up at once, asked in turn);
* ``/v1/scorecard`` (first page) and ``/compare`` with six services: bytes and server time.

The process runs with the collector settings of ``claimledger serve`` (``tune_gc``, and
``freeze_heap`` after each open), as the server does.

Targets (issue 15): home < 200 KB and < 1 s to usable; search p99 < 100 ms.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import random
import shutil
import socket
import statistics
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from api import create_app
from api.web import mount
from attest.entry import entry_hash, genesis_prev
from attest.statements import REGISTRY_STREAM
from bench._util import machine, run_like_the_shells, stamp
from bench._workload import (
    MEASURES,
    VERIFIER,
    VERIFIER_KEY,
    init_ledger,
    payload_digest,
    provider,
    provider_key,
    signed_envelope,
)
from ledger import Ledger
from tests.attest.examples import (
    AUTHORITY,
    example_accreditation_grant_body,
    example_claim_body,
    example_party_register_body,
    example_test_record_body,
    example_verdict_body,
)
from tests.attest.logbuilder import AUTHORITY_KEY, LOG_KEY, key

CHROMIUM = os.environ.get("CLAIMLEDGER_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"]
HOME_BYTES = 200_000
HOME_S = 1.0
SEARCH_P99_MS = 100.0
BATCH = 1000

_SYLLABLES = (
    "ka", "lo", "mi", "ne", "ro", "ta", "vi", "zu", "pe", "sa", "do", "fi", "gu", "ha", "ju",
    "bri", "clo", "dra", "fle", "glo", "kre", "plu", "stro", "twi", "vex", "zor", "nim", "pix",
    "lum", "kit", "ö", "é", "ä", "ny", "qua", "wen", "yar", "xel", "mor", "tek",
)  # fmt: skip
_KINDS = (
    "Chat",
    "Kids",
    "Video",
    "Games",
    "Cloud",
    "Play",
    "Social",
    "Messenger",
    "Live",
    "Photos",
)
_FORMS = ("Ltd", "GmbH", "Inc.", "SAS", "Oy", "AB", "S.L.", "B.V.")


def brand(i: int) -> str:
    """A made-up brand for company ``i`` (three syllables; some with accents)."""
    n = len(_SYLLABLES)
    a, b, c = i % n, (i // n) % n, (i // (n * n) + i) % n
    return (_SYLLABLES[a] + _SYLLABLES[b] + _SYLLABLES[c]).capitalize()


def service_name(i: int) -> str:
    """The service company ``i``'s claim names (unique: the index disambiguates repeats)."""
    return f"{brand(i)} {_KINDS[i % len(_KINDS)]} {i // 10_000}"


def company_name(i: int) -> str:
    """Company ``i``'s registered name."""
    return f"{brand(i)} {_FORMS[i % len(_FORMS)]}"


def _registry(start_prev: str, companies: int) -> Iterator[bytes]:
    prev = start_prev
    bodies: list[tuple[str, dict[str, Any]]] = [
        ("party.register", example_party_register_body(VERIFIER, "verifier", keys=[VERIFIER_KEY])),
        ("accreditation.grant", example_accreditation_grant_body(VERIFIER, list(MEASURES))),
    ]
    for kind, body in bodies:
        env = signed_envelope(kind, REGISTRY_STREAM, prev, AUTHORITY, body, key(AUTHORITY_KEY))
        prev = entry_hash(env).hex()
        yield env.to_bytes()
    for i in range(companies):
        body = example_party_register_body(provider(i), "provider", keys=[])
        body["keys"] = [provider_key(i).public_key.b64()]
        body["name"] = company_name(i)
        env = signed_envelope(
            "party.register", REGISTRY_STREAM, prev, AUTHORITY, body, key(AUTHORITY_KEY)
        )
        prev = entry_hash(env).hex()
        yield env.to_bytes()


def _records(companies: int) -> Iterator[bytes]:
    verifier_key = key(VERIFIER_KEY)
    for i in range(companies):
        name = provider(i)
        body = example_claim_body(MEASURES[i % len(MEASURES)])
        body["services"] = [service_name(i)]
        claim = signed_envelope(
            "claim.publish", name, genesis_prev(name), name, body, provider_key(i)
        )
        yield claim.to_bytes()
        if i % 10 == 0:
            digest = payload_digest(claim)
            test = signed_envelope(
                "test.record",
                name,
                entry_hash(claim).hex(),
                VERIFIER,
                example_test_record_body(digest),
                verifier_key,
            )
            yield test.to_bytes()
            verdict = signed_envelope(
                "verdict.issue",
                name,
                entry_hash(test).hex(),
                VERIFIER,
                example_verdict_body(digest, [payload_digest(test)]),
                verifier_key,
            )
            yield verdict.to_bytes()


def _submit(ledger: Ledger, envelopes: Iterator[bytes]) -> int:
    n = 0
    batch: list[bytes] = []

    def flush() -> None:
        results = ledger.submit_many(batch)
        bad = [r for r in results if isinstance(r, Exception)]
        if bad:
            raise SystemExit(f"workload refused: {bad[0]}")
        batch.clear()

    for env in envelopes:
        batch.append(env)
        n += 1
        if len(batch) == BATCH:
            flush()
    if batch:
        flush()
    return n


def generate(cache: Path, companies: int) -> dict[str, Any]:
    """The cached ledger of ``companies`` companies (made now if missing) and how it was made."""
    folder = cache / f"companies-{companies}"
    meta_file = folder / "meta.json"
    if meta_file.exists():
        meta: dict[str, Any] = json.loads(meta_file.read_text())
        meta["cached"] = True
        return meta
    folder.mkdir(parents=True, exist_ok=True)
    db = folder / "ledger.db"
    for leftover in folder.glob("ledger.db*"):
        leftover.unlink()
    url = f"sqlite:///{db}"
    t0 = time.perf_counter()
    ledger = init_ledger(url)
    try:
        start = ledger.head(REGISTRY_STREAM)[0]
        n = _submit(ledger, _registry(start, companies))
        n += _submit(ledger, _records(companies))
        size = ledger.size
    finally:
        ledger.close()
    meta = {
        "url": url,
        "companies": companies,
        "services": companies,
        "entries": size,
        "submitted": n,
        "generate_s": round(time.perf_counter() - t0, 1),
        "date": stamp(),
    }
    meta_file.write_text(json.dumps(meta, indent=1))
    meta["cached"] = False
    return meta


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@contextmanager
def serving(ledger: Ledger) -> Iterator[str]:
    """The app with the pages over ``ledger`` on a real uvicorn server on 127.0.0.1."""
    app = create_app(ledger)
    mount(app)
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def _ms(fn: Callable[[], Any]) -> float:
    t0 = time.perf_counter()
    fn()
    return (time.perf_counter() - t0) * 1000


def _get(http: httpx.Client, url: str) -> httpx.Response:
    # Every page and JSON answer is bound to the checkpoint (ETag): ask afresh each time.
    r = http.get(url, headers={"cache-control": "no-cache"})
    if r.status_code != 200:
        raise SystemExit(f"{url}: {r.status_code} {r.text[:200]}")
    return r


def _server_ms(http: httpx.Client, url: str, repeat: int) -> tuple[float, int]:
    size = len(_get(http, url).content)  # warm
    return statistics.median(_ms(lambda: _get(http, url)) for _ in range(repeat)), size


def queries(companies: int, n: int, seed: int = 15) -> list[str]:
    """A mix of what parents type: prefixes (2-8 characters), whole names, typos, misses."""
    rng = random.Random(seed)
    out = []
    for k in range(n):
        i = rng.randrange(companies)
        name = service_name(i) if k % 2 else company_name(i)
        kind = k % 5
        if kind in (0, 1):
            out.append(name[: rng.randint(2, 8)])
        elif kind == 2:
            out.append(name)
        elif kind == 3:
            word = name.split()[0]
            j = rng.randrange(1, len(word))
            out.append(word[:j] + word[j + 1 :])  # one letter left out
        else:
            out.append(rng.choice(("zzqx", "Nothing Like It", "qqqqqq")))
    return out


def _pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, round(p / 100 * (len(xs) - 1)))]


HOME_JS = """() => {
  const t = performance.getEntriesByType('navigation')[0];
  const widest = Math.max(document.documentElement.scrollWidth, document.body.scrollWidth);
  const q = document.getElementById('q');
  return {dcl: t.domContentLoadedEventEnd, load: t.loadEventEnd, bytes: t.transferSize,
          width: widest, search: !!q && q.getBoundingClientRect().width > 0};
}"""


def browser_home(base: str, repeat: int) -> dict[str, float]:
    """Median time to usable of ``/`` in headless Chromium at 390 x 844, fresh context each."""
    from playwright.sync_api import sync_playwright

    runs = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            for _ in range(repeat):
                context = browser.new_context(viewport={"width": 390, "height": 844})
                page = context.new_page()
                page.goto(f"{base}/", wait_until="load")
                runs.append(page.evaluate(HOME_JS))
                context.close()
        finally:
            browser.close()
    if not all(r["search"] for r in runs):
        raise SystemExit("the home page's search box is not shown")
    return {
        "dcl": statistics.median(r["dcl"] for r in runs),
        "load": statistics.median(r["load"] for r in runs),
        "width": max(r["width"] for r in runs),
    }


def _open(meta: dict[str, Any]) -> tuple[Ledger, float]:
    t0 = time.perf_counter()
    ledger = Ledger.open_to_serve(meta["url"], log_key=key(LOG_KEY))  # as the server opens
    return ledger, time.perf_counter() - t0


def measure(big: dict[str, Any], small: dict[str, Any], args: argparse.Namespace) -> dict[str, Any]:
    """Every figure on the big ledger; the company page on both, served at the same time and
    asked in turn (so that the machine's other work weighs on both alike)."""
    small_ledger, _ = _open(small)
    ledger, open_s = _open(big)
    out: dict[str, Any] = {"open_s": open_s}
    try:
        views = ledger.views
        with (
            serving(small_ledger) as small_base,
            serving(ledger) as base,
            httpx.Client(base_url=small_base, timeout=60) as small_http,
            httpx.Client(base_url=base, timeout=60) as http,
        ):
            company = f"/providers/{provider(10)}"  # a claim with a test and a verdict
            out["company_bytes"] = len(_get(http, company).content)
            _get(small_http, company)
            pairs = [
                (_ms(lambda: _get(small_http, company)), _ms(lambda: _get(http, company)))
                for _ in range(3 * args.repeat)
            ]
            out["company_small_ms"] = statistics.median(a for a, _ in pairs)
            out["company_ms"] = statistics.median(b for _, b in pairs)
            out["home_ms"], out["home_bytes"] = _server_ms(http, "/", args.repeat)
            out["card_ms"], out["card_bytes"] = _server_ms(http, "/v1/scorecard", args.repeat)
            step = max(big["companies"] // 6, 1)
            six = "&".join(
                f"s={provider(i)}/{service_name(i)}"
                for i in range(0, 6 * step, step)
                if i < big["companies"]
            )
            out["compare_ms"], out["compare_bytes"] = _server_ms(
                http, f"/compare?{six}", args.repeat
            )
            qs = queries(big["companies"], args.queries)
            found = 0
            http_ms = []
            for q in qs:
                t = time.perf_counter()
                r = http.get("/v1/search", params={"q": q})
                http_ms.append((time.perf_counter() - t) * 1000)
                found += bool(r.json()["results"])
            inproc = [_ms(functools.partial(views.find_names, q)) for q in qs]
            out["search_http"] = (_pct(http_ms, 50), _pct(http_ms, 99), max(http_ms))
            out["search_views"] = (_pct(inproc, 50), _pct(inproc, 99), max(inproc))
            out["search_found"] = found / len(qs)
            if not args.no_browser:
                out["browser"] = browser_home(base, args.repeat)
    finally:
        ledger.close()
        small_ledger.close()
    return out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--companies", type=int, default=100_000, help="companies (one service each)")
    ap.add_argument("--small", type=int, default=1_000, help="companies in the comparison ledger")
    ap.add_argument(
        "--cache", type=Path, default=Path(tempfile.gettempdir()) / "claimledger-bench-pages"
    )
    ap.add_argument("--repeat", type=int, default=9)
    ap.add_argument("--queries", type=int, default=1000)
    ap.add_argument("--no-browser", action="store_true", help="leave out the Chromium figures")
    ap.add_argument("--quick", action="store_true", help="tiny sizes in a fresh cache (smoke)")
    args = ap.parse_args(argv)
    if args.quick:
        args.companies, args.small, args.repeat, args.queries = 200, 20, 2, 40
        args.cache = Path(tempfile.mkdtemp(prefix="claimledger-bench-pages-quick-"))
        try:
            run(args)
        finally:
            shutil.rmtree(args.cache, ignore_errors=True)
    else:
        run(args)


def run(args: argparse.Namespace) -> None:
    """Generate (or reuse) both ledgers, measure, print."""
    gc_note = run_like_the_shells()

    big = generate(args.cache, args.companies)
    small = generate(args.cache, args.small)
    for m in (small, big):
        how = "cached, made" if m["cached"] else "made"
        print(
            f"ledger of {m['companies']:,} companies / {m['services']:,} services / "
            f"{m['entries']:,} entries: {how} in {m['generate_s']:.0f} s ({m['date']})"
        )
    r = measure(big, small, args)

    print(f"\n{stamp()} · {machine()} · Chromium {CHROMIUM} · {gc_note}")
    print(f"open (replay and re-verify {big['entries']:,} entries): {r['open_s']:.0f} s")
    home = f"home page /: {r['home_bytes'] / 1000:.1f} KB, server {r['home_ms']:.1f} ms"
    b = r.get("browser")
    if b is None:
        ok = r["home_bytes"] < HOME_BYTES
        print(f"{home} — {'meets' if ok else 'MISSES'} < 200 KB (no browser)")
    else:
        ok = r["home_bytes"] < HOME_BYTES and b["load"] / 1000 < HOME_S and b["width"] <= 390
        print(
            f"{home}; Chromium 390 px: DOMContentLoaded {b['dcl']:.0f} ms, load "
            f"{b['load']:.0f} ms, width {b['width']:.0f} px — "
            f"{'meets' if ok else 'MISSES'} < 200 KB, < 1 s"
        )
    sh, sv = r["search_http"], r["search_views"]
    print(
        f"search ({args.queries} queries, {r['search_found']:.0%} with results): HTTP p50 "
        f"{sh[0]:.1f} ms, p99 {sh[1]:.1f} ms, max {sh[2]:.1f} ms; in process p50 {sv[0]:.2f} ms, "
        f"p99 {sv[1]:.2f} ms, max {sv[2]:.2f} ms — "
        f"{'meets' if sh[1] < SEARCH_P99_MS else 'MISSES'} p99 < 100 ms"
    )
    print(
        f"company page: {r['company_small_ms']:.1f} ms among {args.small:,} companies, "
        f"{r['company_ms']:.1f} ms among {args.companies:,} ({r['company_bytes'] / 1000:.1f} KB)"
    )
    print(f"/v1/scorecard first page: {r['card_bytes'] / 1000:.1f} KB, {r['card_ms']:.1f} ms")
    print(f"/compare six services: {r['compare_bytes'] / 1000:.1f} KB, {r['compare_ms']:.1f} ms")


if __name__ == "__main__":
    main()
