"""Tampering with stored rows, edited straight in the database (SQLite and PostgreSQL alike).

Every random single-byte edit of a stream event or a log event, a deleted row and swapped rows
are detected and located: ``Ledger.open`` (which verifies every entry again) raises
CorruptionError naming the stream and position or the index, or an offline ``LogVerifier``
holding the checkpoint trusted before the edit raises VerificationError at that index.
"""

from __future__ import annotations

import random
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import psycopg
import pytest
from psycopg import sql

from attest.checkpoint import Checkpoint, verify_checkpoint
from attest.errors import VerificationError
from attest.verify import LogVerifier
from ledger import CorruptionError, Ledger
from ledger._store import LOG_ID, stream_id
from tests.ledger.actors import P, Q, claim, init_ledger, register_story

EDITS_PER_KIND = 40


class Rows:
    """Read and write raw ``claimledger_events`` rows of one database."""

    def __init__(self, url: str) -> None:
        self.sqlite = url.startswith("sqlite:///")
        if self.sqlite:
            self.conn: Any = sqlite3.connect(url.removeprefix("sqlite:///"), isolation_level=None)
        else:
            base, _, schema = url.partition("?schema=")
            self.conn = psycopg.connect(base, autocommit=True)
            self.conn.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(schema)))

    def _q(self, statement: str) -> str:
        return statement if self.sqlite else statement.replace("?", "%s")

    def _id(self, oid: UUID) -> object:
        return oid.hex if self.sqlite else oid

    def get(self, oid: UUID, version: int) -> bytes:
        row = self.conn.execute(
            self._q(
                "SELECT state FROM claimledger_events "
                "WHERE originator_id = ? AND originator_version = ?"
            ),
            (self._id(oid), version),
        ).fetchone()
        return bytes(row[0])

    def put(self, oid: UUID, version: int, state: bytes) -> None:
        self.conn.execute(
            self._q(
                "UPDATE claimledger_events SET state = ? "
                "WHERE originator_id = ? AND originator_version = ?"
            ),
            (state, self._id(oid), version),
        )

    def delete(self, oid: UUID, version: int) -> None:
        self.conn.execute(
            self._q(
                "DELETE FROM claimledger_events WHERE originator_id = ? AND originator_version = ?"
            ),
            (self._id(oid), version),
        )

    def close(self) -> None:
        self.conn.close()


@dataclass
class Logged:
    url: str
    size: int
    note: bytes
    trusted: Checkpoint
    streams: dict[str, int]  # stream -> length
    where: dict[int, tuple[str, int]]  # index -> (stream, position)


@pytest.fixture
def logged(store_url: str) -> Iterator[tuple[Logged, Rows]]:
    with init_ledger(store_url) as led:
        register_story(led)
        for i in range(8):
            led.submit(
                claim(led, P if i % 3 else Q, "report.authority" if i % 2 else "age.assurance")
            )
        note = led.checkpoint()
        entries = list(led.iter_log())
        log = Logged(
            store_url,
            led.size,
            note,
            verify_checkpoint(note, led.note_verifier),
            {s: led.head(s)[1] for s in {e.stream for e in entries}},
            {e.index: (e.stream, e.position) for e in entries},
        )
    rows = Rows(store_url)
    yield log, rows
    rows.close()


def detect(log: Logged) -> tuple[str | None, int | None, int | None]:
    """Where the damage is reported: (stream, position, index); fails if it is not reported."""
    try:
        led = Ledger.open(log.url)
    except CorruptionError as exc:
        return exc.stream, exc.position, exc.index
    with led:
        v = LogVerifier(trusted=log.trusted)
        try:
            for raw in led.iter_log():
                v.feed(raw)
            v.finish(log.note)
        except VerificationError as exc:
            return exc.stream, exc.position, exc.index
    pytest.fail("the damage was not detected")


def flip(state: bytes, rng: random.Random) -> bytes:
    i = rng.randrange(len(state))
    new = rng.choice([b for b in range(256) if b != state[i]])
    return state[:i] + bytes([new]) + state[i + 1 :]


def test_every_single_byte_edit_of_a_stream_event_is_detected(
    logged: tuple[Logged, Rows],
) -> None:
    log, rows = logged
    rng = random.Random(1)
    for _ in range(EDITS_PER_KIND):
        index = rng.randrange(log.size)
        stream, position = log.where[index]
        oid = stream_id(stream)
        original = rows.get(oid, position + 1)
        edited = flip(original, rng)
        rows.put(oid, position + 1, edited)
        try:
            where = detect(log)
        finally:
            rows.put(oid, position + 1, original)
        assert where[2] == index or where[:2] == (stream, position), (where, index, edited)
    assert detect_clean(log)


