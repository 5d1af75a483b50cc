"""Commands that sign a statement and append it: one per role's action, plus sign/submit/head."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import Any

import click

from attest import ChainError, Envelope, VerificationError
from attest.checkpoint import Checkpoint, parse_note
from attest.statements import (
    REGISTRY_KINDS,
    Assurance,
    ClaimStatus,
    Cooperation,
    Kind,
    Role,
    ScopeMatch,
    Surface,
    TestMethod,
    TestResult,
    VerdictResult,
)
from cli._backend import Backend
from cli._common import (
    Signing,
    append,
    backend_options,
    body_options,
    check_backend_options,
    digest_of,
    echo_json,
    load_body,
    print_receipt,
    report_signed,
    sign,
    signing_options,
    with_backend,
    write_envelope,
)
from cli._digests import CLAIM_KINDS, StreamIndex, check_digest_ref
from cli._errors import EXIT_FAILED, EXIT_USAGE, CliError, to_cli_error
from cli._i18n import _
from cli._keyfiles import load_public_key
from keys import key_id as raw_key_id

__all__ = ["register"]

_SURFACES = click.Choice([s.value for s in Surface])
_SURFACE_HELP = "SURFACE is one of: " + ", ".join(s.value for s in Surface) + "."
_HEX = "64 lowercase hex characters"
_VERDICT = frozenset({Kind.VERDICT_ISSUE})
_ENGAGEMENT = frozenset({Kind.ENGAGEMENT_OPEN})


def _hex(value: str | None, name: str) -> str | None:
    if value is not None and (len(value) != 64 or set(value) - set("0123456789abcdef")):
        raise click.BadParameter(_("must be %(what)s") % {"what": _HEX}, param_hint=name)
    return value


def _set(body: dict[str, Any], name: str, value: Any) -> None:
    """Override a body member with an option's value, if the option was given."""
    if value is None or value == ():
        return
    body[name] = list(value) if isinstance(value, tuple) else value


def _json_option(text: str | None, name: str) -> Any:
    if text is None:
        return None
    try:
        return json.loads(text)
    except RecursionError:
        raise click.BadParameter(_("not valid JSON: nested too deeply"), param_hint=name) from None
    except ValueError as exc:
        raise click.BadParameter(
            _("not valid JSON: %(exc)s") % {"exc": exc}, param_hint=name
        ) from None


def _documents(values: Sequence[str], name: str) -> list[dict[str, Any]]:
    out = []
    for v in values:
        uri, sep, digest = v.rpartition("=")
        if not sep or not uri:
            raise click.BadParameter(
                _("expected URI=SHA256, got %(v)s") % {"v": repr(v)}, param_hint=name
            )
        _hex(digest, name)
        out.append({"uri": uri, "digest": {"sha256": digest}})
    return out


def _commitments(values: Sequence[str]) -> list[dict[str, Any]]:
    """``DUE=ACTION`` (the verdict's one finding) or ``DUE/N=ACTION`` (its recommendation N,
    counted from 0): what a provider's reply commits to (SPEC §3.3, ``provider.reply``)."""
    out: list[dict[str, Any]] = []
    for v in values:
        head, sep, action = v.partition("=")
        due, slash, n = head.partition("/")
        if not sep or not due or (slash and not n.isdigit()):
            raise click.BadParameter(
                _(
                    "expected DUE=ACTION or DUE/N=ACTION (N: the recommendation answered, "
                    "from 0), got %(v)s"
                )
                % {"v": repr(v)},
                param_hint="--commit",
            )
        item: dict[str, Any] = {"action": action, "due": due}
        if slash:
            item["recommendation"] = int(n)
        out.append(item)
    return out


def _population(text: str | None) -> Any:
    if text is None or text in ("all_users", "under_18"):
        return text
    lo, sep, hi = text.partition("-")
    if sep and lo.isdigit() and hi.isdigit():
        return {"ageBand": {"min": int(lo), "max": int(hi)}}
    raise click.BadParameter(
        _("expected all_users, under_18 or an age band like 13-17, got %(text)s")
        % {"text": repr(text)},
        param_hint="--population",
    )


class _Run:
    """Binds the options every write command has, for :func:`append`."""

    def __init__(self, kw: dict[str, Any]) -> None:
        check_backend_options()
        self.signing = Signing(
            kw.pop("key_file"),
            kw.pop("signer"),
            kw.pop("prev"),
            kw.pop("output"),
            kw.pop("as_json"),
        )
        self._open = partial(with_backend, kw.pop("db"), kw.pop("server"), kw.pop("log_key"))
        self._backend: Backend | None = None
        self.body = load_body(kw.pop("body_file", None))

    def backend(self) -> Backend:
        """The ledger written to, opened once."""
        if self._backend is None:
            self._backend = self._open()
        return self._backend

    @property
    def offline(self) -> bool:
        """Signing to a file (``-o``): nothing may be read from a ledger."""
        return self.signing.output is not None

    def own_stream(self) -> StreamIndex:
        """The signer's stream, read from the ledger, to resolve digests against."""
        return StreamIndex.read(self.backend(), self.signing.signer)

    def __call__(self, kind: Kind, *, stream: str | None = None) -> None:
        append(self.backend, self.signing, kind=kind, body=self.body, stream=stream)


