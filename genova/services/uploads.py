"""Result files that an extension uploads before it reports ``job_completed``.

Only the extension holding the job (same credential, current lease) may upload. Files are
stored in upload order as the job's results; the list lives in Redis until completion.
"""

from __future__ import annotations

from genova.errors import Conflict, Forbidden, NotFound, ValidationError
from genova.extensions import db
from genova.models import Job, is_id
from genova.runtime import Runtime
from genova.services.dispatch import StoredFile
from genova.services.manager import Claim

UPLOAD_TTL = 24 * 3600
IMAGE_KINDS = ("png", "jpg", "webp")
MP4_BRANDS = (b"isom", b"iso2", b"iso4", b"iso5", b"iso6", b"mp41", b"mp42", b"avc1", b"M4V ",
              b"dash")


def _key(claim: Claim) -> str:
    return f"genova:uploads:{claim.job_id}:{claim.lease}"


def sniff(data: bytes) -> str | None:
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if data.startswith(b"\xff\xd8\xff"):
        return "jpg"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    if data[4:8] == b"ftyp" and data[8:12] in MP4_BRANDS:
        return "mp4"
    return None


def _check(job: Job, kinds: list[str | None], already: int) -> None:
    """Images for image jobs (at most ``count``), one MP4 for video jobs."""
    allowed = IMAGE_KINDS if job.type == "image" else ("mp4",)
    if any(kind not in allowed for kind in kinds):
        what = "PNG, JPEG or WEBP images" if job.type == "image" else "an MP4 video"
        raise ValidationError(f"results of this {job.type} job must be {what}", field="file")
    if already + len(kinds) > job.count:
        raise ValidationError(f"this job takes at most {job.count} result file(s)",
                              field="file")


def holder_claim(*, job_id: str, lease: str, identity: str, user_id: str | None) -> Job:
    """The job, if the caller (``identity``, and ``user_id`` for user-scoped workers) holds
    it under ``lease``."""
    job = db.session.get(Job, job_id) if is_id(job_id) else None
    if job is None or (user_id is not None and job.user_id != user_id):
        raise NotFound(f"no job {job_id}", error="Job not found")
    if job.status != "processing" or job.lease_id != lease:
        raise Conflict("this lease does not hold the job (any more); the upload was refused",
                       error="Lease lost")
    if not (job.worker_id or "").startswith(f"ext:{identity}:"):
        raise Forbidden("only the extension holding this job may upload its results")
    return job


def store(rt: Runtime, *, job: Job, lease: str, files: list[bytes]) -> list[str]:
    if not files:
        raise ValidationError("send one or more files as multipart parts named 'file'",
                          field="file")
    claim = Claim(job.id, lease)
    kinds = [sniff(data) for data in files]  # validate all before storing any
    _check(job, kinds, already=int(rt.redis.llen(_key(claim))))
    keys = []
    for data, kind in zip(files, kinds, strict=True):
        n = rt.redis.incr(_key(claim) + ":n")
        key = f"generated/{job.user_id}/{job.id}/result-{n}.{kind}"
        size = rt.storage.save(key, data)
        rt.redis.rpush(_key(claim), f"{size}|{key}")
        keys.append(key)
    rt.redis.expire(_key(claim), UPLOAD_TTL)
    rt.redis.expire(_key(claim) + ":n", UPLOAD_TTL)
    return keys


def uploaded(rt: Runtime, claim: Claim) -> list[StoredFile]:
    entries = rt.redis.lrange(_key(claim), 0, -1)
    return [StoredFile(key=key, size=int(size))
            for size, key in (entry.split("|", 1) for entry in entries)]
