"""The witness network's ``logs/v0`` log list (transparency-dev/witness-network, SPEC §12.6).

A list tells witnesses which logs to cosign::

    logs/v0
    vkey <Ed25519 note vkey of the log>
    [origin <origin line, if not the vkey's key name>]
    qpd <add-checkpoint requests per day, 1 <= qpd < 2^31>
    contact <how to reach the operator>
    ...

Blank lines and ``#`` comments are ignored; other lines lose their leading and trailing ASCII
whitespace (spaces, tabs, and the CR of a CRLF line end, as the network's own validator does).
:func:`parse_logs_v0` reads a list strictly; :func:`logs_v0_entry` prints a log's own
entry (what a ledger operator sends to a witness network). Errors:
:class:`~attest.policy.PolicyError`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from attest.checkpoint import Checkpoint, NoteVerifier
from attest.errors import CheckpointError
from attest.policy import PolicyError

__all__ = [
    "LOGS_V0_HEADER",
    "MAX_LOG_LIST_SIZE",
    "ListedLog",
    "logs_v0_entry",
    "logs_v0_list",
    "parse_logs_v0",
]

LOGS_V0_HEADER = "logs/v0"
"""The first (non-comment) line of a list."""

MAX_LOG_LIST_SIZE = 64 << 20
"""Lists over 64 MiB are refused (the network's staging lists hold 40,000 logs in ~8 MB)."""

_QPD = re.compile(r"[1-9][0-9]{0,9}")
_BAD = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
_WS = re.compile(r"[ \t]+")
_SPACE = " \t\r\v\f"
"""ASCII whitespace: the format removes all of it around a line (so a CRLF list reads too)."""


@dataclass(frozen=True, slots=True)
class ListedLog:
    """One log of a ``logs/v0`` list.

    Attributes:
        key: the log's Ed25519 note key.
        origin: the checkpoint origin line (the key name unless the list says otherwise).
        qpd: add-checkpoint requests the log may make per day.
        contact: free text for humans.
    """

    key: NoteVerifier
    origin: str
    qpd: int
    contact: str

    def __post_init__(self) -> None:
        try:
            Checkpoint(self.origin, 0, bytes(32))  # the origin rules of a checkpoint
        except CheckpointError as exc:
            raise PolicyError(f"listed log origin: {exc.what}") from exc
        if isinstance(self.qpd, bool) or not isinstance(self.qpd, int):
            raise PolicyError(f"qpd must be an int, not {self.qpd!r}")
        if not 1 <= self.qpd < 1 << 31:
            raise PolicyError(f"qpd {self.qpd} is not in [1, 2^31)")
        if (
            not isinstance(self.contact, str)
            or not self.contact.strip(" \t")
            or self.contact != self.contact.strip(" \t")
            or _BAD.search(self.contact)
        ):
            raise PolicyError(
                f"contact {self.contact!r} must be non-empty text without control characters "
                "or surrounding spaces"
            )

    def entry(self) -> str:
        """This log's lines, each ending in a newline (``origin`` only if not the key name)."""
        lines = [f"vkey {self.key.vkey()}"]
        if self.origin != self.key.name:
            lines.append(f"origin {self.origin}")
        lines += [f"qpd {self.qpd}", f"contact {self.contact}"]
        return "".join(line + "\n" for line in lines)


def logs_v0_entry(vkey: str, origin: str | None, qpd: int, contact: str) -> str:
    """The ``logs/v0`` entry of one log, each line ending in a newline.

    Args:
        vkey: the log's Ed25519 note vkey (type 0x01).
        origin: its origin line; ``None`` (or the key name) writes no ``origin`` line.
        qpd: add-checkpoint requests per day, ``1 <= qpd < 2^31``.
        contact: how to reach the operator.

    Raises:
        PolicyError: a value is refused.
    """
    try:
        key = NoteVerifier.from_vkey(vkey)
    except CheckpointError as exc:
        raise PolicyError(f"log vkey: {exc.what}") from exc
    return ListedLog(key, key.name if origin is None else origin, qpd, contact).entry()


def logs_v0_list(logs: Iterable[ListedLog]) -> str:
    """A whole list: the header, then a blank line before each entry."""
    return LOGS_V0_HEADER + "\n" + "".join("\n" + log.entry() for log in logs)


def _value(line: str, keyword: str, number: int) -> str | None:
    parts = _WS.split(line, maxsplit=1)
    if parts[0] != keyword:
        return None
    if len(parts) != 2 or not parts[1]:
        raise PolicyError(f"log list line {number}: {keyword!r} has no value")
    return parts[1]


def parse_logs_v0(data: bytes) -> tuple[ListedLog, ...]:
    """Parse a ``logs/v0`` list strictly.

    The list must be UTF-8, start (after comments and blank lines) with ``logs/v0``, and then
    hold entries of ``vkey``, optional ``origin``, ``qpd``, ``contact`` lines in that order. Only
    Ed25519 log keys are accepted. A log key listed twice is refused.

    Raises:
        PolicyError: anything else.
    """
    if not isinstance(data, bytes):
        raise PolicyError(f"a log list must be bytes, not {type(data).__name__}")
    if len(data) > MAX_LOG_LIST_SIZE:
        raise PolicyError(f"log list is {len(data)} bytes, more than {MAX_LOG_LIST_SIZE}")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PolicyError(f"log list is not valid UTF-8 (byte {exc.start})") from exc
    lines = [
        (number, line.strip(_SPACE))
        for number, line in enumerate(text.split("\n"), 1)
        if line.strip(_SPACE) and not line.strip(_SPACE).startswith("#")
    ]
    for number, line in lines:
        bad = _BAD.search(line)
        if bad is not None:
            raise PolicyError(
                f"log list line {number} contains the control character U+{ord(bad.group()):04X}"
            )
    if not lines or lines[0][1] != LOGS_V0_HEADER:
        raise PolicyError(f"log list does not start with {LOGS_V0_HEADER!r}")
    out: list[ListedLog] = []
    seen: set[bytes] = set()
    i = 1
    while i < len(lines):
        number, line = lines[i]
        vkey = _value(line, "vkey", number)
        if vkey is None:
            raise PolicyError(f"log list line {number}: expected 'vkey', got {line[:60]!r}")
        try:
            key = NoteVerifier.from_vkey(vkey)
        except CheckpointError as exc:
            raise PolicyError(f"log list line {number}: {exc.what}") from exc
        i += 1
        origin = key.name
        if i < len(lines):
            got = _value(lines[i][1], "origin", lines[i][0])
            if got is not None:
                origin = got
                i += 1
        if i >= len(lines):
            raise PolicyError(f"log list ends inside the entry of line {number} (no 'qpd')")
        qpd_number, qpd_line = lines[i]
        qpd_text = _value(qpd_line, "qpd", qpd_number)
        if qpd_text is None or _QPD.fullmatch(qpd_text) is None:
            raise PolicyError(
                f"log list line {qpd_number}: expected 'qpd <decimal without leading zeros>', "
                f"got {qpd_line[:60]!r}"
            )
        i += 1
        if i >= len(lines):
            raise PolicyError(f"log list ends inside the entry of line {number} (no 'contact')")
        contact_number, contact_line = lines[i]
        contact = _value(contact_line, "contact", contact_number)
        if contact is None:
            raise PolicyError(
                f"log list line {contact_number}: expected 'contact', got {contact_line[:60]!r}"
            )
        i += 1
        if key.key.raw in seen:
            raise PolicyError(f"log list line {number}: the key of {key.name!r} is listed twice")
        seen.add(key.key.raw)
        try:
            out.append(ListedLog(key, origin, int(qpd_text), contact))
        except PolicyError as exc:
            raise PolicyError(f"log list entry at line {number}: {exc.what}") from exc
    return tuple(out)
