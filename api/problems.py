"""Every error the API returns, in one place: RFC 9457 ``application/problem+json``.

Each problem has a stable ``type`` URI (``https://claimledger.dev/problems/<name>``), a fixed
``title`` and HTTP status, and a ``detail`` for this occurrence. Routers never build error
responses: they raise a :class:`ApiProblem` (for HTTP-level mistakes) or let the ledger's own
errors through; :func:`install` maps them all here.

::

    exception                                   problem type            status
    ApiProblem (and subclasses below)           its own                 its own
    attest.EncodingError in the envelope        invalid-envelope        400
    attest.EncodingError in the payload         non-canonical-payload   400
    attest.SchemaError                          schema-error            422  (+ errors[])
    attest.SignatureError                       bad-signature           422
    attest.UnknownKeyError                      unknown-key             422
    attest.RevokedKeyError                      revoked-key             403
    attest.NotAuthorisedError                   not-authorised          403
    attest.ChainError                           chain-conflict          409  (+ head, length)
    attest.DanglingReferenceError               dangling-reference      422
    attest.EngagementError                      engagement-mismatch     422
    attest.OutOfScopeError                      out-of-claim-scope      422
    other attest.VerificationError              verification-failed     422
    ledger.StoreError                           store-unavailable       503  (no details)
    ledger.LogKeyNotHeldError                   log-key-not-held        503  (what key, logged)
    StartingError (the ledger is still opening) starting                503  (+ Retry-After)
    NotReadyError (/readyz)                     not-ready               503  (+ Retry-After)
    RequestValidationError (query, path)        invalid-parameter       400  (+ errors[])
    404 from routing                            not-found               404
    405 from routing                            method-not-allowed      405
    anything else                               internal-error          500  (no details; logged)

A ``POST`` to a submission path that ends in a problem is counted here, by problem name, in
``claimledger_appends_total`` (:func:`api.metrics.count_submission`); so is each refused envelope
of a batch (:func:`refusal`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response
from starlette.types import Scope, Send

from api.metrics import SUBMIT_PATHS, count_submission
from attest.errors import (
    ChainError,
    DanglingReferenceError,
    EncodingError,
    EngagementError,
    NotAuthorisedError,
    OutOfScopeError,
    RevokedKeyError,
    SchemaError,
    SignatureError,
    UnknownKeyError,
    VerificationError,
)
from ledger.errors import LedgerError, LogKeyNotHeldError, StoreError

__all__ = [
    "PROBLEMS",
    "PROBLEM_BASE",
    "PROBLEM_MEDIA_TYPE",
    "ApiProblem",
    "InvalidEnvelopeError",
    "InvalidParameterError",
    "NotFoundError",
    "NotReadyError",
    "ProblemType",
    "ReadOnlyError",
    "StartingError",
    "TooLargeError",
    "UnavailableError",
    "UnsupportedMediaTypeError",
    "install",
    "problem_for",
    "problem_response",
    "refusal",
    "send_problem",
]

log = logging.getLogger("claimledger.api")

PROBLEM_BASE = "https://claimledger.dev/problems/"
PROBLEM_MEDIA_TYPE = "application/problem+json"


@dataclass(frozen=True, slots=True)
class ProblemType:
    """One kind of problem: its stable name (the end of its ``type`` URI), status and title."""

    name: str
    status: int
    title: str

    @property
    def uri(self) -> str:
        """The ``type`` URI."""
        return PROBLEM_BASE + self.name


def _types(*items: tuple[str, int, str]) -> dict[str, ProblemType]:
    return {name: ProblemType(name, status, title) for name, status, title in items}


PROBLEMS: dict[str, ProblemType] = _types(
    ("invalid-envelope", 400, "The request body is not a valid DSSE envelope"),
    ("non-canonical-payload", 400, "The payload is not canonical JSON of the profile"),
    ("schema-error", 422, "The statement does not match the schema of its kind"),
    ("bad-signature", 422, "The signature does not verify"),
    ("unknown-key", 422, "The signing key is not a key of the signer"),
    ("revoked-key", 403, "The signing key has been revoked"),
    ("not-authorised", 403, "The signer may not write this statement to this stream"),
    ("chain-conflict", 409, "prev is not the current head of the stream"),
    ("dangling-reference", 422, "The statement refers to something that is not in the log"),
    (
        "engagement-mismatch",
        422,
        "The test record or verdict does not fit its engagement, or the engagement is not open",
    ),
    ("out-of-claim-scope", 422, "The test ran outside the scope of the claim it tests"),
    ("verification-failed", 422, "The entry failed verification"),
    ("too-large", 413, "The request body is too large"),
    ("unsupported-media-type", 415, "Unsupported request content type"),
    ("invalid-parameter", 400, "Invalid request parameters"),
    ("not-found", 404, "Not found"),
    ("method-not-allowed", 405, "Method not allowed"),
    ("read-only", 503, "This server is read-only"),
    ("checkpoint-unavailable", 503, "No signed checkpoint is available"),
    ("store-unavailable", 503, "The ledger database is unavailable"),
    ("log-key-not-held", 503, "This server does not hold the log key now in force"),
    ("starting", 503, "The server is starting: its ledger is being opened"),
    ("not-ready", 503, "The server is not ready to serve"),
    ("internal-error", 500, "Internal server error"),
)


class ApiProblem(Exception):
    """An HTTP-level problem raised by a router; rendered by :func:`install`'s handler.

    Attributes:
        problem: the problem type's name (a key of :data:`PROBLEMS`).
        detail: what happened this time.
        extra: extension members of the problem object.
        headers: extra response headers (e.g. ``Allow``).
    """

    problem = "internal-error"

    def __init__(
        self,
        detail: str,
        *,
        extra: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extra = extra or {}
        self.headers = headers or {}


class NotFoundError(ApiProblem):
    """An unknown stream, party, entry index or route."""

    problem = "not-found"


class InvalidParameterError(ApiProblem):
    """A query or path parameter is out of range or inconsistent with another."""

    problem = "invalid-parameter"

    def __init__(self, detail: str, *, parameter: str) -> None:
        super().__init__(
            detail, extra={"errors": [{"parameter": parameter, "in": "query", "detail": detail}]}
        )


class TooLargeError(ApiProblem):
    """The request body (or batch) is larger than the server accepts."""

    problem = "too-large"


class UnsupportedMediaTypeError(ApiProblem):
    """The request body's content type is not one this endpoint reads."""

    problem = "unsupported-media-type"


