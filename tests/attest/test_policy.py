"""Tests for attest.policy (C2SP tlog-policy, quorum, split view) and attest.loglist (logs/v0)."""

from __future__ import annotations

import base64
import re

import pytest

import keys
from attest.checkpoint import Checkpoint, NoteSigner, sign_checkpoint
from attest.cosignature import CosignatureError, CosignerSigner, add_cosignatures, cosign
from attest.errors import CheckpointError
from attest.loglist import ListedLog, logs_v0_entry, logs_v0_list, parse_logs_v0
from attest.merkle import MemoryTree, leaf_hash
from attest.policy import (
    NONE,
    PolicyError,
    QuorumError,
    SplitViewError,
    check_consistent,
    describe_checkpoint,
    parse_policy,
    verify_policy,
)

ORIGIN = "claimledger.example/log"
LOG = NoteSigner(ORIGIN, keys.PrivateKey.from_seed(b"\x01" * 32))
TREE = MemoryTree([leaf_hash(bytes([i])) for i in range(6)])
CP = Checkpoint(ORIGIN, 6, TREE.root())
NOTE = sign_checkpoint(CP, LOG)
TS = 1_800_000_000


def _ed(i: int) -> CosignerSigner:
    return CosignerSigner(f"w{i}.example/w", keys.PrivateKey.from_seed(bytes([0x10 + i]) * 32))


def _ml(i: int) -> CosignerSigner:
    return CosignerSigner.mldsa44_from_seed(f"m{i}.example/w", bytes([0x30 + i]) * 32)


X = [_ed(1), _ed(2), _ml(3)]
Y = [_ml(4), _ed(5), _ml(6)]


def spec_example_policy() -> bytes:
    """The example policy of C2SP tlog-policy, with real keys for the elided ones."""
    return f"""log {LOG.verifier.vkey()}

witness X1 {X[0].verifier.vkey()}
witness X2 {X[1].verifier.vkey()}
witness X3 {X[2].verifier.vkey()}
group X-witnesses 2 X1 X2 X3

witness Y1 {Y[0].verifier.vkey()}
witness Y2 {Y[1].verifier.vkey()}
witness Y3 {Y[2].verifier.vkey()}
group Y-witnesses any Y1 Y2 Y3

group X-and-Y all X-witnesses Y-witnesses
quorum X-and-Y
""".encode()


POLICY = parse_policy(spec_example_policy())


def _cosigned(*signers: CosignerSigner, note: bytes = NOTE) -> bytes:
    return add_cosignatures(note, [cosign(note, s, TS) for s in signers])


def test_spec_example_parsed() -> None:
    assert [log.key for log in POLICY.logs] == [LOG.verifier]
    assert list(POLICY.witnesses) == ["X1", "X2", "X3", "Y1", "Y2", "Y3"]
    assert POLICY.groups["X-witnesses"].threshold == 2
    assert POLICY.groups["Y-witnesses"].threshold == 1
    assert POLICY.groups["X-and-Y"].threshold == 2
    assert POLICY.quorum == "X-and-Y"


@pytest.mark.parametrize(
    ("signers", "ok"),
    [
        ((X[0], X[1], Y[0]), True),
        ((X[1], X[2], Y[2]), True),
        ((X[0], X[1], X[2], Y[0], Y[1], Y[2]), True),
        ((X[0], Y[0], Y[1]), False),
        ((X[0], X[1]), False),
        ((Y[0], Y[1], Y[2]), False),
        ((), False),
    ],
)
def test_quorum(signers: tuple[CosignerSigner, ...], ok: bool) -> None:
    note = _cosigned(*signers)
    if ok:
        got = verify_policy(note, POLICY)
        assert got.checkpoint == CP
        assert got.log == LOG.verifier
        assert {name for name, _ in got.cosigners} == {
            name for name, w in POLICY.witnesses.items() if w.key in {s.verifier for s in signers}
        }
    else:
        with pytest.raises(QuorumError, match="below quorum X-and-Y") as info:
            verify_policy(note, POLICY)
        assert info.value.quorum == "X-and-Y"
        assert info.value.missing[0].startswith("group X-and-Y needs 2 of 2")


def test_below_quorum_names_what_is_missing() -> None:
    with pytest.raises(QuorumError) as info:
        verify_policy(_cosigned(X[0], Y[1]), POLICY)
    err = info.value
    assert err.cosigners == ("X1", "Y2")
    assert err.missing == (
        "group X-and-Y needs 2 of 2 (X-witnesses, Y-witnesses), has 1 (Y-witnesses)",
        "group X-witnesses needs 2 of 3 (X1, X2, X3), has 1 (X1)",
        "witness X2 did not cosign",
        "witness X3 did not cosign",
    )
    assert f"checkpoint {ORIGIN} size 6 root " in str(err)


