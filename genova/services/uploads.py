"""Result files that an extension uploads before it reports ``job_completed``.

Only the extension holding the job (same credential, current lease) may upload. Files are
stored in upload order as the job's results; the list lives in Redis until completion.
"""

from __future__ import annotations

from typing import BinaryIO

from sqlalchemy import func, select

from genova.errors import Conflict, Forbidden, NotFound, PayloadTooLarge, ValidationError
from genova.extensions import db
from genova.models import Job, JobStatus, is_id
from genova.runtime import Runtime
from genova.services import media, storage
from genova.services.lifecycle import StoredFile
from genova.services.manager import Claim

UPLOAD_TTL = 24 * 3600
IMAGE_KINDS = ("png", "jpg", "webp")


def _key(claim: Claim) -> str:
    return f"genova:uploads:{claim.job_id}:{claim.lease}"


def _size(stream: BinaryIO) -> int:
    size = stream.seek(0, 2)
    stream.seek(0)
    return size


def _check(job: Job, kinds: list[str | None], already: int) -> None:
    """Images for image jobs (at most ``count``), one MP4 for video jobs."""
    allowed = IMAGE_KINDS if job.type == "image" else ("mp4",)
    if any(kind not in allowed for kind in kinds):
        what = "PNG, JPEG or WEBP images" if job.type == "image" else "an MP4 video"
        raise ValidationError(f"results of this {job.type} job must be {what}", field="file")
    if already + len(kinds) > job.count:
        raise ValidationError(f"this job takes at most {job.count} result file(s)",
                              field="file")


def _check_sizes(rt: Runtime, job: Job, kinds: list[str], sizes: list[int],
                 pending: int) -> None:
    """Each image at most GENOVA_MAX_IMAGE_UPLOAD_BYTES, and the user's stored results
    (with what waits under this lease) within GENOVA_STORAGE_QUOTA_BYTES."""
    image_cap = rt.settings.max_image_upload_bytes
    for i, (kind, size) in enumerate(zip(kinds, sizes, strict=True)):
        if kind != "mp4" and size > image_cap:
            raise PayloadTooLarge(f"file[{i}] is {size} bytes; a result image may be at most "
                                  f"{image_cap} (GENOVA_MAX_IMAGE_UPLOAD_BYTES)")
    quota = rt.settings.storage_quota_bytes
    used = db.session.scalar(select(func.coalesce(func.sum(Job.file_size), 0))
                             .where(Job.user_id == job.user_id)) or 0
    if used + pending + sum(sizes) > quota:
        raise PayloadTooLarge(f"the job owner's stored results would exceed their "
                              f"{quota}-byte quota ({used} bytes stored)",
                              error="Storage quota exceeded")


def holder_claim(*, job_id: str, lease: str, identity: str, user_id: str | None) -> Job:
    """The job, if the caller (``identity``, and ``user_id`` for user-scoped workers) holds
    it under ``lease``."""
    job = db.session.get(Job, job_id) if is_id(job_id) else None
    if job is None or (user_id is not None and job.user_id != user_id):
        raise NotFound(f"no job {job_id}", error="Job not found")
    if job.status != JobStatus.PROCESSING or job.lease_id != lease:
        raise Conflict("this lease does not hold the job (any more); the upload was refused",
                       error="Lease lost")
    if not (job.worker_id or "").startswith(f"ext:{identity}:"):
        raise Forbidden("only the extension holding this job may upload its results")
    return job


def store(rt: Runtime, *, job: Job, lease: str, files: list[BinaryIO]) -> list[str]:
    """Check every file (what it is, from its headers; its size; the owner's quota), then
    stream each to storage as the job's next result under this lease."""
    if not files:
        raise ValidationError("send one or more files as multipart parts named 'file'",
                              field="file")
    claim = Claim(job.id, lease)
    _check(job, [media.claimed_kind(f) for f in files],
           already=int(rt.redis.llen(_key(claim))))  # the kind each claims, then the truth
    kinds = [media.inspect(f, field=f"file[{i}]").kind for i, f in enumerate(files)]
    sizes = [_size(f) for f in files]
    _check_sizes(rt, job, kinds, sizes, pending=sum(f.size for f in uploaded(rt, claim)))
    keys = []
    for stream, kind in zip(files, kinds, strict=True):
        n = rt.redis.incr(_key(claim) + ":n")
        key = storage.result_key(user_id=job.user_id, job_id=job.id, name=f"result-{n}",
                                 extension=kind)
        size = rt.storage.save_stream(key, stream)
        rt.redis.rpush(_key(claim), f"{size}|{key}")
        keys.append(key)
    rt.redis.expire(_key(claim), UPLOAD_TTL)
    rt.redis.expire(_key(claim) + ":n", UPLOAD_TTL)
    return keys


def uploaded(rt: Runtime, claim: Claim) -> list[StoredFile]:
    entries = rt.redis.lrange(_key(claim), 0, -1)
    return [StoredFile(key=key, size=int(size))
            for size, key in (entry.split("|", 1) for entry in entries)]
