"""Statements named by digest: a full digest or a unique prefix, resolved against a stream.

``claim supersede``, ``claim withdraw`` and ``reply`` name a claim version or a verdict by its
digest (SPEC §3.4: the hex SHA-256 of the signed payload). Typing 64 characters is a chore, so a
prefix of at least :data:`MIN_PREFIX` hex characters is accepted and resolved against the signer's
own stream, where the provider's claims and the verdicts on them are; no match, or more than one,
is a one-line error. The statements read are not verified (``claimledger verify`` does that), but
each is kept only if the SHA-256 of its payload is the digest it is filed under, so a server
cannot put other content under a digest the user typed in full.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

import click

from attest import Envelope, VerificationError
from attest.statements import Kind
from cli._backend import Backend
from cli._errors import EXIT_FAILED, CliError
from cli._i18n import _

__all__ = ["CLAIM_KINDS", "MIN_PREFIX", "Found", "StreamIndex", "check_digest_ref"]

MIN_PREFIX = 12
"""The fewest hex characters of a digest accepted as a prefix."""

CLAIM_KINDS = frozenset({Kind.CLAIM_PUBLISH, Kind.CLAIM_SUPERSEDE})

_HEX = frozenset("0123456789abcdef")


def check_digest_ref(value: str, param: str, *, full: bool = False) -> str:
    """``value`` lower-cased, if it is a digest (64 hex) or, unless ``full``, a prefix of one.

    Raises:
        click.BadParameter: not hex, too short, or too long.
    """
    ref = value.strip().lower()
    if set(ref) - _HEX or not ref:
        raise click.BadParameter(
            _("%(value)s is not a hex digest") % {"value": repr(value)}, param_hint=param
        )
    if full and len(ref) != 64:
        raise click.BadParameter(
            _(
                "signing offline (-o), give the whole digest (64 hex characters): a "
                "prefix is resolved against the ledger"
            ),
            param_hint=param,
        )
    if not MIN_PREFIX <= len(ref) <= 64:
        raise click.BadParameter(
            _("give the digest (64 hex characters) or at least its first %(MIN_PREFIX)s")
            % {"MIN_PREFIX": MIN_PREFIX},
            param_hint=param,
        )
    return ref


@dataclass(frozen=True, slots=True)
class Found:
    """A statement of the stream: its digest, kind and the statement as JSON."""

    digest: str
    kind: str
    statement: dict[str, Any]

    @property
    def body(self) -> dict[str, Any]:
        """The statement's body (a copy)."""
        body: dict[str, Any] = json.loads(json.dumps(self.statement.get("body") or {}))
        return body


@dataclass
class StreamIndex:
    """The statements of one stream by digest, and what became of each claim version."""

    stream: str
    statements: dict[str, Found] = field(default_factory=dict)
    superseded_by: dict[str, str] = field(default_factory=dict)
    withdrawn: set[str] = field(default_factory=set)

    @classmethod
    def read(cls, backend: Backend, stream: str) -> StreamIndex:
        """Read every entry of ``stream`` from ``backend``.

        Raises:
            CliError: an entry is not an envelope holding a JSON statement.
        """
        index = cls(stream)
        for raw in backend.stream_entries(stream):
            try:
                payload = Envelope.parse_stored(raw.envelope).payload
                statement = json.loads(payload)
                kind = str(statement["kind"])
                body = statement.get("body") or {}
            except (VerificationError, ValueError, TypeError, KeyError, RecursionError) as exc:
                raise CliError(
                    _(
                        "entry %(position)s of stream %(stream)s is not a readable statement: "
                        "%(exc)s"
                    )
                    % {"position": raw.position, "stream": stream, "exc": exc}
                ) from exc
            digest = hashlib.sha256(payload).hexdigest()
            index.statements[digest] = Found(digest, kind, statement)
            if kind == Kind.CLAIM_SUPERSEDE and isinstance(body.get("supersedes"), str):
                index.superseded_by[body["supersedes"]] = digest
            elif kind == Kind.CLAIM_WITHDRAW and isinstance(body.get("claim"), str):
                index.withdrawn.add(body["claim"])
        return index

    def resolve(self, ref: str, kinds: frozenset[Kind], what: str, param: str) -> Found:
        """The one statement of ``kinds`` whose digest is or starts with ``ref``.

        Raises:
            CliError: none (exit 1, a dangling reference), or several (exit 2).
        """
        matches = [f for d, f in self.statements.items() if d.startswith(ref) and f.kind in kinds]
        if not matches:  # as the ledger would refuse it: a dangling reference (exit 1)
            raise CliError(
                f"dangling reference: {param}: no {what} in stream {self.stream} has a digest "
                f"{ref}" + ("" if len(ref) == 64 else "…"),
                EXIT_FAILED,
            )
        if len(matches) > 1:
            listed = ", ".join(sorted(f.digest[:16] + "…" for f in matches))
            raise CliError(
                _(
                    "%(param)s: %(ref)s is the start of %(count)s %(what)s digests in stream "
                    "%(stream)s (%(listed)s); give more characters"
                )
                % {
                    "param": param,
                    "ref": ref,
                    "count": len(matches),
                    "what": what,
                    "stream": self.stream,
                    "listed": listed,
                }
            )
        return matches[0]

    def current(self, digest: str) -> str:
        """The latest version of the claim that version ``digest`` belongs to."""
        seen = {digest}
        while digest in self.superseded_by:
            digest = self.superseded_by[digest]
            if digest in seen:  # only a corrupt stream loops; the ledger refuses it
                raise CliError(
                    _("the claim versions of stream %(stream)s supersede in a loop")
                    % {"stream": self.stream}
                )
            seen.add(digest)
        return digest

    def require_active(self, digest: str, param: str) -> None:
        """Refuse a claim version that was superseded or withdrawn, naming what to use instead.

        Raises:
            CliError: exit 1, the ledger would refuse it.
        """
        if digest in self.withdrawn:
            raise CliError(
                _("%(param)s: claim %(digest)s is withdrawn") % {"param": param, "digest": digest},
                EXIT_FAILED,
            )
        latest = self.current(digest)
        if latest != digest:
            raise CliError(
                _("%(param)s: claim %(digest)s was superseded; its current version is %(latest)s")
                % {"param": param, "digest": digest, "latest": latest},
                EXIT_FAILED,
            )
