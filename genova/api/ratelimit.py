"""Per-user request limits for flask-limiter.

``identify`` runs before the limiter's own ``before_request`` hook, so these callables see
the authenticated user in ``g.user``: the key is the user (shared across every server
process through Redis), the limit is the plan's. Anonymous calls are limited per address.
"""

from __future__ import annotations

import math
import time

import redis
from flask import current_app, g, request
from flask_limiter import Limiter
from limits import parse
from werkzeug.exceptions import TooManyRequests

from genova.catalog import PLANS
from genova.errors import Unauthorized

EXEMPT_PREFIXES = ("/api/docs", "/api/openapi.json", "/api/models", "/healthz", "/readyz",
                   "/metrics", "/files/", "/studio", "/ws/", "/favicon.ico", "/manifest.json")


LOOPBACK = ("127.", "::1")


def client_address() -> str:
    """The caller's address. A request from this machine (the studio calling the API for
    a visitor) may name the visitor in ``X-Forwarded-For``; remote callers cannot."""
    remote = request.remote_addr or "unknown"
    forwarded = request.headers.get("X-Forwarded-For", "")
    if forwarded and remote.startswith(LOOPBACK):
        return forwarded.rsplit(",", 1)[-1].strip() or remote
    return remote


def rate_limit_key() -> str:
    user = getattr(g, "user", None)
    if user is not None:
        return f"user:{user.id}"
    return f"ip:{client_address()}"


def limit_for_request() -> str:
    user = getattr(g, "user", None)
    if user is not None:
        return PLANS[user.plan].rate_limit
    return current_app.config["GENOVA"].anonymous_rate_limit


EXEMPT_ENDPOINTS = ("files.upload_results",)


def is_exempt(path: str, endpoint: str | None) -> bool:
    """Docs, the model catalogue, probes, signed files, sockets, the studio's pages and
    extension result uploads are not API calls a plan should count. The OpenAPI document
    reads the same rule to say which operations can answer 429."""
    return path.startswith(EXEMPT_PREFIXES) or path == "/" or endpoint in EXEMPT_ENDPOINTS


def rate_limit_exempt() -> bool:
    return request.method == "OPTIONS" or is_exempt(request.path, request.endpoint)


def clamp_retry_after(response):
    """``Retry-After`` only where it means something (429 and 503: flask-limiter adds it to
    every response), and never 0 (it can compute that in the last second of a window)."""
    value = response.headers.get("Retry-After")
    if value is None:
        return response
    if response.status_code not in (429, 503):
        del response.headers["Retry-After"]
    elif value.isdigit():
        response.headers["Retry-After"] = str(max(1, int(value)))
    return response


def _failure_budget():
    settings = current_app.config["GENOVA"]
    if not settings.rate_limits_enabled:
        return None
    return limiter.limiter, parse(settings.auth_failure_limit), ("authfail", client_address())


def refuse_if_failing_auth() -> None:
    """An address that sent too many bad credentials lately is refused before its next
    credential is even checked (429), so guessing gains nothing, right or wrong."""
    budget = _failure_budget()
    if budget is None:
        return
    strategy, item, key = budget
    try:
        exhausted = not strategy.test(item, *key)
        reset = strategy.get_window_stats(item, *key).reset_time if exhausted else 0
    except redis.RedisError:  # the limits' store is down: do not fail the request for it
        return
    if exhausted:
        raise TooManyRequests(f"too many failed authentications from this address "
                              f"({item}); retry later",
                              retry_after=max(1, math.ceil(reset - time.time())))


def record_failed_auth() -> None:
    budget = _failure_budget()
    if budget is not None:
        strategy, item, key = budget
        try:
            strategy.hit(item, *key)
        except redis.RedisError:
            pass  # the limits' store is down; the 401 stands


def budgeted_auth(check, **credentials):
    """``check(**credentials)`` under the per-address budget of failed attempts: once it is
    spent, TooManyRequests before any credential is looked at; every 401 counts."""
    if any(credentials.values()):
        refuse_if_failing_auth()
    try:
        return check(**credentials)
    except Unauthorized:
        record_failed_auth()
        raise


limiter = Limiter(
    key_func=rate_limit_key,
    application_limits=[limit_for_request],
    application_limits_exempt_when=rate_limit_exempt,
    headers_enabled=True,
    # If Redis is unreachable, keep limiting per process instead of failing every request.
    in_memory_fallback_enabled=True,
)
