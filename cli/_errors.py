"""The one place where errors become a one-line message and an exit code.

Exit codes (also in ``claimledger --help``):

====  ==========================================================================================
0     success (for ``verify``: everything verified)
1     a check failed: verification failed, or the ledger refused an entry or a statement is
      invalid (schema, signature, key, rule, chain conflict); the first failure is named
2     usage error, bad input file, I/O, database or network error (nothing was checked)
====  ==========================================================================================

Only the package root errors (``KeysError``, ``AttestError``, ``LedgerError``), ``httpx`` errors,
``OSError`` and problems reported by a server are mapped; anything else is a bug and keeps its
traceback.
"""

from __future__ import annotations

import contextlib
from typing import IO, Any

import click
import httpx

from attest import AttestError, VerificationError
from cli._i18n import N_, _
from keys import InvalidSignatureError, KeysError
from ledger import CorruptionError, LedgerError

__all__ = [
    "EXIT_FAILED",
    "EXIT_OK",
    "EXIT_USAGE",
    "CliError",
    "ServerProblem",
    "to_cli_error",
]

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2

_LABELS = {
    "EncodingError": N_("malformed data"),
    "SchemaError": N_("invalid statement"),
    "SignatureError": N_("bad signature"),
    "UnknownKeyError": N_("unknown key"),
    "RevokedKeyError": N_("revoked key"),
    "NotAuthorisedError": N_("not authorised"),
    "ChainError": N_("chain conflict"),
    "DanglingReferenceError": N_("dangling reference"),
    "EngagementError": N_("engagement rule"),
    "OutOfScopeError": N_("outside the claim's scope"),
    "ProofError": N_("proof failed"),
    "IncompleteRecordError": N_("incomplete record"),
    "CheckpointError": N_("bad checkpoint"),
}
"""The kind of a failed check in words (translated where it is shown)."""


class CliError(click.ClickException):
    """A failure to report as one line on stderr with a documented exit code."""

    def __init__(self, message: str, exit_code: int = EXIT_USAGE) -> None:
        super().__init__(message)
        self.exit_code = exit_code  # type: ignore[misc]  # click declares it on the class

    def show(self, file: IO[Any] | None = None) -> None:
        """Print ``Error: <message>`` on stderr (in the user's language, :mod:`cli._i18n`)."""
        click.echo(
            _("Error: %(message)s") % {"message": self.format_message()}, err=True, file=file
        )


class ServerProblem(Exception):
    """An RFC 9457 problem a server answered with (``type``, ``title``, ``status``, ``detail``)."""

    def __init__(self, url: str, status: int, problem: dict[str, Any]) -> None:
        self.url = url
        self.status = status
        self.problem = problem
        title = str(problem.get("title") or f"HTTP {status}")
        detail = problem.get("detail")
        listed = _listed(problem.get("errors"))
        if listed is not None:  # every problem, whatever the detail says (RFC 9457 extension)
            detail = listed
        text = f"{title}: {detail}" if detail and detail != title else title
        super().__init__(text)


def _listed(errors: Any) -> str | None:
    """A problem's ``errors`` member (``[{pointer|parameter, detail}]``) as one line, when it
    lists more than one."""
    if not isinstance(errors, list) or len(errors) < 2:
        return None
    items = []
    for e in errors:
        if not isinstance(e, dict):
            return None
        where = e.get("pointer") or e.get("parameter")
        items.append(f"{where}: {e.get('detail')}" if where else str(e.get("detail")))
    return f"{len(items)} problems: " + "; ".join(items)


def _verification_message(exc: VerificationError) -> str:
    label = _LABELS.get(type(exc).__name__)
    return _("%(label)s: %(detail)s") % {
        "label": _(label) if label else _("verification failed"),
        "detail": exc,
    }


def to_cli_error(exc: BaseException) -> CliError | None:
    """The :class:`CliError` for an expected failure, or ``None`` for a bug."""
    if isinstance(exc, CliError):
        return exc
    if isinstance(exc, VerificationError):
        return CliError(_verification_message(exc), EXIT_FAILED)
    if isinstance(exc, AttestError):
        return CliError(str(exc), EXIT_USAGE)
    if isinstance(exc, InvalidSignatureError):
        return CliError(_("bad signature: %(exc)s") % {"exc": exc}, EXIT_FAILED)
    if isinstance(exc, KeysError):
        return CliError(_("key: %(exc)s") % {"exc": exc}, EXIT_USAGE)
    if isinstance(exc, CorruptionError):
        where = ", ".join(
            f"{k} {v}"
            for k, v in (("stream", exc.stream), ("position", exc.position), ("index", exc.index))
            if v is not None
        )
        return CliError(
            _("the database fails verification: %(detail)s") % {"detail": exc}
            + (f" ({where})" if where else ""),
            EXIT_FAILED,
        )
    if isinstance(exc, LedgerError):
        return CliError(_("ledger: %(exc)s") % {"exc": exc}, EXIT_USAGE)
    if isinstance(exc, ServerProblem):
        refused = exc.status in (400, 403, 409, 422)
        return CliError(
            (
                _("server refused (%(status)s): %(exc)s")
                if refused
                else _("server error (%(status)s): %(exc)s")
            )
            % {"status": exc.status, "exc": exc},
            EXIT_FAILED if refused else EXIT_USAGE,
        )
    if isinstance(exc, httpx.HTTPError):
        where = ""
        with contextlib.suppress(RuntimeError):  # an error raised before a request was made
            where = f" ({exc.request.url})"
        return CliError(
            _("cannot reach the server%(where)s: %(why)s")
            % {"where": where, "why": exc or type(exc).__name__}
        )
    if isinstance(exc, OSError):
        name = f"{exc.filename}: " if exc.filename else ""
        return CliError(f"{name}{exc.strerror or exc}")
    return None
