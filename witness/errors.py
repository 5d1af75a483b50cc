"""Errors of the witness package.

::

    WitnessError              root: configuration, key files, the state file
     └── RequestError         an add-checkpoint request is refused; carries the HTTP status
"""

from __future__ import annotations

__all__ = ["RequestError", "WitnessError"]


class WitnessError(Exception):
    """Root of every error raised by :mod:`witness`."""


class RequestError(WitnessError):
    """A request the witness refuses, with the tlog-witness status code to answer.

    Attributes:
        status: the HTTP status (400, 403, 404, 409, 422).
        body: the response body.
        content_type: the response's content type.
    """

    def __init__(
        self, status: int, message: str, *, body: bytes | None = None, content_type: str = ""
    ) -> None:
        self.status = status
        self.body = body if body is not None else (message + "\n").encode("utf-8")
        self.content_type = content_type or "text/plain; charset=utf-8"
        super().__init__(message)
