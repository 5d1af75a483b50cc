"""HTTP ingest through a real uvicorn server: ``python -m bench.bench_http``.

Starts ``uvicorn api:app_from_env --factory`` on 127.0.0.1 (a free port) over a fresh SQLite ledger
with the workload's parties registered, configured the way ``claimledger serve`` runs it (h11,
asyncio loop, access log at ``info``), and next to it, started the same way, a trivial FastAPI app
(``bench.bench_http:trivial_app``). Then, in the same run, it prints:

* the baseline: ``GET /ping`` of the trivial app from 16 concurrent keep-alive clients (requests/s),
  and ``GET /healthz`` of the ledger app (its middleware and dependencies, no ledger work);
* sustained ``POST /v1/entries`` of pre-signed envelopes from 16 concurrent clients, each owning
  its own provider streams (so chains never conflict): entries/s and receipt latency p50/p99
  (target: ≥ 0.5x the trivial endpoint's rate, p50 < 50 ms);
* ``POST /v1/entries:batch`` in batches of 256: entries/s next to ``Ledger.submit_many`` in the
  same batches, in this process, on another fresh ledger (target: ≥ 0.7x);

and for each phase the CPU per request of the server process and of this (client) process: the
load generator shares the machine's cores with the server. Load goes to 127.0.0.1 only; every
phase is bounded by a request count and a deadline, and the servers are stopped at the end.
"""

from __future__ import annotations

import argparse
import http.client
import importlib.util
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from attest.dsse import Envelope
from bench._util import machine, run_like_the_shells, stamp
from bench._workload import init_ledger, register_parties, signed_entries
from tests.attest.logbuilder import LOG_KEY, key

HOST = "127.0.0.1"
PASSPHRASE = "bench passphrase"  # noqa: S105 - a throwaway key file in a temporary directory
REPO = Path(__file__).resolve().parent.parent


def trivial_app() -> Any:
    """The baseline: a FastAPI app with one trivial endpoint (a uvicorn factory)."""
    from fastapi import FastAPI

    app = FastAPI()

    @app.get("/ping")
    async def ping() -> dict[str, str]:
        return {"status": "ok"}

    return app


