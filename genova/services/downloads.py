"""Signed, expiring download links for stored results.

A link is ``/files/<key>?expires=<unix time>&sig=<HMAC-SHA256(secret, key|expires)>``. It
needs no auth header, fails once expired or altered, and only ever serves keys under
``generated/`` that the storage backend resolves inside its root.
"""

from __future__ import annotations

import hashlib
import hmac
import mimetypes
import re
import time
from pathlib import Path
from urllib.parse import quote

from genova.errors import Conflict, Forbidden, NotFound
from genova.models import Job, JobStatus
from genova.services.storage import RESULTS, LocalStorage


def _signature(secret: str, key: str, expires: int) -> str:
    message = f"{key}|{expires}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def sign(*, secret: str, key: str, ttl: int, now: float | None = None) -> str:
    """The path and query of a signed link to ``key``."""
    expires = int((time.time() if now is None else now) + ttl)
    return f"/files/{quote(key)}?expires={expires}&sig={_signature(secret, key, expires)}"


def result_keys(job: Job) -> list[str]:
    return job.result_urls or ([job.result_url] if job.result_url else [])


def sign_all(keys: list[str], *, secret: str, ttl: int) -> list[str]:
    """Signed links (path and query) to each of ``keys``, in order."""
    return [sign(secret=secret, key=key, ttl=ttl) for key in keys]


def link_for_job(*, job: Job, index: int, secret: str, ttl: int) -> str:
    """A signed link to result ``index`` of a completed job (409 if not completed)."""
    if job.status != JobStatus.COMPLETED:
        raise Conflict(f"job {job.id} is {job.status}; downloads need a completed job",
                       error="Job not completed")
    keys = result_keys(job)
    if not 0 <= index < len(keys):  # a well-formed index naming no result: absent, not bad
        raise NotFound(f"job {job.id} has no result {index}; its results are numbered 0 to "
                       f"{len(keys) - 1}", error="Result not found", field="index")
    return sign(secret=secret, key=keys[index], ttl=ttl)


def resolve(*, storage: LocalStorage, secret: str, key: str, expires: str, sig: str
            ) -> tuple[Path, str]:
    """Check a signed link; returns the file path and its content type (403 otherwise)."""
    if not re.fullmatch(r"[0-9]{1,12}", expires) or not re.fullmatch(r"[0-9a-f]{64}", sig):
        raise Forbidden("the download link is incomplete or malformed", error="Invalid link")
    if not hmac.compare_digest(_signature(secret, key, int(expires)), sig):
        raise Forbidden("the download link is invalid or was altered", error="Invalid link")
    if int(expires) < time.time():
        raise Forbidden("the download link has expired; request a new one from "
                        "/api/jobs/<id>/download", error="Link expired")
    if not key.startswith(RESULTS):
        raise NotFound("no such file")
    path = storage.path_for(key)
    if not path.is_file():
        raise NotFound("the file no longer exists")
    content_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    return path, content_type
