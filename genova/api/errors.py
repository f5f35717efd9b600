"""The one JSON error handler: every error is ``{"error", "details"}``."""

from __future__ import annotations

import logging

from flask import Flask, jsonify, request
from werkzeug.exceptions import HTTPException, RequestURITooLarge

from genova.errors import GenovaError

log = logging.getLogger(__name__)
MAX_URL = 8192

DETAILS = {
    404: "no such route; see /api/docs",
    405: "this method is not allowed here",
    413: "the request body is too large",
    414: f"the URL is longer than {MAX_URL} characters",
    429: "too many requests",
}


def _json(status: int, body: dict, headers=None):
    response = jsonify(body)
    response.status_code = status
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def refuse_long_urls() -> None:
    """Before anything else looks at the request."""
    if len(request.full_path) > MAX_URL:
        raise RequestURITooLarge()


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(GenovaError)
    def genova_error(exc: GenovaError):
        return _json(exc.status, exc.to_dict(), exc.headers())

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        status = exc.code or 500
        if status == 413:
            details = f"the request body exceeds the {request.max_content_length} byte limit"
        elif status == 429:
            details = f"rate limit exceeded: {exc.description}; retry after the Retry-After delay"
        else:
            details = DETAILS.get(status) or exc.description or exc.name
        headers = {k: v for k, v in exc.get_headers() if k.lower() != "content-type"}
        return _json(status, {"error": exc.name, "details": details}, headers)

    @app.errorhandler(Exception)
    def unexpected(exc: Exception):
        log.exception("unhandled error")
        return _json(500, {"error": "Internal server error",
                           "details": "an unexpected error occurred; please retry"})
