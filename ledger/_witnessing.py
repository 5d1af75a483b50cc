"""The log's side of C2SP tlog-witness: have each new checkpoint cosigned by the policy's witnesses.

:class:`Witnessing` runs beside the sequencer, never in its path (receipts stay immediate and
log-signed). A background thread watches the log's size; for each new checkpoint it sends every
witness of the policy that has a URL (its *submission prefix*; one request per URL, so a witness
with an ML-DSA-44 and an Ed25519 key under one URL answers both lines at once) the add-checkpoint
request: ``old`` is the size that witness last cosigned (from its 409 ``text/x.tlog.size`` answer,
or from the newest cosigned checkpoint kept), with the consistency proof from the ledger. It
appends the cosignature lines of the policy's keys to the log's note (lines of other keys
are dropped), and when the note meets the policy's quorum
(:func:`attest.policy.verify_policy`) it keeps it (:meth:`ledger.Ledger.keep_cosigned`). A witness
that fails (down, slow, refusing) is logged and retried with exponential backoff; nothing it does
stops the ledger.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import httpx

from attest.checkpoint import Checkpoint, NoteSignature, note_signature_line, parse_note
from attest.cosignature import verify_cosignature
from attest.errors import VerificationError
from attest.policy import Policy, QuorumError, verify_policy
from attest.tlogwitness import (
    SIZE_CONTENT_TYPE,
    add_checkpoint_body,
    parse_cosignature_lines,
    parse_size,
)
from ledger._ledger import Ledger
from ledger.errors import LedgerError, StoreError

DELAYS_KEPT = 10_000
"""How many rounds' delays :attr:`Witnessing.delays` keeps: the newest (a server runs long)."""

__all__ = ["WitnessEndpoint", "Witnessing", "WitnessingError"]

_log = logging.getLogger("claimledger.witnessing")


class WitnessingError(LedgerError):
    """A witness policy cannot be used by this log (its key is not in it, or no witness URL)."""


@dataclass
class WitnessEndpoint:
    """One witness submission prefix and what the log knows of it (read it, do not change it).

    Attributes:
        url: the submission prefix (``<url>/add-checkpoint``).
        names: the policy names of the keys at this URL.
        size: the size this witness last cosigned, as far as the log knows.
        lines: the size and the cosignature lines of its last 200 answer, only those of the
            policy keys at this URL (other lines are dropped).
        failures: failures in a row (the backoff doubles with each).
        retry_at: when (monotonic) it is asked again after a failure.
        last_error: why it last failed.
        statuses: the HTTP statuses of its last 20 answers, oldest first.
    """

    url: str
    names: tuple[str, ...]
    size: int = 0
    lines: tuple[int, bytes] | None = None
    failures: int = 0
    retry_at: float = 0.0
    last_error: str = ""
    statuses: list[int] = field(default_factory=list)


