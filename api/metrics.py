"""``GET /metrics``: what an operator watches, in the Prometheus text format.

Each application has its own :class:`Metrics` (``app.state.metrics``) with its own
``CollectorRegistry``, never the process-global one, so several applications in one process
(tests, embedders) count apart. Three kinds of source:

- counters and histograms the server updates as it works: submissions by outcome
  (:func:`count_submission`, called for refusals from :mod:`api.problems` only), HTTP latency by
  route template (:class:`MetricsMiddleware`), and the sequencer's batches (the ledger's
  :attr:`~ledger.Ledger.batch_hook`, set when the ledger is served);
- gauges read from ``app.state`` at each scrape: the table :data:`GAUGES` (one line each: a
  name, a help text, and a function of ``app.state`` returning a number, or ``None`` to leave the
  gauge out of this scrape);
- the process collector (CPU, memory, open files).

docs/operating/monitoring.md lists every metric and what it means.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.process_collector import ProcessCollector
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ledger import Following, Ledger, LedgerError, StoreError, Witnessing

__all__ = [
    "GAUGES",
    "SUBMIT_PATHS",
    "Gauge",
    "Metrics",
    "MetricsMiddleware",
    "count_submission",
    "route_of",
]

_access = logging.getLogger("claimledger.access")

SUBMIT_PATHS = frozenset({"/v1/entries", "/v1/entries:batch"})
"""The paths whose ``POST`` is a submission (counted in ``claimledger_appends_total``)."""

UNMATCHED = "<unmatched>"
"""The ``route`` label of a request no route matched (so unknown paths add no series)."""

_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
_BATCH_SIZE_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)


@dataclass(frozen=True, slots=True)
class Gauge:
    """A gauge read from ``app.state`` at each scrape.

    Attributes:
        name: the metric's name.
        help: what it means.
        read: its value from ``app.state`` (``None``: not exposed this time, e.g. while the ledger
            is opening or without a witness policy). It runs on a worker thread and may ask the
            ledger or the store (cheaply); a :class:`~ledger.LedgerError` leaves the gauge out.
    """

    name: str
    help: str
    read: Callable[[Any], float | None]


def _ledger(state: Any) -> Ledger | None:
    ledger: Ledger | None = getattr(state, "ledger", None)
    return ledger


def _committed_size(ledger: Ledger) -> int:
    try:
        note = ledger.checkpoint()
    except LedgerError:
        return ledger.size
    return int(note.split(b"\n", 2)[1])


def _checkpoint_size(state: Any) -> float | None:
    ledger = _ledger(state)
    return None if ledger is None else _committed_size(ledger)


def _checkpoint_age(state: Any) -> float | None:
    """Seconds since the log time of the newest entry (the last time the size changed)."""
    ledger = _ledger(state)
    if ledger is None:
        return None
    return max(0.0, time.time() - ledger.state.last_log_time_ms / 1000)


def _witnessing(state: Any) -> tuple[Ledger, Witnessing] | None:
    ledger, witnessing = _ledger(state), getattr(state, "witnessing", None)
    return None if ledger is None or witnessing is None else (ledger, witnessing)


def _witness_cosigned_size(state: Any) -> float | None:
    both = _witnessing(state)
    return None if both is None else both[1].cosigned_size


def _witness_lag_entries(state: Any) -> float | None:
    both = _witnessing(state)
    if both is None:
        return None
    ledger, witnessing = both
    return max(0, _committed_size(ledger) - witnessing.cosigned_size)


def _witness_lag_seconds(state: Any) -> float | None:
    """Seconds the oldest entry not covered by a quorum-cosigned checkpoint has waited."""
    both = _witnessing(state)
    if both is None:
        return None
    ledger, witnessing = both
    first = witnessing.cosigned_size
    if _committed_size(ledger) <= first:
        return 0.0
    (entry,) = ledger.log_entries(first, first + 1)
    return max(0.0, time.time() - entry.log_time_ms / 1000)


def _following(state: Any) -> Following | None:
    return None if _ledger(state) is None else getattr(state, "following", None)


def _follower_lag(state: Any) -> float | None:
    following = _following(state)
    return None if following is None else following.stats.last_lag_s


def _follower_behind(state: Any) -> float | None:
    ledger, following = _ledger(state), _following(state)
    if ledger is None or following is None:
        return None
    return max(0, ledger.store.size() - ledger.size)


def _follower_since_current(state: Any) -> float | None:
    following = _following(state)
    if following is None or following.stats.current_at == 0:
        return None
    return max(0.0, time.time() - following.stats.current_at)


def _open_seconds(state: Any) -> float | None:
    seconds: float | None = state.lifecycle.open_seconds
    return seconds


GAUGES: tuple[Gauge, ...] = (
    Gauge(
        "claimledger_ledger_open",
        "1 once the ledger is open and served, 0 while it opens (routes answer 503 starting)",
        lambda s: 0.0 if _ledger(s) is None else 1.0,
    ),
    Gauge("claimledger_ledger_open_seconds", "Seconds the ledger took to open", _open_seconds),
    Gauge(
        "claimledger_writable",
        "1 if this server holds the log key (appends, signs checkpoints), else 0",
        lambda s: float(s.settings.writable),
    ),
    Gauge(
        "claimledger_checkpoint_size",
        "Tree size of the newest checkpoint (entries committed and served)",
        _checkpoint_size,
    ),
    Gauge(
        "claimledger_checkpoint_age_seconds",
        "Seconds since the log time of the newest entry, i.e. since the checkpoint last grew",
        _checkpoint_age,
    ),
    Gauge(
        "claimledger_witness_cosigned_size",
        "Tree size of the newest checkpoint cosigned to the witness policy's quorum",
        _witness_cosigned_size,
    ),
    Gauge(
        "claimledger_witness_lag_entries",
        "Entries in the newest checkpoint not yet covered by a quorum-cosigned checkpoint",
        _witness_lag_entries,
    ),
    Gauge(
        "claimledger_witness_lag_seconds",
        "Seconds since the log time of the oldest entry not yet covered by a quorum-cosigned "
        "checkpoint (0 when every entry is)",
        _witness_lag_seconds,
    ),
    Gauge(
        "claimledger_follower_lag_seconds",
        "For the newest entry this server read that another process appended: seconds from its "
        "log time to the moment this server could serve it",
        _follower_lag,
    ),
    Gauge(
        "claimledger_follower_behind_entries",
        "Entries the database holds that this server does not serve yet",
        _follower_behind,
    ),
    Gauge(
        "claimledger_follower_seconds_since_current",
        "Seconds since this server last found itself current with its database",
        _follower_since_current,
    ),
    Gauge(
        "claimledger_follower_entries",
        "Entries this server has read that other processes appended",
        lambda s: None if (f := _following(s)) is None else f.stats.entries,
    ),
    Gauge(
        "claimledger_resident_entries",
        "Entries of the provider streams whose state this server holds in memory (a writer "
        "keeps it near CLAIMLEDGER_RESIDENT_ENTRIES; the rest is read from the snapshot)",
        lambda s: None if (led := _ledger(s)) is None else float(led.views.resident_entries),
    ),
    Gauge(
        "claimledger_spilled_parts",
        "Parts of provider streams written since the last snapshot that this server spilled "
        "to its scratch file to hold its memory budget (a snapshot stores them)",
        lambda s: None if (led := _ledger(s)) is None else float(led.spilled_parts),
    ),
    Gauge(
        "claimledger_follower_stopped",
        "1 if this server stopped following its database (an entry there fails the rules)",
        lambda s: None if (f := _following(s)) is None else float(f.stopped),
    ),
)
"""The gauges read at each scrape; a new one (e.g. from ``app.state.following``) is one line."""


class _StateCollector(Collector):
    """Reads :data:`GAUGES` (and the witnesses' failures) from ``app.state`` at each scrape."""

    def __init__(self, state: Any, gauges: tuple[Gauge, ...]) -> None:
        self._state = state
        self._gauges = gauges

    def describe(self) -> list[Metric]:
        return []  # nothing to check at registration: the names are fixed above

    def collect(self) -> Iterator[Metric]:
        for gauge in self._gauges:
            try:
                value = gauge.read(self._state)
            except (LedgerError, StoreError):
                value = None  # the store is down: /readyz says so; the other gauges go on
            if value is not None:
                yield GaugeMetricFamily(gauge.name, gauge.help, value=value)
        witnessing: Witnessing | None = getattr(self._state, "witnessing", None)
        if witnessing is not None:
            failures = GaugeMetricFamily(
                "claimledger_witness_failures",
                "Failed add-checkpoint requests in a row, per witness submission URL",
                labels=["witness"],
            )
            for endpoint in witnessing.endpoints:
                failures.add_metric([endpoint.url], endpoint.failures)
            yield failures


class Metrics:
    """One application's metrics: its registry and the instruments the server updates.

    Args:
        state: the application's ``app.state`` (read by the gauges at each scrape).
        gauges: the gauges to read (default :data:`GAUGES`).
    """

    def __init__(self, state: Any, gauges: tuple[Gauge, ...] = GAUGES) -> None:
        self.registry = CollectorRegistry()
        self.appends = Counter(
            "claimledger_appends",
            "Submitted entries by outcome: accepted (appended), repeat (already in the log), "
            "or the problem type that refused them",
            ["outcome"],
            registry=self.registry,
        )
        self.http = Histogram(
            "claimledger_http_request_duration_seconds",
            "HTTP requests by method, route template and status: seconds until the last byte",
            ["method", "route", "status"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.batch_seconds = Histogram(
            "claimledger_sequencer_batch_seconds",
            "Sequencer batches (group commits): seconds to decide, store, sign and answer one",
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.batch_entries = Histogram(
            "claimledger_sequencer_batch_entries",
            "Sequencer batches (group commits): entries in one",
            buckets=_BATCH_SIZE_BUCKETS,
            registry=self.registry,
        )
        ProcessCollector(registry=self.registry)
        self.registry.register(_StateCollector(state, gauges))

    def watch(self, ledger: Ledger) -> None:
        """Count ``ledger``'s sequencer batches here (the newest application watching wins)."""
        ledger.batch_hook = self._on_batch

    def _on_batch(self, entries: int, seconds: float) -> None:
        self.batch_seconds.observe(seconds)
        self.batch_entries.observe(entries)


def count_submission(state: Any, outcome: str, n: int = 1) -> None:
    """Count ``n`` submitted entries with ``outcome`` (``accepted``, ``repeat`` or a problem name).

    A refusal is counted by :mod:`api.problems` when it maps the error (the one place); a whole
    batch refused before its envelopes were read (too large, wrong media type, read-only) counts
    once.
    """
    metrics: Metrics | None = getattr(state, "metrics", None)
    if metrics is not None and n > 0:
        metrics.appends.labels(outcome).inc(n)


def route_of(scope: Scope) -> str:
    """The route template a request matched (``/v1/streams/{stream}``), never the raw path."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    if isinstance(path, str):
        return path
    root = scope.get("root_path", "")
    if isinstance(root, str) and root and root != scope.get("app_root_path", ""):
        return root + "/*"  # a mount (the static files)
    if scope["path"] in SUBMIT_PATHS:
        return str(scope["path"])  # refused before routing, by the body limit
    return UNMATCHED


class MetricsMiddleware:
    """Time every HTTP request by route template, and write the access log record.

    The access record (logger ``claimledger.access``, level INFO) carries ``method``, ``path``,
    ``status`` and ``duration`` (seconds) as attributes for the JSON log format; with the default
    text format uvicorn writes its own access lines and this logger is not enabled.
    """

    def __init__(self, app: ASGIApp, *, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        began = time.perf_counter()
        status = 500  # an exception that escapes the application answers 500

        async def send_and_see(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_see)
        finally:
            seconds = time.perf_counter() - began
            method = scope["method"]
            self.metrics.http.labels(method, route_of(scope), str(status)).observe(seconds)
            if _access.isEnabledFor(logging.INFO):
                path = scope["path"]
                _access.info(
                    "%s %s %d %.1f ms",
                    method,
                    path,
                    status,
                    seconds * 1000,
                    extra={"method": method, "path": path, "status": status, "duration": seconds},
                )
