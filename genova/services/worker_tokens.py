"""Pool-worker tokens (``gwt_...``), issued by operators for pool extensions."""

from __future__ import annotations

import secrets

from sqlalchemy import select, update

from genova.catalog import PLATFORMS
from genova.errors import NotFound, Unauthorized, ValidationError
from genova.extensions import db
from genova.models import WorkerToken, utcnow
from genova.services.keys import hash_key

TOKEN_PREFIX = "gwt_"


def create_token(*, name: str, platform: str) -> tuple[WorkerToken, str]:
    if platform not in PLATFORMS:
        raise ValidationError(f"platform must be one of {', '.join(PLATFORMS)}",
                              field="platform")
    raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = WorkerToken(name=name, platform=platform, token_hash=hash_key(raw))
    db.session.add(token)
    db.session.commit()
    return token, raw


def list_tokens() -> list[WorkerToken]:
    return list(db.session.scalars(select(WorkerToken).where(WorkerToken.revoked_at.is_(None))
                                   .order_by(WorkerToken.created_at)))


def revoke_token(*, token_id: str) -> None:
    result = db.session.execute(update(WorkerToken)
                                .where(WorkerToken.id == token_id,
                                       WorkerToken.revoked_at.is_(None))
                                .values(revoked_at=utcnow()))
    db.session.commit()
    if not result.rowcount:
        raise NotFound(f"no active worker token {token_id}")


def authenticate_token(raw: str) -> WorkerToken:
    token = db.session.scalar(select(WorkerToken).where(WorkerToken.token_hash == hash_key(raw)))
    if token is None or token.revoked_at is not None:
        raise Unauthorized("this worker token is unknown or has been revoked",
                           error="Invalid worker token")
    token.last_used_at = utcnow()
    db.session.commit()
    return token
