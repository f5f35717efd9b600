"""User events over Redis pub/sub, so they reach a user's sockets in any server process.

Messages use the documented WebSocket shapes (``job_started``, ``job_progress``,
``job_completed``, ``job_failed``), plus ``job_created``, ``job_queued`` (position and ETA,
also sent from Lua when the queue moves) and ``job_cancelled``.
"""

from __future__ import annotations

import json
import logging

import redis

log = logging.getLogger(__name__)


CONTROL = "genova:control"


def close_sockets(r: redis.Redis, *, user_id: str, code: int, reason: str,
                  key_id: str | None = None) -> bool:
    """Ask every server process to close this user's sockets (``/ws/user`` and user-scoped
    extensions), or only those opened with API key ``key_id``, with ``code`` and
    ``reason``. False if Redis could not be told."""
    order = {"userId": user_id, "code": code, "reason": reason}
    if key_id is not None:
        order["keyId"] = key_id
    try:
        r.publish(CONTROL, json.dumps(order))
    except redis.RedisError as exc:
        log.warning("could not ask servers to close the sockets of %s: %s", user_id, exc)
        return False
    return True


EVENTS = "genova:events:"  # + user id: that user's job events


def channel(user_id: str) -> str:
    return EVENTS + user_id


def publish(r: redis.Redis, user_id: str, message: dict) -> None:
    """Best effort: an event lost to a Redis outage is recoverable over REST."""
    try:
        r.publish(channel(user_id), json.dumps(message))
    except redis.RedisError as exc:
        log.warning("event %s for %s not published: %s", message.get("type"), user_id, exc)
