"""The job state machine: every change of a job's status happens in this module, and only
along ``TRANSITIONS``.

=========  ======================  ==========  =============================================
name       from                    to          by
=========  ======================  ==========  =============================================
create     (a new row)             queued      ``create_job`` (a request; the credit debited)
claim      queued                  processing  ``claim_next`` (a worker; a new lease)
progress   processing              processing  ``progress`` (the lease holder)
complete   processing              completed   ``complete`` (the lease holder)
fail       processing              failed      ``fail`` (the lease holder, or a lost worker
                                               past its attempts; refunded)
requeue    processing              queued      ``abandon`` (a lost worker), ``release`` (a
                                               stopping worker): the job keeps its place
cancel     pending, queued         cancelled   ``cancel_job`` (its owner; refunded)
stale      queued                  failed      ``fail_stale`` (the sweep; refunded)
=========  ======================  ==========  =============================================

``pending`` is in the API's vocabulary, but Genova queues a job in the request that creates
it, so no job rests there. Every transition is one conditional UPDATE whose WHERE is the
transition's source states (for a worker, also its lease: a fencing token), so of two actors
racing for a job exactly one wins and the loser changes nothing; the Redis queue and the
user's events follow only a transition that happened.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

import redis
from sqlalchemy import delete, func, select, update

from genova.catalog import PLANS
from genova.errors import Conflict, ServiceUnavailable
from genova.extensions import db
from genova.models import Job, JobStatus, User, iso, new_id, utcnow
from genova.runtime import Runtime
from genova.services import credits, downloads, events, storage
from genova.services.job_spec import JobSpec
from genova.services.manager import Claim

log = logging.getLogger(__name__)
STALE_BATCH = 1000
STALE_MESSAGE = ("The job waited {waited} without being assigned to a worker and was "
                 "failed automatically; its credit was refunded.")
LOST_MESSAGE = ("The worker running this job stopped responding {attempts} times; the job was "
                "failed and its credit was refunded.")
MAX_STALE_CLAIMS = 50  # leftover ids a claim skips before it gives up for this round


@dataclass(frozen=True)
class Transition:
    sources: frozenset[JobStatus]
    target: JobStatus


def _t(sources: tuple[JobStatus, ...], target: JobStatus) -> Transition:
    return Transition(frozenset(sources), target)


S = JobStatus
TRANSITIONS = {
    "create": _t((), S.QUEUED),
    "claim": _t((S.QUEUED,), S.PROCESSING),
    "progress": _t((S.PROCESSING,), S.PROCESSING),
    "complete": _t((S.PROCESSING,), S.COMPLETED),
    "fail": _t((S.PROCESSING,), S.FAILED),
    "requeue": _t((S.PROCESSING,), S.QUEUED),
    "cancel": _t((S.PENDING, S.QUEUED), S.CANCELLED),
    "stale": _t((S.QUEUED,), S.FAILED),
}


def allowed(source: JobStatus | None, target: JobStatus) -> bool:
    """Whether any transition leads from ``source`` (None: no row yet) to ``target``."""
    return any(t.target == target and (source in t.sources if source else not t.sources)
               for t in TRANSITIONS.values())


def _from(name: str):
    """The WHERE that lets transition ``name`` happen."""
    return Job.status.in_(TRANSITIONS[name].sources)


def _to(name: str) -> JobStatus:
    return TRANSITIONS[name].target


@dataclass(frozen=True)
class Placement:
    position: int | None
    estimated_time: int | None


@dataclass(frozen=True)
class Created:
    """What creating a job did, as the request saw it: a worker may claim the job before the
    response is written, and the answer must still say what this request created."""

    job_id: str
    status: str
    placement: Placement
    credits_remaining: int


def _store_references(rt: Runtime, *, user_id: str, job_id: str, spec: JobSpec) -> list[dict]:
    refs = []
    for i, image in enumerate(spec.images):
        key = storage.reference_key(user_id=user_id, job_id=job_id, index=i,
                                    extension=image.extension)
        rt.storage.save(key, image.data)
        refs.append({"path": key, "width": image.width, "height": image.height,
                     "mediaType": image.media_type})
    return refs


def _queue_unavailable(exc: Exception) -> ServiceUnavailable:
    log.error("queue unavailable: %s", exc)
    return ServiceUnavailable("the job queue is unavailable; nothing was charged, please retry")


def max_seq() -> int:
    return db.session.scalar(select(func.max(Job.seq))) or 0


def user_cap(user_id: str) -> int:
    return PLANS[db.session.get(User, user_id).plan].concurrent_jobs


def create_job(rt: Runtime, *, user_id: str, spec: JobSpec) -> Created:
    """Debit one credit and create the job in one transaction, then hand it to the queue.

    The row is committed before the queue sees it, so a worker can never claim a job that
    SQL does not know yet; if the queue then refuses it, the creation is undone (row,
    debit and files), the caller gets a 503 and nothing is lost or charged.
    """
    job_id = new_id()
    cap = user_cap(user_id)
    try:
        seq = rt.manager.next_seq(sql_floor=max_seq)
    except redis.RedisError as exc:
        raise _queue_unavailable(exc) from exc
    refs = _store_references(rt, user_id=user_id, job_id=job_id, spec=spec)
    now = utcnow()
    job = Job(id=job_id, user_id=user_id, type=spec.type, model=spec.model,
              platform=spec.platform, prompt=spec.prompt, settings=spec.settings,
              count=spec.settings["count"], reference_images=refs or None,
              priority=spec.priority, status=_to("create"), seq=seq, created_at=now, queued_at=now)
    try:
        balance = credits.debit_for_job(user_id=user_id, job_id=job_id)
        db.session.add(job)
        db.session.commit()
    except BaseException:
        db.session.rollback()
        _delete_references(rt, user_id=user_id, job_id=job_id)
        raise
    created = events.job_created(  # spec values, not the committed row (no reload)
        job_id=job_id, job_type=spec.type, prompt=spec.prompt, settings=spec.settings,
        created_at=iso(now), queue_position=None, estimated_time=None,
        credits_remaining=balance)
    try:  # one script queues the job and publishes job_created, then job_queued
        pos, eta = rt.manager.submit(job_id=job_id, user_id=user_id, platform=spec.platform,
                                     priority=spec.priority, seq=seq, cap=cap,
                                     model=spec.model, created=created)
    except redis.RedisError as exc:
        _undo_creation(rt, job_id=job_id, user_id=user_id)
        raise _queue_unavailable(exc) from exc
    return Created(job_id, _to("create"), Placement(pos, eta), balance)


def _delete_references(rt: Runtime, *, user_id: str, job_id: str) -> None:
    rt.storage.delete_prefix(storage.references_prefix(user_id=user_id, job_id=job_id))


def _undo_creation(rt: Runtime, *, job_id: str, user_id: str) -> None:
    """Take back a creation the queue refused: only while nobody has touched the job."""
    gone = db.session.execute(delete(Job).where(Job.id == job_id, Job.status == _to("create"),
                                                Job.attempts == 0)).rowcount
    if gone:
        credits.undo_debit(user_id=user_id, job_id=job_id)
    db.session.commit()
    if gone:
        _delete_references(rt, user_id=user_id, job_id=job_id)
        try:
            rt.manager.finish(job_id=job_id)
        except redis.RedisError:
            log.warning("job %s was undone but may linger in the queue", job_id)


def end_job(rt: Runtime, *, job_id: str, user_id: str, where: tuple, values: dict,
            refund: bool, event: dict, lease: str = "") -> bool:
    """Move a job to a final state if ``where`` still holds, refunding in the same
    transaction; then free its queue slot and tell the user. False if the job had moved on
    (someone else won the transition): nothing changes then."""
    result = db.session.execute(update(Job).where(Job.id == job_id, *where)
                                .values(completed_at=utcnow(), **values))
    if not result.rowcount:
        db.session.rollback()
        return False
    balance = credits.refund_job(user_id=user_id, job_id=job_id) if refund else None
    db.session.commit()
    if balance is not None:  # the user sees the refund with the event
        event = events.refunded(event, credits_remaining=balance)
    try:
        rt.manager.finish(job_id=job_id, lease=lease)
    except redis.RedisError:  # the live queue drops it later: claims re-check SQL
        log.warning("could not remove job %s from the live queue", job_id)
    events.publish(rt.redis, user_id, event)
    return True


def cancel_job(rt: Runtime, *, job: Job) -> None:
    """Cancel a pending or queued job and refund its credit, exactly once (409 otherwise)."""
    if not end_job(rt, job_id=job.id, user_id=job.user_id, where=(_from("cancel"),),
                   values={"status": _to("cancel")}, refund=True,
                   event=events.job_cancelled(job_id=job.id)):
        db.session.refresh(job)
        raise Conflict(f"job {job.id} is {job.status} and can no longer be cancelled",
                       error="Job cannot be cancelled")


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
            .where(Job.id == claim.job_id, _from("claim"))
            .values(status=_to("claim"), started_at=utcnow(), progress=0,
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
        if job is None or job.status != JobStatus.PROCESSING or job.lease_id != claim.lease:
            return False
        rt.manager.adopt_running(job_id=job.id, user_id=job.user_id, platform=job.platform,
                                 priority=job.priority, seq=job.seq, lease=claim.lease,
                                 worker_id=job.worker_id or "", lease_ttl=rt.settings.lease_ttl,
                                 cap=user_cap(job.user_id))
        return True
    finally:
        db.session.rollback()  # end the read transaction


def _fenced(claim: Claim, transition: str) -> tuple:
    """The WHERE of a lease holder's transition: its job, its lease, a source state."""
    return Job.id == claim.job_id, Job.lease_id == claim.lease, _from(transition)


