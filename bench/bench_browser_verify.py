"""Browser verification of a 1,000-entry company record: ``python -m bench.bench_browser_verify``.

Builds (untimed) a ledger in a temporary folder whose provider has ``--entries`` entries in its
stream (claims, and a test and a verdict on every tenth claim: ``bench/_workload.py``), serves it
with the public pages on a real uvicorn server on 127.0.0.1, and times, in the same run:

* **browser, engine** — ``verifyBundle`` of ``api/web/static/verify.js`` in headless Chromium
  over the record already downloaded (every signature, chain link, rule and inclusion proof, and
  the checkpoint): the engine's own ``ms``;
* **browser, button** — the "Verify this record" button on the company's page, from the click to
  the result shown (downloads of the key, the checkpoint and the record included);
* **attest** — :func:`attest.verify_bundle` in this process over the same record (the bundle the
  button downloads), which is what ``claimledger verify --bundle`` runs;
* **CLI** — ``claimledger verify --bundle FILE --genesis HEX`` and
  ``claimledger verify STREAM --server URL --genesis HEX`` as subprocesses (wall time, Python
  start-up included).

Best of ``--repeat`` runs each. Target: the browser under 2 s for 1,000 entries.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import uvicorn

from api import create_app
from api.web import mount
from attest import verify_bundle
from bench._util import machine, stamp
from bench._workload import init_ledger, provider, register_parties, signed_entries
from ledger import Ledger, export_bundle

CHROMIUM = os.environ.get("CLAIMLEDGER_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"]
TARGET_S = 2.0

ENGINE_JS = """async () => {
  const V = await import('/static/verify.js');
  const stream = document.getElementById('verify-button').dataset.stream;
  const genesisHash = document.getElementById('verify-button').dataset.genesis;
  const text = async (u) => (await fetch(u, {cache: 'no-store'})).text();
  // The record as a v2 bundle holds it: its entries, the checkpoint they are proved under, and
  // the state proof that the stream and its parties' records are whole (SPEC §10, §11).
  const r = await V.verifyBundle(await text('/v1/streams/' + stream + '/bundle'), {genesisHash});
  return {ms: r.ms, entries: r.entries};
}"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _build(url: str, entries: int) -> None:
    ledger = init_ledger(url)
    try:
        register_parties(ledger, 1)
        batch = list(signed_entries(entries, 1))
        for start in range(0, len(batch), 500):
            results = ledger.submit_many(batch[start : start + 500])
            bad = [r for r in results if isinstance(r, Exception)]
            if bad:
                raise SystemExit(f"workload refused: {bad[0]}")
    finally:
        ledger.close()


def _best(fn: Callable[[], float], repeat: int) -> float:
    return min(fn() for _ in range(repeat))


def _timed(fn: Callable[[], Any]) -> float:
    t0 = time.perf_counter()
    fn()
    return (time.perf_counter() - t0) * 1000


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--entries", type=int, default=1000, help="entries in the company's stream")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args(argv)

    from playwright.sync_api import sync_playwright

    tmp = Path(tempfile.mkdtemp(prefix="claimledger-bench-browser-"))
    url = f"sqlite:///{tmp / 'bench.db'}"
    try:
        t0 = time.perf_counter()
        _build(url, args.entries)
        print(f"built {args.entries} company entries in {time.perf_counter() - t0:.1f} s (untimed)")
        from tests.attest.logbuilder import LOG_KEY, key

        ledger = Ledger.open(url, log_key=key(LOG_KEY))
        stream = provider(0)
        genesis = (ledger.state.genesis_hash or b"").hex()
        bundle = export_bundle(ledger, stream)
        bundle_file = tmp / "record.bundle.json"
        bundle_file.write_bytes(bundle)
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
        base = f"http://127.0.0.1:{port}"
        try:
            record = verify_bundle(bundle, genesis_hash=bytes.fromhex(genesis))
            n = len(record.entries)
            attest_ms = _best(
                lambda: _timed(lambda: verify_bundle(bundle, genesis_hash=bytes.fromhex(genesis))),
                args.repeat,
            )
            env = {**os.environ, "CLAIMLEDGER_CONFIG_DIR": str(tmp / "cli-config")}
            cli = [sys.executable, "-m", "cli"]

            def run_cli(*extra: str) -> float:
                t = time.perf_counter()
                subprocess.run([*cli, *extra], check=True, env=env, capture_output=True)  # noqa: S603
                return (time.perf_counter() - t) * 1000

            cli_bundle_ms = _best(
                lambda: run_cli("verify", "--bundle", str(bundle_file), "--genesis", genesis, "-q"),
                args.repeat,
            )
            cli_server_ms = _best(
                lambda: run_cli("verify", stream, "--server", base, "--genesis", genesis, "-q"),
                args.repeat,
            )

            profile = tmp / "chromium"
            with sync_playwright() as pw:
                context = pw.chromium.launch_persistent_context(
                    str(profile), executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
                )
                try:
                    page = context.new_page()
                    page.goto(f"{base}/providers/{stream}")
                    engine = [page.evaluate(ENGINE_JS) for _ in range(args.repeat)]
                    engine_ms = min(float(r["ms"]) for r in engine)
                    checked = int(engine[0]["entries"])
                    button = []
                    for _ in range(args.repeat):
                        page.goto(f"{base}/providers/{stream}")
                        page.click("#verify-button")
                        page.wait_for_selector("#verify-result[data-outcome]", timeout=60_000)
                        outcome = page.get_attribute("#verify-result", "data-outcome")
                        if outcome != "ok":
                            raise SystemExit(f"browser verification failed: {outcome}")
                        button.append(
                            float(page.get_attribute("#verify-result", "data-total-ms") or "nan")
                        )
                    button_ms = min(button)
                finally:
                    context.close()
        finally:
            server.should_exit = True
            thread.join(timeout=10)
            ledger.close()

        print(f"\n{stamp()} · {machine()} · Chromium {CHROMIUM}")
        print(f"company record: {args.entries} entries of {stream} + registry = {checked} entries")
        if n != checked:
            print(f"(attest counted {n})")
        print(f"bundle: {len(bundle) / 1024:.0f} KiB\n")
        rows = [
            ("browser: verifyBundle (engine, bundle downloaded)", engine_ms),
            ("browser: 'Verify this record' click to result", button_ms),
            ("attest.verify_bundle (in process)", attest_ms),
            ("claimledger verify --bundle (subprocess)", cli_bundle_ms),
            ("claimledger verify STREAM --server (subprocess)", cli_server_ms),
        ]
        for name, ms in rows:
            print(f"  {name:<52} {ms / 1000:6.2f} s   {checked / ms * 1000:8.0f} entries/s")
        verdict = "meets" if button_ms / 1000 < TARGET_S else "MISSES"
        print(f"\nbrowser button {button_ms / 1000:.2f} s {verdict} the {TARGET_S:.0f} s target")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
