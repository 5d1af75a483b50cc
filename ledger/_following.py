"""Keep a server's ledger current with what other processes append: :class:`Following`.

Several servers may share one database (PostgreSQL, or a SQLite file on one machine), each with
its own :class:`~ledger.Ledger` in memory. A server learns of its own appends at once, but of
another's only when it reads the store. :class:`Following` is a thread that reads it: every
``interval_s`` it asks the store for the log's size (one indexed ``max(version)`` query) and,
when the store holds entries this ledger has not seen, calls :meth:`Ledger.refresh`, which reads
and re-verifies them with the same rules as an open (a database written by a faulty or hostile
writer is refused, never served). The views, stream heads, checkpoints, bundles and pages of the
server then show them.

A poll rather than PostgreSQL's ``LISTEN/NOTIFY``: it works the same on SQLite and PostgreSQL,
needs no connection held open per server, cannot miss a notification across a reconnect, and
bounds the lag by ``interval_s`` plus the time to verify the new entries; at the default 0.1 s it
costs ten indexed queries a second per server. docs/architecture/read-path.md says more.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass

from ledger._ledger import Ledger
from ledger.errors import CorruptionError, StoreError

__all__ = ["DEFAULT_FOLLOW_S", "Following", "FollowingStats"]

DEFAULT_FOLLOW_S = 0.1
"""How often a server looks for entries other processes appended (seconds)."""

_log = logging.getLogger("claimledger.following")


@dataclass
class FollowingStats:
    """What the follower has done (read it, do not change it).

    Attributes:
        polls: times it asked the store for the log's size.
        refreshes: times it found new entries and read them.
        entries: entries it read that other processes had appended.
        last_lag_s: for the newest entry it read, seconds from that entry's log time (the
            writer's clock when it sequenced it) to the moment this server could serve it;
            None before the first refresh.
        current_at: wall-clock time (Unix seconds) of the last poll that found this ledger
            current with the store; 0 before the first.
        error: why it stopped (a stored entry that fails verification), or the last error of a
            store it could not read (it keeps retrying those); empty when all is well.
    """

    polls: int = 0
    refreshes: int = 0
    entries: int = 0
    last_lag_s: float | None = None
    current_at: float = 0.0
    error: str = ""


class Following:
    """A thread that refreshes ``ledger`` whenever the store holds entries it has not seen.

    Args:
        ledger: the server's ledger (writable or read-only).
        interval_s: seconds between two looks at the store's size (> 0).
    """

    def __init__(self, ledger: Ledger, interval_s: float = DEFAULT_FOLLOW_S) -> None:
        if not interval_s > 0:
            raise ValueError(f"interval_s must be > 0, not {interval_s}")
        self._ledger = ledger
        self._interval_s = interval_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.stats = FollowingStats()
        self.stopped = False  # True once a corrupt entry made it stop for good

    def start(self) -> None:
        """Start the thread (once)."""
        if self._thread is not None:
            raise RuntimeError("already started")
        self._thread = threading.Thread(target=self._run, name="ledger-following", daemon=True)
        self._thread.start()

    def close(self) -> None:
        """Stop the thread and wait for it (a refresh under way finishes first)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def poll(self) -> int:
        """Look once: read what the store holds beyond this ledger; return how many entries.

        Raises:
            StoreError: the store cannot be read.
            CorruptionError: a new stored entry fails verification.
        """
        ledger, stats = self._ledger, self.stats
        stats.polls += 1
        stored = ledger.store.size()
        before = ledger.size
        if stored <= before:
            stats.current_at = time.time()
            return 0
        size = ledger.refresh()
        read = size - before
        if read > 0:
            # The lag first: a metrics scrape that sees the new count sees its lag too.
            newest = ledger.log_entries(size - 1, size)[0]
            stats.last_lag_s = max(0.0, time.time() - newest.log_time_ms / 1000)
            stats.refreshes += 1
            stats.entries += read
        stats.current_at = time.time()
        return read

    def _run(self) -> None:
        while not self._stop.wait(self._interval_s):
            try:
                self.poll()
                self.stats.error = ""
            except CorruptionError as exc:
                # Another writer stored something that fails the rules: never serve it. Stop
                # following (the server keeps serving the verified prefix) and say so loudly.
                self.stats.error = str(exc)
                self.stopped = True
                _log.error("stopped following the log: %s", exc)
                return
            except StoreError as exc:  # not a CorruptionError (caught above)
                # A database that is down or restarting: keep serving what is verified, retry.
                if self.stats.error != str(exc):
                    _log.warning("cannot read the store to follow the log: %s", exc)
                self.stats.error = str(exc)
            except Exception as exc:
                self.stats.error = repr(exc)
                _log.exception("following the log failed; retrying")
