"""The hand-off from SQL to the per-platform Redis queue.

SQL is the source of truth; Redis holds, per platform, a sorted set of queued job ids
ordered by (priority desc, submission order asc). Positions are ``ZRANK`` lookups, so they
cost O(log n) however long the queue is.
"""

from __future__ import annotations

import redis

from genova.catalog import MODELS

PRIORITY_SPAN = 2**41  # sequence numbers stay below this; scores stay exact in a double


def queue_key(platform: str) -> str:
    return f"genova:queue:{platform}"


def score(priority: int, seq: int) -> float:
    return float(-priority * PRIORITY_SPAN + seq)


_SUBMIT = """
local seq = redis.call('INCR', KEYS[2])
redis.call('ZADD', KEYS[1], 'NX', tonumber(ARGV[2]) * -tonumber(ARGV[3]) + seq, ARGV[1])
return redis.call('ZRANK', KEYS[1], ARGV[1])
"""


def submit(*, r: redis.Redis, job_id: str, platform: str, priority: int) -> int:
    """Queue a job; returns its 1-based position. Atomic, one round trip."""
    rank = r.eval(_SUBMIT, 2, queue_key(platform), "genova:queue:seq", job_id,
                  PRIORITY_SPAN, priority)
    return int(rank) + 1


def position(*, r: redis.Redis, job_id: str, platform: str) -> int | None:
    rank = r.zrank(queue_key(platform), job_id)
    return None if rank is None else rank + 1


def remove(*, r: redis.Redis, job_id: str, platform: str) -> None:
    r.zrem(queue_key(platform), job_id)


def estimate_seconds(*, model: str, position: int | None) -> int | None:
    """Wait plus run time: the jobs ahead at the model's default duration, then this one."""
    if position is None:
        return None
    return MODELS[model].default_seconds * position