class Witnessing:
    """The background thread that collects cosignatures for a ledger's checkpoints.

    Args:
        ledger: a writable ledger (it signs the checkpoints).
        policy: the server's tlog-policy; the log's own key must be one of its ``log`` lines.
        poll_s: how often the thread looks at the log's size.
        min_interval_s: the least time between two rounds of requests (witnesses rate-limit logs,
            ``qpd`` in their lists: 1 s is 86,400 a day).
        timeout_s: the HTTP timeout per request.
        backoff_s: the first and the largest delay before retrying a failing witness.
        client: an HTTP client to use (tests); by default one of its own.
    """

    def __init__(
        self,
        ledger: Ledger,
        policy: Policy,
        *,
        poll_s: float = 0.05,
        min_interval_s: float = 1.0,
        timeout_s: float = 10.0,
        backoff_s: tuple[float, float] = (1.0, 60.0),
        client: httpx.Client | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        by_url = self.check(ledger, policy)
        self._ledger = ledger
        self._policy = policy
        self._endpoints = [WitnessEndpoint(url, tuple(names)) for url, names in by_url.items()]
        self._poll_s = poll_s
        self._min_interval_s = min_interval_s
        self._backoff = backoff_s
        self._client = client or httpx.Client(timeout=timeout_s)
        self._own_client = client is None
        self._monotonic = monotonic
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._pool = ThreadPoolExecutor(
            max_workers=max(1, len(self._endpoints)), thread_name_prefix="witness-submit"
        )
        self._cosigned_size = 0
        self._seen: dict[int, float] = {}  # size -> when this thread first saw it
        self.delays: deque[float] = deque(maxlen=DELAYS_KEPT)
        """Seconds from a size seen to its cosigned note kept, for the newest rounds."""
        self.witnessed_beyond = 0
        """The largest size a witness answered that it cosigned beyond this log's checkpoint (0:
        none): the log's database was restored from an older backup, or this is a fork."""
        self._recover()

    @staticmethod
    def check(ledger: Ledger, policy: Policy) -> dict[str, list[str]]:
        """Check that ``ledger`` can be witnessed under ``policy``; the witness names by URL.

        Raises:
            WitnessingError: the ledger is read-only, its key is not one of the policy's logs,
                or no witness has a URL while the quorum needs one.
        """
        if not ledger.writable:
            raise WitnessingError("a read-only ledger signs no checkpoints for witnesses")
        own = ledger.note_verifier
        if not any(log.key.vkey() == own.vkey() for log in policy.logs):
            raise WitnessingError(
                f"the witness policy does not list this log's key ({own.vkey()}): add the line "
                f"'log {own.vkey()}'"
            )
        by_url: dict[str, list[str]] = {}
        for name, witness in policy.witnesses.items():
            if witness.url is not None:
                by_url.setdefault(witness.url.rstrip("/"), []).append(name)
        if not by_url and policy.quorum != "none":
            raise WitnessingError(
                "no witness in the policy has a URL (its submission prefix): nothing to ask"
            )
        return by_url

    def _recover(self) -> None:
        """Start from the newest cosigned checkpoint kept: its witnesses are at least there."""
        try:
            note = self._ledger.cosigned_checkpoint()
        except StoreError:
            _log.exception("cannot read the newest cosigned checkpoint")
            return
        if note is None:
            return
        try:
            text, _ = parse_note(note)
            size = Checkpoint.parse_body(text).size
        except VerificationError:
            return
        self._cosigned_size = size
        for endpoint in self._endpoints:
            for name in endpoint.names:
                try:
                    verify_cosignature(note, self._policy.witnesses[name].key)
                except VerificationError:
                    continue
                endpoint.size = size

    @property
    def endpoints(self) -> tuple[WitnessEndpoint, ...]:
        """The witnesses asked, one per URL, with what the log knows of each."""
        return tuple(self._endpoints)

    @property
    def cosigned_size(self) -> int:
        """The size of the newest cosigned checkpoint kept (0 if none)."""
        return self._cosigned_size

    def start(self) -> None:
        """Start the background thread."""
        self._thread = threading.Thread(target=self._run, name="witnessing", daemon=True)
        self._thread.start()

    def close(self) -> None:
        """Stop the thread (after the round in flight) and release its HTTP client."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self._pool.shutdown(wait=True)
        if self._own_client:
            self._client.close()

    def _run(self) -> None:
        last_round = float("-inf")
        while not self._stop.is_set():
            try:
                if self._ledger.size > self._cosigned_size:
                    wait = last_round + self._min_interval_s - self._monotonic()
                    if wait <= 0:
                        last_round = self._monotonic()
                        self.round()
                        continue
                    self._stop.wait(min(wait, self._poll_s))
                    continue
            except Exception:
                # Never let a witness, the network or a bug stop the ledger or this thread.
                _log.exception("witnessing round failed; retrying")
            self._stop.wait(self._poll_s)

    def round(self) -> bool:
        """Ask every due witness to cosign the current checkpoint; keep it if it meets quorum.

        Returns:
            Whether a cosigned checkpoint was kept.
        """
        note = self._ledger.checkpoint()
        text, _ = parse_note(note)
        cp = Checkpoint.parse_body(text)
        if cp.size <= self._cosigned_size:
            return False
        seen = self._seen.setdefault(cp.size, self._monotonic())
        if len(self._seen) > 1024:  # a witness down for long: keep the oldest sizes seen
            self._seen = dict(sorted(self._seen.items())[:512])
        now = self._monotonic()
        due = [
            e
            for e in self._endpoints
            if e.retry_at <= now and (e.lines is None or e.lines[0] != cp.size)
        ]
        list(self._pool.map(lambda e: self._submit(e, note, cp), due))
        lines = b"".join(
            e.lines[1] for e in self._endpoints if e.lines is not None and e.lines[0] == cp.size
        )
        cosigned = note + lines
        try:
            verified = verify_policy(cosigned, self._policy, logs=[self._ledger.note_verifier])
        except QuorumError as exc:
            _log.debug("checkpoint %d not yet cosigned to quorum: %s", cp.size, exc)
            return False
        except VerificationError:
            _log.exception("a cosigned checkpoint of size %d does not verify", cp.size)
            return False
        self._ledger.keep_cosigned(cosigned)
        self._cosigned_size = cp.size
        delay = self._monotonic() - seen
        self.delays.append(delay)
        self._seen = {s: t for s, t in self._seen.items() if s > cp.size}
        _log.info(
            "checkpoint %d cosigned by %s, %.3f s after the log signed it",
            cp.size,
            ", ".join(name for name, _ in verified.cosigners),
            delay,
        )
        return True

    def _submit(self, endpoint: WitnessEndpoint, note: bytes, cp: Checkpoint) -> None:
        """One add-checkpoint request (and one more after a 409 naming a usable size)."""
        for _ in range(2):
            old = endpoint.size
            if old > cp.size:
                self._beyond(endpoint, old, cp.size)
                return
            try:
                proof = self._ledger.consistency_proof(old, cp.size) if 0 < old < cp.size else []
                body = add_checkpoint_body(old, proof, note)
                response = self._client.post(endpoint.url + "/add-checkpoint", content=body)
            except (httpx.HTTPError, OSError) as exc:
                self._fail(endpoint, f"{type(exc).__name__}: {exc}")
                return
            endpoint.statuses.append(response.status_code)
            del endpoint.statuses[:-20]
            if response.status_code == 200:
                try:
                    lines = parse_cosignature_lines(note, response.content)
                    # Each policy key at this URL must have cosigned, and verify: one bad line
                    # would make the whole note fail the policy.
                    for name in endpoint.names:
                        verify_cosignature(
                            note + response.content, self._policy.witnesses[name].key
                        )
                except VerificationError as exc:
                    self._fail(endpoint, f"a 200 answer that does not verify: {exc}")
                    return
                endpoint.size = cp.size
                endpoint.lines = (cp.size, self._own_lines(endpoint, lines))
                endpoint.failures = 0
                endpoint.retry_at = 0.0
                return
            kind = response.headers.get("content-type", "").split(";")[0].strip()
            if response.status_code == 409 and kind == SIZE_CONTENT_TYPE:
                try:
                    endpoint.size = parse_size(response.content)
                except VerificationError as exc:
                    self._fail(endpoint, f"a malformed 409 answer: {exc}")
                    return
                _log.info("witness %s is at size %d; asking again", endpoint.url, endpoint.size)
                continue
            self._fail(endpoint, f"HTTP {response.status_code}: {response.text[:200]!r}")
            return
        self._fail(endpoint, "two 409 answers in a row")

    def _own_lines(self, endpoint: WitnessEndpoint, lines: Iterable[NoteSignature]) -> bytes:
        """The lines of the keys the policy trusts at this URL, which verified; the others go.

        tlog-witness: a client MUST ignore cosignatures from unknown keys. Kept, a line of a key
        the log does not know would be served for nothing, and a line claiming another policy
        witness's name and key id (which this URL is not trusted for) would make the whole note
        fail the policy: one witness could keep the log from ever reaching quorum.
        """
        trusted = {
            (key.name, key.key_id)
            for key in (self._policy.witnesses[name].key for name in endpoint.names)
        }
        return b"".join(
            note_signature_line(s.name, s.key_id, s.signature)
            for s in lines
            if (s.name, s.key_id) in trusted
        )

    def _beyond(self, endpoint: WitnessEndpoint, old: int, size: int) -> None:
        """A witness cosigned more of this log than the log holds: say so loudly."""
        self.witnessed_beyond = max(self.witnessed_beyond, old)
        why = (
            f"it cosigned size {old}, beyond this checkpoint's {size}: this log published "
            f"{old} entries and holds {size}, so its database was restored from an older backup "
            "(or it is a fork); every checkpoint it signs from here forks the log: stop it and "
            "restore a newer backup (docs/operating/backup.md)"
        )
        _log.error("witness %s (%s): %s", endpoint.url, ", ".join(endpoint.names), why)
        self._fail(endpoint, why)

    def _fail(self, endpoint: WitnessEndpoint, why: str) -> None:
        first, most = self._backoff
        delay = min(most, first * 2**endpoint.failures)
        endpoint.failures += 1
        endpoint.retry_at = self._monotonic() + delay
        endpoint.last_error = why
        _log.warning(
            "witness %s (%s) failed: %s; retrying in %.0f s",
            endpoint.url,
            ", ".join(endpoint.names),
            why,
            delay,
        )
