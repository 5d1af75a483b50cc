"""Entry hashes, genesis values and leaf data: the preimages of SPEC §5 and §6.1."""

from __future__ import annotations

import hashlib

import pytest

from attest.dsse import Envelope, sign_envelope
from attest.entry import entry_hash, genesis_prev, leaf_data
from attest.errors import EncodingError
from keys import PrivateKey

KEY = PrivateKey.from_seed(b"\x07" * 32)


def test_entry_hash_is_the_documented_concatenation() -> None:
    env = sign_envelope(b'{"a":1}', KEY)
    t = env.payload_type.encode()
    k = env.signature.keyid.encode()
    preimage = (
        b"claimledger:v1:entry\x00"
        + len(t).to_bytes(4, "big")
        + t
        + (7).to_bytes(4, "big")
        + b'{"a":1}'
        + (1).to_bytes(4, "big")
        + (64).to_bytes(4, "big")
        + k
        + (64).to_bytes(4, "big")
        + env.signature.sig
    )
    assert entry_hash(env) == hashlib.sha256(preimage).digest()


def test_entry_hash_ignores_the_base64_spelling() -> None:
    env = sign_envelope(b'{"a":"??>>"}', KEY)
    d = env.to_dict()
    d["payload"] = d["payload"].replace("+", "-").replace("/", "_").rstrip("=")
    import json

    assert entry_hash(Envelope.parse(json.dumps(d).encode())) == entry_hash(env)


def test_genesis_prev_is_bound_to_the_stream() -> None:
    assert (
        genesis_prev("registry")
        == hashlib.sha256(b"claimledger:v1:genesis\x00registry").hexdigest()
    )
    assert genesis_prev("acme") != genesis_prev("registry")


def test_leaf_data_layout() -> None:
    h = bytes(range(32))
    root = bytes(range(100, 132))
    got = leaf_data(5, "acme", 2, 1_700_000_000_000, h, root)
    assert got == (
        b"claimledger:v2:leaf\x00"
        + (5).to_bytes(8, "big")
        + (4).to_bytes(4, "big")
        + b"acme"
        + (2).to_bytes(8, "big")
        + (1_700_000_000_000).to_bytes(8, "big")
        + h
        + root
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((-1, "s", 0, 0, bytes(32), bytes(32)), "index"),
        ((0, "s", 2**64, 0, bytes(32), bytes(32)), "position"),
        ((0, "s", 0, -5, bytes(32), bytes(32)), "log time"),
        ((0, "s", 0, 0, bytes(31), bytes(32)), "entry hash must be 32 bytes"),
        ((0, "s", 0, 0, bytes(32), bytes(33)), "state root must be 32 bytes"),
    ],
)
def test_leaf_data_refuses_out_of_range_values(
    args: tuple[int, str, int, int, bytes, bytes], message: str
) -> None:
    with pytest.raises(EncodingError, match=message):
        leaf_data(*args)