class ReadOnlyError(ApiProblem):
    """The server runs without the log key: it cannot append or sign."""

    problem = "read-only"


class UnavailableError(ApiProblem):
    """No checkpoint can be served (a read-only server cannot sign one)."""

    problem = "checkpoint-unavailable"


RETRY_AFTER_S = 5
"""Seconds a client is asked to wait (``Retry-After``) while the server starts or is not ready."""


class StartingError(ApiProblem):
    """The ledger is still being opened (verified again from the store): try again shortly."""

    problem = "starting"

    def __init__(self, detail: str) -> None:
        super().__init__(detail, headers={"Retry-After": str(RETRY_AFTER_S)})


class NotReadyError(ApiProblem):
    """``/readyz``: open, but not fit to take traffic now (behind the store, stopping)."""

    problem = "not-ready"

    def __init__(self, detail: str, *, extra: dict[str, Any] | None = None) -> None:
        super().__init__(detail, extra=extra, headers={"Retry-After": str(RETRY_AFTER_S)})


class InvalidEnvelopeError(ApiProblem):
    """The body is not a DSSE envelope (wraps the :class:`~attest.errors.EncodingError`)."""

    problem = "invalid-envelope"

    def __init__(self, exc: EncodingError) -> None:
        extra: dict[str, Any] = {} if exc.field is None else {"pointer": exc.field}
        super().__init__(exc.what, extra=extra)


def _body(ptype: ProblemType, detail: str | None, extra: dict[str, Any]) -> dict[str, Any]:
    body: dict[str, Any] = {"type": ptype.uri, "title": ptype.title, "status": ptype.status}
    if detail:
        body["detail"] = detail
    body.update(extra)
    return body


def _verification(exc: VerificationError) -> tuple[str, dict[str, Any]]:
    """The problem name and extension members for a failed trust check."""
    extra: dict[str, Any] = {}
    if exc.field is not None and not isinstance(exc, SchemaError):
        extra["pointer"] = exc.field
    if isinstance(exc, SchemaError):
        extra["errors"] = [{"pointer": p.pointer, "detail": p.message} for p in exc.problems]
        return "schema-error", extra
    if isinstance(exc, ChainError):
        extra.update(head=exc.head, length=exc.length)
        return "chain-conflict", extra
    for cls, name in (
        (EncodingError, "non-canonical-payload"),
        (SignatureError, "bad-signature"),
        (UnknownKeyError, "unknown-key"),
        (RevokedKeyError, "revoked-key"),
        (NotAuthorisedError, "not-authorised"),
        (DanglingReferenceError, "dangling-reference"),
        (EngagementError, "engagement-mismatch"),
        (OutOfScopeError, "out-of-claim-scope"),
    ):
        if isinstance(exc, cls):
            return name, extra
    return "verification-failed", extra


