"""The job manager: per-platform priority queues with per-user concurrency slots, atomic
claims with fencing leases, and queue-time estimates from measured durations.

SQL is the source of truth for every job; Redis holds the live queue (see ``manager_lua``)
and can be rebuilt from SQL at any time (``services.maintenance``).
"""

from __future__ import annotations

import math
import time
import uuid
from dataclasses import dataclass

import redis

from genova.catalog import MODELS, PLATFORMS
from genova.services import manager_lua as lua

PRIORITY_SPAN = 2**41  # sequence numbers stay below this, so scores are exact doubles
EWMA_WEIGHT = 0.2
WORKER_FRESH_MS = 15_000
PLATFORM_DEFAULT_SECONDS = {
    p: sum(m.default_seconds for m in MODELS.values() if m.platform == p)
    / sum(1 for m in MODELS.values() if m.platform == p)
    for p in PLATFORMS
}


def score(priority: int, seq: int) -> int:
    """Lower runs first: higher priority, then earlier submission."""
    return -priority * PRIORITY_SPAN + seq


@dataclass(frozen=True)
class Announce:
    """Who hears that a job was queued, and what its estimate is made of."""

    channel: str  # the user's event channel, or "" for silence (rebuilds)
    model: str
    own_seconds: float
    platform_seconds: float
    workers: int

    def args(self) -> list:
        return [self.channel, self.model, self.own_seconds, self.platform_seconds, self.workers]


@dataclass(frozen=True)
class Claim:
    job_id: str
    lease: str


def _now_ms() -> int:
    return int(time.time() * 1000)