# -- servers -------------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class Server:
    """A uvicorn process on 127.0.0.1."""

    proc: subprocess.Popen[bytes]
    port: int
    log: Path

    @classmethod
    def start(cls, target: str, env: dict[str, str], log: Path) -> Server:
        port = _free_port()
        with log.open("wb") as out:
            proc = subprocess.Popen(  # noqa: S603 - a fixed argv, no shell
                [
                    sys.executable,
                    "-m",
                    "uvicorn",
                    target,
                    "--factory",
                    "--host",
                    HOST,
                    "--port",
                    str(port),
                    "--log-level",
                    "info",
                ],
                cwd=REPO,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        server = cls(proc, port, log)
        server._wait()
        return server

    def _wait(self) -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the server exited:\n{self.log.read_text()}")
            conn = http.client.HTTPConnection(HOST, self.port, timeout=1)
            try:
                conn.request("GET", "/openapi.json")
                if conn.getresponse().status == 200:
                    return
            except OSError:  # not listening yet, or slow to answer: its socket is closed too
                time.sleep(0.1)
            finally:
                conn.close()
        self.stop()
        raise RuntimeError(f"the server did not answer in 30 s:\n{self.log.read_text()}")

    def _children(self) -> list[int]:
        """Running child processes of the server (its signature workers, if any)."""
        out = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == self.proc.pid:
                out.append(int(entry.name))
        return out

    def cpu_seconds(self) -> tuple[float, float]:
        """(user, system) CPU time of the server process and its running children so far."""
        tick = os.sysconf("SC_CLK_TCK")
        user = system = 0.0
        for pid in [self.proc.pid, *self._children()]:
            try:
                with open(f"/proc/{pid}/stat", encoding="ascii") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue  # the child ended
            user += int(fields[11]) / tick
            system += int(fields[12]) / tick
        return user, system

    def thread_cpu(self) -> dict[str, float]:
        """CPU seconds of the server's threads so far: the event loop's (the main thread), the
        others' (the ledger's sequencer, the threadpool, the opener's; Python does not name OS
        threads), and those of its child processes (the signature workers that open envelopes).
        """
        out = {"event loop": 0.0, "other threads": 0.0, "worker processes": 0.0}
        tick = os.sysconf("SC_CLK_TCK")
        for task in Path(f"/proc/{self.proc.pid}/task").iterdir():
            try:
                fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue  # the thread ended
            name = "event loop" if task.name == str(self.proc.pid) else "other threads"
            out[name] += (int(fields[11]) + int(fields[12])) / tick
        for pid in self._children():
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            out["worker processes"] += (int(fields[11]) + int(fields[12])) / tick
        return out

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


# -- load ----------------------------------------------------------------------------------------

Request = tuple[str, str, bytes | None, dict[str, str]]
Check = Callable[[int, bytes], int]
"""Checks one response (status, body) and returns how many entries it carried."""


@dataclass
class Phase:
    """What a phase measured."""

    requests: int = 0
    items: int = 0
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    server_cpu: float = 0.0
    server_sys: float = 0.0
    threads: dict[str, float] = field(default_factory=dict)
    client_cpu: float = 0.0
    errors: list[str] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.items / self.seconds

    def pct(self, q: float) -> float:
        xs = sorted(self.latencies)
        return xs[min(len(xs) - 1, int(q * len(xs)))] * 1000

    def thread_note(self, per: int) -> str:
        """The server's CPU per request (or entry) by thread."""
        parts = sorted(self.threads.items(), key=lambda kv: -kv[1])
        return ", ".join(f"{name} {cpu / per * 1e6:,.0f} us" for name, cpu in parts if cpu > 0)

    def cpu_note(self) -> str:
        return (
            f"CPU per request: server {self.server_cpu / self.requests * 1e6:,.0f} us "
            f"({self.server_sys / self.requests * 1e6:,.0f} system), "
            f"client {self.client_cpu / self.requests * 1e6:,.0f} us"
        )


def run_phase(
    server: Server,
    per_client: Sequence[Sequence[Request]],
    check: Check,
    *,
    warm: int,
    deadline_s: float,
    profile: str | None = None,
) -> Phase:
    """Each client (a thread with one keep-alive connection) sends its requests in order.

    The first ``warm`` requests of each client are sent before the clock starts. Stops at the
    deadline even if requests are left.
    """
    phase = Phase()
    lock = threading.Lock()
    barrier = threading.Barrier(len(per_client) + 1)
    stop_at = [float("inf")]

    def client(reqs: Sequence[Request]) -> None:
        conn = http.client.HTTPConnection(HOST, server.port, timeout=60)
        lat: list[float] = []
        items = done = 0
        errors: list[str] = []

        def send(req: Request) -> int:
            method, path, body, headers = req
            t0 = time.perf_counter()
            conn.request(method, path, body, headers)
            r = conn.getresponse()
            data = r.read()
            lat.append(time.perf_counter() - t0)
            return check(r.status, data)

        try:
            for req in reqs[:warm]:
                send(req)
        except Exception as exc:
            errors.append(repr(exc))
        lat.clear()
        barrier.wait()
        try:
            for req in reqs[warm:]:
                if time.perf_counter() > stop_at[0]:
                    break
                items += send(req)
                done += 1
        except Exception as exc:
            errors.append(repr(exc))
        finally:
            conn.close()
        with lock:
            phase.latencies += lat
            phase.items += items
            phase.requests += done
            phase.errors += errors

    threads = [threading.Thread(target=client, args=(r,), daemon=True) for r in per_client]
    for t in threads:
        t.start()
    spy = None if profile is None else _py_spy(server, profile)
    barrier.wait()
    cpu0, scpu0, t0 = time.process_time(), server.cpu_seconds(), time.perf_counter()
    tcpu0 = server.thread_cpu()
    stop_at[0] = t0 + deadline_s
    for t in threads:
        t.join(deadline_s + 120)
    phase.seconds = time.perf_counter() - t0
    phase.client_cpu = time.process_time() - cpu0
    user, system = server.cpu_seconds()
    phase.server_cpu = user + system - sum(scpu0)
    phase.server_sys = system - scpu0[1]
    for name, cpu in server.thread_cpu().items():
        phase.threads[name] = cpu - tcpu0.get(name, 0.0)
    if spy is not None:
        spy.send_signal(signal.SIGINT)
        spy.wait(timeout=60)
    if phase.errors:
        raise RuntimeError(f"{len(phase.errors)} clients failed; first: {phase.errors[0]}")
    return phase


def _py_spy(server: Server, out: str) -> subprocess.Popen[bytes]:
    """``py-spy record`` of the server (collapsed stacks, GIL-holding threads only) until SIGINT."""
    exe = Path(sys.executable).with_name("py-spy")
    cmd = [str(exe), "record", "--pid", str(server.proc.pid), "--rate", "250", "--gil"]
    cmd += ["--format", "raw", "--output", out]
    spy = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # noqa: S603
    time.sleep(1.0)  # attach before the clock starts
    return spy


def _ok(status: int, body: bytes) -> int:
    if status != 200:
        raise RuntimeError(f"status {status}: {body[:300]!r}")
    return 1


def _created(status: int, body: bytes) -> int:
    if status != 201:
        raise RuntimeError(f"status {status}: {body[:300]!r}")
    return 1


def _batch_ok(status: int, body: bytes) -> int:
    if status != 200:
        raise RuntimeError(f"status {status}: {body[:300]!r}")
    out = orjson.loads(body)
    if out["rejected"]:
        bad = next(r for r in out["results"] if "problem" in r)
        raise RuntimeError(f"{out['rejected']} rejected; first: {bad}")
    accepted: int = out["accepted"]
    return accepted


# -- the workload --------------------------------------------------------------------------------

JSON = {"content-type": "application/json"}


def _stream(envelope: bytes) -> str:
    stream: str = orjson.loads(Envelope.parse_stored(envelope).payload)["stream"]
    return stream


def by_client(envelopes: Sequence[bytes], clients: int) -> list[list[bytes]]:
    """Split envelopes over clients by stream, keeping each stream's order."""
    owner: dict[str, int] = {}
    out: list[list[bytes]] = [[] for _ in range(clients)]
    for e in envelopes:
        s = _stream(e)
        c = owner.setdefault(s, len(owner) % clients)
        out[c].append(e)
    return out


def library_batch_rate(envelopes: Sequence[bytes], providers: int, batch: int, tmp: Path) -> float:
    """``Ledger.submit_many`` in batches, in this process, on a fresh SQLite ledger (entries/s)."""
    with init_ledger(f"sqlite:///{tmp / 'library.db'}") as ledger:
        register_parties(ledger, providers)
        t0 = time.perf_counter()
        for k in range(0, len(envelopes), batch):
            out = ledger.submit_many(envelopes[k : k + batch])
            bad = [r for r in out if isinstance(r, Exception)]
            assert not bad, bad[0]
        return len(envelopes) / (time.perf_counter() - t0)


def _stack() -> str:
    """The HTTP parser and event loop uvicorn picks by default (``auto``) in this environment."""
    http_impl = "httptools" if importlib.util.find_spec("httptools") else "h11"
    loop = "uvloop" if importlib.util.find_spec("uvloop") else "asyncio"
    return f"({http_impl}, {loop})"


def _verdict(ratio: float, target: float) -> str:
    return "met" if ratio >= target else "NOT met"


def main(argv: Sequence[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--quick", action="store_true", help="tiny sizes (smoke test)")
    ap.add_argument("--clients", type=int, default=16)
    ap.add_argument("--requests", type=int, default=20_000, help="trivial-endpoint requests")
    ap.add_argument("--single", type=int, default=4_000, help="entries sent one per request")
    ap.add_argument("--batched", type=int, default=8_192, help="entries sent in batches")
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--batch-clients", type=int, default=1)
    ap.add_argument("--providers", type=int, default=48)
    ap.add_argument("--deadline", type=float, default=120.0, help="seconds per phase, at most")
    ap.add_argument(
        "--open-workers",
        type=int,
        metavar="N",
        help="CLAIMLEDGER_OPEN_WORKERS of the ledger server: worker processes that open single "
        "submissions (0: in the event loop; default: the server's default)",
    )
    ap.add_argument(
        "--py-spy",
        metavar="PREFIX",
        help="record the ledger server with py-spy (collapsed stacks) to PREFIX-<phase>.txt",
    )
    args = ap.parse_args(argv)
    if args.quick:
        args.requests, args.single, args.batched, args.batch = 400, 120, 120, 40
        args.clients, args.providers, args.deadline = 4, 8, 60.0
    warm = 2 if args.quick else 20

    def spy(phase: str) -> str | None:
        return None if args.py_spy is None else f"{args.py_spy}-{phase}.txt"

    print(f"# bench_http — {stamp()} — {machine()}")
    print(run_like_the_shells())
    print(f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    t0 = time.perf_counter()
    envelopes = list(signed_entries(args.single + args.batched, args.providers))
    avg = sum(len(e) for e in envelopes) / len(envelopes)
    print(
        f"pre-signed {len(envelopes):,} envelopes over {args.providers} providers in "
        f"{time.perf_counter() - t0:.1f} s (avg {avg:,.0f} bytes)"
    )
    singles, batched = envelopes[: args.single], envelopes[args.single :]

    with tempfile.TemporaryDirectory(prefix="claimledger-bench-http-") as tmp_name:
        tmp = Path(tmp_name)
        lib = library_batch_rate(envelopes[: args.batched], args.providers, args.batch, tmp)
        print(f"library: Ledger.submit_many, batches of {args.batch} (baseline): {lib:8,.0f} /s")

        url = f"sqlite:///{tmp / 'server.db'}"
        with init_ledger(url) as ledger:
            register_parties(ledger, args.providers)
        keyfile = tmp / "log.key"
        key(LOG_KEY).save(keyfile, PASSPHRASE.encode())
        env = {k: v for k, v in os.environ.items() if not k.startswith("CLAIMLEDGER_")}
        env.update(
            CLAIMLEDGER_DB=url,
            CLAIMLEDGER_LOG_KEY=str(keyfile),
            CLAIMLEDGER_PASSPHRASE=PASSPHRASE,
            PYTHONPATH=os.pathsep.join([str(REPO), *filter(None, [os.environ.get("PYTHONPATH")])]),
        )
        if args.open_workers is not None:
            env["CLAIMLEDGER_OPEN_WORKERS"] = str(args.open_workers)
        servers: list[Server] = []
        try:
            trivial = Server.start("bench.bench_http:trivial_app", env, tmp / "trivial.log")
            servers.append(trivial)
            api = Server.start("api:app_from_env", env, tmp / "api.log")
            servers.append(api)
            print(
                f"servers: uvicorn {_stack()}, log level info (access log on), "
                f"pids {trivial.proc.pid} (trivial) and {api.proc.pid} (ledger), "
                f"CLAIMLEDGER_OPEN_WORKERS={env.get('CLAIMLEDGER_OPEN_WORKERS', 'unset')}"
            )

            n = args.clients
            per = (args.requests + warm * n) // n
            ping = run_phase(
                trivial,
                [[("GET", "/ping", None, {})] * per] * n,
                _ok,
                warm=warm,
                deadline_s=args.deadline,
            )
            print(
                f"trivial GET /ping, {n} clients (baseline): {ping.rate:8,.0f} /s  "
                f"p50 {ping.pct(0.5):.1f} ms  p99 {ping.pct(0.99):.1f} ms  ({ping.cpu_note()})"
            )
            health = run_phase(
                api,
                [[("GET", "/healthz", None, {})] * per] * n,
                _ok,
                warm=warm,
                deadline_s=args.deadline,
                profile=spy("healthz"),
            )
            print(
                f"ledger app GET /healthz, {n} clients: {health.rate:8,.0f} /s  "
                f"({health.rate / ping.rate:.2f}x)  p50 {health.pct(0.5):.1f} ms  "
                f"({health.cpu_note()})"
            )

            reqs = [
                [("POST", "/v1/entries", e, JSON) for e in mine] for mine in by_client(singles, n)
            ]
            single = run_phase(
                api, reqs, _created, warm=warm, deadline_s=args.deadline, profile=spy("single")
            )
            ratio = single.rate / ping.rate
            print(
                f"POST /v1/entries, {n} clients: {single.rate:8,.0f} entries/s  ({ratio:.2f}x "
                f"trivial; target >= 0.5x: {_verdict(ratio, 0.5)})  "
                f"({single.requests:,} timed requests)"
            )
            p50 = single.pct(0.5)
            print(
                f"POST /v1/entries receipt latency: p50 {p50:.1f} ms  p99 {single.pct(0.99):.1f} "
                f"ms  (target p50 < 50 ms: {'met' if p50 < 50 else 'NOT met'})  "
                f"({single.cpu_note()})"
            )
            print(
                f"POST /v1/entries server CPU per entry by thread: "
                f"{single.thread_note(single.requests)}"
            )

            bc = args.batch_clients
            breqs = []
            for mine in by_client(batched, bc):
                chunks = [mine[k : k + args.batch] for k in range(0, len(mine), args.batch)]
                breqs.append(
                    [
                        ("POST", "/v1/entries:batch", b"[" + b",".join(c) + b"]", JSON)
                        for c in chunks
                    ]
                )
            batch = run_phase(
                api, breqs, _batch_ok, warm=0, deadline_s=args.deadline, profile=spy("batch")
            )
            ratio = batch.rate / lib
            print(
                f"POST /v1/entries:batch, batches of {args.batch}, {bc} client(s): "
                f"{batch.rate:8,.0f} entries/s  ({ratio:.2f}x library; target >= 0.7x: "
                f"{_verdict(ratio, 0.7)})  p50 {batch.pct(0.5):.0f} ms per batch  "
                f"(CPU per entry: server {batch.server_cpu / batch.items * 1e6:,.0f} us "
                f"({batch.server_sys / batch.items * 1e6:,.0f} system), "
                f"client {batch.client_cpu / batch.items * 1e6:,.0f} us)"
            )
            print(
                f"POST /v1/entries:batch server CPU per entry by thread: "
                f"{batch.thread_note(batch.items)}"
            )
        finally:
            for s in servers:
                s.stop()
    print(f"load average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