def _writer(func: Callable[..., None]) -> Callable[..., None]:
    """The options shared by every write command."""
    return backend_options(signing_options(body_options(func)))


# -- claims -------------------------------------------------------------------------------------


def _claim_options(func: Callable[..., None]) -> Callable[..., None]:
    opts = [
        click.option("--measure", help="Measure type, e.g. detect.hash_known_image."),
        click.option("--service", "services", multiple=True, help="Service covered (repeat)."),
        click.option(
            "--surface",
            "surfaces",
            multiple=True,
            type=_SURFACES,
            metavar="SURFACE",
            help="Surface covered (repeat). " + _SURFACE_HELP,
        ),
        click.option(
            "--exclude",
            "excluded",
            multiple=True,
            metavar="SURFACE=REASON",
            help="A surface not covered, with the reason (repeat).",
        ),
        click.option(
            "--jurisdiction",
            "jurisdictions",
            multiple=True,
            metavar="CODE",
            help="ISO 3166-1 alpha-2 code or GLOBAL (repeat).",
        ),
        click.option(
            "--population", metavar="WHO", help="all_users, under_18, or an age band such as 13-17."
        ),
        click.option(
            "--status",
            type=click.Choice([s.value for s in ClaimStatus]),
            help="Whether the measure runs.",
        ),
        click.option("--effective-from", metavar="DATE", help="YYYY-MM-DD."),
        click.option("--effective-until", metavar="DATE", help="YYYY-MM-DD."),
        click.option(
            "--details",
            metavar="JSON",
            help="The measure's details object, as JSON (see docs/SPEC.md §3.3).",
        ),
        click.option(
            "--evidence",
            multiple=True,
            metavar="URI=SHA256",
            help="A public document and its SHA-256 (repeat).",
        ),
        click.option(
            "--framework-ref",
            "framework_refs",
            multiple=True,
            metavar="REF",
            help="e.g. OFCOM:ICU-C9 (repeat).",
        ),
    ]
    for opt in reversed(opts):
        func = opt(func)
    return func


def _claim_body(run: _Run, kw: dict[str, Any]) -> None:
    body = run.body
    _set(body, "measure", kw["measure"])
    _set(body, "services", kw["services"])
    _set(body, "surfaces", kw["surfaces"])
    if kw["excluded"]:
        items = []
        for v in kw["excluded"]:
            surface, sep, reason = v.partition("=")
            if not sep or not reason:
                raise click.BadParameter(
                    _("expected SURFACE=REASON, got %(v)s") % {"v": repr(v)}, param_hint="--exclude"
                )
            items.append({"surface": surface, "reason": reason})
        body["excludedSurfaces"] = items
    _set(body, "jurisdictions", kw["jurisdictions"])
    _set(body, "population", _population(kw["population"]))
    _set(body, "status", kw["status"])
    _set(body, "effectiveFrom", kw["effective_from"])
    _set(body, "effectiveUntil", kw["effective_until"])
    _set(body, "details", _json_option(kw["details"], "--details"))
    if kw["evidence"]:
        body["evidence"] = _documents(kw["evidence"], "--evidence")
    _set(body, "frameworkRefs", kw["framework_refs"])


@click.group()
def claim() -> None:
    """Publish, supersede and withdraw claims (as a provider, on your own stream)."""


@claim.command("publish")
@_claim_options
@_writer
def claim_publish(**kw: Any) -> None:
    """Publish a claim about one measure.

    Give the body in a file (--body claim.yaml) and/or with options. Example:

    \b
      claimledger claim publish --key acme.key --signer acme-social \\
        --measure detect.hash_known_image --service "Acme Social" \\
        --surface public_posts --surface profiles --jurisdiction GLOBAL \\
        --population all_users --status deployed --effective-from 2026-01-01 \\
        --details '{"technologies":["PDQ"],"hashSources":["NCMEC"],"matchPoints":["upload"]}'

    Prints the claim's digest: verifiers and 'claim withdraw' refer to it.
    """
    run = _Run(kw)
    _claim_body(run, kw)
    run(Kind.CLAIM_PUBLISH)


@claim.command("supersede")
@click.argument("claim_digest", metavar="CLAIM")
@_claim_options
@_writer
def claim_supersede(claim_digest: str, **kw: Any) -> None:
    """Publish a new version of the claim CLAIM: its digest, or a unique prefix of it (at least
    12 hex characters).

    The new version starts from the current version of that claim, read from the ledger (--db or
    --server): every member is carried over (measure, services, surfaces, excluded surfaces,
    jurisdictions, population, status, effective dates, details, metrics, evidence, framework
    refs) except those given in --body or by an option. A repeated option (--service, --surface,
    --jurisdiction, --exclude, --evidence, --framework-ref) replaces the whole list. If CLAIM is an
    older version, the current one is superseded (and named on stderr). Example:

    \b
      claimledger claim supersede 3f9c2a41d07e --key acme.key --signer acme-social \\
        --status deployed --effective-from 2026-03-01

    Signing offline (-o), nothing is read: give the whole digest and the whole claim.
    """
    run = _Run(kw)
    if run.offline:
        digest = check_digest_ref(claim_digest, "CLAIM", full=True)
    else:
        ref = check_digest_ref(claim_digest, "CLAIM")
        own = run.own_stream()
        found = own.resolve(ref, CLAIM_KINDS, "claim", "CLAIM")
        digest = own.current(found.digest)
        if digest in own.withdrawn:
            raise CliError(
                _("CLAIM: claim %(digest)s is withdrawn: publish a new claim instead")
                % {"digest": digest},
                EXIT_FAILED,
            )
        if digest != found.digest:
            click.echo(
                f"claim {found.digest} was superseded; superseding its current version {digest}",
                err=True,
            )
        base = own.statements[digest].body
        base.pop("supersedes", None)
        run.body = {**base, **run.body}
    _claim_body(run, kw)
    run.body["supersedes"] = digest
    run(Kind.CLAIM_SUPERSEDE)


