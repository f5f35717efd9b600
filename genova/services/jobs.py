"""Jobs as their owner sees them: submission, lookup, listing, queue placement and
statistics. Every change of a job's state is in ``services.lifecycle``."""

from __future__ import annotations

import redis
from sqlalchemy import case, func, select

from genova.errors import NotFound
from genova.extensions import db
from genova.models import ACTIVE, Job, JobStatus, User, is_id
from genova.runtime import Runtime
from genova.schemas import JobCreate
from genova.services import lifecycle
from genova.services.job_spec import build_spec
from genova.services.lifecycle import Created, Placement, create_job


def submit(rt: Runtime, *, user_id: str, request: JobCreate) -> Created:
    """Check a request against the catalog (decoding its reference images), then create it."""
    if request.referenceImages is not None:
        # Decoding may wait for a thread; meanwhile the request, which has only read so far,
        # must not hold one of the pool's few connections, or a burst of uploads starves
        # every other request of connections.
        db.session.close()
    return create_job(rt, user_id=user_id, spec=build_spec(request, generators=rt.generators))


def get_job(*, user_id: str, job_id: str) -> Job:
    """Another user's job is indistinguishable from a missing one."""
    job = db.session.get(Job, job_id) if is_id(job_id) else None
    if job is None or job.user_id != user_id:
        raise NotFound(f"no job {job_id}", error="Job not found")
    return job


def cancel_job(rt: Runtime, *, user_id: str, job_id: str) -> None:
    """The owner cancels a job (404 for anyone else's)."""
    lifecycle.cancel_job(rt, job=get_job(user_id=user_id, job_id=job_id))


def placement(rt: Runtime, job: Job) -> Placement:
    if job.status != JobStatus.QUEUED:
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


def stats(*, user_id: str) -> dict:
    def count_if(cond):
        return func.coalesce(func.sum(case((cond, 1), else_=0)), 0)

    def sum_if(cond, value):
        return func.coalesce(func.sum(case((cond, value), else_=0)), 0)

    done = Job.status == JobStatus.COMPLETED
    row = db.session.execute(select(
        func.count(Job.id),
        count_if(done),
        count_if(Job.status == JobStatus.FAILED),
        count_if(Job.status.in_(ACTIVE)),
        count_if(Job.status == JobStatus.CANCELLED),
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
