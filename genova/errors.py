"""One error hierarchy and one JSON handler.

Every error the API returns has the body ``{"error": <summary>, "details": <what exactly>}``.
Services raise these exceptions (they carry no Flask import); the web layer turns them,
and every werkzeug ``HTTPException``, into that shape.
"""

from __future__ import annotations


class GenovaError(Exception):
    """Base class: an error a client can act on."""

    status = 400
    error = "Bad request"

    def __init__(self, details: str, *, error: str | None = None, field: str | None = None):
        super().__init__(details)
        self.details = details
        if error is not None:
            self.error = error
        self.field = field

    def to_dict(self) -> dict:
        body = {"error": self.error, "details": self.details}
        if self.field:
            body["field"] = self.field
        return body

    def headers(self) -> dict[str, str]:
        return {}


class ValidationError(GenovaError):
    status = 400
    error = "Invalid request"


class MissingFieldError(ValidationError):
    error = "Missing required fields"


class Unauthorized(GenovaError):
    status = 401
    error = "Unauthorized"


class PaymentRequired(GenovaError):
    status = 402
    error = "Insufficient credits"


class Forbidden(GenovaError):
    status = 403
    error = "Forbidden"


class NotFound(GenovaError):
    status = 404
    error = "Not found"


class Conflict(GenovaError):
    status = 409
    error = "Conflict"


class PayloadTooLarge(GenovaError):
    status = 413
    error = "Payload too large"


class ServiceUnavailable(GenovaError):
    """Something the request needs is briefly down; ``Retry-After`` says when to retry."""

    status = 503
    error = "Service unavailable"
    retry_after = 2

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)}
