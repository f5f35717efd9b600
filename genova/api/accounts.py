"""``/api/auth``: register, login and token refresh."""

from __future__ import annotations

from flask import Blueprint
from flask_jwt_extended import create_access_token, create_refresh_token

from genova.api.auth import bearer_token, decode_jwt, skip_identify
from genova.api.endpoint import endpoint
from genova.api.serializers import user_out
from genova.errors import Unauthorized
from genova.schemas import AccessToken, Error, Login, Register, Tokens
from genova.services import accounts

bp = Blueprint("auth", __name__, url_prefix="/api/auth")


def _tokens(user) -> dict:
    return {"user": user_out(user),
            "accessToken": create_access_token(identity=user.id),
            "refreshToken": create_refresh_token(identity=user.id)}


@bp.post("/register")
@endpoint("Create an account", tag="auth", body=Register, auth=False,
          responses={201: Tokens, 409: Error},
          description="New accounts start on the free plan with its monthly credits.")
def register(body: Register):
    user = accounts.create_user(email=body.email, password=body.password, name=body.name)
    return _tokens(user), 201


@bp.post("/login")
@endpoint("Log in with email and password", tag="auth", body=Login, auth=False,
          responses={200: Tokens, 401: Error})
def login(body: Login):
    return _tokens(accounts.authenticate(email=body.email, password=body.password))


@bp.post("/refresh")
@skip_identify
@endpoint("Trade a refresh token (as Bearer) for a new access token", tag="auth", auth=False,
          responses={200: AccessToken, 401: Error},
          openapi={"security": [{"RefreshToken": []}]})
def refresh():
    token = bearer_token()
    if not token:
        raise Unauthorized("send the refresh token as 'Authorization: Bearer <token>'",
                           error="Authentication required")
    user = accounts.get_user(decode_jwt(token, expected_type="refresh"))
    return {"accessToken": create_access_token(identity=user.id)}
