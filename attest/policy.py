"""C2SP tlog-policy: which logs and witnesses a client trusts, and the quorum (SPEC §12.5).

A policy file is line based::

    log <vkey> [<url>]                  a log's Ed25519 note key (type 0x01); name = origin
    witness <name> <vkey> [<url>]       a cosigner key (0x04 Ed25519 or 0x06 ML-DSA-44)
    group <name> all|any|<k> <name>...  witnessed when at least k of its members are
    quorum <name>|none                  exactly one; what a checkpoint needs

:func:`parse_policy` reads it strictly (every name defined before it is used, each name a group
member at most once, no duplicate keys, exactly one quorum). :func:`verify_policy` checks a
cosigned checkpoint note against it and returns who cosigned, or raises: a checkpoint below
quorum raises :class:`QuorumError` and is never "verified".
:func:`check_consistent` is the client's split-view check between a checkpoint it holds and one
it is shown. Errors (all :class:`~attest.errors.VerificationError`)::

    PolicyError      a policy or log list file is malformed
    QuorumError      a checkpoint's cosignatures do not meet the quorum
    SplitViewError   two checkpoints of one log are not consistent
    CheckpointError / CosignatureError / ProofError   from the checks underneath
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from attest.checkpoint import Checkpoint, NoteVerifier, parse_note, verify_checkpoint
from attest.cosignature import Cosignature, CosignerKey, _verify_lines
from attest.errors import CheckpointError, ProofError, VerificationError
from attest.merkle import verify_consistency

__all__ = [
    "MAX_POLICY_ENTRIES",
    "MAX_POLICY_SIZE",
    "NONE",
    "Group",
    "Policy",
    "PolicyError",
    "PolicyLog",
    "PolicyWitness",
    "QuorumError",
    "SplitViewError",
    "VerifiedCheckpoint",
    "check_consistent",
    "describe_checkpoint",
    "parse_policy",
    "verify_policy",
]


class PolicyError(VerificationError):
    """A tlog-policy file or a witness network ``logs/v0`` list is malformed."""


class QuorumError(VerificationError):
    """A checkpoint verified under a log key, but its cosignatures do not meet the quorum.

    A checkpoint below quorum is *not* verified: never read this error as a warning.

    Attributes:
        quorum: the name of the policy's quorum (a witness or group).
        cosigners: the policy names of the witnesses whose cosignatures verified.
        missing: one line per group or witness that fell short, outermost first.
    """

    def __init__(
        self, what: str, *, quorum: str, cosigners: tuple[str, ...], missing: tuple[str, ...]
    ) -> None:
        self.quorum = quorum
        self.cosigners = cosigners
        self.missing = missing
        super().__init__(what)


class SplitViewError(VerificationError):
    """Two checkpoints of one log cannot both be true: the log showed two histories (a fork).

    Attributes:
        held: the body of the checkpoint the client already trusted.
        other: the body of the checkpoint it was then shown.
    """

    def __init__(self, what: str, *, held: bytes, other: bytes) -> None:
        self.held = held
        self.other = other
        super().__init__(what)


NONE = "none"
"""The predefined quorum name that requires no cosignature."""

MAX_POLICY_SIZE = 1 << 20
"""Policy files over 1 MiB are refused before parsing."""

MAX_POLICY_ENTRIES = 256
"""At most this many logs, witnesses and groups each (C2SP recommends supporting 32)."""

_WS = re.compile(r"[ \t]+")
_BAD_OCTET = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_THRESHOLD = re.compile(r"[1-9][0-9]{0,8}")


@dataclass(frozen=True, slots=True)
class PolicyLog:
    """A ``log`` line: the log's note key and optional URL."""

    key: NoteVerifier
    url: str | None = None


@dataclass(frozen=True, slots=True)
class PolicyWitness:
    """A ``witness`` line: policy name, cosigner key and optional URL (submission prefix)."""

    name: str
    key: CosignerKey
    url: str | None = None


