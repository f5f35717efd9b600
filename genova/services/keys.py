"""API keys: ``af_`` + 43 URL-safe characters, shown once, stored as SHA-256."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from sqlalchemy import select, update

from genova.errors import NotFound, Unauthorized
from genova.extensions import db
from genova.models import ApiKey, User, is_id, utcnow
from genova.services import accounts, events

KEY_PREFIX = "af_"
# last_used_at is written at most this often per key, so a busy key costs no write per request.
LAST_USED_RESOLUTION = timedelta(seconds=30)


def hash_key(raw: str) -> str:
    """A fast hash is right here: keys carry 256 bits of entropy, unlike passwords."""
    return hashlib.sha256(raw.encode()).hexdigest()


def create_key(*, user_id: str, name: str) -> tuple[ApiKey, str]:
    raw = KEY_PREFIX + secrets.token_urlsafe(32)
    key = ApiKey(user_id=user_id, name=name, prefix=raw[:11], key_hash=hash_key(raw))
    db.session.add(key)
    db.session.commit()
    return key, raw


def list_keys(*, user_id: str) -> list[ApiKey]:
    return list(db.session.scalars(
        select(ApiKey)
        .where(ApiKey.user_id == user_id, ApiKey.revoked_at.is_(None))
        .order_by(ApiKey.created_at.desc())
    ))


def revoke_key(*, user_id: str, key_id: str, redis=None) -> None:
    """Another user's key, or an already revoked one, is a 404. With Redis at hand, the
    sockets opened with the key close on every server process."""
    if not is_id(key_id):
        raise NotFound(f"no API key {key_id!r}", error="API key not found")
    result = db.session.execute(
        update(ApiKey)
        .where(ApiKey.id == key_id, ApiKey.user_id == user_id, ApiKey.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )
    db.session.commit()
    if not result.rowcount:
        raise NotFound(f"no API key {key_id}", error="API key not found")
    if redis is not None:
        events.close_sockets(redis, user_id=user_id, key_id=key_id, code=4401,
                             reason="unauthorized: the API key was revoked")


def authenticate_key(raw: str) -> tuple[str, User]:
    """The key's id and the user behind an active key (one query); touches
    ``last_used_at``. 401 otherwise."""
    if not raw or not raw.startswith(KEY_PREFIX):
        raise Unauthorized("API keys start with af_", error="Invalid API key")
    row = db.session.execute(select(ApiKey, User).join(User, User.id == ApiKey.user_id)
                             .where(ApiKey.key_hash == hash_key(raw))).first()
    if row is None or row.ApiKey.revoked_at is not None:
        raise Unauthorized("this API key is unknown or has been revoked",
                           error="Invalid API key")
    key, user = row
    key_id = key.id  # read before the commit below expires it
    accounts.ensure_enabled(user)
    now = utcnow()
    if key.last_used_at is None or now - key.last_used_at >= LAST_USED_RESOLUTION:
        key.last_used_at = now
        db.session.commit()
    return key_id, user
