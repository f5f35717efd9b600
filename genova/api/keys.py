"""``/api/keys``: create (shown once), list and revoke API keys."""

from __future__ import annotations

from flask import Blueprint

from genova import runtime
from genova.api.auth import current_user
from genova.api.endpoint import endpoint
from genova.api.serializers import key_out
from genova.schemas import Error, KeyCreate, KeyCreated, KeyList, Success
from genova.services import keys

bp = Blueprint("keys", __name__, url_prefix="/api/keys")


@bp.post("")
@endpoint("Create an API key; the full key is returned only once", tag="keys",
          body=KeyCreate, responses={201: KeyCreated},
          openapi={"responses": {"201": {"links": {"RevokeKey": {
              "operationId": "keys_revoke", "parameters": {"key_id": "$response.body#/id"}}}}}})
def create(body: KeyCreate):
    key, raw = keys.create_key(user_id=current_user().id, name=body.name.strip() or "API key")
    return {**key_out(key), "key": raw}, 201


@bp.get("")
@endpoint("List active (non-revoked) API keys", tag="keys",
          responses={200: KeyList})
def index():
    return {"keys": [key_out(k) for k in keys.list_keys(user_id=current_user().id)]}


@bp.delete("/<key_id>")
@endpoint("Revoke an API key permanently; sockets opened with it close at once", tag="keys",
          responses={200: Success, 404: Error})
def revoke(key_id: str):
    keys.revoke_key(user_id=current_user().id, key_id=key_id,
                    redis=runtime.current().redis)
    return {"success": True}