@dataclass(frozen=True, slots=True)
class Group:
    """A ``group`` line: witnessed when at least ``threshold`` of ``members`` are."""

    name: str
    threshold: int
    members: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Policy:
    """A parsed tlog-policy.

    Attributes:
        logs: the accepted logs, in file order.
        witnesses: the witnesses by policy name, in file order.
        groups: the groups by name, in file order.
        quorum: a witness name, a group name or :data:`NONE`.
    """

    logs: tuple[PolicyLog, ...]
    witnesses: Mapping[str, PolicyWitness]
    groups: Mapping[str, Group]
    quorum: str

    def witnessed(self, name: str, cosigners: frozenset[str]) -> bool:
        """Whether ``name`` (a witness, a group or ``none``) is met by these witness names."""
        if name == NONE:
            return True
        if name in self.witnesses:
            return name in cosigners
        group = self.groups[name]
        met = sum(1 for m in group.members if self.witnessed(m, cosigners))
        return met >= group.threshold

    def shortfalls(self, name: str, cosigners: frozenset[str]) -> list[str]:
        """One line per unmet witness or group under ``name``, outermost first."""
        if self.witnessed(name, cosigners):
            return []
        if name in self.witnesses:
            return [f"witness {name} did not cosign"]
        group = self.groups[name]
        met = [m for m in group.members if self.witnessed(m, cosigners)]
        lines = [
            f"group {name} needs {group.threshold} of {len(group.members)} "
            f"({', '.join(group.members)}), has {len(met)}"
            + (f" ({', '.join(met)})" if met else "")
        ]
        for member in group.members:
            if member not in met:
                lines.extend(self.shortfalls(member, cosigners))
        return lines


def _url(fields: list[str], at: int, number: int) -> str | None:
    if len(fields) == at:
        return None
    if len(fields) == at + 1:
        return fields[at]
    raise PolicyError(f"policy line {number}: too many fields")