@claim.command("withdraw")
@click.argument("claim_digest", metavar="CLAIM")
@click.option("--reason", help="Why the claim is withdrawn (public).")
@_writer
def claim_withdraw(claim_digest: str, reason: str | None, **kw: Any) -> None:
    """Withdraw the claim version CLAIM: its digest, or a unique prefix of it (at least 12 hex
    characters), resolved against your stream. The claim stays on record, withdrawn."""
    run = _Run(kw)
    if run.offline:
        digest = check_digest_ref(claim_digest, "CLAIM", full=True)
    else:
        own = run.own_stream()
        digest = own.resolve(
            check_digest_ref(claim_digest, "CLAIM"), CLAIM_KINDS, "claim", "CLAIM"
        ).digest
        own.require_active(digest, "CLAIM")
    run.body["claim"] = digest
    _set(run.body, "reason", reason)
    run(Kind.CLAIM_WITHDRAW)


# -- tests, verdicts, replies -----------------------------------------------------------------


@click.group("test")
def test_group() -> None:
    """Record tests of a provider's claims (as an accredited verifier)."""


@test_group.command("record")
@click.option("--provider", required=True, metavar="PARTY", help="The provider's stream.")
@click.option("--claim", "claim_digest", metavar="DIGEST", help="The claim version tested.")
@click.option("--method", type=click.Choice([m.value for m in TestMethod]))
@click.option("--protocol", metavar="URI=SHA256", help="The test protocol document.")
@click.option("--service", help="Environment: the service tested.")
@click.option(
    "--surface",
    type=_SURFACES,
    metavar="SURFACE",
    help="Environment: the surface tested. " + _SURFACE_HELP,
)
@click.option("--jurisdiction", metavar="CODE", help="Environment: alpha-2 country code.")
@click.option("--client-version", help="Environment: the client version.")
@click.option("--window-start", metavar="TIMESTAMP", help="YYYY-MM-DDTHH:MM:SSZ.")
@click.option("--window-end", metavar="TIMESTAMP", help="YYYY-MM-DDTHH:MM:SSZ.")
@click.option("--cooperation", type=click.Choice([c.value for c in Cooperation]))
@click.option(
    "--trial",
    "trials",
    multiple=True,
    metavar="JSON",
    help='One trial: {"name","expected","observed","outcome"} (repeat).',
)
@click.option("--summary", help="What was done.")
@click.option("--result", type=click.Choice([r.value for r in TestResult]))
@click.option("--limitation", "limitations", multiple=True, help="A stated limitation (repeat).")
@click.option(
    "--engagement",
    metavar="DIGEST",
    help="The engagement the test is recorded under (the digest of its engagement.open).",
)
@click.option(
    "--not-tested",
    "not_tested",
    multiple=True,
    metavar="TEXT",
    help="What was not tested / out of scope (repeat; with --engagement, none given means "
    "an empty list, said on purpose).",
)
@_writer
def test_record(provider: str, **kw: Any) -> None:
    """Record one test of a claim version. Tests never involve real abuse material.

    Trials, environment and limitations are easiest in a body file (--body test.yaml).
    """
    run = _Run(kw)
    body = run.body
    _set(body, "claim", _hex(kw["claim_digest"], "--claim"))
    _set(body, "method", kw["method"])
    if kw["protocol"]:
        body["protocol"] = _documents([kw["protocol"]], "--protocol")[0]
    env = dict(body.get("environment") or {})
    _set(env, "service", kw["service"])
    _set(env, "surface", kw["surface"])
    _set(env, "jurisdiction", kw["jurisdiction"])
    _set(env, "clientVersion", kw["client_version"])
    if env:
        body["environment"] = env
    window = dict(body.get("window") or {})
    _set(window, "start", kw["window_start"])
    _set(window, "end", kw["window_end"])
    if window:
        body["window"] = window
    _set(body, "cooperation", kw["cooperation"])
    if kw["trials"]:
        body["trials"] = [_json_option(t, "--trial") for t in kw["trials"]]
    _set(body, "summary", kw["summary"])
    _set(body, "result", kw["result"])
    _set(body, "limitations", kw["limitations"])
    body.setdefault("limitations", [])
    _set(body, "engagement", _hex(kw["engagement"], "--engagement"))
    _set(body, "notTested", kw["not_tested"])
    if "engagement" in body:
        body.setdefault("notTested", [])
    run(Kind.TEST_RECORD, stream=provider)


