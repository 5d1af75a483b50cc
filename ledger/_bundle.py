"""Export a company's evidence bundle from a ledger (docs/SPEC.md §10).

The bundle's bytes are defined once, by :class:`attest.bundle.Bundle`; this module only gathers what
goes in: a checkpoint, the company's entries and the registry records of the parties they involve
below its size, each entry's inclusion proof against that size, and the completeness proof of the
stream and those parties at that size (SPEC §11). Proofs for a fixed size never change, so an export
made while others append is still exactly the log as that checkpoint signed it.
"""

from __future__ import annotations

from attest import canonical
from attest.bundle import Bundle, BundleEntry, VerifiedRecord
from attest.dsse import Envelope
from attest.errors import VerificationError
from attest.verify import log_note_verifier, verify_log_checkpoint
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
        cp = verify_log_checkpoint(note, ledger.state)
    except VerificationError as exc:
        raise LedgerError(f"the checkpoint to export against does not verify: {exc}") from exc
    if not 0 < cp.size <= ledger.size:
        raise LedgerError(f"checkpoint size {cp.size} is not in 1..{ledger.size}")
    size = cp.size
    company = [r for r in ledger.stream_entries(stream) if r.index < size]
    parties = {stream, ledger.state.authority or stream}
    for r in company:
        signer = _signer(r.envelope)
        if signer is not None:
            parties.add(signer)
    raws = company + [r for p in sorted(parties) for r in ledger.registry_about(p, size)]
    raws.sort(key=lambda r: r.index)
    entries = tuple(
        BundleEntry(
            r.index,
            r.stream,
            r.position,
            r.log_time_ms,
            r.envelope,
            r.state_root or b"",
            tuple(ledger.inclusion_proof(r.index, size)),
        )
        for r in raws
    )
    state = ledger.state_proof(size, [("stream", stream), *(("party", p) for p in sorted(parties))])
    genesis = ledger.state.genesis_hash
    if genesis is None:  # pragma: no cover - an open ledger has a genesis
        raise LedgerError("the ledger has no genesis entry")
    return Bundle(
        origin=ledger.origin,
        log_key=log_note_verifier(ledger.state, cp.size).vkey(),
        genesis=genesis,
        stream=stream,
        checkpoint=note,
        entries=entries,
        state=state,
    ).to_bytes()


def _signer(envelope: bytes) -> str | None:
    """The signer a stored entry names; None if its bytes cannot be read (a damaged database:
    the bundle is exported all the same, and its verifier names the entry)."""
    try:
        signer = canonical.decode_object(Envelope.parse_stored(envelope).payload).get("signer")
    except VerificationError:
        return None
    return signer if isinstance(signer, str) else None


def record_views(record: VerifiedRecord) -> Views:
    """Views over a verified bundle's entries (replay the company's record as of any cut)."""
    views = Views()
    for placed in record.entries:
        views.apply(placed)
    return views