def problem_for(exc: BaseException) -> tuple[dict[str, Any], dict[str, str]]:
    """The problem object and extra headers for any exception (the one mapping).

    An :class:`~attest.errors.EncodingError` reaching here came from the statement (the payload):
    routers wrap envelope-level encoding errors in :class:`InvalidEnvelopeError` first.
    """
    if isinstance(exc, ApiProblem):
        return _body(PROBLEMS[exc.problem], exc.detail, exc.extra), exc.headers
    if isinstance(exc, VerificationError):
        name, extra = _verification(exc)
        return _body(PROBLEMS[name], exc.what, extra), {}
    if isinstance(exc, StoreError):
        log.error("ledger store error: %s", exc)
        return _body(PROBLEMS["store-unavailable"], None, {}), {"Retry-After": "5"}
    if isinstance(exc, LogKeyNotHeldError):
        # Another writer rotated the log key (SPEC §7.6): this one must be restarted with it.
        log.error("%s", exc)
        return _body(PROBLEMS["log-key-not-held"], str(exc), {}), {}
    if isinstance(exc, LedgerError):
        log.error("ledger error: %s", exc)
    else:
        log.error("unexpected error", exc_info=exc)
    return _body(PROBLEMS["internal-error"], None, {}), {}


def _name(body: dict[str, Any]) -> str:
    uri = str(body.get("type", ""))
    return uri.removeprefix(PROBLEM_BASE) if uri.startswith(PROBLEM_BASE) else "other"


def _count_refused(app: Any, method: str, path: str, body: dict[str, Any]) -> None:
    if method == "POST" and path in SUBMIT_PATHS:
        count_submission(app.state, _name(body))


def refusal(request: Request, exc: BaseException) -> dict[str, Any]:
    """The problem object for one refused envelope of a batch, counted by its problem name."""
    body, _ = problem_for(exc)
    count_submission(request.app.state, _name(body))
    return body


def problem_response(body: dict[str, Any], headers: dict[str, str] | None = None) -> Response:
    """A ``application/problem+json`` response for a problem object."""
    return Response(
        orjson.dumps(body),
        status_code=int(body["status"]),
        media_type=PROBLEM_MEDIA_TYPE,
        headers={"Cache-Control": "no-store", **(headers or {})},
    )


async def send_problem(send: Send, name: str, detail: str, scope: Scope | None = None) -> None:
    """Send a problem response straight over ASGI (for middleware that answers itself).

    With the request's ``scope``, a refused submission is counted like any other.
    """
    problem = _body(PROBLEMS[name], detail, {})
    if scope is not None and "app" in scope:
        _count_refused(scope["app"], scope["method"], scope["path"], problem)
    body = orjson.dumps(problem)
    await send(
        {
            "type": "http.response.start",
            "status": PROBLEMS[name].status,
            "headers": [
                (b"content-type", PROBLEM_MEDIA_TYPE.encode()),
                (b"content-length", str(len(body)).encode()),
                (b"cache-control", b"no-store"),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def _location(loc: tuple[int | str, ...]) -> tuple[str, str]:
    """``("query", "size")`` -> (``"size"``, where); body locations become a JSON pointer."""
    where = str(loc[0]) if loc else "request"
    rest = [str(p) for p in loc[1:]]
    if where == "body":
        return "/" + "/".join(rest), where
    return ".".join(rest) or where, where


def _validation_errors(exc: RequestValidationError) -> list[dict[str, str]]:
    out = []
    for err in exc.errors():
        name, where = _location(tuple(err.get("loc", ())))
        key = "pointer" if where == "body" else "parameter"
        out.append({key: name, "in": where, "detail": str(err.get("msg", "invalid"))})
    return out


def install(app: FastAPI) -> None:
    """Register the handlers that turn every exception into a problem response."""

    def respond(request: Request, body: dict[str, Any], headers: dict[str, str]) -> Response:
        _count_refused(request.app, request.method, request.url.path, body)
        return problem_response(body, headers)

    async def on_problem(request: Request, exc: Exception) -> Response:
        body, headers = problem_for(exc)
        return respond(request, body, headers)

    async def on_validation(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)  # noqa: S101 - registered for it
        errors = _validation_errors(exc)
        detail = "; ".join(
            f"{e.get('parameter') or e.get('pointer')}: {e['detail']}" for e in errors
        )
        return respond(
            request, _body(PROBLEMS["invalid-parameter"], detail, {"errors": errors}), {}
        )

    async def on_http(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)  # noqa: S101 - registered for it
        headers = dict(exc.headers or {})
        if exc.status_code == 404:
            detail = f"no resource at {request.url.path}"
            return respond(request, _body(PROBLEMS["not-found"], detail, {}), headers)
        if exc.status_code == 405:
            detail = f"{request.method} is not allowed on {request.url.path}"
            return respond(request, _body(PROBLEMS["method-not-allowed"], detail, {}), headers)
        # Other statuses raised by Starlette itself (e.g. a malformed request): a generic problem
        # with the same status, never a stack trace.
        body = {
            "type": "about:blank",
            "title": str(exc.detail),
            "status": exc.status_code,
        }
        return respond(request, body, headers)

    async def on_unexpected(request: Request, exc: Exception) -> Response:
        body, headers = problem_for(exc)
        return respond(request, body, headers)

    app.add_exception_handler(ApiProblem, on_problem)
    app.add_exception_handler(VerificationError, on_problem)
    app.add_exception_handler(LedgerError, on_problem)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(Exception, on_unexpected)
