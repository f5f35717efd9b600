"""Periodic jobs, declared as data and enqueued on RQ.

Any number of schedulers may run (one per ``worker.py``): each time slot of each periodic
job is claimed with ``SET NX`` first, so it is enqueued once. The job itself also takes a
lock (see ``services.maintenance``), so two runs never overlap.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

import redis
from rq import Queue

from genova.config import Settings
from genova.workers import MAINTENANCE_QUEUE

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Periodic:
    name: str
    func: str  # the RQ job function's dotted path: the scheduler (in the supervisor, a
    # small process) does not import the application; tests/test_rq_contract.py resolves it
    interval: Callable[[Settings], int]  # seconds
    timeout: int = 600


PERIODIC = (
    Periodic("sweep", "genova.tasks.sweep", lambda s: max(1, s.sweep_interval)),
)


def _enqueue(r: redis.Redis, periodic: Periodic, job_id: str, interval: int) -> None:
    Queue(MAINTENANCE_QUEUE, connection=r).enqueue(
        periodic.func, job_id=job_id, job_timeout=periodic.timeout,
        result_ttl=interval * 10, failure_ttl=7 * 24 * 3600, description=periodic.name)


def tick(r: redis.Redis, settings: Settings, now: float | None = None) -> list[str]:
    """Enqueue every periodic job whose current slot nobody has enqueued yet."""
    now = time.time() if now is None else now
    enqueued = []
    for periodic in PERIODIC:
        interval = periodic.interval(settings)
        slot = int(now // interval)
        if r.set(f"genova:periodic:{periodic.name}:{slot}", "1", nx=True, ex=interval * 3):
            _enqueue(r, periodic, f"{periodic.name}-{slot}", interval)
            enqueued.append(periodic.name)
    return enqueued


def run_now(r: redis.Redis, settings: Settings, name: str) -> None:
    """Enqueue one run out of schedule (at start-up: rebuild the queue without waiting)."""
    periodic = next(p for p in PERIODIC if p.name == name)
    _enqueue(r, periodic, f"{name}-now-{uuid.uuid4().hex[:8]}", periodic.interval(settings))


def seconds_to_next_slot(settings: Settings, now: float | None = None) -> float:
    now = time.time() if now is None else now
    return min(p.interval(settings) - now % p.interval(settings) for p in PERIODIC)
