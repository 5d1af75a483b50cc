"""A generated company record verified in headless Chromium, next to the Python reference.

Records are evidence bundles (SPEC §10, ``claimledger.bundle.v2``) built by
``tests/attest/logbuilder.py``'s ``LogBuilder.bundle``, as an honest ledger exports them: the
company's stream, the registry records of the parties it involves, inclusion proofs and a state
proof (SPEC §11.4) for a checkpoint signed by the log key (example key 2). The browser
(``verifyBundle``) and ``attest.bundle.verify_bundle`` get the same bytes and must reach the same
verdict, failing with the same error class at the same entry (or at none, for a record that is
not whole).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from attest import canonical
from attest.bundle import Bundle, BundleEntry, verify_bundle
from attest.checkpoint import Checkpoint, NoteSigner, sign_checkpoint
from attest.dsse import Envelope
from attest.errors import VerificationError
from keys import PrivateKey
from tests.attest.examples import AUTHORITY, example_key, example_seed
from tests.attest.logbuilder import LogBuilder, key
from tests.attest.test_bundle import ORIGIN, SIGNER, P

pytestmark = pytest.mark.browser

OTHER_SIGNER = NoteSigner(ORIGIN, key(7))
Q = "globex-video"
V = "safecheck-labs"


def build_log(company_entries: int) -> LogBuilder:
    """The story, a second provider, then claims, tests and verdicts on both streams.

    Grows until the company record of ``acme-social`` (its stream and the registry entries about
    the parties it involves: itself, the authority, the verifier) has ``company_entries``
    entries; every fourth entry of the log belongs to the other provider, so the record has gaps
    (and the registry entry about the other provider is not in it).
    """
    b = LogBuilder.story()
    b.register(Q, "provider", 4)
    not_ours = set(b.about(Q, len(b.entries)))
    b.claim(Q)

    def company() -> int:
        return sum(
            1
            for e in b.entries
            if e.stream == P or (e.stream == "registry" and e.index not in not_ours)
        )

    n = 0
    while company() < company_entries:
        n += 1
        if n % 4 == 0:
            b.claim(Q, "report.authority")
        elif n % 4 == 3 and company() + 2 <= company_entries:
            c = b.claim(P)
            t = b.test(V, P, c)
            if company() < company_entries:
                b.verdict(V, P, c, [t])
        else:
            b.claim(P, "report.authority")
    assert company() == company_entries
    b.claim(Q)  # the log goes on after the company's last entry
    return b


def make_bundle(b: LogBuilder, *, size: int | None = None) -> Bundle:
    return b.bundle(P, SIGNER, size=size)


def python_verdict(data: bytes) -> dict[str, Any]:
    try:
        verify_bundle(data)
    except VerificationError as exc:
        return {"ok": False, "kind": type(exc).__name__, "index": exc.index, "field": exc.field}
    return {"ok": True}


def browser_verdict(page: Any, data: bytes) -> dict[str, Any]:
    got: dict[str, Any] = page.evaluate("t => T.bundle(t)", data.decode("utf-8"))
    return got


def same_verdict(page: Any, data: bytes) -> dict[str, Any]:
    """The browser's verdict, after checking it is Python's (class, entry and field)."""
    got = browser_verdict(page, data)
    py = python_verdict(data)
    if py["ok"]:
        assert got["ok"], got
    else:
        assert not got["ok"], (got, py)
        assert (got["kind"], got["index"], got["field"]) == (py["kind"], py["index"], py["field"])
    return got


@pytest.fixture(scope="module")
def log20() -> LogBuilder:
    return build_log(20)


@pytest.fixture(scope="module")
def small(log20: LogBuilder) -> Bundle:
    return make_bundle(log20)


def _flip(entry: BundleEntry, offset: int) -> BundleEntry:
    env = bytearray(entry.envelope)
    env[offset] ^= 1
    return replace(entry, envelope=bytes(env))


def _payload_offset(entry: BundleEntry) -> int:
    return len(b'{"payload":"') + 40


def _sig_offset(entry: BundleEntry) -> int:
    return entry.envelope.rindex(b'"sig":"') + len(b'"sig":"') + 10


def _keyid_offset(entry: BundleEntry) -> int:
    return entry.envelope.rindex(b'"keyid":"') + len(b'"keyid":"') + 5


def _kind(entry: BundleEntry) -> str:
    return str(canonical.decode_object(Envelope.parse_stored(entry.envelope).payload)["kind"])


def _without(bundle: Bundle, *indexes: int) -> bytes:
    return replace(
        bundle, entries=tuple(e for e in bundle.entries if e.index not in indexes)
    ).to_bytes()


def test_company_record_verifies(page: Any, small: Bundle) -> None:
    data = small.to_bytes()
    got = browser_verdict(page, data)
    assert got["ok"], got
    record = verify_bundle(data)
    assert got["stream"] == P
    assert (got["size"], got["root"]) == (record.checkpoint.size, record.checkpoint.root.hex())
    assert got["entries"] == len(small.entries) == 20
    assert got["indexes"] == [p.index for p in record.entries]
    assert got["genesisHash"] == record.genesis_hash.hex()
    assert got["heads"][P]["length"] == got["streamLength"] == record.stream_length
    assert got["complete"] is True
    assert got["kinds"] == dict(Counter(p.signed.statement.kind for p in record.statements()))
    assert got["progress"][0] == "parse"
    assert got["progress"][-1] == "done"
    assert small.entries[-1].index < record.checkpoint.size - 1  # the log goes on: a sparse record


@pytest.mark.parametrize(
    ("where", "expected_kinds"),
    [
        (_payload_offset, {"SignatureError", "EncodingError"}),
        (_sig_offset, {"SignatureError", "EncodingError"}),
        (_keyid_offset, {"UnknownKeyError", "EncodingError"}),
    ],
    ids=["payload", "signature", "keyid"],
)
@pytest.mark.parametrize("n", [0, 3, 9, 18, 19], ids=lambda n: f"entry{n}")
def test_flipped_byte_in_one_entry_is_refused_as_python_refuses_it(
    page: Any,
    small: Bundle,
    n: int,
    where: Callable[[BundleEntry], int],
    expected_kinds: set[str],
) -> None:
    """A changed byte in an entry of the company's stream (not its head) is named at that entry.
    In a registry entry, or in the stream's head, it changes what the state commitment counts
    (the party's fold, the head's entry hash), so the record is refused as not whole first
    (SPEC §10.3 step 6), as Python refuses it; the genesis opens before that."""
    entries = list(small.entries)
    e = entries[n]
    entries[n] = _flip(e, where(e))
    got = same_verdict(page, replace(small, entries=tuple(entries)).to_bytes())
    assert not got["ok"]
    assert got["what"]
    head = max(x.index for x in small.entries if x.stream == P)
    if e.stream == "registry" and e.index != 0:
        assert got["kind"] == "IncompleteRecordError", got
        assert got["what"].startswith(f"the registry record of {V} is incomplete")
        assert got["index"] is None
    elif e.index == head:
        assert got["kind"] == "IncompleteRecordError", got
        assert got["what"].startswith(f"the head of stream {P} at size")
    else:
        assert (got["index"], got["position"], got["stream"]) == (e.index, e.position, e.stream)
        if e.index != 0:  # the genesis opens by its own authority key: a bad signature there
            assert got["kind"] in expected_kinds


def test_checkpoint_signed_by_another_key_fails(page: Any, small: Bundle) -> None:
    cp = Checkpoint.parse_body(small.checkpoint[: small.checkpoint.rindex(b"\n\n") + 1])
    forged = replace(small, checkpoint=sign_checkpoint(cp, OTHER_SIGNER)).to_bytes()
    got = browser_verdict(page, forged)
    assert (got["ok"], got["kind"]) == (False, "CheckpointError"), got
    assert python_verdict(forged)["kind"] == "CheckpointError"
    # The server also swaps the log key it publishes: the genesis still names the real one.
    swapped = replace(
        small, checkpoint=sign_checkpoint(cp, OTHER_SIGNER), log_key=OTHER_SIGNER.verifier.vkey()
    )
    got = browser_verdict(page, swapped.to_bytes())
    assert (got["ok"], got["kind"]) == (False, "CheckpointError"), got
    assert "genesis" in got["what"]
    # And the engine's own record API, with the forged checkpoint and no vkey, fails the same way.
    record = {
        "entries": [e.to_dict() for e in small.entries],
        "checkpointNote": sign_checkpoint(cp, OTHER_SIGNER).decode(),
        "logVkey": None,
        "stream": P,
        "state": small.state.to_dict(),
    }
    got = page.evaluate("r => T.record(r)", record)
    assert (got["ok"], got["kind"]) == (False, "CheckpointError"), got


@pytest.mark.parametrize("n", [5, 12], ids=lambda n: f"entry{n}")
def test_a_middle_entry_dropped_is_refused_at_the_gap(page: Any, small: Bundle, n: int) -> None:
    removed = small.entries[n]
    assert removed.stream == P
    entries = tuple(e for k, e in enumerate(small.entries) if k != n)
    after = next(e for e in entries if e.index > removed.index and e.stream == removed.stream)
    got = same_verdict(page, replace(small, entries=entries).to_bytes())
    assert (got["ok"], got["kind"]) == (False, "IncompleteRecordError"), got
    assert (got["index"], got["position"], got["stream"]) == (
        after.index,
        after.position,
        after.stream,
    )
    assert f"the record of {P} is incomplete: position {removed.position} is missing" in got["what"]
    # As a plain record (no company named, no state proof), the rules refuse the same entry.
    record = {
        "entries": [e.to_dict() for e in entries],
        "checkpointNote": small.checkpoint.decode(),
        "logVkey": small.log_key,
    }
    got = page.evaluate("r => T.record(r)", record)
    assert (got["ok"], got["kind"], got["index"]) == (False, "NotAuthorisedError", after.index)


@pytest.mark.parametrize("cut", [1, 4], ids=["last", "last4"])
def test_the_tail_of_the_stream_dropped_is_refused(page: Any, small: Bundle, cut: int) -> None:
    """The hole SPEC §10.4 of version 1 admitted: a record cut after a company entry, re-encoded
    canonically, verified. The state commitment counts the stream: now it is refused."""
    company = [e.index for e in small.entries if e.stream == P]
    got = same_verdict(page, _without(small, *company[-cut:]))
    assert (got["ok"], got["kind"]) == (False, "IncompleteRecordError"), got
    size = Checkpoint.parse_body(small.checkpoint[: small.checkpoint.rindex(b"\n\n") + 1]).size
    assert got["what"] == (
        f"the record of {P} is incomplete: the log's state at size {size} counts "
        f"{len(company)} entries in stream {P}, and {len(company) - cut} were given"
    )
    assert got["stream"] == P


def test_an_old_state_proof_with_a_new_checkpoint_is_refused(page: Any, log20: LogBuilder) -> None:
    """A server that answers with an old snapshot of the record against the newest checkpoint:
    the old state proof is not about the tree's last leaf; and the old entries (with new proofs)
    fall short of what the new state counts."""
    n = len(log20.entries)
    old, new = make_bundle(log20, size=n - 3), make_bundle(log20)
    assert old.state != new.state
    got = same_verdict(page, replace(new, state=old.state).to_bytes())
    assert (got["ok"], got["kind"], got["field"]) == (False, "ProofError", "/leaf/index"), got
    assert f"not the last index of the checkpoint's tree ({n - 1})" in got["what"]
    old_entries = tuple(e for e in new.entries if e.index < n - 3)
    assert len(old_entries) < len(new.entries)
    got = same_verdict(page, replace(new, entries=old_entries).to_bytes())
    assert (got["ok"], got["kind"]) == (False, "IncompleteRecordError"), got


@pytest.fixture(scope="module")
def revoked_and_suspended() -> LogBuilder:
    """The verifier who signed on the company's stream rotates its key (a key.add, then a
    key.revoke of the old key), then the authority suspends its accreditation."""
    b = build_log(20)
    old = PrivateKey.from_seed(example_seed(5)).public_key.key_id
    b.append("key.add", "registry", V, {"party": V, "key": example_key(6)})
    b.keys[V] = 6
    b.append("key.revoke", "registry", V, {"party": V, "keyId": old, "reason": "lost laptop"})
    b.append("accreditation.suspend", "registry", AUTHORITY, {"party": V, "reason": "conflict"})
    b.claim(Q)  # the hidden entries are not the log's last
    return b


@pytest.mark.parametrize("kind", ["key.revoke", "accreditation.suspend"])
def test_a_hidden_revocation_or_suspension_is_refused(
    page: Any, revoked_and_suspended: LogBuilder, kind: str
) -> None:
    bundle = make_bundle(revoked_and_suspended)
    # Whole, it verifies, though its registry entries skip the other provider's (SPEC §8.2).
    assert same_verdict(page, bundle.to_bytes())["ok"]
    registry = [e.position for e in bundle.entries if e.stream == "registry"]
    assert registry != list(range(len(registry)))
    hidden = next(e.index for e in bundle.entries if e.stream == "registry" and _kind(e) == kind)
    got = same_verdict(page, _without(bundle, hidden))
    assert (got["ok"], got["kind"]) == (False, "IncompleteRecordError"), got
    assert got["what"].startswith(f"the registry record of {V} is incomplete")


def test_leaving_out_a_signers_record_is_refused(page: Any, small: Bundle) -> None:
    state = replace(small.state, records=tuple(r for r in small.state.records if r.ident != V))
    got = same_verdict(page, replace(small, state=state).to_bytes())
    assert (got["ok"], got["kind"], got["field"]) == (
        False,
        "IncompleteRecordError",
        "/state/records",
    )
    assert f"leaves out the registry record of {V} (who signed the entry at index" in got["what"]


def test_only_v2_bundles_with_exactly_their_members_are_accepted(page: Any, small: Bundle) -> None:
    obj = small.to_dict()

    def edited(fn: Callable[[dict[str, Any]], object]) -> bytes:
        copy = canonical.decode_object(canonical.encode(obj))
        fn(copy)
        return canonical.encode(copy)

    cases = [
        (edited(lambda o: o.update(format="claimledger.bundle.v1")), "/format"),
        (edited(lambda o: o.update(extra=1)), "/extra"),
        (edited(lambda o: o.pop("state")), "/state"),
        (edited(lambda o: o["entries"][2].pop("stateRoot")), "/entries/2/stateRoot"),
        (edited(lambda o: o["entries"][2].update(stateRoot="AB" * 32)), "/entries/2/stateRoot"),
        (edited(lambda o: o["state"].update(extra=[])), "/state/extra"),
        (edited(lambda o: o["state"]["records"][0].update(kind="head")), "/state/records/0/kind"),
        (edited(lambda o: o["state"]["leaf"].pop("stateRoot")), "/state/leaf/stateRoot"),
    ]
    for data, field in cases:
        got = same_verdict(page, data)
        assert (got["ok"], got["kind"], got["field"]) == (False, "EncodingError", field), got
    # The record API refuses a company record without a state proof: nothing shows it whole.
    record = {
        "entries": [e.to_dict() for e in small.entries],
        "checkpointNote": small.checkpoint.decode(),
        "logVkey": small.log_key,
        "stream": P,
    }
    got = page.evaluate("r => T.record(r)", record)
    assert (got["ok"], got["kind"], got["field"]) == (False, "IncompleteRecordError", "/state")


def test_benchmark_1000_entry_company_record(page: Any, gen_dir: Path) -> None:
    """In-browser verification of a 1,000-entry company record next to Python's (issue 5)."""
    bundle = make_bundle(build_log(1000))
    data = bundle.to_bytes()
    (gen_dir / "company-1000.json").write_bytes(data)
    t0 = time.perf_counter()
    record = verify_bundle(data)
    python_s = time.perf_counter() - t0
    got = page.evaluate("u => T.bundle(u)", "/gen/company-1000.json")
    assert got["ok"], got
    assert got["entries"] == len(bundle.entries) == 1000
    assert got["size"] == record.checkpoint.size
    browser_s = got["wallMs"] / 1000
    print(
        f"\n1,000-entry company record ({len(data):,} bytes, log size {record.checkpoint.size}): "
        f"headless Chromium {browser_s:.3f} s (verify.js), Python attest {python_s:.3f} s "
        "(verify_bundle)"
    )
    assert browser_s < 10, "far over the 2 s target of issue 5"
