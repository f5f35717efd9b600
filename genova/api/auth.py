"""Who is calling: ``X-API-Key`` or ``Authorization: Bearer <access JWT>``.

``identify`` runs before every request (and before rate limiting). A request without
credentials is anonymous; a request with bad credentials is a 401 at once, on any route.
Views that need a user call ``current_user()``.
"""

from __future__ import annotations

from dataclasses import dataclass

import jwt as pyjwt
from flask import current_app, g, request
from flask_jwt_extended import decode_token
from flask_jwt_extended.exceptions import JWTExtendedException

from genova.api import ratelimit
from genova.errors import Unauthorized
from genova.services import accounts, keys, worker_tokens


def skip_identify(view):
    """Mark a view that reads its own credentials (token refresh, signed downloads)."""
    view.skip_identify = True
    return view


def decode_jwt(token: str, *, expected_type: str) -> str:
    """Verify a JWT and its type; returns the user id. 401 on any problem."""
    return decode_claims(token, expected_type=expected_type)["sub"]


def decode_claims(token: str, *, expected_type: str) -> dict:
    """Verify a JWT and its type; returns its claims. 401 on any problem."""
    try:
        claims = decode_token(token)
    except pyjwt.ExpiredSignatureError:
        raise Unauthorized("the token has expired; log in again or refresh it",
                           error="Token expired") from None
    except (pyjwt.PyJWTError, JWTExtendedException, ValueError) as exc:
        raise Unauthorized(f"the token is not valid: {exc}", error="Invalid token") from None
    if "exp" not in claims:  # a token that never expires could never be taken back
        raise Unauthorized("the token has no expiry; log in for a new one",
                           error="Invalid token")
    if claims.get("type") != expected_type:
        raise Unauthorized(f"a {claims.get('type')} token cannot be used here; send an "
                           f"{expected_type} token", error="Invalid token")
    return claims


@dataclass(frozen=True)
class Credential:
    """A user and what they authenticated with, so that a socket can end when it does:
    the API key (revocable) or the access token's expiry."""

    user: object
    key_id: str | None = None
    expires_at: float | None = None  # Unix seconds


def authenticate(*, api_key: str | None, bearer: str | None) -> Credential | None:
    """None without credentials; 401 for bad ones. The API key wins when both are sent."""
    if api_key:
        key_id, user = keys.authenticate_key(api_key)
        return Credential(user, key_id=key_id)
    if bearer:
        claims = decode_claims(bearer, expected_type="access")
        return Credential(accounts.get_user(claims["sub"]), expires_at=float(claims["exp"]))
    return None


def user_from_credentials(*, api_key: str | None, bearer: str | None):
    credential = authenticate(api_key=api_key, bearer=bearer)
    return None if credential is None else credential.user


@dataclass(frozen=True)
class WorkerCredential:
    """Who an extension is: a pool-worker token, or a user (JWT or API key)."""

    identity: str  # "token:<id>" or "user:<id>"
    user_id: str | None  # set for user-scoped workers: they serve only this user's jobs
    platform: str | None  # a worker token's platform
    key_id: str | None = None  # a user-scoped worker's API key
    expires_at: float | None = None  # a user-scoped worker's access token expiry


def worker_credential(*, token: str | None, api_key: str | None) -> WorkerCredential | None:
    """The credential an extension connects and uploads with; None if it sent none, 401 if
    it is bad."""
    if token and token.startswith(worker_tokens.TOKEN_PREFIX):
        worker = worker_tokens.authenticate_token(token)
        return WorkerCredential(f"token:{worker.id}", None, worker.platform)
    credential = authenticate(api_key=api_key, bearer=token)
    if credential is None:
        return None
    user = credential.user
    return WorkerCredential(f"user:{user.id}", user.id, None, credential.key_id,
                            credential.expires_at)


def bearer_token() -> str | None:
    header = request.headers.get("Authorization", "")
    if not header:
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("use 'Authorization: Bearer <token>'", error="Invalid token")
    return token.strip()


def identify() -> None:
    g.user = None
    view = current_app.view_functions.get(request.endpoint or "")
    if view is None or getattr(view, "skip_identify", False):
        return
    api_key, bearer = request.headers.get("X-API-Key"), bearer_token()
    user = ratelimit.budgeted_auth(user_from_credentials, api_key=api_key, bearer=bearer)
    if user is not None:
        accounts.refresh_period(user_id=user.id)
        g.user = user


def current_user():
    user = getattr(g, "user", None)
    if user is None:
        raise Unauthorized("send an API key in X-API-Key or a JWT in 'Authorization: Bearer'",
                           error="Authentication required")
    return user