@click.group()
def verdict() -> None:
    """Issue verdicts on claims (as an accredited verifier)."""


@verdict.command("issue")
@click.option("--provider", required=True, metavar="PARTY", help="The provider's stream.")
@click.option("--claim", "claim_digest", metavar="DIGEST", help="The claim version judged.")
@click.option(
    "--test",
    "tests",
    multiple=True,
    metavar="DIGEST",
    help="A test record the verdict rests on (repeat).",
)
@click.option("--result", type=click.Choice([r.value for r in VerdictResult]))
@click.option("--assurance", type=click.Choice([a.value for a in Assurance]))
@click.option(
    "--scope-surface",
    "scope_surfaces",
    multiple=True,
    type=_SURFACES,
    metavar="SURFACE",
    help="A surface the tests covered (repeat). " + _SURFACE_HELP,
)
@click.option(
    "--scope-jurisdiction",
    "scope_jurisdictions",
    multiple=True,
    metavar="CODE",
    help="A jurisdiction the tests covered (repeat).",
)
@click.option(
    "--scope-match",
    type=click.Choice([m.value for m in ScopeMatch]),
    help="How much of the claim's scope was tested.",
)
@click.option("--valid-until", metavar="TIMESTAMP", help="When the verdict expires.")
@click.option("--comments", help="Gaps and caveats (required for CONFIRMED_WITH_COMMENTS).")
@click.option("--recommendation", "recommendations", multiple=True, help="(repeat)")
@click.option("--conflicts-of-interest", help="e.g. 'none declared'.")
@click.option(
    "--engagement",
    metavar="DIGEST",
    help="The engagement the verdict is issued under (the digest of its engagement.open).",
)
@_writer
def verdict_issue(provider: str, **kw: Any) -> None:
    """Issue a verdict on one claim version, resting on named test records.

    Results: CONFIRMED, CONFIRMED_WITH_COMMENTS, NO_EVIDENCE_FOUND, CONTRADICTED, INCONCLUSIVE.
    """
    run = _Run(kw)
    body = run.body
    _set(body, "claim", _hex(kw["claim_digest"], "--claim"))
    if kw["tests"]:
        body["tests"] = [_hex(t, "--test") for t in kw["tests"]]
    _set(body, "result", kw["result"])
    _set(body, "assurance", kw["assurance"])
    scope = dict(body.get("scopeTested") or {})
    _set(scope, "surfaces", kw["scope_surfaces"])
    _set(scope, "jurisdictions", kw["scope_jurisdictions"])
    if scope:
        body["scopeTested"] = scope
    _set(body, "scopeMatch", kw["scope_match"])
    _set(body, "validUntil", kw["valid_until"])
    _set(body, "comments", kw["comments"])
    _set(body, "recommendations", kw["recommendations"])
    _set(body, "conflictsOfInterest", kw["conflicts_of_interest"])
    _set(body, "engagement", _hex(kw["engagement"], "--engagement"))
    run(Kind.VERDICT_ISSUE, stream=provider)


# -- engagements --------------------------------------------------------------------------------


@click.group()
def engagement() -> None:
    """Register engagements before testing; close or withdraw them (SPEC §8.2 rule 7)."""


def _party_or_name(party: str | None, name: str | None, option: str) -> dict[str, str] | None:
    if party is not None and name is not None:
        raise click.BadParameter(
            _("give %(option)s or %(option)s-name, not both") % {"option": option},
            param_hint=option,
        )
    if party is not None:
        return {"party": party}
    return None if name is None else {"name": name}


def _plan(values: Sequence[str]) -> list[dict[str, Any]]:
    out = []
    for v in values:
        method, sep, doc = v.partition(":")
        if not sep or method not in {m.value for m in TestMethod}:
            raise click.BadParameter(
                _("expected METHOD:URI=SHA256 with METHOD one of %(methods)s, got %(got)s")
                % {"methods": ", ".join(m.value for m in TestMethod), "got": repr(v)},
                param_hint="--plan",
            )
        out.append({"method": method, "protocol": _documents([doc], "--plan")[0]})
    return out


def _engagement_ref(run: _Run, ref: str, stream: str) -> str:
    """The engagement's whole digest: as given offline, else resolved against ``stream``."""
    if run.offline:
        return check_digest_ref(ref, "ENGAGEMENT", full=True)
    index = StreamIndex.read(run.backend(), stream)
    found = index.resolve(
        check_digest_ref(ref, "ENGAGEMENT"), _ENGAGEMENT, "engagement", "ENGAGEMENT"
    )
    return found.digest


