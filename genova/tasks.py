"""RQ job functions. Thin: they take ids and primitives, load rows and call services.

They run inside a worker process that holds an application context (``genova.workers.rq_worker``).
"""

from __future__ import annotations

import logging
import re
import threading
import time

import redis
import sqlalchemy.exc
from flask import current_app
from rq import get_current_job

from genova import runtime
from genova.extensions import db
from genova.generators import GenerationRequest
from genova.generators.registry import for_model
from genova.models import Job
from genova.services import dispatch, maintenance, storage
from genova.services.manager import Claim

log = logging.getLogger(__name__)
# Faults of the platform, not of the job: it is retried under the lease rules, never failed
INFRASTRUCTURE = (redis.RedisError, sqlalchemy.exc.OperationalError,
                  sqlalchemy.exc.InterfaceError)


def sweep() -> dict:
    """The periodic maintenance pass (scheduled by ``genova.workers.scheduler``)."""
    return maintenance.sweep(runtime.current()).to_dict()


def generate(job_id: str, lease: str) -> dict:
    """Run one claimed job with its model's generator and record the outcome."""
    rt, claim = runtime.current(), Claim(job_id, lease)
    job = db.session.get(Job, job_id)
    if job is None or job.lease_id != lease or job.status != "processing":
        return {"skipped": "the job is no longer held by this lease"}
    generator = for_model(job.model)
    with LeaseKeeper(rt, claim, job.platform):
        try:
            started = time.perf_counter()
            outputs = generator.generate(_request(rt, job),
                                         _progress_reporter(rt, claim, job.user_id))
            seconds = time.perf_counter() - started
            files = [_store(rt, job, i, out, len(outputs)) for i, out in enumerate(outputs)]
        except INFRASTRUCTURE:
            log.exception("job %s hit an infrastructure fault; it goes back in line", job_id)
            _hand_back(rt, claim)
            raise  # RQ records it in its failed-job registry too
        except Exception as exc:
            log.exception("job %s failed", job_id)
            dispatch.fail(rt, claim, error=_user_message(exc))
            raise
    meta = {**generator.describe(), "seconds": round(seconds, 4),
            "files": [{"width": o.width, "height": o.height, "content_type": o.content_type}
                      for o in outputs]}
    completed = dispatch.complete(rt, claim, files=files, meta=meta)
    return {"completed": completed, "files": [f.key for f in files]}


def _hand_back(rt, claim: Claim) -> None:
    """Not the job's fault (Redis or the database failed under it): back in line under the
    lease rules (once; a second loss fails it with a refund). If even that cannot be
    written now, the lease expires and the sweep does it."""
    try:
        db.session.rollback()
        dispatch.abandon(rt, claim)
    except INFRASTRUCTURE as exc:
        log.warning("job %s will be recovered when its lease expires: %s", claim.job_id, exc)


# Internal addresses and server paths never reach a user's error_message.
_ADDRESS = re.compile(r"\b(?:\d{1,3}\.){3}\d{1,3}(?::\d+)?\b|\blocalhost(?::\d+)?\b"
                      r"|\[[0-9a-fA-F:]+\](?::\d+)?")
_PATH = re.compile(r"(?<![\w.])/(?:[\w.-]+/)+[\w.-]*")


def _user_message(exc: Exception) -> str:
    """What the user reads in ``error_message``: the cause, without addresses or paths."""
    if isinstance(exc, OSError):
        return storage.UNREADABLE
    text = _PATH.sub("<path>", _ADDRESS.sub("<server>", str(exc)[:300]))
    return f"generation failed: {text or type(exc).__name__}"


def _request(rt, job: Job) -> GenerationRequest:
    return GenerationRequest(
        job_id=job.id, type=job.type, model=job.model, prompt=job.prompt,
        settings=job.settings, seed=job.seq,
        references=[rt.storage.read(ref["path"]) for ref in job.reference_images or []])


def _store(rt, job: Job, index: int, output, total: int) -> dispatch.StoredFile:
    """Deterministic names (never list a directory to pick one)."""
    name = "result" if total == 1 else f"result-{index + 1}"
    key = storage.result_key(user_id=job.user_id, job_id=job.id, name=name,
                             extension=output.extension)
    return dispatch.StoredFile(key=key, size=rt.storage.save(key, output.data))


def _progress_reporter(rt, claim: Claim, user_id: str):
    """Events at every 10 % step; the SQL row at most once a second (it is for polling)."""
    state = {"percent": -10, "saved": time.monotonic()}

    def report(percent: int, message: str = "") -> None:
        percent = min(int(percent), 99)  # 100 is the completion itself
        if percent < state["percent"] + 10:
            return
        state["percent"] = percent
        persist = time.monotonic() - state["saved"] >= 1.0
        if persist:
            state["saved"] = time.monotonic()
        dispatch.progress(rt, claim, user_id=user_id, percent=percent, message=message,
                          persist=persist)

    return report


class LeaseKeeper:
    """Heartbeats the claim (and the worker, for estimates) from a background thread while
    the job runs."""

    def __init__(self, rt, claim: Claim, platform: str):
        self.rt, self.claim, self.platform = rt, claim, platform
        self.app = current_app._get_current_object()
        rq_job = get_current_job()
        self.worker_name = rq_job.worker_name if rq_job is not None else None
        self.stopped = threading.Event()
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
                if not dispatch.heartbeat(self.rt, self.claim):
                    log.warning("lease on %s lost; its result will be discarded",
                                self.claim.job_id)
                    return
            except Exception as exc:  # noqa: BLE001 - keep trying; the lease may still hold
                log.warning("heartbeat for %s failed: %s", self.claim.job_id, exc)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stopped.set()
        self.thread.join(timeout=5)