class JobManager:
    def __init__(self, r: redis.Redis):
        self.r = r
        self._submit = r.register_script(lua.SUBMIT)
        self._position = r.register_script(lua.POSITION)
        self._claim = r.register_script(lua.CLAIM)
        self._claim_user = r.register_script(lua.CLAIM_USER)
        self._finish = r.register_script(lua.FINISH)
        self._requeue = r.register_script(lua.REQUEUE)
        self._heartbeat = r.register_script(lua.HEARTBEAT)
        self._adopt = r.register_script(lua.ADOPT_RUNNING)
        self._expired = r.register_script(lua.EXPIRED)
        self._next_seq = r.register_script(lua.NEXT_SEQ)
        self._seed = r.register_script(lua.SEED)

    # -- submission ---------------------------------------------------------------------
    def next_seq(self, *, sql_floor) -> int:
        """A queue sequence number. After Redis lost its state, the counter is first re-seeded
        from ``sql_floor()`` (the highest seq in SQL) so that order survives a restart."""
        seq = int(self._next_seq())
        if seq < 0:
            self._seed(args=[int(sql_floor() or 0), uuid.uuid4().hex])
            seq = int(self._next_seq())
        return seq

    def submit(self, *, job_id: str, user_id: str, platform: str, priority: int, seq: int,
               cap: int, model: str, announce: bool = True) -> tuple[int, int]:
        """Queue a job (idempotent); returns its 1-based position and estimated seconds.
        With ``announce``, the user's sockets hear ``job_queued`` from the same script."""
        note = self.announcement(user_id=user_id, model=model, silent=not announce)
        pos, eta = self._submit(args=[job_id, user_id, platform, score(priority, seq), cap,
                                      *note.args()])
        return int(pos), int(eta)

    def announcement(self, *, user_id: str, model: str, silent: bool = False) -> Announce:
        own, platform_avg = self.durations(model)
        workers = max(1, self.workers_available(MODELS[model].platform))
        channel = "" if silent else f"genova:events:{user_id}"
        return Announce(channel, model, own, platform_avg, workers)

    def position(self, job_id: str) -> int | None:
        pos = self._position(args=[job_id])
        return int(pos) if pos else None

    # -- workers ------------------------------------------------------------------------
    def claim(self, *, platform: str, worker_id: str, lease_ttl: float,
              user_id: str | None = None) -> Claim | None:
        """The next job of ``platform`` (only ``user_id``'s jobs when given)."""
        deadline = _now_ms() + int(lease_ttl * 1000)
        if user_id is None:
            got = self._claim(args=[platform, worker_id, deadline])
        else:
            got = self._claim_user(args=[platform, user_id, worker_id, deadline])
        return Claim(got[0], got[1]) if got else None

    def heartbeat(self, *, job_id: str, lease: str, lease_ttl: float) -> bool:
        return bool(self._heartbeat(args=[job_id, lease, _now_ms() + int(lease_ttl * 1000)]))

    def finish(self, *, job_id: str, lease: str = "") -> int:
        """Remove a job from the live queue and free its slot. ``lease`` fences late calls."""
        return int(self._finish(args=[job_id, lease]))

    def requeue(self, *, job_id: str, lease: str, user_id: str, model: str) -> int:
        note = self.announcement(user_id=user_id, model=model)
        return int(self._requeue(args=[job_id, lease, *note.args()]))

    def adopt_running(self, *, job_id: str, user_id: str, platform: str, priority: int,
                      seq: int, lease: str, worker_id: str, lease_ttl: float, cap: int) -> bool:
        deadline = _now_ms() + int(lease_ttl * 1000)
        return bool(self._adopt(args=[job_id, user_id, platform, score(priority, seq), lease,
                                      worker_id, deadline, cap]))

    def expired(self, *, limit: int = 500) -> list[tuple[str, str]]:
        flat = self._expired(args=[_now_ms(), limit])
        return list(zip(flat[::2], flat[1::2], strict=True))

    def wait_for_work(self, platforms: list[str], timeout: float) -> None:
        """Block until a job may be ready on one of ``platforms`` (or the timeout)."""
        self.r.blpop([f"genova:wake:{p}" for p in platforms], timeout=timeout)

    def known(self, job_ids: list[str]) -> list[bool]:
        pipe = self.r.pipeline(transaction=False)
        for job_id in job_ids:
            pipe.exists(f"genova:job:{job_id}")
        return [bool(x) for x in pipe.execute()]

    def depth(self, platform: str) -> int:
        return int(self.r.zcard(f"genova:ready:{platform}"))

    # -- estimates ----------------------------------------------------------------------
    def touch_worker(self, *, worker_id: str, platforms: list[str]) -> None:
        pipe = self.r.pipeline(transaction=False)
        for p in platforms:
            pipe.zadd(f"genova:workers:{p}", {worker_id: _now_ms()})
        pipe.execute()

    def drop_worker(self, *, worker_id: str, platforms: list[str]) -> None:
        pipe = self.r.pipeline(transaction=False)
        for p in platforms:
            pipe.zrem(f"genova:workers:{p}", worker_id)
        pipe.execute()

    def workers_available(self, platform: str) -> int:
        key = f"genova:workers:{platform}"
        self.r.zremrangebyscore(key, "-inf", _now_ms() - WORKER_FRESH_MS)
        return int(self.r.zcard(key))

    def record_duration(self, *, model: str, seconds: float) -> None:
        """Exponentially weighted moving average of processing time, per model and platform."""
        for field in (model, f"platform:{MODELS[model].platform}"):
            self._ewma("genova:durations", field, seconds)

    def _ewma(self, key: str, field: str, value: float) -> None:
        old = self.r.hget(key, field)
        new = value if old is None else (1 - EWMA_WEIGHT) * float(old) + EWMA_WEIGHT * value
        self.r.hset(key, field, f"{new:.3f}")

    def durations(self, model: str) -> tuple[float, float]:
        """(this model's average, its platform's average) in seconds. Before anything was
        measured: the model's default, and the mean default of the platform's models."""
        platform = MODELS[model].platform
        own, plat = self.r.hmget("genova:durations", model, f"platform:{platform}")
        return (float(own) if own else float(MODELS[model].default_seconds),
                float(plat) if plat else PLATFORM_DEFAULT_SECONDS[platform])

    def estimate(self, *, model: str, position: int | None) -> int | None:
        """Seconds until the result: the jobs ahead shared among the platform's live workers
        (at least one), then this job's own run time."""
        if position is None:
            return None
        note = self.announcement(user_id="", model=model, silent=True)
        rounds = (position - 1) // note.workers
        return max(1, math.floor(rounds * note.platform_seconds + note.own_seconds + 0.5))


def platforms() -> list[str]:
    return list(PLATFORMS)