@engagement.command("open")
@click.option("--provider", required=True, metavar="PARTY", help="The provider's stream.")
@click.option(
    "--claim", "claims", multiple=True, metavar="DIGEST", help="A claim version covered (repeat)."
)
@click.option(
    "--plan",
    "plan",
    multiple=True,
    metavar="METHOD:URI=SHA256",
    help="A planned method and its protocol document (repeat).",
)
@click.option("--window-start", metavar="TIMESTAMP", help="Testing starts (not in the past).")
@click.option("--window-end", metavar="TIMESTAMP", help="Testing ends.")
@click.option("--commissioned-by", metavar="PARTY", help="The party that commissioned it.")
@click.option("--commissioned-by-name", metavar="TEXT", help="...or its name, if not a party.")
@click.option("--paid-by", metavar="PARTY", help="The party that pays for it.")
@click.option("--paid-by-name", metavar="TEXT", help="...or its name, if not a party.")
@click.option(
    "--conflict", "conflicts", multiple=True, metavar="TEXT", help="A declared conflict (repeat)."
)
@_writer
def engagement_open(provider: str, **kw: Any) -> None:
    """Register an engagement (as an accredited verifier) before testing: the claim versions,
    the planned methods, the testing window, who commissioned and who pays, declared conflicts.

    Its digest is what test records and verdicts name with --engagement. No --conflict means an
    empty list: none declared.
    """
    run = _Run(kw)
    body = run.body
    if kw["claims"]:
        body["claims"] = [_hex(c, "--claim") for c in kw["claims"]]
    if kw["plan"]:
        body["methods"] = _plan(kw["plan"])
    window = dict(body.get("window") or {})
    _set(window, "start", kw["window_start"])
    _set(window, "end", kw["window_end"])
    if window:
        body["window"] = window
    for member, option in (("commissionedBy", "commissioned_by"), ("paidBy", "paid_by")):
        who = _party_or_name(kw[option], kw[f"{option}_name"], "--" + option.replace("_", "-"))
        _set(body, member, who)
    _set(body, "conflicts", kw["conflicts"])
    body.setdefault("conflicts", [])
    run(Kind.ENGAGEMENT_OPEN, stream=provider)


@engagement.command("close")
@click.argument("engagement_ref", metavar="ENGAGEMENT")
@click.option("--provider", required=True, metavar="PARTY", help="The provider's stream.")
@click.option("--verdict", "verdict_digest", metavar="DIGEST", help="The verdict that closes it.")
@_writer
def engagement_close(
    engagement_ref: str, provider: str, verdict_digest: str | None, **kw: Any
) -> None:
    """Close ENGAGEMENT (its digest, or a unique prefix of at least 12 hex characters) with a
    verdict you issued under it (as the verifier that opened it)."""
    run = _Run(kw)
    run.body["engagement"] = _engagement_ref(run, engagement_ref, provider)
    _set(run.body, "verdict", _hex(verdict_digest, "--verdict"))
    run(Kind.ENGAGEMENT_CLOSE, stream=provider)


@engagement.command("withdraw")
@click.argument("engagement_ref", metavar="ENGAGEMENT")
@click.option(
    "--provider",
    metavar="PARTY",
    help="The provider's stream [default: the signer's own, when the provider withdraws].",
)
@click.option("--reason", help="Why (public).")
@_writer
def engagement_withdraw(
    engagement_ref: str, provider: str | None, reason: str | None, **kw: Any
) -> None:
    """Withdraw ENGAGEMENT (its digest, or a unique prefix), as the verifier that opened it or as
    the provider. The page shows who withdrew it, and why."""
    run = _Run(kw)
    stream = provider or run.signing.signer
    run.body["engagement"] = _engagement_ref(run, engagement_ref, stream)
    _set(run.body, "reason", reason)
    run(Kind.ENGAGEMENT_WITHDRAW, stream=stream)


@click.command("reply")
@click.option("--verdict", "verdict_digest", metavar="DIGEST", help="The verdict replied to.")
@click.option("--text", help="The public reply.")
@click.option(
    "--evidence",
    multiple=True,
    metavar="URI=SHA256",
    help="A public document and its SHA-256 (repeat).",
)
@click.option(
    "--commit",
    "commit",
    multiple=True,
    metavar="DUE[/N]=ACTION",
    help="An action you commit to and its due date (YYYY-MM-DD); /N names the verdict's "
    "recommendation it answers, from 0 (repeat).",
)
@_writer
def reply(
    verdict_digest: str | None,
    text: str | None,
    evidence: tuple[str, ...],
    commit: tuple[str, ...],
    **kw: Any,
) -> None:
    """Publish your reply to a verdict on one of your claims (as the provider).

    --verdict takes the verdict's digest or a unique prefix of it (at least 12 hex characters),
    resolved against your stream (where verdicts on your claims are). Each --commit is an action
    with a due date; past it while its finding is open, it reads overdue on your page, the
    scorecard and in verify and report output.
    """
    run = _Run(kw)
    if verdict_digest is not None:
        if run.offline:
            digest = check_digest_ref(verdict_digest, "--verdict", full=True)
        else:
            ref = check_digest_ref(verdict_digest, "--verdict")
            digest = run.own_stream().resolve(ref, _VERDICT, "verdict", "--verdict").digest
        run.body["verdict"] = digest
    _set(run.body, "text", text)
    if evidence:
        run.body["evidence"] = _documents(evidence, "--evidence")
    if commit:
        run.body["commitments"] = _commitments(commit)
    run(Kind.PROVIDER_REPLY)


# -- the registry -------------------------------------------------------------------------------


