"""``monitor``: follow a log, verify everything it adds, report what changes for some companies.

A monitor is a full verifier that keeps going (SPEC §8.3): it replays the log from its genesis
once, then, every ``--interval`` seconds, fetches the newest checkpoint, checks that it is
consistent with the last one it verified (an RFC 9162 consistency proof from the server, and its
own tree), verifies every new entry — signatures, rules, chains and the state root each leaf
commits to (SPEC §11) — and prints the new entries of the companies it watches. Any inconsistency
stops it with exit code 1 and one line naming what failed: it is the check that catches a log that
rewrote history or signed a false state.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from attest import (
    Checkpoint,
    LogVerifier,
    NoteVerifier,
    Placed,
    VerificationError,
    log_note_verifier,
    verify_consistency,
)
from attest.policy import Policy, verify_policy
from attest.statemap import subject
from cli._backend import Backend
from cli._common import backend_options, with_backend
from cli._config import TrustStore
from cli._errors import EXIT_FAILED, CliError
from cli._i18n import _
from cli._readcmds import load_policy
from cli._tilescmds import TilesBackend
from cli._verifying import checkpoint_size, trusted_checkpoint
from ledger._spill import SpillIndex

__all__ = ["monitor_cmd"]

_HELP = """Follow a log and verify everything it adds; print the new entries of COMPANY...

\b
  claimledger monitor --server URL                      every new entry
  claimledger monitor acme-social --server URL --ndjson  one company, as NDJSON
  claimledger monitor --server URL --once                verify up to now, print, exit
  claimledger monitor --server URL --policy P            follow the witness-cosigned checkpoints
  claimledger monitor --tiles URL                        follow a static tile export (tlog-tiles)

The first run replays the whole log from its genesis; later checkpoints must be consistent with
the last one verified (remembered with `verify`'s, in the config directory). An entry is printed
when it is in a watched company's stream or is a registry entry about that company (with no
COMPANY, every entry). Only entries after the last checkpoint remembered are printed.

With --policy FILE (a C2SP tlog-policy) the monitor follows the server's newest cosigned
checkpoint instead, and each must meet the policy's witness quorum: a checkpoint below quorum
stops it, as does one that no longer extends what the witnesses cosigned before.

\b
Exit codes:
  0  --once: everything verified
  1  verification failed: an inconsistent checkpoint (fork, rollback), a bad entry, a false
     state root; the failure is named
  2  usage, I/O or network error
"""


class _Follower:
    """The verifier state of one monitor run: entries fed so far, and what to print."""

    def __init__(
        self,
        backend: Backend,
        companies: frozenset[str],
        trusted: Checkpoint | None,
        emit: Callable[[Placed], None],
        genesis: bytes | None,
        policy: Policy | None = None,
    ) -> None:
        self.backend = backend
        self.policy = policy
        self.cosigners: list[str] = []
        self.companies = companies
        self.trusted = trusted
        self.emit = emit
        # A monitor runs for as long as the log grows: what grows with it is kept on disk.
        self.verifier = LogVerifier(genesis_hash=genesis, trusted=trusted, index=SpillIndex())
        self.checkpoint: Checkpoint | None = None
        self.note = b""

    def watched(self, placed: Placed) -> bool:
        if not self.companies:
            return True
        st = placed.signed.statement
        return st.stream in self.companies or subject(st) in self.companies

    def _cosigned(self) -> bytes:
        """The newest cosigned checkpoint, which must meet the policy's quorum."""
        assert self.policy is not None  # noqa: S101 - only called with a policy
        note = self.backend.cosigned_checkpoint()
        vkey = self.backend.log_vkey()
        witnessed = verify_policy(note, self.policy, logs=[NoteVerifier.from_vkey(vkey)])
        self.cosigners = [name for name, _ in witnessed.cosigners]
        return note

    def step(self) -> int:
        """Verify up to the server's newest checkpoint; return how many entries were new."""
        note = self.backend.checkpoint() if self.policy is None else self._cosigned()
        size = checkpoint_size(note)
        done = self.verifier.size
        if self.checkpoint is not None:
            if size < self.checkpoint.size:
                raise VerificationError(
                    f"the log shrank from {self.checkpoint.size} to {size} entries (rollback)"
                )
            if size == self.checkpoint.size and note == self.note:
                return 0
        for raw in self.backend.log_entries(done, size):
            placed = self.verifier.feed(raw)
            printable = self.trusted is None or placed.index >= self.trusted.size
            if printable and self.watched(placed):
                self.emit(placed)
        verified = self.verifier.finish(note)
        cp = verified.checkpoint
        previous = self.checkpoint or self.trusted
        if previous is not None and previous.size < cp.size:
            proof = self.backend.consistency_proof(previous.size, cp.size)
            try:
                verify_consistency(previous.size, cp.size, proof, previous.root, cp.root)
            except VerificationError as exc:
                raise VerificationError(
                    f"the server's consistency proof from size {previous.size} to {cp.size} "
                    f"does not verify: {exc.what}"
                ) from exc
        self.checkpoint, self.note = cp, note
        return cp.size - done


