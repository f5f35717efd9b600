"""Small pieces both clients use when fetching results and waiting."""

from __future__ import annotations

import time
from pathlib import Path, PurePosixPath
from urllib.parse import urlsplit

import httpx

from genova_client import errors
from genova_client.results import Result
from genova_client.types import Job


def deliver(response: httpx.Response, path) -> bytes | Path:
    """The file's bytes, or, with ``path``, the path it was written to."""
    if path is None:
        return response.content
    target = download_target(path, response)
    target.write_bytes(response.content)
    return target


def download_target(path, response: httpx.Response) -> Path:
    """``path`` itself, or the file's own name inside it when it is a directory."""
    target = Path(path)
    if target.is_dir() or str(path).endswith(("/", "\\")):
        target.mkdir(parents=True, exist_ok=True)
        target = target / PurePosixPath(urlsplit(str(response.url)).path).name
    target.parent.mkdir(parents=True, exist_ok=True)
    return target


def result_for(job: Job, index: int, response: httpx.Response) -> Result:
    content_type = response.headers.get("Content-Type", "application/octet-stream")
    placeholder = (job.generator or {}).get("ai_model") is False
    return Result(job_id=job.id, index=index, type=job.type, content=response.content,
                  content_type=content_type.split(";")[0], key=job.result_keys[index],
                  placeholder=placeholder)


def result_links(job: Job) -> list[str | None]:
    """One entry per result: the job's signed link (``download_urls``, no API request
    needed), or None where the API's download redirect must be asked."""
    links = job.download_urls or []
    return [links[i] if i < len(links) else None for i in range(len(job.result_keys))]


def deadline_left(deadline: float | None, job_id: str, timeout: float | None) -> float:
    """Seconds left before ``deadline`` (infinite without one); ``WaitTimeout`` once past."""
    if deadline is None:
        return float("inf")
    left = deadline - time.monotonic()
    if left <= 0:
        raise errors.WaitTimeout(job_id, timeout)
    return left
