"""RQ job functions. Thin: they take ids and primitives and call one service, each in its
own database session scope.

They run inside a worker process that holds an application context
(``genova.workers.rq_worker``).
"""

from __future__ import annotations

import logging
import threading

from flask import current_app
from rq import get_current_job

from genova import runtime
from genova.extensions import session_scope
from genova.services import generation, lifecycle, maintenance
from genova.services.manager import Claim

log = logging.getLogger(__name__)


def sweep() -> dict:
    """The periodic maintenance pass (scheduled by ``genova.workers.scheduler``)."""
    with session_scope():
        return maintenance.sweep(runtime.current()).to_dict()


def generate(job_id: str, lease: str) -> dict:
    """Run one claimed job (``services.generation``), heartbeating its lease meanwhile."""
    rt, claim = runtime.current(), Claim(job_id, lease)
    with session_scope():
        return generation.run(rt, claim=claim,
                              keep_alive=lambda platform: LeaseKeeper(rt, claim, platform))


class LeaseKeeper:
    """Heartbeats the claim (and the worker, for estimates) from a background thread while
    the job runs; ``lost`` is set once the lease is gone, so a generator stops waiting."""

    def __init__(self, rt, claim: Claim, platform: str):
        self.rt, self.claim, self.platform = rt, claim, platform
        self.app = current_app._get_current_object()
        rq_job = get_current_job()
        self.worker_name = rq_job.worker_name if rq_job is not None else None
        self.stopped = threading.Event()
        self.lost = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True, name="lease-keeper")

    def _run(self) -> None:
        with self.app.app_context():  # a re-adoption after a Redis restart reads SQL
            self._beat()

    def _beat(self) -> None:
        interval = max(0.2, self.rt.settings.lease_ttl / 3)
        while not self.stopped.wait(interval):
            try:
                if self.worker_name:  # a busy worker still counts for estimates
                    self.rt.manager.touch_worker(worker_id=self.worker_name,
                                                 platforms=[self.platform])
                if not lifecycle.heartbeat(self.rt, self.claim):
                    log.warning("lease on %s lost; its result will be discarded",
                                self.claim.job_id)
                    self.lost.set()
                    return
            except Exception as exc:  # noqa: BLE001 - keep trying; the lease may still hold
                log.warning("heartbeat for %s failed: %s", self.claim.job_id, exc)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stopped.set()
        self.thread.join(timeout=5)