def _line(placed: Placed, ndjson: bool) -> str:
    st = placed.signed.statement
    row: dict[str, Any] = {
        "index": placed.index,
        "stream": st.stream,
        "position": placed.position,
        "kind": str(st.kind),
        "signer": st.signer,
        "digest": placed.signed.digest.hex(),
        "logTimeMs": placed.log_time_ms,
    }
    if ndjson:
        return json.dumps(row, sort_keys=True)
    when = dt.datetime.fromtimestamp(placed.log_time_ms / 1000, dt.UTC)
    return (
        f"{when:%Y-%m-%dT%H:%M:%SZ}  #{placed.index:<6} {st.stream:<24} {st.kind!s:<22} "
        f"by {st.signer}  {placed.signed.digest.hex()[:16]}"
    )


@click.command("monitor", help=_HELP)
@click.argument("companies", nargs=-1)
@backend_options
@click.option("--once", is_flag=True, help="Verify up to the newest checkpoint, print, and exit.")
@click.option(
    "--interval",
    type=click.FloatRange(0.1, 86400),
    default=10.0,
    show_default=True,
    help="Seconds between polls.",
)
@click.option(
    "--polls", type=click.IntRange(1), default=None, help="Stop after this many polls (tests)."
)
@click.option("--ndjson", is_flag=True, help="One JSON object per entry.")
@click.option("--genesis", metavar="HEX", help="The ledger fingerprint to require.")
@click.option(
    "--policy",
    "policy_file",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="A C2SP tlog-policy file: follow cosigned checkpoints that meet its quorum.",
)
@click.option(
    "--tiles",
    metavar="URL",
    help="Follow the C2SP tlog-tiles at URL (a static export) instead of --db/--server.",
)
def monitor_cmd(
    companies: tuple[str, ...],
    db: str | None,
    server: str | None,
    log_key: Path | None,
    once: bool,
    interval: float,
    polls: int | None,
    ndjson: bool,
    genesis: str | None,
    policy_file: Path | None,
    tiles: str | None,
) -> None:
    policy = None if policy_file is None else load_policy(policy_file)
    if tiles is not None:
        backend: Backend = TilesBackend(tiles)
        click.get_current_context().call_on_close(backend.close)
    else:
        backend = with_backend(db, server, log_key)
    store = TrustStore.load()
    vkey = backend.log_vkey()
    record = store.logs.get(vkey)
    before = store.sources.get(backend.source, {}).get("log")
    if record is None and before is not None and before in store.logs:
        vkey, record = before, store.logs[before]  # remembered before a log key rotation
    trusted = trusted_checkpoint(record, vkey)
    pin = bytes.fromhex(genesis) if genesis else None
    if pin is None and record is not None:
        pin = bytes.fromhex(str(record["genesis"]))

    def emit(placed: Placed) -> None:
        click.echo(_line(placed, ndjson))

    follower = _Follower(backend, frozenset(companies), trusted, emit, pin, policy)
    remaining = 1 if once else polls
    try:
        while True:
            follower.step()
            cp = follower.checkpoint
            assert cp is not None  # noqa: S101 - step() verified one
            # Remembered under the key that signed it: after a rotation (SPEC §7.6), the new one.
            vkey = log_note_verifier(follower.verifier.state, cp.size).vkey()
            store.logs[vkey] = {
                "note": follower.note.decode(),
                "size": cp.size,
                "genesis": (follower.verifier.state.genesis_hash or b"").hex(),
                "verifiedAt": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            }
            store.save()
            if not ndjson:
                root = base64.b64encode(cp.root).decode()
                witnesses = f", cosigned by {', '.join(follower.cosigners)}" if policy else ""
                click.echo(f"verified tree size {cp.size}, root {root}{witnesses}", err=True)
            if remaining is not None:
                remaining -= 1
                if remaining == 0:
                    return
            time.sleep(interval)
    except VerificationError as exc:
        where = ", ".join(
            f"{k} {v}"
            for k, v in (("stream", exc.stream), ("position", exc.position), ("index", exc.index))
            if v is not None
        )
        raise CliError(
            (
                _("monitor: verification FAILED at %(where)s: %(what)s")
                if where
                else _("monitor: verification FAILED: %(what)s")
            )
            % {"where": where, "what": exc.what},
            EXIT_FAILED,
        ) from exc
