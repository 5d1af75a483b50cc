"""Witness cosignatures and policies in the browser (verify.js, SPEC §12) agree with attest.

Every case of ``tests/vectors/witness/cosignature.json`` that a verifier runs (keys, messages,
cosignatures, verification, policies and quorums, split view) runs in headless Chromium and is
compared with the Python reference; the subtree-proof and ``logs/v0`` cases belong to the
witness and the log operator, not to a reader's browser, and are listed here as not run. Then a
differential test: policies and cosigned notes generated here (``attest.cosignature`` signs
them, some lines corrupted) get the same verdict, cosigners and shortfalls from
``attest.policy.verify_policy`` and ``verifyPolicy``, with the browser's own ML-DSA-44 and with
ML-DSA-44 switched off (then those cosignatures are reported as not checkable and never count).
"""

from __future__ import annotations

import base64
import json
import random
from functools import cache
from typing import Any

import pytest

import keys
from attest.checkpoint import Checkpoint, NoteSigner, NoteVerifier, parse_note
from attest.cosignature import (
    CosignatureError,
    CosignatureType,
    CosignerKey,
    CosignerSigner,
    cosign,
    verify_cosignature,
)
from attest.errors import VerificationError
from attest.policy import QuorumError, parse_policy, verify_policy
from tests.conftest import OWN_VECTORS

pytestmark = pytest.mark.browser

VECTORS = OWN_VECTORS / "witness" / "cosignature.json"
# Cases for the witness and the log operator (attest.subtree, attest.loglist), not a reader.
NOT_A_READERS = ("subtree proof", "logs/v0")
MLDSA_CASE = "cosign: ml-dsa-44 subtree/v1 (sign the message, verify under the vkey)"


@cache
def _cases() -> tuple[dict[str, Any], ...]:
    doc = json.loads(VECTORS.read_text(encoding="ascii"))
    return tuple(doc["cases"])