@click.group()
def party() -> None:
    """Admit providers and verifiers (as the authority)."""


@party.command("register")
@click.argument("party_id", metavar="PARTY")
@click.option("--role", type=click.Choice([r.value for r in Role]))
@click.option("--name", help="Legal or public name.")
@click.option("--jurisdiction", metavar="CODE", help="ISO 3166-1 alpha-2 country code.")
@click.option("--website", metavar="URI")
@click.option(
    "--public-key",
    "public_keys",
    multiple=True,
    metavar="KEY",
    help="The party's public key: base64, or a public/private key file (repeat).",
)
@_writer
def party_register(
    party_id: str,
    role: str | None,
    name: str | None,
    jurisdiction: str | None,
    website: str | None,
    public_keys: tuple[str, ...],
    **kw: Any,
) -> None:
    """Register PARTY (a provider or verifier) with its first public keys."""
    run = _Run(kw)
    body = run.body
    body["party"] = party_id
    _set(body, "role", role)
    _set(body, "name", name)
    _set(body, "jurisdiction", jurisdiction)
    _set(body, "website", website)
    if public_keys:
        body["keys"] = [load_public_key(k).b64() for k in public_keys]
    run(Kind.PARTY_REGISTER)


@party.command("retire")
@click.argument("party_id", metavar="PARTY")
@click.option("--reason", help="Why (public).")
@_writer
def party_retire(party_id: str, reason: str | None, **kw: Any) -> None:
    """Retire PARTY (as the authority): it signs nothing after this entry, a provider's stream
    takes no new entries, and nothing is deleted: its past entries stay valid and are shown as
    "retired since" its retirement."""
    run = _Run(kw)
    run.body["party"] = party_id
    _set(run.body, "reason", reason)
    run(Kind.PARTY_RETIRE)


@click.group("log-key")
def log_key_group() -> None:
    """Rotate the log key, the key that signs checkpoints (as the authority; SPEC §7.6)."""


@log_key_group.command("rotate")
@click.option(
    "--public-key",
    "public_key",
    metavar="KEY",
    required=True,
    help="The new log key: base64, or a public/private key file. The server must hold its "
    "private key (serve --next-log-key) or it refuses the rotation.",
)
@click.option(
    "--from-size",
    type=click.IntRange(2),
    help="The first tree size whose checkpoint the new key signs; greater than the log's size "
    "once the rotation is in it [default: the size of the latest checkpoint + 2].",
)
@_writer
def log_key_rotate(public_key: str, from_size: int | None, **kw: Any) -> None:
    """Rotate the log key (signed by the authority): from --from-size on, checkpoints are signed
    by the new key; before it, by the old one, whose checkpoints cover the rotation
    (docs/operating/log-key-rotation.md)."""
    run = _Run(kw)
    run.body["key"] = load_public_key(public_key).b64()
    if from_size is None:
        if run.offline:
            raise CliError(_("give --from-size when signing to a file (-o)"), EXIT_USAGE)
        text, _sig = parse_note(run.backend().checkpoint())
        from_size = Checkpoint.parse_body(text).size + 2
    run.body["fromSize"] = from_size
    run(Kind.LOG_KEY_ROTATE)


@click.group("reference")
def reference_group() -> None:
    """Log published reference tables (as the authority), e.g. NCMEC's per-provider counts."""


@reference_group.command("publish")
@click.option(
    "--source-file",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="The published source document as downloaded: its SHA-256 becomes source.digest (or "
    "must equal the one the body gives).",
)
@click.option("--source-uri", metavar="URI", help="Where the source document is published.")
@_writer
def reference_publish(source_file: Path | None, source_uri: str | None, **kw: Any) -> None:
    """Log a reference table (--body FILE: dataset, recipient, source, unit, period, rows).

    Each row names a provider as the source lists it (listedAs), its count, and the party id
    it maps to (party). Every provider's report.authority metrics for the same period and unit
    are then compared with its row (SPEC §8.4): consistent, inconsistent or not comparable."""
    run = _Run(kw)
    body = run.body
    if source_uri is not None or source_file is not None:
        source = body.get("source")
        source = dict(source) if isinstance(source, dict) else {}
        if source_uri is not None:
            source["uri"] = source_uri
        if source_file is not None:
            sha = hashlib.sha256(source_file.read_bytes()).hexdigest()
            given = source.get("digest")
            if isinstance(given, dict) and given.get("sha256") not in (None, sha):
                raise CliError(
                    f"--source-file {source_file} has SHA-256 {sha}, but the body's "
                    f"source.digest is {given.get('sha256')}: not the same document"
                )
            source["digest"] = {"sha256": sha}
        body["source"] = source
    run(Kind.REFERENCE_PUBLISH)


@click.group("key")
def key_group() -> None:
    """Add and revoke a party's keys in the registry (rotation: add the new, revoke the old)."""


@key_group.command("add")
@click.argument("party_id", metavar="PARTY")
@click.option(
    "--public-key",
    "public_key",
    metavar="KEY",
    required=True,
    help="The new key: base64, or a public/private key file.",
)
@_writer
def key_add(party_id: str, public_key: str, **kw: Any) -> None:
    """Add a key to PARTY (signed by the authority or by the party itself)."""
    run = _Run(kw)
    run.body.update({"party": party_id, "key": load_public_key(public_key).b64()})
    run(Kind.KEY_ADD)


