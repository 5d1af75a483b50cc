"""A C2SP witness: cosigns a log's checkpoints after checking they extend what it saw before.

A shell of its own on :mod:`attest` and :mod:`keys` (it never imports ``ledger``, ``api`` or
``cli``: a witness judges a log without sharing its code paths or its database). It implements
C2SP tlog-witness (``add-checkpoint`` and the monitoring API) with both tlog-cosignature types,
Ed25519 ``cosignature/v1`` and ML-DSA-44 ``subtree/v1``, takes its list of logs in the witness
network's ``logs/v0`` format, and keeps its state in its own SQLite file. See
docs/architecture/witness.md and docs/SPEC.md §12.
"""

from witness._app import create_app
from witness._core import MAX_PROOF_LINES, SIZE_CONTENT_TYPE, Witness
from witness._keys import STATE_FILE, WitnessKeys, init_witness, load_witness
from witness._state import Stored, WitnessState, origin_hash
from witness.errors import RequestError, WitnessError

__all__ = [
    "MAX_PROOF_LINES",
    "SIZE_CONTENT_TYPE",
    "STATE_FILE",
    "RequestError",
    "Stored",
    "Witness",
    "WitnessError",
    "WitnessKeys",
    "WitnessState",
    "create_app",
    "init_witness",
    "load_witness",
    "origin_hash",
]