def _run(page: Any, cases: list[dict[str, Any]], options: dict[str, Any]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = page.evaluate(
        "([cs, o]) => Promise.all(cs.map((c) => T.witness(c, o)))", [cases, options]
    )
    assert len(out) == len(cases)
    return out


def _mldsa(page: Any) -> str:
    backend: str = page.evaluate("T.backends()")["mldsa"]
    return backend


def test_the_browser_says_whether_it_has_ml_dsa_44(page: Any) -> None:
    backends = page.evaluate("T.backends()")
    assert backends["ed25519"] in ("webcrypto", "bigint")
    # The probe's answer is the browser's: a real ML-DSA-44 key imports iff it says webcrypto.
    vkey = next(c for c in _cases() if c["name"] == "key: ml-dsa-44 cosigner from seed")
    raw = base64.b64decode(vkey["expect"]["publicKey"])
    imports = page.evaluate(
        """async (k) => {
          try {
            await crypto.subtle.importKey("raw-public", new Uint8Array(k), {name: "ML-DSA-44"},
                                          false, ["verify"]);
            return true;
          } catch { return false; }
        }""",
        list(raw),
    )
    assert backends["mldsa"] == ("webcrypto" if imports else "none")


def _python_outcome(case: dict[str, Any]) -> dict[str, Any]:
    """What attest says about a verification or policy case, computed now."""
    i = case["input"]
    try:
        if "policy" in i:
            policy = parse_policy(i["policy"].encode())
            if "note" not in i:
                return {"ok": True}
            got = verify_policy(i["note"].encode(), policy)
            return {"ok": True, "cosigners": [n for n, _ in got.cosigners]}
        cos = verify_cosignature(i["note"].encode(), CosignerKey.from_vkey(i["vkey"]))
        return {"ok": True, "timestamp": str(cos.cosignatures[0].timestamp)}
    except QuorumError as exc:
        return {"ok": False, "kind": "QuorumError", "missing": list(exc.missing)}
    except VerificationError as exc:
        return {"ok": False, "kind": type(exc).__name__}


def test_every_readers_vector_in_the_browser(page: Any) -> None:
    cases = [c for c in _cases() if not c["name"].startswith(NOT_A_READERS)]
    skipped = [c["name"] for c in _cases() if c["name"].startswith(NOT_A_READERS)]
    # Every category of the file is either run here or named as not a reader's.
    prefixes = {c["name"].split(":")[0] for c in _cases()}
    assert prefixes == {
        "key",
        "key refused",
        "message",
        "message refused",
        "cosign",
        "verify refused",
        "policy",
        "policy refused",
        "split view",
        "subtree proof",
        "subtree proof refused",
        "logs/v0",
        "logs/v0 refused",
    }
    assert len(skipped) == 13
    mldsa = _mldsa(page)
    results = _run(page, cases, {})
    wrong = []
    for case, got in zip(cases, results, strict=True):
        name = case["name"]
        if "error" in case:
            ok = not got["ok"] and got["kind"] == case["error"]["class"]
            if ok and name.startswith(("verify", "policy")):
                py = _python_outcome(case)
                ok = not py["ok"] and py["kind"] == got["kind"]
                if got["kind"] == "QuorumError":
                    ok = ok and got["missing"] == py["missing"] and got["unchecked"] == []
        elif not got["ok"]:
            ok = False
        elif name == MLDSA_CASE:
            want = {k: case["expect"][k] for k in ("vkey", "message", "lineBytes")}
            want["signatureBlobBytes"] = case["expect"]["signatureBlobBytes"]
            ok = {k: got[k] for k in want} == want and got["checked"] == (mldsa == "webcrypto")
        else:
            ok = {k: got[k] for k in case["expect"]} == case["expect"]
            if name.startswith("policy"):
                ok = ok and got["unchecked"] == []
                ok = ok and _python_outcome(case) == {"ok": True, "cosigners": got["cosigners"]}
        if not ok:
            wrong.append((name, got))
    assert wrong == []


def test_the_browsers_ml_dsa_cosignature_verifies_in_python(page: Any) -> None:
    """The browser signs the pinned ML-DSA-44 message with the seed's key (WebCrypto); attest
    verifies the line it made, and the browser verifies it too if it has ML-DSA-44."""
    if _mldsa(page) != "webcrypto":
        # Without ML-DSA-44 in WebCrypto the browser cannot even sign; it must say so.
        got = _run(page, [c for c in _cases() if c["name"] == MLDSA_CASE], {})[0]
        assert not got["ok"]
        return
    case = next(c for c in _cases() if c["name"] == MLDSA_CASE)
    got = _run(page, [case], {})[0]
    assert got["ok"], got
    assert got["checked"] is True
    key = CosignerKey.from_vkey(case["expect"]["vkey"])
    note = case["input"]["note"].encode() + got["line"].encode()
    cos = verify_cosignature(note, key)
    assert cos.cosignatures[0].timestamp == case["input"]["timestamp"]
    # One flipped byte of the browser's signature: both refuse.
    blob = bytearray(base64.b64decode(got["line"].split(" ")[2]))
    blob[100] ^= 1
    bad = case["input"]["note"] + f"\u2014 {key.name} {base64.b64encode(bytes(blob)).decode()}\n"
    with pytest.raises(CosignatureError):
        verify_cosignature(bad.encode(), key)
    out = page.evaluate(
        "([n, v]) => T.witness({name: 'verify refused: flipped', input: {note: n, vkey: v}})",
        [bad, key.vkey()],
    )
    assert (out["ok"], out["kind"]) == (False, "CosignatureError")


def test_without_ml_dsa_the_browser_reports_it_uncheckable(page: Any) -> None:
    """With ML-DSA-44 switched off (as in a browser without it), an ML-DSA-44 cosignature is
    reported as not checked; its form is still checked; the Ed25519 vectors are unchanged."""
    cases = [c for c in _cases() if not c["name"].startswith(NOT_A_READERS)]
    off = _run(page, cases, {"mldsa": "none"})
    on = _run(page, cases, {})
    by_name = {c["name"]: (a, b) for c, a, b in zip(cases, off, on, strict=True)}
    for name, (a, b) in by_name.items():
        if name == MLDSA_CASE:
            continue
        assert a == b, name
    # The ML-DSA-44 vector's line is made by WebCrypto, so check the off switch on a line made
    # by attest: uncheckable, never a success, never counted.
    signer = CosignerSigner.mldsa44_from_seed("witness.example/w1", bytes(range(32, 64)))
    log = NoteSigner("claimledger.example/log", keys.PrivateKey.from_seed(b"\x01" * 32))
    note = log.sign(Checkpoint("claimledger.example/log", 5, bytes(32)).body())
    line = cosign(note, signer, 1_800_000_000)
    got = page.evaluate(
        """([n, v]) => T.witness({name: 'verify: ml-dsa', input: {note: n, vkey: v}},
                                 {mldsa: 'none'})""",
        [(note + line).decode(), signer.verifier.vkey()],
    )
    assert got == {"ok": True, "timestamp": "1800000000", "checked": False}
    # A malformed line (one byte short) is refused even so: its form is checkable.
    blob = base64.b64decode(line.decode().split(" ")[2].strip())[:-1]
    short = note.decode() + f"\u2014 {signer.verifier.name} {base64.b64encode(blob).decode()}\n"
    got = page.evaluate(
        """([n, v]) => T.witness({name: 'verify: ml-dsa', input: {note: n, vkey: v}},
                                 {mldsa: 'none'})""",
        [short, signer.verifier.vkey()],
    )
    assert (got["ok"], got["kind"]) == (False, "CosignatureError")


# --- Differential: generated policies and notes ------------------------------------------------

ORIGIN = "log.example/differential"


@cache
def _signers() -> tuple[CosignerSigner, ...]:
    out = []
    for n in range(6):
        name = f"witness.example/d{n}"
        seed = bytes([0x40 + n]) * 32
        if n % 2:
            out.append(CosignerSigner.mldsa44_from_seed(name, seed))
        else:
            out.append(CosignerSigner(name, keys.PrivateKey.from_seed(seed)))
    return tuple(out)


def _log() -> NoteSigner:
    return NoteSigner(ORIGIN, keys.PrivateKey.from_seed(b"\x33" * 32))


def _sp(rng: random.Random) -> str:
    return rng.choice([" ", "  ", "\t", " \t "])


def _policy(rng: random.Random) -> tuple[str, list[int]]:
    """A random valid policy text over some of the signers; returns it and the signers used."""
    used = sorted(rng.sample(range(len(_signers())), rng.randint(1, 5)))
    lines = ["# generated", f"log{_sp(rng)}{_log().verifier.vkey()}"]
    free = []
    for n in used:
        url = f"{_sp(rng)}https://w{n}.example/" if rng.random() < 0.3 else ""
        lines.append(f"witness{_sp(rng)}W{n}{_sp(rng)}{_signers()[n].verifier.vkey()}{url}")
        free.append(f"W{n}")
    for g in range(rng.randint(0, 3)):
        if not free:
            break
        members = rng.sample(free, rng.randint(1, min(3, len(free))))
        free = [f for f in free if f not in members]
        threshold = rng.choice(["all", "any", str(rng.randint(1, len(members)))])
        lines.append(f"group{_sp(rng)}G{g}{_sp(rng)}{threshold}{_sp(rng)}{' '.join(members)}")
        free.append(f"G{g}")
        if rng.random() < 0.2:
            lines.append("")
    quorum = rng.choice([*free, "none"] if rng.random() < 0.1 else free)
    lines.append(f"  quorum{_sp(rng)}{quorum}  ")
    return "".join(line + "\n" for line in lines), used


def _note(rng: random.Random, used: list[int]) -> tuple[bytes, set[int]]:
    """A signed checkpoint cosigned by a random subset of the signers (and a stranger), some
    lines corrupted; returns it and the ML-DSA-44 signers whose lines are corrupted."""
    size = rng.randint(1, 10**6)
    cp = Checkpoint(ORIGIN, size, rng.randbytes(32))
    note = _log().sign(cp.body())
    lines = []
    bad_mldsa = set()
    for n in range(len(_signers())):
        if rng.random() < 0.55:
            line = cosign(note, _signers()[n], rng.randint(1, 2_000_000_000))
            if rng.random() < 0.08 and n in used:
                blob = bytearray(base64.b64decode(line.decode().split(" ")[2].strip()))
                blob[rng.randrange(12, len(blob))] ^= 1 << rng.randrange(8)
                name = _signers()[n].verifier.name
                line = f"\u2014 {name} {base64.b64encode(bytes(blob)).decode()}\n".encode()
                if _signers()[n].verifier.kind is CosignatureType.MLDSA44:
                    bad_mldsa.add(n)
            lines.append(line)
    rng.shuffle(lines)
    return note + b"".join(lines), bad_mldsa


def _reference(note: bytes, policy_text: str) -> dict[str, Any]:
    policy = parse_policy(policy_text.encode())
    try:
        got = verify_policy(note, policy)
    except QuorumError as exc:
        return {
            "ok": False,
            "kind": "QuorumError",
            "cosigners": list(exc.cosigners),
            "missing": list(exc.missing),
        }
    except VerificationError as exc:
        return {"ok": False, "kind": type(exc).__name__}
    return {"ok": True, "cosigners": [n for n, _ in got.cosigners], "size": got.checkpoint.size}


def _without_mldsa(note: bytes, policy_text: str) -> bytes:
    """The note with every line of a policy ML-DSA-44 witness removed."""
    policy = parse_policy(policy_text.encode())
    drop = {
        (w.key.name, w.key.key_id)
        for w in policy.witnesses.values()
        if w.key.kind is CosignatureType.MLDSA44
    }
    text, lines = parse_note(note)
    kept = [ln for ln in lines if (ln.name, ln.key_id) not in drop]
    body = "".join(
        f"\u2014 {ln.name} {base64.b64encode(ln.key_id + ln.signature).decode()}\n" for ln in kept
    )
    return text + b"\n" + body.encode()


def _browser(page: Any, cases: list[tuple[bytes, str]], options: dict[str, Any]) -> list[Any]:
    out: list[Any] = page.evaluate(
        "([cs, o]) => Promise.all(cs.map(([n, p]) => T.quorum(n, p, [], o)))",
        [[[n.decode(), p] for n, p in cases], options],
    )
    return out


def _shape(got: dict[str, Any]) -> dict[str, Any]:
    if got["ok"]:
        return {"ok": True, "cosigners": [c["name"] for c in got["cosigners"]], "size": got["size"]}
    if got["kind"] == "QuorumError":
        return {k: got[k] for k in ("ok", "kind", "cosigners", "missing")}
    return {"ok": False, "kind": got["kind"]}


def test_differential_quorum_verdicts(page: Any) -> None:
    rng = random.Random(20261206)
    cases = []
    corrupt_mldsa = []
    for _ in range(60):
        text, used = _policy(rng)
        note, bad = _note(rng, used)
        cases.append((note, text))
        corrupt_mldsa.append(bool(bad))
    want = [_reference(n, p) for n, p in cases]
    outcomes = {w["kind"] if not w["ok"] else "ok" for w in want}
    assert outcomes == {"ok", "QuorumError", "CosignatureError"}, outcomes
    got = [_shape(g) for g in _browser(page, cases, {})]
    if _mldsa(page) == "webcrypto":
        assert got == want
    else:  # without ML-DSA-44, "auto" is "none"
        assert got == [_shape(g) for g in _browser(page, cases, {"mldsa": "none"})]
    # ML-DSA-44 off: as if those witnesses' lines were not there (they are reported instead),
    # where no ML-DSA-44 line is corrupted (a browser without ML-DSA-44 cannot see that).
    clean = [c for c, bad in zip(cases, corrupt_mldsa, strict=True) if not bad]
    assert len(clean) >= 50
    off = _browser(page, clean, {"mldsa": "none"})
    for (note, text), g in zip(clean, off, strict=True):
        assert _shape(g) == _reference(_without_mldsa(note, text), text), text
        if g["ok"]:
            assert all(c["label"] == "ed25519" for c in g["cosigners"])
            reported = {c["name"] for c in g["unchecked"]}
            assert reported == _mldsa_cosigners(note, text)
        elif g["kind"] == "QuorumError":
            assert set(g["unchecked"]) == _mldsa_cosigners(note, text)


def _mldsa_cosigners(note: bytes, policy_text: str) -> set[str]:
    policy = parse_policy(policy_text.encode())
    _text, lines = parse_note(note)
    present = {(ln.name, ln.key_id) for ln in lines}
    return {
        name
        for name, w in policy.witnesses.items()
        if w.key.kind is CosignatureType.MLDSA44 and (w.key.name, w.key.key_id) in present
    }


def test_differential_policy_parsing(page: Any) -> None:
    """Odd policy texts: the browser parses exactly those attest parses, refuses the rest."""
    ed = _signers()[0].verifier.vkey()
    ml = _signers()[1].verifier.vkey()
    log = _log().verifier.vkey()
    texts = [
        f"log {log}\nwitness A {ed}\nquorum A\n",
        f"log {log} https://log.example/\nwitness A {ed} https://w.example/\nquorum A\n",
        f"log {log} https://log.example/ extra\nquorum none\n",
        f"witness A {ed} https://w.example/ extra\nquorum A\n",
        f"witness\tA\t{ed}\t\nquorum\tA\n",
        f"witness A {ed}\r\nquorum A\n",
        f"witness A {ed}\nquorum A",
        "",
        "quorum none\n",
        "quorum none\nquorum none\n",
        "quorum\n",
        "quorum none extra\n",
        f"witness none {ed}\nquorum none\n",
        f"witness A {ed}\nwitness A {ml}\nquorum A\n",
        f"witness A {ed}\ngroup A any A\nquorum A\n",
        f"witness A {ed}\ngroup G 01 A\nquorum G\n",
        f"witness A {ed}\ngroup G 0 A\nquorum G\n",
        f"witness A {ed}\ngroup G none\nquorum G\n",
        f"witness A {ed}\ngroup G any none\nquorum G\n",
        f"witness A {ed}\nwitness B {ml}\ngroup G 2 A B\ngroup H any G\nquorum H\n",
        f"witness A {ed}\nquorum B\n",
        f"witness A {ed}\nquorum A\nwitness B {ml}\n",
        f"witness A {ed}\nwitnesses B {ml}\nquorum A\n",
        f"log {ed}\nquorum none\n",
        f"log {log}\nlog {log}\nquorum none\n",
        f"witness A {ed.replace('+', '+X', 1)}\nquorum A\n",
        f"\ufeffwitness A {ed}\nquorum A\n",
        f"# \u00e9t\u00e9\nwitness \u00e9 {ed}\nquorum \u00e9\n",
        f"witness A {ed}\n\x7f\nquorum A\n",
        "   \n\t\n# only comments\nquorum none\n",
    ]
    want = []
    for t in texts:
        try:
            p = parse_policy(t.encode())
        except VerificationError as exc:
            want.append({"ok": False, "kind": type(exc).__name__})
        else:
            want.append(
                {
                    "ok": True,
                    "quorum": p.quorum,
                    "witnesses": list(p.witnesses),
                    "groups": list(p.groups),
                }
            )
    assert sum(1 for w in want if w["ok"]) >= 8
    got = page.evaluate(
        """(ts) => Promise.all(
             ts.map((t) => T.witness({name: 'policy: parse', input: {policy: t}})))""",
        texts,
    )
    got = [
        {k: v for k, v in g.items() if k in ("ok", "kind", "quorum", "witnesses", "groups")}
        for g in got
    ]
    assert got == want
    # Octets that are not UTF-8: any high-bit octet in a comment (tlog-policy: opaque), none
    # elsewhere; both sides agree, message included.
    raw = [
        b"quorum none\n\xff\n",
        b"quorum none\n  \xc3\xa9\xff\n",
        b"# caf\xe9 \xff\x80\n" + f"witness A {ed}\nquorum A\n".encode(),
        b"\t # \xc3\n" + f"witness A {ed}\n# \xfe\nquorum A\n".encode(),
        f"witness A {ed}\n".encode() + b"quorum A\xe9\n",
        b"witness \xe9 " + ed.encode() + b"\nquorum \xe9\n",
        b"# \xe9\x01\nquorum none\n",
    ]
    want_raw = []
    for data in raw:
        try:
            p = parse_policy(data)
        except VerificationError as exc:
            want_raw.append({"ok": False, "kind": type(exc).__name__, "what": exc.what})
        else:
            want_raw.append({"ok": True, "quorum": p.quorum, "witnesses": list(p.witnesses)})
    assert [w["ok"] for w in want_raw] == [False, False, True, True, False, False, False]
    got_raw = page.evaluate(
        """(all) => Promise.all(all.map(async (bs) => {
             try {
               const p = await T.V.parsePolicy(new Uint8Array(bs));
               return { ok: true, quorum: p.quorum, witnesses: [...p.witnesses.keys()] };
             } catch (e) { return { ok: false, kind: e.kind, what: e.what }; } }))""",
        [list(data) for data in raw],
    )
    assert got_raw == want_raw


def test_a_policy_log_key_or_a_context_key_signs(page: Any) -> None:
    """verify_policy's log choice: the policy's log lines, else keys known from context."""
    ed = _signers()[0]
    note = _log().sign(Checkpoint(ORIGIN, 7, bytes(range(32))).body())
    note += cosign(note, ed, 1_700_000_000)
    text = f"witness A {ed.verifier.vkey()}\nquorum A\n"
    with pytest.raises(VerificationError):
        verify_policy(note, parse_policy(text.encode()))
    context = NoteVerifier.from_vkey(_log().verifier.vkey())
    ok = verify_policy(note, parse_policy(text.encode()), logs=[context])
    assert [n for n, _ in ok.cosigners] == ["A"]
    without = page.evaluate("([n, p]) => T.quorum(n, p)", [note.decode(), text])
    assert (without["ok"], without["kind"]) == (False, "CheckpointError")
    got = page.evaluate(
        "([n, p, v]) => T.quorum(n, p, [v])", [note.decode(), text, _log().verifier.vkey()]
    )
    assert got["ok"], got
    assert [c["name"] for c in got["cosigners"]] == ["A"]
    assert got["cosigners"][0]["timestamp"] == "1700000000"