@key_group.command("revoke")
@click.argument("party_id", metavar="PARTY")
@click.option("--key-id", metavar="HEX", help="The key id to revoke (64 hex).")
@click.option(
    "--public-key",
    "public_key",
    metavar="KEY",
    help="Or the key itself: base64, or a public/private key file.",
)
@click.option("--reason", help="Why (public).")
@click.option(
    "--compromised-since",
    metavar="INDEX|TIMESTAMP",
    help="As the authority: the key was compromised from this log index, or from this log time "
    "(RFC 3339); the entries it signed from there read as not to be relied on.",
)
@_writer
def key_revoke(
    party_id: str,
    key_id: str | None,
    public_key: str | None,
    reason: str | None,
    compromised_since: str | None,
    **kw: Any,
) -> None:
    """Revoke one of PARTY's keys: it signs nothing after this entry.

    With --compromised-since (the authority only, SPEC §8.2 rule 5), the entries the key signed
    from that log index or log time until this revocation stay in the log but are flagged as not
    to be relied on, by every verifier and on the pages.
    """
    if (key_id is None) == (public_key is None):
        raise click.UsageError(_("give exactly one of --key-id or --public-key"))
    run = _Run(kw)
    kid = _hex(key_id, "--key-id") if key_id else raw_key_id(load_public_key(str(public_key)).raw)
    run.body.update({"party": party_id, "keyId": kid})
    _set(run.body, "reason", reason)
    if compromised_since is not None:
        since = compromised_since.strip()
        run.body["compromisedSince"] = {"index": int(since)} if since.isdigit() else {"time": since}
    run(Kind.KEY_REVOKE)


@click.group()
def accredit() -> None:
    """Grant and suspend verifiers' accreditation (as the authority)."""


@accredit.command("grant")
@click.argument("party_id", metavar="VERIFIER")
@click.option("--scheme", help="The accrediting programme.")
@click.option("--measure", "measures", multiple=True, help="A measure it may judge (repeat).")
@click.option("--valid-until", metavar="TIMESTAMP", help="When the accreditation lapses.")
@click.option(
    "--valid-from",
    metavar="TIMESTAMP",
    help="When its period starts (default: when it is logged). Periods must be contiguous.",
)
@click.option("--accrediting-body", metavar="NAME", help="Who accredited the verifier.")
@click.option("--method", "methods", multiple=True, help="A test method in scope (repeat).")
@click.option(
    "--qualification", "qualifications", multiple=True, help="The team's (repeat; public)."
)
@click.option(
    "--other-service",
    "other_services",
    multiple=True,
    metavar="PROVIDER=SERVICES",
    help="Another service the verifier sells to a provider (repeat).",
)
@click.option(
    "--no-other-services", is_flag=True, help="Declare that it sells providers nothing else."
)
@click.option("--fee-band", metavar="TEXT", help="Its fee band (independence declaration).")
@click.option("--rotation", metavar="TEXT", help="How its teams rotate (independence).")
@_writer
def accredit_grant(
    party_id: str,
    scheme: str | None,
    measures: tuple[str, ...],
    valid_until: str | None,
    valid_from: str | None,
    accrediting_body: str | None,
    methods: tuple[str, ...],
    qualifications: tuple[str, ...],
    other_services: tuple[str, ...],
    no_other_services: bool,
    fee_band: str | None,
    rotation: str | None,
    **kw: Any,
) -> None:
    """Accredit VERIFIER to test and judge the given measures (replaces an earlier grant), with
    its disclosures: accrediting body, methods, team, independence and validity period.

    An independence declaration needs --fee-band, --rotation and either --other-service
    (repeat) or --no-other-services.
    """
    run = _Run(kw)
    body = run.body
    body["party"] = party_id
    _set(body, "scheme", scheme)
    _set(body, "measures", measures)
    _set(body, "validUntil", valid_until)
    _set(body, "accreditingBody", accrediting_body)
    _set(body, "methods", methods)
    _set(body, "qualifications", qualifications)
    if other_services or no_other_services or fee_band is not None or rotation is not None:
        if bool(other_services) == no_other_services:
            raise click.BadParameter(
                _(
                    "an independence declaration lists --other-service PROVIDER=SERVICES "
                    "(repeat) or says --no-other-services, one of the two"
                ),
                param_hint="--other-service",
            )
        declared: dict[str, Any] = body.get("independence") or {}
        declared["otherServices"] = [_other_service(v) for v in other_services]
        _set(declared, "feeBand", fee_band)
        _set(declared, "rotation", rotation)
        body["independence"] = declared
    _set(body, "validFrom", valid_from)
    run(Kind.ACCREDITATION_GRANT)


def _other_service(value: str) -> dict[str, str]:
    provider, sep, services = value.partition("=")
    if not sep or not provider or not services:
        raise click.BadParameter(
            _("expected PROVIDER=SERVICES, got %(value)s") % {"value": repr(value)},
            param_hint="--other-service",
        )
    return {"provider": provider, "services": services}


