"""RQ workers that take their generation work from the job manager.

RQ is the real execution queue: every generation runs as an RQ job (timeouts, the failed
job registry, started and finished registries, result TTLs), and so does maintenance. What
RQ does not decide is *which* job runs next: an idle worker first claims one from the job
manager (priority order, per-user slots, atomic across processes), then creates the RQ job
on its own private queue and hands it straight to RQ's executor, as RQ's dequeue would have
(the job is saved, never pushed and popped back: two round trips fewer per job). A job
therefore enters RQ only when a worker is free for it.

``SimpleWorker`` (no fork per job) keeps the per-job overhead to a few Redis round trips.
"""

from __future__ import annotations

import logging
import socket
import time
import uuid

import redis
from rq import Queue, SimpleWorker
from rq.worker import WorkerStatus

from genova import tasks
from genova.extensions import session_scope
from genova.runtime import Runtime
from genova.services import lifecycle
from genova.services.manager import Claim
from genova.workers import MAINTENANCE_QUEUE, rq_connection

log = logging.getLogger(__name__)
JOB_TIMEOUT = {"image": 300, "video": 900}  # seconds, enforced by RQ
RESULT_TTL = 3600
FAILURE_TTL = 7 * 24 * 3600
IDLE_WAIT = 1.0  # seconds an idle worker blocks before re-checking its RQ queues


class GenovaWorker(SimpleWorker):
    def __init__(self, rt: Runtime, *, platforms: list[str], maintenance: bool = True,
                 name: str | None = None):
        name = name or f"genova-{socket.gethostname()}-{uuid.uuid4().hex[:8]}"
        connection = rq_connection(rt.settings.redis_url)
        self.private = Queue(f"genova-run-{name}", connection=connection)
        queues = [self.private] + ([Queue(MAINTENANCE_QUEUE, connection=connection)]
                                   if maintenance else [])
        super().__init__(queues, name=name, connection=connection)
        # RQ registers a queue when a job is pushed onto it; ours never are, so register it
        # here, for `rq info` and the failed-job registry (Queue.all) to find.
        connection.sadd(Queue.redis_queues_keys, self.private.key)
        self.rt = rt
        self.platforms = platforms

    def dequeue_job_and_maintain_ttl(self, timeout, max_idle_time=None):
        """Run what is on our RQ queues first; when idle, claim from the job manager.

        Mirrors RQ 3.0's ``BaseWorker.dequeue_job_and_maintain_ttl`` (heartbeat, RQ's own
        maintenance, ``dequeue_any`` over ``_ordered_queues``, stop on ``_stop_requested``):
        RQ has no public hook for "what to do when the queues are empty".
        ``tests/test_rq_contract.py`` pins those internals, so an RQ upgrade that changes
        them fails there first."""
        self.set_state(WorkerStatus.IDLE)
        while not self._stop_requested:
            try:
                result = self._next()
            except (redis.ConnectionError, redis.TimeoutError) as exc:
                log.warning("Redis unavailable (%s); retrying in 1 s", exc)
                time.sleep(1)  # a restarted Redis is rebuilt by the sweep; keep the worker
                continue
            if result is not None:
                return result
        return None

    def _next(self):
        """One round: maintenance work on RQ's queue, else a claim, else a short blocking
        wait. (Our private queue stays empty: claimed jobs go straight to the executor.)"""
        self.heartbeat()
        if self.should_run_maintenance_tasks:  # RQ's own registry clean-up, as usual
            self.run_maintenance_tasks()
        if self.platforms:
            self.rt.manager.touch_worker(worker_id=self.name, platforms=self.platforms)
        result = None
        if len(self._ordered_queues) > 1:  # the maintenance queue (and our empty one)
            result = self.queue_class.dequeue_any(self._ordered_queues, None,
                                                  connection=self.connection,
                                                  job_class=self.job_class,
                                                  serializer=self.serializer)
        if result is None:
            result = self._claim()
        if result is None:
            self.rt.manager.wait_for_work(self.platforms or ["none"], IDLE_WAIT)
        return result

    def _claim(self):
        """A claimed job as RQ's dequeue returns it, ``(job, queue)``: the RQ job is created
        and saved on our private queue, not pushed onto it. Platforms take turns going
        first, so one busy platform cannot starve the other."""
        self.platforms = self.platforms[1:] + self.platforms[:1]
        for platform in self.platforms:
            with session_scope():
                claimed = lifecycle.claim_next(self.rt, platform=platform,
                                               worker_id=self.name)
            if claimed is None:
                continue
            claim, job_type = claimed
            rq_job = self.private.create_job(
                tasks.generate, args=(claim.job_id, claim.lease),
                job_id=f"gen-{claim.job_id}-{claim.lease}", timeout=JOB_TIMEOUT[job_type],
                result_ttl=RESULT_TTL, failure_ttl=FAILURE_TTL,
                description=f"generate {claim.job_id}")
            try:
                rq_job.save()
            except redis.RedisError:
                self._hand_back(claim)  # not started: back in line, the attempt not counted
                raise
            return rq_job, self.private
        return None

    def _hand_back(self, claim: Claim) -> None:
        try:
            with session_scope():
                outcome = lifecycle.release(self.rt, claim)
            log.info("job %s handed back (%s)", claim.job_id, outcome)
        except Exception:  # noqa: BLE001 - the lease expires and the sweep does it
            log.exception("could not hand back job %s", claim.job_id)

    def teardown(self):
        if self.platforms:
            self.rt.manager.drop_worker(worker_id=self.name, platforms=self.platforms)
        super().teardown()
