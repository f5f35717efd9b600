"""The job manager: per-platform priority queues with per-user concurrency slots, atomic
claims with fencing leases, and queue-time estimates from measured durations.

SQL is the source of truth for every job; Redis holds the live queue (see ``manager_lua``)
and can be rebuilt from SQL at any time (``services.maintenance``).
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass

import redis

from genova.catalog import MODELS, PLATFORMS
from genova.services import events
from genova.services import manager_lua as lua

PRIORITY_SPAN = 2**41  # sequence numbers stay below this, so scores are exact doubles
EWMA_WEIGHT = 0.2
WORKER_FRESH_MS = 15_000
PLATFORM_DEFAULT_SECONDS = {  # a platform's estimate before any job ran there
    p: sum(m.default_seconds for m in MODELS.values() if m.platform == p)
    / max(1, sum(1 for m in MODELS.values() if m.platform == p))
    for p in PLATFORMS
}


def score(priority: int, seq: int) -> int:
    """Lower runs first: higher priority, then earlier submission."""
    return -priority * PRIORITY_SPAN + seq


@dataclass(frozen=True)
class Claim:
    job_id: str
    lease: str


def _now_ms() -> int:
    return int(time.time() * 1000)


class _Script:
    """A registered Lua script called with the catalog's platforms as its KEYS (the
    scripts loop over them; see ``manager_lua``)."""

    def __init__(self, script, platforms: list[str]):
        self.script, self.platforms = script, platforms

    def __call__(self, args=(), client=None):
        return self.script(keys=self.platforms, args=list(args), client=client)


class JobManager:
    def __init__(self, r: redis.Redis, *, platforms=None):
        self.r = r
        self.platforms = list(platforms or PLATFORMS)
        self._submit = self._script(lua.SUBMIT)
        self._position = self._script(lua.POSITION)
        self._placement = self._script(lua.PLACEMENT)
        self._placements = self._script(lua.PLACEMENTS)
        self._estimate = self._script(lua.ESTIMATE)
        self._record = self._script(lua.RECORD)
        self._claim = self._script(lua.CLAIM)
        self._claim_user = self._script(lua.CLAIM_USER)
        self._finish = self._script(lua.FINISH)
        self._requeue = self._script(lua.REQUEUE)
        self._heartbeat = self._script(lua.HEARTBEAT)
        self._adopt = self._script(lua.ADOPT_RUNNING)
        self._set_cap = self._script(lua.SET_CAP)
        self._expired = self._script(lua.EXPIRED)
        self._next_seq = self._script(lua.NEXT_SEQ)
        self._seed = self._script(lua.SEED)

    def _script(self, text: str) -> _Script:
        return _Script(self.r.register_script(text), self.platforms)

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
               cap: int, model: str, announce: bool = True, created: dict | None = None
               ) -> tuple[int | None, int | None]:
        """Queue a job (idempotent); returns its 1-based position and estimated seconds.
        With ``announce``, the user's sockets hear ``job_queued`` from the same script, and
        first the ``created`` event (``job_created``), its place filled in there."""
        channel = events.channel(user_id) if announce else ""
        template = "" if created is None else json.dumps(
            {k: v for k, v in created.items() if k not in ("queuePosition", "estimatedTime")})
        pos, eta = self._submit(args=[job_id, user_id, platform, score(priority, seq), cap,
                                      channel, *_estimate_args(model), template])
        return (int(pos), int(eta)) if pos else (None, None)  # None: already claimed

    def placement(self, job_id: str, model: str) -> tuple[int | None, int | None]:
        """A queued job's position and estimated seconds (None, None when not queued)."""
        pos, eta = self._placement(args=[job_id, *_estimate_args(model)])
        return (int(pos), int(eta)) if pos else (None, None)

    def placements(self, jobs: list[tuple[str, str]], *, batch: int = 500
                   ) -> list[tuple[int | None, int | None]]:
        """``placement`` for many (job id, model) pairs, ``batch`` per round trip."""
        out: list[tuple[int | None, int | None]] = []
        for start in range(0, len(jobs), batch):
            args = [a for job_id, model in jobs[start:start + batch]
                    for a in (job_id, *_estimate_args(model))]
            flat = self._placements(args=args)
            out += [(int(pos), int(eta)) if pos else (None, None)
                    for pos, eta in zip(flat[::2], flat[1::2], strict=True)]
        return out

    def position(self, job_id: str) -> int | None:
        pos = self._position(args=[job_id])
        return int(pos) if pos else None

    # -- workers ------------------------------------------------------------------------
    def claim(self, *, platform: str, worker_id: str, lease_ttl: float,
              user_id: str | None = None) -> Claim | None:
        """The next job of ``platform`` (only ``user_id``'s jobs when given)."""
        deadline = _now_ms() + int(lease_ttl * 1000)
        lease = uuid.uuid4().hex  # unique even after Redis loses its state
        if user_id is None:
            got = self._claim(args=[platform, worker_id, deadline, lease])
        else:
            got = self._claim_user(args=[platform, user_id, worker_id, deadline, lease])
        return Claim(got[0], got[1]) if got else None

    def heartbeat(self, *, job_id: str, lease: str, lease_ttl: float) -> int:
        """1 extended; 0 the lease is no longer ours; -1 Redis lost the job (re-adopt it)."""
        return int(self._heartbeat(args=[job_id, lease, _now_ms() + int(lease_ttl * 1000)]))

    def set_cap(self, *, user_id: str, cap: int) -> None:
        self._set_cap(args=[user_id, cap])

    def finish(self, *, job_id: str, lease: str = "") -> int:
        """Remove a job from the live queue and free its slot. ``lease`` fences late calls."""
        return int(self._finish(args=[job_id, lease]))

    def requeue(self, *, job_id: str, lease: str, user_id: str, model: str) -> int:
        """Back in line with its original score; the user hears ``job_queued``."""
        return int(self._requeue(args=[job_id, lease, events.channel(user_id),
                                       *_estimate_args(model)]))

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

    def record_duration(self, *, model: str, seconds: float) -> None:
        """Exponentially weighted moving averages of processing time, per model and platform."""
        self._record(args=[model, MODELS[model].platform, seconds, EWMA_WEIGHT])

    def durations(self, model: str) -> tuple[float, float]:
        """(this model's average, its platform's average) in seconds. Before anything was
        measured: the model's default, and the mean default of the platform's models."""
        platform = MODELS[model].platform
        own, plat = self.r.hmget("genova:durations", model, f"platform:{platform}")
        return (float(own) if own else float(MODELS[model].default_seconds),
                float(plat) if plat else PLATFORM_DEFAULT_SECONDS[platform])

    def estimate(self, *, model: str, position: int | None) -> int | None:
        """Seconds until the result of a job at ``position``: the jobs ahead shared among the
        platform's live workers (at least one), then this job's own run time."""
        if position is None:
            return None
        return int(self._estimate(args=[model, MODELS[model].platform, position,
                                        *_estimate_args(model)]))


def _estimate_args(model: str) -> list:
    """What the Lua ``estimate`` needs besides what Redis holds."""
    platform = MODELS[model].platform
    return [model, MODELS[model].default_seconds, PLATFORM_DEFAULT_SECONDS[platform],
            _now_ms(), WORKER_FRESH_MS]
