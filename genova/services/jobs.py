"""Jobs: creation (with its credit), lookup, listing, cancellation and statistics."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import redis
from sqlalchemy import case, delete, func, select, update

from genova.catalog import PLANS
from genova.errors import Conflict, NotFound, ServiceUnavailable
from genova.extensions import db
from genova.models import Job, User, is_id, iso, new_id, utcnow
from genova.runtime import Runtime
from genova.schemas import JobCreate
from genova.services import credits, events, storage
from genova.services.job_spec import JobSpec, build_spec

log = logging.getLogger(__name__)
ACTIVE = ("pending", "queued", "processing")
CANCELLABLE = ("pending", "queued")


@dataclass(frozen=True)
class Placement:
    position: int | None
    estimated_time: int | None


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


@dataclass(frozen=True)
class Created:
    """What creating a job did, as the request saw it: a worker may claim the job before the
    response is written, and the answer must still say what this request created."""

    job_id: str
    status: str
    placement: Placement
    credits_remaining: int


def submit(rt: Runtime, *, user_id: str, request: JobCreate) -> Created:
    """Check a request against the catalog (decoding its reference images), then create it."""
    if request.referenceImages is not None:
        # Decoding may wait for a thread; meanwhile the request, which has only read so far,
        # must not hold one of the pool's few connections, or a burst of uploads starves
        # every other request of connections.
        db.session.close()
    return create_job(rt, user_id=user_id, spec=build_spec(request))


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
              priority=spec.priority, status="queued", seq=seq, created_at=now, queued_at=now)
    try:
        balance = credits.debit_for_job(user_id=user_id, job_id=job_id)
        db.session.add(job)
        db.session.commit()
    except BaseException:
        db.session.rollback()
        _delete_references(rt, user_id=user_id, job_id=job_id)
        raise
    try:  # spec values, not the committed row: reading those would reload it
        pos, eta = rt.manager.submit(job_id=job_id, user_id=user_id, platform=spec.platform,
                                     priority=spec.priority, seq=seq, cap=cap,
                                     model=spec.model)
    except redis.RedisError as exc:
        _undo_creation(rt, job_id=job_id, user_id=user_id)
        raise _queue_unavailable(exc) from exc
    events.publish(rt.redis, user_id, events.job_created(
        job_id=job_id, job_type=spec.type, prompt=spec.prompt, settings=spec.settings,
        created_at=iso(now), queue_position=pos, estimated_time=eta,
        credits_remaining=balance))
    return Created(job_id, "queued", Placement(pos, eta), balance)



def _delete_references(rt: Runtime, *, user_id: str, job_id: str) -> None:
    rt.storage.delete_prefix(storage.references_prefix(user_id=user_id, job_id=job_id))


def _undo_creation(rt: Runtime, *, job_id: str, user_id: str) -> None:
    """Take back a creation the queue refused: only while nobody has touched the job."""
    gone = db.session.execute(delete(Job).where(Job.id == job_id, Job.status == "queued",
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


def get_job(*, user_id: str, job_id: str) -> Job:
    """Another user's job is indistinguishable from a missing one."""
    job = db.session.get(Job, job_id) if is_id(job_id) else None
    if job is None or job.user_id != user_id:
        raise NotFound(f"no job {job_id}", error="Job not found")
    return job


def placement(rt: Runtime, job: Job) -> Placement:
    if job.status != "queued":
        return Placement(None, None)
    try:
        return Placement(*rt.manager.placement(job.id, job.model))
    except redis.RedisError:
        return Placement(None, None)


def list_jobs(*, user_id: str, status: str | None, limit: int, offset: int,
              type: str | None = None, model: str | None = None
              ) -> tuple[list[Job], int]:
    where = [Job.user_id == user_id]
    for column, value in ((Job.status, status), (Job.type, type), (Job.model, model)):
        if value:
            where.append(column == value)
    total = db.session.scalar(select(func.count()).select_from(Job).where(*where))
    rows = db.session.scalars(select(Job).where(*where)
                              .order_by(Job.created_at.desc(), Job.id)
                              .limit(limit).offset(offset))
    return list(rows), total


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


def cancel_job(rt: Runtime, *, user_id: str, job_id: str) -> None:
    """Cancel a pending or queued job and refund its credit, exactly once."""
    job = get_job(user_id=user_id, job_id=job_id)
    if not end_job(rt, job_id=job_id, user_id=user_id, where=(Job.status.in_(CANCELLABLE),),
                   values={"status": "cancelled"}, refund=True,
                   event=events.job_cancelled(job_id=job_id)):
        db.session.refresh(job)
        raise Conflict(f"job {job_id} is {job.status} and can no longer be cancelled",
                       error="Job cannot be cancelled")


def stats(*, user_id: str) -> dict:
    def count_if(cond):
        return func.coalesce(func.sum(case((cond, 1), else_=0)), 0)

    def sum_if(cond, value):
        return func.coalesce(func.sum(case((cond, value), else_=0)), 0)

    done = Job.status == "completed"
    row = db.session.execute(select(
        func.count(Job.id),
        count_if(done),
        count_if(Job.status == "failed"),
        count_if(Job.status.in_(ACTIVE)),
        count_if(Job.status == "cancelled"),
        count_if(Job.type == "image"),
        count_if(Job.type == "video"),
        sum_if(done & (Job.type == "image"), Job.count),
        sum_if(done & (Job.type == "video"), Job.count),
    ).where(Job.user_id == user_id)).one()
    user = db.session.get(User, user_id)
    keys = ("total_jobs", "completed_jobs", "failed_jobs", "active_jobs", "cancelled_jobs",
            "image_jobs", "video_jobs", "images_generated", "videos_generated")
    out = {k: int(v) for k, v in zip(keys, row, strict=True)}
    out.update(credits_remaining=user.credits_remaining, credits_used=user.credits_used)
    return out


def jobs_by_state() -> list[tuple[str, str, int]]:
    """(status, platform, count) for the active states, for the metrics endpoint."""
    rows = db.session.execute(select(Job.status, Job.platform, func.count())
                              .where(Job.status.in_(ACTIVE))
                              .group_by(Job.status, Job.platform))
    return [(status, platform, int(n)) for status, platform, n in rows]
