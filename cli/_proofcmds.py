"""``claimledger proof``: one entry's proof as a C2SP tlog-proof file, and its offline check.

``claimledger proof INDEX -o FILE`` is short for ``claimledger proof entry INDEX -o FILE``.
"""

from __future__ import annotations

from pathlib import Path

import click

from attest import NoteVerifier, verify_checkpoint
from attest.dsse import Envelope
from attest.entry import entry_hash, leaf_data
from attest.merkle import leaf_hash, verify_inclusion
from attest.tlogproof import tlog_proof, verify_tlog_proof
from cli._common import backend_options, with_backend
from cli._errors import EXIT_FAILED, CliError
from cli._i18n import _
from cli._readcmds import load_policy
from cli._verifying import checkpoint_size

__all__ = ["proof_group"]


class _ProofGroup(click.Group):
    """``proof INDEX ...`` runs ``proof entry INDEX ...``; ``proof verify`` is a subcommand."""

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        if args and args[0] not in self.commands and not args[0].startswith("-"):
            args = ["entry", *args]
        return super().resolve_command(ctx, args)


@click.group("proof", cls=_ProofGroup)
def proof_group() -> None:
    """Single-entry proofs in the C2SP tlog-proof format (docs/SPEC.md §13).

    \b
      claimledger proof INDEX -o entry.tlog-proof [--server URL | --db URL]
      claimledger proof verify entry.tlog-proof --policy POLICY [--entry envelope.json]

    A tlog-proof holds the entry's leaf data, its inclusion proof and a checkpoint with the
    witnesses' cosignatures: anyone with the policy verifies it offline.
    """


@proof_group.command("entry")
@click.argument("index", type=click.IntRange(min=0))
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The .tlog-proof file to create.",
)
@click.option(
    "--checkpoint",
    "which",
    type=click.Choice(["cosigned", "latest"]),
    default="cosigned",
    show_default=True,
    help="Prove against the newest checkpoint the witnesses cosigned, or the log's latest "
    "(signed by the log only: below any policy with witnesses).",
)
@click.option(
    "--entry-out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write the entry's DSSE envelope here (for 'proof verify --entry').",
)
@backend_options
def entry_cmd(
    index: int,
    output: Path,
    which: str,
    entry_out: Path | None,
    db: str | None,
    server: str | None,
    log_key: Path | None,
) -> None:
    """Write the tlog-proof of the entry at INDEX."""
    for path in (output, entry_out):
        if path is not None and path.exists():
            raise CliError(_("%(path)s already exists; refusing to overwrite it") % {"path": path})
    backend = with_backend(db, server, log_key)
    note = backend.cosigned_checkpoint() if which == "cosigned" else backend.checkpoint()
    # Checked here before anything is written: a proof this command writes always verifies.
    cp = verify_checkpoint(note, NoteVerifier.from_vkey(backend.log_vkey()))
    if index >= cp.size:
        more = " " + _("(the witnesses have not cosigned it yet)") if which == "cosigned" else ""
        raise CliError(
            _("entry %(index)s is not in the checkpoint of size %(size)s%(more)s")
            % {"index": index, "size": checkpoint_size(note), "more": more},
            EXIT_FAILED,
        )
    entries = list(backend.log_entries(index, index + 1))
    if len(entries) != 1 or entries[0].index != index:
        raise CliError(
            _("the ledger did not serve entry %(index)s with its state root") % {"index": index}
        )
    entry = entries[0]
    state_root = entry.state_root
    if state_root is None:  # pragma: no cover - checked above
        raise CliError(
            _("the ledger did not serve entry %(index)s with its state root") % {"index": index}
        )
    envelope = Envelope.parse_stored(entry.envelope)
    leaf = leaf_data(
        index,
        entry.stream,
        entry.position,
        entry.log_time_ms,
        entry_hash(envelope),
        state_root,
    )
    proof = backend.inclusion_proof(index, cp.size)
    verify_inclusion(leaf_hash(leaf), index, cp.size, proof, cp.root)
    data = tlog_proof(leaf, proof, note)
    with output.open("xb") as f:
        f.write(data)
    if entry_out is not None:
        with entry_out.open("xb") as f:
            f.write(entry.envelope)
    click.echo(
        f"Wrote {output} ({len(data)} bytes): entry {index} ({entry.stream} #{entry.position}) "
        f"in the checkpoint of size {cp.size}. Verify it offline with: "
        f"claimledger proof verify {output} --policy POLICY"
    )


@proof_group.command("verify")
@click.argument("proof_file", type=click.Path(dir_okay=False, exists=True, path_type=Path))
@click.option(
    "--policy",
    "policy_file",
    required=True,
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="A C2SP tlog-policy file: the log's key, the witnesses, the quorum.",
)
@click.option(
    "--entry",
    "entry_file",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="The entry's DSSE envelope: check that the proof is about it.",
)
def verify_cmd(proof_file: Path, policy_file: Path, entry_file: Path | None) -> None:
    """Verify a tlog-proof offline: the checkpoint's log signature and the witnesses' quorum,
    the inclusion proof, and (with --entry) that the leaf names that envelope.

    Exit 0 when it verifies, 1 when a check fails (below quorum included), 2 on bad input.
    """
    policy = load_policy(policy_file)
    envelope = None if entry_file is None else entry_file.read_bytes()
    verified = verify_tlog_proof(proof_file.read_bytes(), policy, envelope=envelope)
    leaf, cp = verified.leaf, verified.witnessed.checkpoint
    click.echo(
        f"Verified entry {leaf.index} ({leaf.stream} #{leaf.position}) in {cp.origin}, "
        f"tree size {cp.size}"
    )
    click.echo(
        f"  entry hash:  {leaf.entry_hash.hex()}" + (" (the envelope given)" if envelope else "")
    )
    click.echo(f"  state root:  {leaf.state_root.hex()}")
    names = ", ".join(name for name, _ in verified.witnessed.cosigners) or "no witness"
    click.echo(f"  cosigned by: {names} (the policy's quorum is met)")
