"""The worker side of the job manager: claim, heartbeat, progress, complete, fail.

Every state change is a conditional UPDATE on ``(id, lease_id, status)``: the lease is a
fencing token, so a worker that lost its job (it went silent and the job was re-queued)
can no longer touch it, in SQL or in Redis.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy import update

from genova.extensions import db
from genova.models import Job, utcnow
from genova.runtime import Runtime
from genova.services import downloads, events
from genova.services.jobs import end_job, user_cap
from genova.services.manager import Claim

log = logging.getLogger(__name__)
MAX_STALE_CLAIMS = 50


@dataclass(frozen=True)
class StoredFile:
    key: str
    size: int


def claim_next(rt: Runtime, *, platform: str, worker_id: str, user_id: str | None = None
               ) -> tuple[Claim, str] | None:
    """Claim the next job of ``platform`` and mark it processing in SQL; returns the claim
    and the job's type.

    A claimed id that SQL no longer considers queued (cancelled meanwhile, or a leftover of
    a crash) is dropped from the live queue and the next one is tried.
    """
    for _ in range(MAX_STALE_CLAIMS):
        claim = rt.manager.claim(platform=platform, worker_id=worker_id,
                                 lease_ttl=rt.settings.lease_ttl, user_id=user_id)
        if claim is None:
            return None
        row = db.session.execute(
            update(Job)
            .where(Job.id == claim.job_id, Job.status == "queued")
            .values(status="processing", started_at=utcnow(), progress=0,
                    attempts=Job.attempts + 1, lease_id=claim.lease, worker_id=worker_id)
            .returning(Job.user_id, Job.type)
            .execution_options(synchronize_session=False)
        ).first()
        db.session.commit()
        if row is not None:
            events.publish(rt.redis, row.user_id, events.job_started(job_id=claim.job_id))
            return claim, row.type
        rt.manager.finish(job_id=claim.job_id, lease=claim.lease)
    return None


def heartbeat(rt: Runtime, claim: Claim) -> bool:
    """Extend the lease; False means the job is no longer ours. If Redis lost the job (a
    restart) but SQL still has it running under this lease, it is re-adopted."""
    beat = rt.manager.heartbeat(job_id=claim.job_id, lease=claim.lease,
                                lease_ttl=rt.settings.lease_ttl)
    if beat >= 0:
        return bool(beat)
    job = db.session.get(Job, claim.job_id)
    try:
        if job is None or job.status != "processing" or job.lease_id != claim.lease:
            return False
        rt.manager.adopt_running(job_id=job.id, user_id=job.user_id, platform=job.platform,
                                 priority=job.priority, seq=job.seq, lease=claim.lease,
                                 worker_id=job.worker_id or "", lease_ttl=rt.settings.lease_ttl,
                                 cap=user_cap(job.user_id))
        return True
    finally:
        db.session.rollback()  # end the read transaction


def _fenced(claim: Claim):
    return (Job.id == claim.job_id, Job.lease_id == claim.lease, Job.status == "processing")


def progress(rt: Runtime, claim: Claim, *, user_id: str, percent: int, message: str = "",
             persist: bool = True) -> bool:
    """Publish progress; ``persist`` also writes it to the row (False if fenced off)."""
    percent = max(0, min(100, int(percent)))
    if persist:
        result = db.session.execute(update(Job).where(*_fenced(claim)).values(progress=percent))
        db.session.commit()
        if not result.rowcount:
            return False
    events.publish(rt.redis, user_id, events.job_progress(job_id=claim.job_id,
                                                          progress=percent, message=message))
    return True


def complete(rt: Runtime, claim: Claim, *, files: list[StoredFile], meta: dict | None = None
             ) -> bool:
    """Record the results of a finished job. False (and nothing changes) if fenced off."""
    job = db.session.get(Job, claim.job_id)
    now = utcnow()
    elapsed = (now - job.started_at).total_seconds() if job.started_at else None
    keys = [f.key for f in files]
    result = db.session.execute(
        update(Job).where(*_fenced(claim)).values(
            status="completed", progress=100, completed_at=now, processing_time=elapsed,
            result_url=keys[0] if keys else None, result_urls=keys if len(keys) > 1 else None,
            file_size=sum(f.size for f in files), result_meta=meta, lease_id=None)
    )
    db.session.commit()
    if not result.rowcount:
        log.warning("late completion of %s with lease %s ignored", claim.job_id, claim.lease)
        return False
    rt.manager.finish(job_id=claim.job_id, lease=claim.lease)
    if elapsed is not None:
        rt.manager.record_duration(model=job.model, seconds=elapsed)
    links = downloads.sign_all(keys, secret=rt.secret, ttl=rt.settings.download_ttl) \
        if rt.secret else []
    events.publish(rt.redis, job.user_id, events.job_completed(
        job_id=job.id, result_urls=keys, download_urls=links, generator=meta))
    return True


def fail(rt: Runtime, claim: Claim, *, error: str, refund: bool = True) -> bool:
    """Fail a running job with ``error``; refunds unless the failure was the user's."""
    job = db.session.get(Job, claim.job_id)
    return end_job(rt, job_id=claim.job_id, user_id=job.user_id, where=_fenced(claim),
                   values={"status": "failed", "error_message": error[:2000],
                           "lease_id": None},
                   refund=refund, lease=claim.lease,
                   event=events.job_failed(job_id=claim.job_id, error=error))


LOST_MESSAGE = ("The worker running this job stopped responding {attempts} times; the job was "
                "failed and its credit was refunded.")


def abandon(rt: Runtime, claim: Claim) -> str:
    """The holder of ``claim`` is gone (silent, disconnected, killed). The job goes back in
    line, keeping its place, unless it already had ``max_attempts``: then it fails with a
    refund. Returns "requeued", "failed" or "gone" (nothing to do: fenced or finished)."""
    job = db.session.get(Job, claim.job_id)
    if job is None or job.status != "processing" or job.lease_id != claim.lease:
        rt.manager.finish(job_id=claim.job_id, lease=claim.lease)  # a finished job's leftover
        return "gone"
    if job.attempts < rt.settings.max_attempts:
        return _back_in_line(rt, claim, job, attempts=job.attempts)
    failed = fail(rt, claim, error=LOST_MESSAGE.format(attempts=job.attempts))
    return "failed" if failed else "gone"


def release(rt: Runtime, claim: Claim) -> str:
    """A claim its worker never started (the worker is stopping): back in line at once,
    keeping its place, and the attempt does not count. Returns "requeued" or "gone"."""
    job = db.session.get(Job, claim.job_id)
    if job is None or job.status != "processing" or job.lease_id != claim.lease:
        return "gone"
    return _back_in_line(rt, claim, job, attempts=max(0, job.attempts - 1))


def _back_in_line(rt: Runtime, claim: Claim, job: Job, *, attempts: int) -> str:
    result = db.session.execute(update(Job).where(*_fenced(claim)).values(
        status="queued", lease_id=None, worker_id=None, started_at=None, progress=0,
        queued_at=utcnow(), attempts=attempts))
    db.session.commit()
    if result.rowcount:  # the requeue announces job_queued to the user itself
        rt.manager.requeue(job_id=claim.job_id, lease=claim.lease, user_id=job.user_id,
                           model=job.model)
        return "requeued"
    return "gone"
