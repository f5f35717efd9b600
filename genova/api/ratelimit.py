"""Per-user request limits for flask-limiter.

``identify`` runs before the limiter's own ``before_request`` hook, so these callables see
the authenticated user in ``g.user``: the key is the user (shared across every server
process through Redis), the limit is the plan's. Anonymous calls are limited per address.
"""

from __future__ import annotations

from flask import current_app, g, request

from genova.catalog import PLANS

EXEMPT_PREFIXES = ("/api/docs", "/api/openapi.json", "/healthz", "/readyz", "/metrics",
                   "/files/", "/studio", "/ws/")


def rate_limit_key() -> str:
    user = getattr(g, "user", None)
    if user is not None:
        return f"user:{user.id}"
    return f"ip:{request.remote_addr or 'unknown'}"


def limit_for_request() -> str:
    user = getattr(g, "user", None)
    if user is not None:
        return PLANS[user.plan].rate_limit
    return current_app.config["GENOVA"].anonymous_rate_limit


def rate_limit_exempt() -> bool:
    """Docs, probes, signed files, sockets and extension result uploads are not API calls
    a plan should count."""
    return (request.path.startswith(EXEMPT_PREFIXES) or request.method == "OPTIONS"
            or request.endpoint == "files.upload_results")


def clamp_retry_after(response):
    """flask-limiter can compute ``Retry-After: 0`` in the last second of a window."""
    value = response.headers.get("Retry-After")
    if response.status_code == 429 and value is not None and value.isdigit():
        response.headers["Retry-After"] = str(max(1, int(value)))
    return response
