"""Running one claimed job on this machine: the generator request from the job, progress
throttled into events, results stored under their keys, and the outcome recorded.

Called by the RQ task ``genova.tasks.generate``; the reference remote worker runs its own
generators and reports over the socket instead.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext

import redis
import sqlalchemy.exc

from genova.extensions import db
from genova.generators import GenerationError, GenerationRequest, Stopped
from genova.models import Job, JobStatus
from genova.runtime import Runtime
from genova.services import lifecycle, storage
from genova.services.manager import Claim

log = logging.getLogger(__name__)
# Faults of the platform, not of the job: it is retried under the lease rules, never failed
INFRASTRUCTURE = (redis.RedisError, sqlalchemy.exc.OperationalError,
                  sqlalchemy.exc.InterfaceError)


def run(rt: Runtime, *, claim: Claim,
        keep_alive: Callable[[str], AbstractContextManager] = lambda platform: nullcontext()
        ) -> dict:
    """Run a claimed job with its model's generator and record the outcome. ``keep_alive``
    (given the job's platform) holds the lease while the generator works; if it yields an
    object with a ``lost`` event, a generator waiting on a provider stops once it is set."""
    job = db.session.get(Job, claim.job_id)
    if job is None or job.lease_id != claim.lease or job.status != JobStatus.PROCESSING:
        return {"skipped": "the job is no longer held by this lease"}
    generator = rt.generators.for_model(job.model)
    with keep_alive(job.platform) as keeper:
        try:
            started = time.perf_counter()
            outputs = generator.generate(_request(rt, job, _stop_reason(rt, keeper)),
                                         _progress_reporter(rt, claim, job.user_id))
            seconds = time.perf_counter() - started
            files = [_store(rt, job, i, out, len(outputs)) for i, out in enumerate(outputs)]
        except INFRASTRUCTURE:
            log.exception("job %s hit an infrastructure fault; it goes back in line", job.id)
            _hand_back(rt, claim)
            raise  # RQ records it in its failed-job registry too
        except Stopped as stop:
            return _stopped(rt, claim, str(stop))
        except GenerationError as exc:  # the provider's own words, safe to show
            log.warning("job %s failed: %s", job.id, exc.user_message)
            lifecycle.fail(rt, claim, error=exc.user_message)
            return {"failed": exc.user_message}
        except Exception as exc:
            log.exception("job %s failed", job.id)
            lifecycle.fail(rt, claim, error=_user_message(exc))
            raise
    meta = {**generator.describe(), "seconds": round(seconds, 4),
            "files": [{"width": o.width, "height": o.height, "content_type": o.content_type}
                      for o in outputs]}
    completed = lifecycle.complete(rt, claim, files=files, meta=meta)
    return {"completed": completed, "files": [f.key for f in files]}


DEADLINE = "the job's time limit passed"
LEASE_LOST = "this worker no longer holds the job"


def _stop_reason(rt: Runtime, keeper) -> Callable[[], str | None]:
    """Why a generator should stop now: the per-job deadline, or the lease lost (the job was
    failed or handed to another worker meanwhile)."""
    deadline = time.monotonic() + rt.settings.providers.generation_timeout
    lost = getattr(keeper, "lost", None)

    def reason() -> str | None:
        if lost is not None and lost.is_set():
            return LEASE_LOST
        return DEADLINE if time.monotonic() > deadline else None

    return reason


def _stopped(rt: Runtime, claim: Claim, reason: str) -> dict:
    """A deadline fails the job (refunded); a lost lease leaves it to whoever holds it."""
    if reason == DEADLINE:
        limit = rt.settings.providers.generation_timeout
        lifecycle.fail(rt, claim, error=f"generation took longer than the {limit:g} s limit")
        return {"failed": reason}
    log.warning("job %s: stopped, %s", claim.job_id, reason)
    return {"skipped": reason}


def _hand_back(rt, claim: Claim) -> None:
    """Not the job's fault (Redis or the database failed under it): back in line under the
    lease rules (once; a second loss fails it with a refund). If even that cannot be
    written now, the lease expires and the sweep does it."""
    try:
        db.session.rollback()
        lifecycle.abandon(rt, claim)
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


def _request(rt, job: Job, stop: Callable[[], str | None]) -> GenerationRequest:
    return GenerationRequest(
        job_id=job.id, type=job.type, model=job.model, prompt=job.prompt,
        settings=job.settings, seed=job.seq, stop=stop,
        references=[rt.storage.read(ref["path"]) for ref in job.reference_images or []])


def _store(rt, job: Job, index: int, output, total: int) -> lifecycle.StoredFile:
    """Deterministic names (never list a directory to pick one)."""
    name = "result" if total == 1 else f"result-{index + 1}"
    key = storage.result_key(user_id=job.user_id, job_id=job.id, name=name,
                             extension=output.extension)
    return lifecycle.StoredFile(key=key, size=rt.storage.save(key, output.data))


def _progress_reporter(rt, claim: Claim, user_id: str):
    """Events at every 10 % step; the SQL row at most once a second (it is for polling)."""
    state = {"percent": -10, "saved": time.monotonic()}

    def report(percent: int, message: str = "") -> None:
        percent = int(percent)
        if percent >= 100 or percent < state["percent"] + 10:
            return  # 100 is the completion itself, which follows at once
        state["percent"] = percent
        persist = time.monotonic() - state["saved"] >= 1.0
        if persist:
            state["saved"] = time.monotonic()
        lifecycle.progress(rt, claim, user_id=user_id, percent=percent, message=message,
                           persist=persist)

    return report