def test_quorum_none_and_single_witness() -> None:
    none = parse_policy(f"log {LOG.verifier.vkey()}\nquorum none\n".encode())
    assert verify_policy(NOTE, none).cosigners == ()
    single = parse_policy(
        f"log {LOG.verifier.vkey()}\nwitness A {X[2].verifier.vkey()}\nquorum A\n".encode()
    )
    assert verify_policy(_cosigned(X[2]), single).cosigners[0][0] == "A"
    with pytest.raises(QuorumError, match="witness A did not cosign"):
        verify_policy(_cosigned(X[0]), single)


def test_a_failing_cosignature_from_a_policy_witness_refuses_the_note() -> None:
    good = _cosigned(X[0], X[1], Y[0])
    # Corrupt the last byte of Y1's (ML-DSA) signature: quorum would hold without it, but a
    # bad line from a known key means tampering.
    lines = good.decode().split("\n")
    prefix, b64 = lines[-2].rsplit(" ", 1)
    blob = bytearray(base64.b64decode(b64))
    blob[-1] ^= 1
    lines[-2] = f"{prefix} {base64.b64encode(bytes(blob)).decode()}"
    with pytest.raises(CosignatureError, match="does not verify"):
        verify_policy("\n".join(lines).encode(), POLICY)


def test_log_not_in_policy_refused() -> None:
    other = NoteSigner(ORIGIN, keys.PrivateKey.from_seed(b"\x02" * 32))
    with pytest.raises(CheckpointError, match="not signed by any"):
        verify_policy(_cosigned(X[0], X[1], Y[0], note=sign_checkpoint(CP, other)), POLICY)


def test_logs_from_context() -> None:
    policy = parse_policy(f"witness A {X[0].verifier.vkey()}\nquorum A\n".encode())
    with pytest.raises(CheckpointError):
        verify_policy(_cosigned(X[0]), policy)
    assert verify_policy(_cosigned(X[0]), policy, logs=[LOG.verifier]).checkpoint == CP


def test_lines_after_the_quorum_line() -> None:
    text = f"witness A {X[0].verifier.vkey()}\nquorum A\nlog {LOG.verifier.vkey()}\n"
    assert parse_policy(text.encode()).logs[0].key == LOG.verifier


def test_comments_whitespace_tabs_and_urls() -> None:
    text = (
        f"  # a comment\n\t\nlog\t{LOG.verifier.vkey()}  https://log.example/\n"
        f"witness  A {X[0].verifier.vkey()} https://w.example/a \n"
        "\tquorum A\t\n"
    )
    policy = parse_policy(text.encode())
    assert policy.logs[0].url == "https://log.example/"
    assert policy.witnesses["A"].url == "https://w.example/a"


def _refuse_cases() -> list[tuple[str | bytes, str]]:
    log = f"log {LOG.verifier.vkey()}\n"
    a = f"witness A {X[0].verifier.vkey()}\n"
    b = f"witness B {X[1].verifier.vkey()}\n"
    return [
        (log, "no quorum line"),
        (log + "quorum none\nquorum none\n", "a second quorum line"),
        (log + "quorum A\n", "not a witness or group defined above"),
        (log + a + "quorum A\n" + b + "quorum B\n", "a second quorum line"),
        (log + a + "group G any A C\nquorum G\n", "'C' is not defined above"),
        (log + a + b + "group G 02 A B\nquorum G\n", "threshold '02'"),
        (log + a + b + "group G 3 A B\nquorum G\n", "threshold '3'"),
        (log + a + b + "group G 0 A B\nquorum G\n", "threshold '0'"),
        (log + a + b + "group G any A A\nquorum G\n", "already a group member"),
        (log + a + b + "group G any A\ngroup H any A B\nquorum H\n", "already a group member"),
        (log + a + "group G any none A\nquorum G\n", "cannot be a group member"),
        (log + a + "witness A " + X[1].verifier.vkey() + "\nquorum A\n", "already defined"),
        (log + a + "group A any A\nquorum A\n", "already defined"),
        (log + "witness none " + X[1].verifier.vkey() + "\nquorum none\n", "predefined"),
        (log + a + "witness B " + X[0].verifier.vkey() + "\nquorum A\n", "duplicate witness key"),
        (log + log + "quorum none\n", "duplicate log key"),
        (log + f"witness A {LOG.verifier.vkey()}\nquorum A\n", "witness key"),
        (f"log {X[0].verifier.vkey()}\nquorum none\n", "log key"),
        (log + "quorum none", "does not end with a newline"),
        (log + "quorum none\r\n", "control octet 0x0d"),
        (log + "frobnicate x\nquorum none\n", "unknown keyword"),
        (log + "quorum none extra\n", "exactly one name"),
        (log + "group G any\n", "needs a name, a threshold and members"),
        (b"\xff\n", "policy line 1 is not valid UTF-8; only a comment line"),
        (b"quorum none\n# ok\n\twitness \xe9 x\n", "policy line 3 is not valid UTF-8"),
        (b"# ok \xff\nquorum none\x80\n", "policy line 2 is not valid UTF-8"),
        (b"# \xff\x01\nquorum none\n", "policy line 1 contains the control octet 0x01"),
        (f"log {LOG.verifier.vkey()} url extra\nquorum none\n", "too many fields"),
    ]