def test_every_single_byte_edit_of_a_log_event_is_detected(logged: tuple[Logged, Rows]) -> None:
    log, rows = logged
    rng = random.Random(2)
    for _ in range(EDITS_PER_KIND):
        index = rng.randrange(log.size)
        original = rows.get(LOG_ID, index + 1)
        edited = flip(original, rng)
        rows.put(LOG_ID, index + 1, edited)
        try:
            where = detect(log)
        finally:
            rows.put(LOG_ID, index + 1, original)
        assert where[2] == index, (where, index, edited)
    assert detect_clean(log)


def test_targeted_edits_of_hashes_digits_and_envelopes_are_detected(
    logged: tuple[Logged, Rows],
) -> None:
    """The bytes a random edit rarely hits: hex case, one digit of a number, the signature.

    Regression (hex_case_edit_undetected): the store read ``entry_hash`` with ``bytes.fromhex``,
    which also takes upper case, so a row edited to another spelling of the hash read as valid.
    """
    log, rows = logged
    index = log.size - 3
    stream, position = log.where[index]
    targets = [(stream_id(stream), position + 1), (LOG_ID, index + 1)]
    for oid, version in targets:
        original = rows.get(oid, version)
        text = original.decode()
        h = text.index('"entry_hash":"') + len('"entry_hash":"')
        letter = next(i for i in range(h, h + 64) if text[i] in "abcdef")
        t = text.index('"log_time_ms":') + len('"log_time_ms":') + 5
        edits = [
            text[:letter] + text[letter].upper() + text[letter + 1 :],  # same value, other bytes
            text[:t] + str((int(text[t]) + 1) % 10) + text[t + 1 :],
        ]
        if "envelope" in text:
            s = text.index('\\"sig\\":\\"') + 20
            edits.append(text[:s] + ("A" if text[s] != "A" else "B") + text[s + 1 :])
        for edited in edits:
            rows.put(oid, version, edited.encode())
            try:
                where = detect(log)
            finally:
                rows.put(oid, version, original)
            assert where[2] == index or where[:2] == (stream, position), (where, edited)


def test_deleted_rows_are_detected(logged: tuple[Logged, Rows]) -> None:
    log, rows = logged
    cases = [
        ("stream event in the middle", stream_id(log.where[6][0]), log.where[6][1] + 1, 6),
        ("log event in the middle", LOG_ID, 7 + 1, 7),
        ("last stream event", stream_id(log.where[log.size - 1][0]), None, log.size - 1),
        ("last log event (a rollback)", LOG_ID, log.size, log.size - 1),
    ]
    for name, oid, version, index in cases:
        if version is None:
            version = log.where[index][1] + 1
        original = rows.get(oid, version)
        rows.delete(oid, version)
        try:
            where = detect(log)
        finally:
            if rows.sqlite:
                rows.conn.execute(
                    "INSERT INTO claimledger_events VALUES (?, ?, ?, ?)",
                    (oid.hex, version, _topic(oid), original),
                )
            else:
                rows.conn.execute(
                    "INSERT INTO claimledger_events "
                    "(originator_id, originator_version, topic, state) VALUES (%s, %s, %s, %s)",
                    (oid, version, _topic(oid), original),
                )
        # A missing entry is reported where it is missing, or at the entry that follows it.
        assert where[2] in (index, index + 1, None), (name, where)
        if where[2] is None:
            assert name == "last log event (a rollback)"
    assert detect_clean(log)


def test_swapped_rows_are_detected(logged: tuple[Logged, Rows]) -> None:
    log, rows = logged
    stream = P
    a, b = 1, log.streams[stream] - 1
    sid = stream_id(stream)
    ra, rb = rows.get(sid, a + 1), rows.get(sid, b + 1)
    rows.put(sid, a + 1, rb)
    rows.put(sid, b + 1, ra)
    try:
        where = detect(log)
    finally:
        rows.put(sid, a + 1, ra)
        rows.put(sid, b + 1, rb)
    assert where[:2] in ((stream, a), (stream, b)) or where[2] is not None
    first = next(i for i, (s, p) in log.where.items() if (s, p) == (stream, a))
    assert where[2] in (None, first), where
    la, lb = rows.get(LOG_ID, 5), rows.get(LOG_ID, 9)
    rows.put(LOG_ID, 5, lb)
    rows.put(LOG_ID, 9, la)
    try:
        where = detect(log)
    finally:
        rows.put(LOG_ID, 5, la)
        rows.put(LOG_ID, 9, lb)
    assert where[2] == 4, where
    assert detect_clean(log)


def _topic(oid: UUID) -> str:
    return "claimledger.v1:LeafAppended" if oid == LOG_ID else "claimledger.v1:EntryAppended"


def detect_clean(log: Logged) -> bool:
    """After every restore the ledger opens and verifies again (the edits were really undone)."""
    with Ledger.open(log.url) as led:
        v = LogVerifier(trusted=log.trusted)
        for raw in led.iter_log():
            v.feed(raw)
        v.finish(log.note)
        return led.size == log.size