def progress(rt: Runtime, claim: Claim, *, user_id: str, percent: int, message: str = "",
             persist: bool = True) -> bool:
    """Publish progress; ``persist`` also writes it to the row (False if fenced off)."""
    percent = max(0, min(100, int(percent)))
    if persist:
        result = db.session.execute(update(Job).where(*_fenced(claim, "progress"))
                                    .values(progress=percent))
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
        update(Job).where(*_fenced(claim, "complete")).values(
            status=_to("complete"), progress=100, completed_at=now, processing_time=elapsed,
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
    return end_job(rt, job_id=claim.job_id, user_id=job.user_id, where=_fenced(claim, "fail"),
                   values={"status": _to("fail"), "error_message": error[:2000],
                           "lease_id": None},
                   refund=refund, lease=claim.lease,
                   event=events.job_failed(job_id=claim.job_id, error=error))


def abandon(rt: Runtime, claim: Claim) -> str:
    """The holder of ``claim`` is gone (silent, disconnected, killed). The job goes back in
    line, keeping its place, unless it already had ``max_attempts``: then it fails with a
    refund. Returns "requeued", "failed" or "gone" (nothing to do: fenced or finished)."""
    job = db.session.get(Job, claim.job_id)
    if job is None or job.status != JobStatus.PROCESSING or job.lease_id != claim.lease:
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
    if job is None or job.status != JobStatus.PROCESSING or job.lease_id != claim.lease:
        return "gone"
    return _back_in_line(rt, claim, job, attempts=max(0, job.attempts - 1))


def _back_in_line(rt: Runtime, claim: Claim, job: Job, *, attempts: int) -> str:
    result = db.session.execute(update(Job).where(*_fenced(claim, "requeue")).values(
        status=_to("requeue"), lease_id=None, worker_id=None, started_at=None, progress=0,
        queued_at=utcnow(), attempts=attempts))
    db.session.commit()
    if result.rowcount:  # the requeue announces job_queued to the user itself
        rt.manager.requeue(job_id=claim.job_id, lease=claim.lease, user_id=job.user_id,
                           model=job.model)
        return "requeued"
    return "gone"


def fail_stale(rt: Runtime) -> int:
    """Fail and refund jobs queued longer than the queue timeout without a worker."""
    timeout = rt.settings.queue_timeout
    cutoff = utcnow() - timedelta(seconds=timeout)
    waited = f"{timeout // 60} minutes" if timeout >= 120 else f"{timeout} seconds"
    message = STALE_MESSAGE.format(waited=waited)
    stale = list(db.session.scalars(select(Job).where(_from("stale"),
                                                      Job.queued_at < cutoff).limit(STALE_BATCH)))
    return sum(end_job(rt, job_id=job.id, user_id=job.user_id, where=(_from("stale"),),
                       values={"status": _to("stale"), "error_message": message}, refund=True,
                       event=events.job_failed(job_id=job.id, error=message))
               for job in stale)