def parse_policy(data: bytes) -> Policy:
    """Parse a tlog-policy file strictly.

    The spec treats octets with the high bit set as opaque. claimledger accepts any of them in a
    comment line, and reads every other line as UTF-8 (names, keys and URLs are text it prints
    and sends; names compare as exact code point sequences, the same as comparing their octets).

    Raises:
        PolicyError: the file is malformed, over the limits, or breaks a rule of the format.
    """
    if not isinstance(data, bytes):
        raise PolicyError(f"a policy must be bytes, not {type(data).__name__}")
    if len(data) > MAX_POLICY_SIZE:
        raise PolicyError(f"policy is {len(data)} bytes, more than {MAX_POLICY_SIZE}")
    # Octets first (latin-1 maps each byte to one code point): a comment may hold any octet
    # with the high bit set; the other lines are decoded as UTF-8 one by one below.
    text = data.decode("latin-1")
    bad = _BAD_OCTET.search(text)
    if bad is not None:
        at = text.count("\n", 0, bad.start()) + 1
        raise PolicyError(
            f"policy line {at} contains the control octet 0x{ord(bad.group()):02x}; only tab "
            "and newline are allowed"
        )
    if text and not text.endswith("\n"):
        raise PolicyError("policy does not end with a newline (every line ends in one)")
    logs: list[PolicyLog] = []
    witnesses: dict[str, PolicyWitness] = {}
    groups: dict[str, Group] = {}
    used_as_member: set[str] = set()
    log_keys: set[bytes] = set()
    witness_keys: set[bytes] = set()
    quorum: str | None = None

    def new_name(name: str, number: int) -> None:
        if name == NONE:
            raise PolicyError(f"policy line {number}: the name {NONE!r} is predefined")
        if name in witnesses or name in groups:
            raise PolicyError(f"policy line {number}: the name {name!r} is already defined")

    for number, raw in enumerate(text.split("\n")[:-1] if text else [], 1):
        line = raw.strip(" \t")
        if not line or line.startswith("#"):
            continue
        try:
            line = line.encode("latin-1").decode("utf-8")
        except UnicodeDecodeError as exc:
            raise PolicyError(
                f"policy line {number} is not valid UTF-8; only a comment line may hold other "
                "octets"
            ) from exc
        fields = _WS.split(line)
        keyword = fields[0]
        if keyword == "log":
            if len(fields) < 2:
                raise PolicyError(f"policy line {number}: 'log' needs a vkey")
            try:
                key = NoteVerifier.from_vkey(fields[1])
            except CheckpointError as exc:
                raise PolicyError(f"policy line {number}: log key: {exc.what}") from exc
            if key.key.raw in log_keys:
                raise PolicyError(f"policy line {number}: duplicate log key")
            log_keys.add(key.key.raw)
            logs.append(PolicyLog(key, _url(fields, 2, number)))
            if len(logs) > MAX_POLICY_ENTRIES:
                raise PolicyError(f"policy has more than {MAX_POLICY_ENTRIES} logs")
        elif keyword == "witness":
            if len(fields) < 3:
                raise PolicyError(f"policy line {number}: 'witness' needs a name and a vkey")
            name = fields[1]
            new_name(name, number)
            try:
                wkey = CosignerKey.from_vkey(fields[2])
            except CheckpointError as exc:
                raise PolicyError(f"policy line {number}: witness key: {exc.what}") from exc
            if wkey.public_key in witness_keys:
                raise PolicyError(f"policy line {number}: duplicate witness key")
            witness_keys.add(wkey.public_key)
            witnesses[name] = PolicyWitness(name, wkey, _url(fields, 3, number))
            if len(witnesses) > MAX_POLICY_ENTRIES:
                raise PolicyError(f"policy has more than {MAX_POLICY_ENTRIES} witnesses")
        elif keyword == "group":
            if len(fields) < 4:
                raise PolicyError(
                    f"policy line {number}: 'group' needs a name, a threshold and members"
                )
            name, threshold_text, members = fields[1], fields[2], tuple(fields[3:])
            new_name(name, number)
            for member in members:
                if member == NONE:
                    raise PolicyError(f"policy line {number}: {NONE!r} cannot be a group member")
                if member not in witnesses and member not in groups:
                    raise PolicyError(
                        f"policy line {number}: group member {member!r} is not defined above"
                    )
                if member in used_as_member:
                    raise PolicyError(
                        f"policy line {number}: {member!r} is already a group member (each "
                        "name may be listed as a member once)"
                    )
                used_as_member.add(member)
            if threshold_text == "all":
                threshold = len(members)
            elif threshold_text == "any":
                threshold = 1
            elif _THRESHOLD.fullmatch(threshold_text) and int(threshold_text) <= len(members):
                threshold = int(threshold_text)
            else:
                raise PolicyError(
                    f"policy line {number}: threshold {threshold_text[:20]!r} is not 'all', "
                    f"'any' or a decimal k with 1 <= k <= {len(members)}"
                )
            groups[name] = Group(name, threshold, members)
            if len(groups) > MAX_POLICY_ENTRIES:
                raise PolicyError(f"policy has more than {MAX_POLICY_ENTRIES} groups")
        elif keyword == "quorum":
            if len(fields) != 2:
                raise PolicyError(f"policy line {number}: 'quorum' takes exactly one name")
            if quorum is not None:
                raise PolicyError(f"policy line {number}: a second quorum line")
            if fields[1] != NONE and fields[1] not in witnesses and fields[1] not in groups:
                raise PolicyError(
                    f"policy line {number}: quorum {fields[1]!r} is not a witness or group "
                    "defined above"
                )
            quorum = fields[1]
        else:
            raise PolicyError(f"policy line {number}: unknown keyword {keyword[:40]!r}")
    if quorum is None:
        raise PolicyError("policy has no quorum line")
    return Policy(tuple(logs), witnesses, groups, quorum)