@accredit.command("suspend")
@click.argument("party_id", metavar="VERIFIER")
@click.option("--reason", help="Why (public).")
@_writer
def accredit_suspend(party_id: str, reason: str | None, **kw: Any) -> None:
    """Suspend VERIFIER's accreditation."""
    run = _Run(kw)
    run.body["party"] = party_id
    _set(run.body, "reason", reason)
    run(Kind.ACCREDITATION_SUSPEND)


# -- offline signing, submitting, heads ---------------------------------------------------------


@click.command("sign")
@click.option(
    "--kind",
    required=True,
    type=click.Choice([k.value for k in Kind if k != Kind.GENESIS]),
    help="The statement kind.",
)
@click.option("--stream", help="The stream [default: registry for registry kinds, else --signer].")
@click.option(
    "--key",
    "key_file",
    type=click.Path(dir_okay=False, path_type=Path),
    envvar="CLAIMLEDGER_KEY",
    required=True,
    help="Your private key file.",
)
@click.option(
    "--signer", metavar="PARTY", envvar="CLAIMLEDGER_SIGNER", required=True, help="Your party id."
)
@click.option(
    "--prev",
    metavar="HEX",
    required=True,
    help="The stream's head (from 'claimledger head STREAM' on a connected machine).",
)
@click.option(
    "--body",
    "body_file",
    required=True,
    type=click.Path(dir_okay=False, allow_dash=True, path_type=Path),
    help="The statement body, JSON or YAML ('-' for stdin).",
)
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The envelope file to create.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def sign_cmd(
    kind: str,
    stream: str | None,
    key_file: Path,
    signer: str,
    prev: str,
    body_file: Path,
    output: Path,
    as_json: bool,
) -> None:
    """Sign a statement offline (air-gapped): no network, no database.

    Writes a DSSE envelope to OUTPUT; carry it to a connected machine and run
    'claimledger submit OUTPUT'. If the stream moved on meanwhile, submit says so and you sign
    again on the new head.
    """
    signing = Signing(key_file, signer, prev, output, as_json)
    body = load_body(body_file)
    k = Kind(kind)
    target = stream or ("registry" if k in REGISTRY_KINDS else signer)
    envelope = sign(signing, kind=k, stream=target, prev=prev, body=body)
    write_envelope(output, envelope)
    report_signed(envelope, output, kind, target, as_json)


def _with_file(path: Path, exc: Exception) -> CliError:
    """``exc`` as a one-line error naming the envelope file it came from."""
    err = to_cli_error(exc)
    if err is None:
        raise exc
    return CliError(f"{path}: {err.format_message()}", err.exit_code)


@click.command("submit")
@click.argument(
    "files", nargs=-1, required=True, type=click.Path(dir_okay=False, exists=True, path_type=Path)
)
@backend_options
@click.option("--json", "as_json", is_flag=True, help="Print the receipts as JSON.")
def submit_cmd(
    files: tuple[Path, ...], db: str | None, server: str | None, log_key: Path | None, as_json: bool
) -> None:
    """Submit envelope files signed earlier (e.g. by 'claimledger sign'), in order.

    Every file is read and parsed before anything is sent. Stops at the first envelope refused;
    those before it stay appended.
    """
    envelopes: list[tuple[Path, bytes, Envelope, str]] = []
    for path in files:
        data = path.read_bytes().strip()
        try:
            env = Envelope.parse(data)
            kind = str(json.loads(env.payload).get("kind", "entry"))
        except (VerificationError, ValueError, AttributeError, RecursionError) as exc:
            if isinstance(exc, VerificationError):
                raise _with_file(path, exc) from exc
            raise CliError(
                _("%(path)s: the payload is not a statement") % {"path": path}, EXIT_FAILED
            ) from exc
        envelopes.append((path, data, env, kind))
    backend = with_backend(db, server, log_key)
    for path, data, env, kind in envelopes:
        try:
            receipt = backend.submit(data)
        except ChainError as exc:
            raise CliError(
                _(
                    "%(path)s: chain conflict: the stream's head is now %(head)s (length "
                    "%(length)s); sign it again with --prev %(head)s"
                )
                % {"path": path, "head": exc.head, "length": exc.length},
                EXIT_FAILED,
            ) from exc
        except Exception as exc:
            raise _with_file(path, exc) from exc
        print_receipt(receipt, kind=kind, digest=digest_of(env), as_json=as_json)


@click.command("head")
@click.argument("stream")
@backend_options
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
def head_cmd(
    stream: str, db: str | None, server: str | None, log_key: Path | None, as_json: bool
) -> None:
    """Print STREAM's head (the --prev to sign on) and its length."""
    head, length = with_backend(db, server, log_key).head(stream)
    if as_json:
        echo_json({"stream": stream, "head": head, "length": length})
    else:
        click.echo(f"{head}  ({length} entries in {stream})")


def register(group: click.Group) -> None:
    """Add the write commands to ``group``."""
    for cmd in (
        claim,
        test_group,
        verdict,
        engagement,
        reply,
        party,
        reference_group,
        key_group,
        log_key_group,
        accredit,
        sign_cmd,
        submit_cmd,
        head_cmd,
    ):
        group.add_command(cmd)