@pytest.mark.parametrize(("text", "reason"), _refuse_cases())
def test_policy_refused(text: str | bytes, reason: str) -> None:
    data = text if isinstance(text, bytes) else text.encode()
    with pytest.raises(PolicyError, match=re.escape(reason)):
        parse_policy(data)


def test_any_high_bit_octet_in_a_comment() -> None:
    """tlog-policy: octets with the high bit set are opaque and may appear in comments; a policy
    whose comments are Latin-1 (not UTF-8) is the same policy as without them."""
    text = f"log {LOG.verifier.vkey()}\nwitness A {X[0].verifier.vkey()}\nquorum A\n".encode()
    want = parse_policy(text)
    for comment in (b"# caf\xe9 \xff\xfe\x80\n", b"  \t# \xc3\n", b"#\xe9\n"):
        assert parse_policy(comment + text) == want
        assert parse_policy(text + comment) == want


def test_none_is_met_and_names_are_opaque() -> None:
    assert POLICY.witnessed(NONE, frozenset())
    text = f"witness K {X[0].verifier.vkey()}\nwitness \u212a {X[1].verifier.vkey()}\nquorum K\n"
    kelvin = parse_policy(text.encode())
    assert set(kelvin.witnesses) == {"K", "\u212a"}


# -- split view --------------------------------------------------------------------------------


def _fork() -> tuple[MemoryTree, MemoryTree]:
    a = MemoryTree([leaf_hash(bytes([i])) for i in range(4)])
    b = MemoryTree([leaf_hash(bytes([i])) for i in range(4)])
    for i in range(4, 8):
        a.append(leaf_hash(b"A" + bytes([i])))
        b.append(leaf_hash(b"B" + bytes([i])))
    return a, b


def test_consistent_checkpoints_pass() -> None:
    a, _ = _fork()
    held = Checkpoint(ORIGIN, 5, a.root(5))
    check_consistent(held, Checkpoint(ORIGIN, 8, a.root()), a.consistency_proof(5, 8))
    check_consistent(held, Checkpoint(ORIGIN, 3, a.root(3)), a.consistency_proof(3, 5))
    check_consistent(held, held, [])


def test_split_view_names_both_checkpoints() -> None:
    a, b = _fork()
    held = Checkpoint(ORIGIN, 6, a.root(6))
    other = Checkpoint(ORIGIN, 6, b.root(6))
    with pytest.raises(SplitViewError) as info:
        check_consistent(held, other, [])
    message = str(info.value)
    assert describe_checkpoint(held) in message
    assert describe_checkpoint(other) in message
    assert info.value.held == held.body()
    assert info.value.other == other.body()
    # A larger fork with the proof its own log would serve does not connect to the held one.
    with pytest.raises(SplitViewError, match="shows two histories"):
        check_consistent(held, Checkpoint(ORIGIN, 8, b.root()), b.consistency_proof(6, 8))


def test_other_origin_is_not_a_fork() -> None:
    with pytest.raises(CheckpointError, match="two different logs"):
        check_consistent(CP, Checkpoint("other.example/log", 6, CP.root), [])


# -- logs/v0 -----------------------------------------------------------------------------------

LOG2 = NoteSigner("bar.org/tlog", keys.PrivateKey.from_seed(b"\x05" * 32))


def test_logs_v0_entry_and_round_trip() -> None:
    entry = logs_v0_entry(LOG.verifier.vkey(), None, 86400, "https://claimledger.example/contact")
    assert entry == (
        f"vkey {LOG.verifier.vkey()}\nqpd 86400\ncontact https://claimledger.example/contact\n"
    )
    assert logs_v0_entry(LOG.verifier.vkey(), ORIGIN, 86400, "x") == (
        f"vkey {LOG.verifier.vkey()}\nqpd 86400\ncontact x\n"
    )
    second = ListedLog(
        LOG2.verifier, "something-not-equal-to-vkey-keyname", 24, "sysadmin (at) bar.org"
    )
    first = parse_logs_v0(("logs/v0\n\n" + entry).encode())[0]
    listing = logs_v0_list([first, second])
    assert parse_logs_v0(listing.encode()) == (first, second)
    assert "origin something-not-equal-to-vkey-keyname\n" in listing