def describe_checkpoint(cp: Checkpoint) -> str:
    """``<origin> size <n> root <base64>``: how messages name a checkpoint."""
    root = base64.b64encode(cp.root).decode("ascii")
    return f"{cp.origin} size {cp.size} root {root}"


@dataclass(frozen=True, slots=True)
class VerifiedCheckpoint:
    """A checkpoint signed by a policy log and cosigned to the policy's quorum.

    Attributes:
        checkpoint: the checkpoint.
        log: the log key that signed it.
        cosigners: the policy names of the witnesses whose cosignatures verified, with them, in
            policy order (witnesses beyond the quorum included).
    """

    checkpoint: Checkpoint
    log: NoteVerifier
    cosigners: tuple[tuple[str, Cosignature], ...]


def verify_policy(
    note: bytes, policy: Policy, *, logs: Iterable[NoteVerifier] = ()
) -> VerifiedCheckpoint:
    """Verify a checkpoint note's log signature and its cosignatures against a policy.

    Args:
        note: the checkpoint note with the log's signature and witness cosignatures.
        policy: the policy.
        logs: log keys known from context, accepted besides the policy's own ``log`` lines.

    Returns:
        The checkpoint, its log and its cosigners.

    Raises:
        CheckpointError: the note is malformed or not signed by an accepted log (its key name
            is its origin).
        CosignatureError: a signature line from a policy witness's key does not verify.
        QuorumError: the cosignatures that verified do not meet the quorum; the message names
            the quorum, who cosigned and every group or witness that fell short.
    """
    text, lines = parse_note(note)
    candidates = [entry.key for entry in policy.logs] + list(logs)
    present = {(line.name, line.key_id) for line in lines}
    log = next((k for k in candidates if (k.name, k.key_id) in present), None)
    if log is None:
        raise CheckpointError(
            f"checkpoint is not signed by any of the {len(candidates)} log key(s) accepted"
        )
    cp = verify_checkpoint(note, log)
    cosigners: list[tuple[str, Cosignature]] = []
    for name, witness in policy.witnesses.items():
        timestamp = _verify_lines(text, lines, witness.key)
        if timestamp is not None:
            cosigners.append((name, Cosignature(witness.key, timestamp)))
    names = frozenset(name for name, _ in cosigners)
    if not policy.witnessed(policy.quorum, names):
        got = ", ".join(name for name, _ in cosigners) or "none"
        missing = tuple(policy.shortfalls(policy.quorum, names))
        raise QuorumError(
            f"checkpoint {describe_checkpoint(cp)} is below quorum {policy.quorum}: cosigned by "
            f"{got}; {'; '.join(missing)}",
            quorum=policy.quorum,
            cosigners=tuple(name for name, _ in cosigners),
            missing=missing,
        )
    return VerifiedCheckpoint(cp, log, tuple(cosigners))


def check_consistent(held: Checkpoint, other: Checkpoint, proof: Sequence[bytes]) -> None:
    """Check that a checkpoint a client is shown is consistent with one it already holds.

    The proof goes from the smaller tree to the larger (empty for equal sizes, which need equal
    roots). Both checkpoints must be of one log (same origin).

    Raises:
        CheckpointError: the origins differ (not the same log).
        SplitViewError: the two cannot both be true: the message names both checkpoints.
    """
    if held.origin != other.origin:
        raise CheckpointError(
            f"checkpoints of two different logs: {held.origin!r} and {other.origin!r}"
        )
    small, large = (held, other) if held.size <= other.size else (other, held)
    try:
        verify_consistency(small.size, large.size, proof, small.root, large.root)
    except ProofError as exc:
        raise SplitViewError(
            f"log {held.origin} shows two histories: the checkpoint held "
            f"({describe_checkpoint(held)}) and the checkpoint shown "
            f"({describe_checkpoint(other)}) are not consistent: {exc.what}",
            held=held.body(),
            other=other.body(),
        ) from exc
