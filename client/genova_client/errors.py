"""Exceptions carrying what the API said: its ``error``, ``details``, ``field`` and status.

Every error body of the Genova API is ``{"error", "details", "field"?}``; each HTTP status
the API documents has its own class, so callers catch what they can handle.
"""

from __future__ import annotations

import builtins

import httpx


class GenovaError(Exception):
    """Base class. ``status`` is None for errors that never reached the API."""

    status: int | None = None

    def __init__(self, error: str, details: str = "", *, field: str | None = None,
                 status: int | None = None, response: httpx.Response | None = None):
        self.error, self.details, self.field = error, details, field
        if status is not None:
            self.status = status
        self.response = response
        super().__init__(self.message)

    @property
    def message(self) -> str:
        text = self.error
        if self.details and self.details != self.error:
            text = f"{text}: {self.details}"
        return f"{text} (HTTP {self.status})" if self.status else text


class ValidationError(GenovaError):
    status = 400


class AuthenticationError(GenovaError):
    status = 401


class InsufficientCredits(GenovaError):
    status = 402


class PermissionDenied(GenovaError):
    status = 403


class NotFound(GenovaError):
    status = 404


class Conflict(GenovaError):
    status = 409


class PayloadTooLarge(GenovaError):
    status = 413


class RateLimited(GenovaError):
    """``retry_after``: seconds the API asked us to wait (its ``Retry-After`` header)."""

    status = 429

    def __init__(self, *args, retry_after: float | None = None, **kwargs):
        self.retry_after = retry_after
        super().__init__(*args, **kwargs)


class ServerError(GenovaError):
    status = 500


class ConnectionError(GenovaError, builtins.ConnectionError):
    """The API could not be reached (refused, DNS, TLS, timeout, a socket that would not
    open). Also a builtin ``ConnectionError``."""


class WaitTimeout(GenovaError, builtins.TimeoutError):
    """``wait`` gave up before the job finished; the job goes on (``job_id``)."""

    def __init__(self, job_id: str, timeout: float):
        self.job_id = job_id
        super().__init__("Timed out", f"job {job_id} did not finish within {timeout:g} s; "
                         "it is still running: wait again or cancel it")


class JobFailed(GenovaError):
    """``generate`` ended with a job that failed or was cancelled (``job``)."""

    def __init__(self, job):
        self.job = job
        super().__init__(f"Job {job.status}", job.error_message or f"job {job.id} {job.status}")


BY_STATUS: dict[int, type[GenovaError]] = {
    400: ValidationError, 401: AuthenticationError, 402: InsufficientCredits,
    403: PermissionDenied, 404: NotFound, 409: Conflict, 413: PayloadTooLarge,
    429: RateLimited,
}

# Close codes of the API's WebSockets (4400 bad parameters, 4401 credentials, 4403 forbidden).
BY_CLOSE_CODE: dict[int, type[GenovaError]] = {
    4400: ValidationError, 4401: AuthenticationError, 4403: PermissionDenied,
}


def retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After")
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


def from_response(response: httpx.Response) -> GenovaError:
    """The exception for an error response (any status >= 400)."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        body = {"error": response.reason_phrase or "HTTP error",
                "details": response.text[:300]}
    status = response.status_code
    cls = BY_STATUS.get(status, ServerError if status >= 500 else GenovaError)
    kwargs = {"field": body.get("field"), "status": status, "response": response}
    if cls is RateLimited:
        kwargs["retry_after"] = retry_after(response)
    return cls(str(body.get("error") or "Error"), str(body.get("details") or ""), **kwargs)


def from_close(code: int | None, reason: str) -> GenovaError | None:
    """The exception for a WebSocket the server refused, or None for an ordinary close."""
    cls = BY_CLOSE_CODE.get(code or 0)
    if cls is None:
        return None
    head, _, rest = reason.partition(":")
    error = cls(head.strip() or "Refused", rest.strip() or reason, status=cls.status)
    error.close_code, error.close_reason = code, reason
    return error
