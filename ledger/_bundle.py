"""Export a company's evidence bundle from a ledger (docs/SPEC.md §10).

The bundle's bytes are defined once, by :class:`attest.bundle.Bundle`; this module only gathers
what goes in: a checkpoint, the registry and company entries below its size, and each entry's
inclusion proof against that size. Proofs for a fixed size never change, so an export made while
others append is still exactly the log as that checkpoint signed it.
"""

from __future__ import annotations

from attest.bundle import Bundle, BundleEntry, VerifiedRecord
from attest.checkpoint import verify_checkpoint
from attest.errors import VerificationError
from attest.statements import REGISTRY_STREAM
from ledger._ledger import Ledger
from ledger._views import Views
from ledger.errors import LedgerError

__all__ = ["export_bundle", "record_views"]


def export_bundle(ledger: Ledger, stream: str, *, checkpoint: bytes | None = None) -> bytes:
    """The evidence bundle of ``stream``'s record, against a checkpoint of the log.

    Args:
        ledger: an open ledger.
        stream: a registered provider's party id.
        checkpoint: a signed checkpoint note of this log to export against (e.g. one the
            caller already published); by default the ledger's latest, which needs the log key.

    Returns:
        The bundle file (canonical JSON).

    Raises:
        LedgerError: ``stream`` is not a registered provider, the checkpoint does not verify
            with the log's key or is larger than the log, or no checkpoint can be signed.
    """
    party = ledger.state.parties.get(stream)
    if party is None or party.role != "provider":
        raise LedgerError(f"{stream!r} is not a registered provider")
    note = ledger.checkpoint() if checkpoint is None else checkpoint
    try:
        cp = verify_checkpoint(note, ledger.note_verifier, origin=ledger.origin)
    except VerificationError as exc:
        raise LedgerError(f"the checkpoint to export against does not verify: {exc}") from exc
    if not 0 < cp.size <= ledger.size:
        raise LedgerError(f"checkpoint size {cp.size} is not in 1..{ledger.size}")
    raws = [
        r for s in (REGISTRY_STREAM, stream) for r in ledger.stream_entries(s) if r.index < cp.size
    ]
    raws.sort(key=lambda r: r.index)
    entries = tuple(
        BundleEntry(
            r.index,
            r.stream,
            r.position,
            r.log_time_ms,
            r.envelope,
            tuple(ledger.inclusion_proof(r.index, cp.size)),
        )
        for r in raws
    )
    genesis = ledger.state.genesis_hash
    if genesis is None:  # pragma: no cover - an open ledger has a genesis
        raise LedgerError("the ledger has no genesis entry")
    return Bundle(
        origin=ledger.origin,
        log_key=ledger.note_verifier.vkey(),
        genesis=genesis,
        stream=stream,
        checkpoint=note,
        entries=entries,
    ).to_bytes()


def record_views(record: VerifiedRecord) -> Views:
    """Views over a verified bundle's entries (replay the company's record as of any cut)."""
    views = Views()
    for placed in record.entries:
        views.apply(placed)
    return views