def test_logs_v0_the_format_example_shape() -> None:
    """The layout of the witness-network example: header comments, indented, comments between."""
    text = f"""#
# List:      10qps-100klogs
# Revision:  123
#
logs/v0

# 1st list item -- foo's log
  vkey {LOG.verifier.vkey()}
\tqpd 86400
contact https://tlog.foo.org/contact

# 2nd list item -- bar's log
vkey {LOG2.verifier.vkey()}
origin something-not-equal-to-vkey-keyname
qpd 24
contact sysadmin (at) bar.org
"""
    logs = parse_logs_v0(text.encode())
    assert [(x.origin, x.qpd, x.contact) for x in logs] == [
        (ORIGIN, 86400, "https://tlog.foo.org/contact"),
        ("something-not-equal-to-vkey-keyname", 24, "sysadmin (at) bar.org"),
    ]


def test_logs_v0_all_whitespace_around_a_line_goes() -> None:
    """log-list-format: non-empty lines have all leading and trailing whitespace removed, so a
    list saved with CRLF line ends (or a form feed) reads as the same list; inside a line a
    control character is still refused."""
    text = f"logs/v0\n\fvkey {LOG.verifier.vkey()}\nqpd 24\v\ncontact ops (at) foo.org\n"
    want = parse_logs_v0(text.replace("\f", "").replace("\v", "").encode())
    assert parse_logs_v0(text.encode()) == want
    assert parse_logs_v0(text.replace("\n", "\r\n").encode()) == want
    assert [x.contact for x in want] == ["ops (at) foo.org"]
    with pytest.raises(PolicyError, match="control character U\\+000D"):
        parse_logs_v0(text.replace("ops (at)", "ops\r(at)").encode())


def _list_refusals() -> list[tuple[str, str]]:
    v = LOG.verifier.vkey()
    return [
        ("", "does not start with 'logs/v0'"),
        (f"vkey {v}\nqpd 1\ncontact c\n", "does not start with 'logs/v0'"),
        (f"logs/v1\nvkey {v}\nqpd 1\ncontact c\n", "does not start"),
        (f"logs/v0\nvkey {v}\nqpd 0\ncontact c\n", "qpd"),
        (f"logs/v0\nvkey {v}\nqpd 024\ncontact c\n", "qpd"),
        (f"logs/v0\nvkey {v}\nqpd {1 << 31}\ncontact c\n", "2^31"),
        (f"logs/v0\nvkey {v}\ncontact c\nqpd 1\n", "expected 'qpd"),
        (f"logs/v0\nvkey {v}\nqpd 1\n", "no 'contact'"),
        (f"logs/v0\nvkey {v}\n", "no 'qpd'"),
        (f"logs/v0\nqpd 1\nvkey {v}\ncontact c\n", "expected 'vkey'"),
        (f"logs/v0\nvkey {v}\norigin o\norigin p\nqpd 1\ncontact c\n", "expected 'qpd"),
        (f"logs/v0\nvkey {X[0].verifier.vkey()}\nqpd 1\ncontact c\n", "0x01"),
        (f"logs/v0\nvkey {v}\nqpd 1\ncontact c\nvkey {v}\nqpd 2\ncontact d\n", "listed twice"),
        (f"logs/v0\nvkey {v}\nqpd 1\ncontact\n", "has no value"),
        (f"logs/v0\nvkey {v}\nqpd 1\ncontact a\x01b\n", "control character"),
    ]


@pytest.mark.parametrize(("text", "reason"), _list_refusals())
def test_logs_v0_refused(text: str, reason: str) -> None:
    with pytest.raises(PolicyError, match=re.escape(reason)):
        parse_logs_v0(text.encode())


@pytest.mark.parametrize(
    ("args", "reason"),
    [
        ((LOG.verifier.vkey(), None, 0, "c"), "qpd"),
        ((LOG.verifier.vkey(), None, 1, ""), "contact"),
        ((LOG.verifier.vkey(), None, 1, "a\nb"), "contact"),
        ((LOG.verifier.vkey(), "bad\torigin", 1, "c"), "origin"),
        ((X[0].verifier.vkey(), None, 1, "c"), "vkey"),
    ],
)
def test_logs_v0_entry_refused(args: tuple[str, str | None, int, str], reason: str) -> None:
    with pytest.raises(PolicyError, match=reason):
        logs_v0_entry(*args)
