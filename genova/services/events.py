"""Every message Genova sends or accepts on its sockets, defined once, and the pub/sub that
carries a user's job events to their sockets in any server process.

Job events (published on ``genova:events:<user>``, delivered on ``/ws/user``):

==================  =========================================================================
``job_created``     jobId, jobType, status ("queued"), prompt, settings, createdAt,
                    queuePosition, estimatedTime, creditsRemaining
``job_queued``      jobId, queuePosition, estimatedTime, model, requeued (only when true).
                    Also sent from Lua (``manager_lua.announce``) when a job is queued or
                    re-queued; ``tests/test_events.py`` holds the two to the same shape.
``job_started``     jobId
``job_progress``    jobId, progress (0-99), message
``job_completed``   jobId, resultUrl, resultUrls, downloadUrls, generator
``job_failed``      jobId, error, creditsRemaining (when the credit was refunded)
``job_cancelled``   jobId, creditsRemaining (when the credit was refunded)
==================  =========================================================================

Socket messages (``/ws/user`` and ``/ws/extension``, see docs/extension-protocol.md):

==========================  ==================================================================
server: ``welcome``         user socket: userId; worker socket: workerId, extensionType,
                            scope ("pool" or "user"), heartbeatInterval
server: ``pong``            (nothing)
server: ``error``           error, and jobId when the message was about a job
server: ``new_job``         jobId, lease, job (the job as a worker needs it)
server: ``job_revoked``     jobId, error: the lease is lost, drop the job
server: ``ack``             jobId, status ("completed" or "failed")
worker: ``ping``            (nothing)
worker: ``request_job``     count (default 1)
worker: ``job_progress``    jobId, progress, message
worker: ``job_completed``   jobId (the results were uploaded first)
worker: ``job_failed``      jobId, error
==========================  ==================================================================

A new message is one constructor here, one row above, and its test.
"""

from __future__ import annotations

import json
import logging

import redis

from genova.models import JobStatus

log = logging.getLogger(__name__)


# -- job events ----------------------------------------------------------------------------
def job_created(*, job_id: str, job_type: str, prompt: str, settings: dict, created_at: str,
                queue_position: int | None, estimated_time: int | None,
                credits_remaining: int) -> dict:
    return {"type": "job_created", "jobId": job_id, "jobType": job_type,
            "status": JobStatus.QUEUED.value, "prompt": prompt, "settings": settings,
            "createdAt": created_at,
            "queuePosition": queue_position, "estimatedTime": estimated_time,
            "creditsRemaining": credits_remaining}


def job_queued(*, job_id: str, queue_position: int, estimated_time: int, model: str,
               requeued: bool = False) -> dict:
    event = {"type": "job_queued", "jobId": job_id, "queuePosition": queue_position,
             "estimatedTime": estimated_time, "model": model}
    if requeued:
        event["requeued"] = True
    return event


def job_started(*, job_id: str) -> dict:
    return {"type": "job_started", "jobId": job_id}


def job_progress(*, job_id: str, progress: int, message: str) -> dict:
    return {"type": "job_progress", "jobId": job_id, "progress": progress, "message": message}


def job_completed(*, job_id: str, result_urls: list[str], download_urls: list[str],
                  generator: dict | None) -> dict:
    return {"type": "job_completed", "jobId": job_id,
            "resultUrl": result_urls[0] if result_urls else None, "resultUrls": result_urls,
            "downloadUrls": download_urls, "generator": generator}


def job_failed(*, job_id: str, error: str) -> dict:
    return {"type": "job_failed", "jobId": job_id, "error": error}


def job_cancelled(*, job_id: str) -> dict:
    return {"type": "job_cancelled", "jobId": job_id}


def refunded(event: dict, *, credits_remaining: int) -> dict:
    """A final event that gave the job's credit back says the new balance."""
    return {**event, "creditsRemaining": credits_remaining}


# -- socket messages -----------------------------------------------------------------------
def user_welcome(*, user_id: str) -> dict:
    return {"type": "welcome", "userId": user_id}


def worker_welcome(*, worker_id: str, extension_type: str, scope: str,
                   heartbeat_interval: float) -> dict:
    return {"type": "welcome", "workerId": worker_id, "extensionType": extension_type,
            "scope": scope, "heartbeatInterval": heartbeat_interval}


def pong() -> dict:
    return {"type": "pong"}


def error(text: str) -> dict:
    return {"type": "error", "error": text}


def job_error(*, job_id: str | None, error: str) -> dict:
    """An error about one job (``job_id`` as the worker sent it, even if not a string)."""
    return {"type": "error", "jobId": job_id, "error": error}


def new_job(*, job_id: str, lease: str, job: dict) -> dict:
    return {"type": "new_job", "jobId": job_id, "lease": lease, "job": job}


def job_revoked(*, job_id: str, error: str) -> dict:
    return {"type": "job_revoked", "jobId": job_id, "error": error}


def ack(*, job_id: str, status: str) -> dict:
    return {"type": "ack", "jobId": job_id, "status": status}


def ping() -> dict:
    return {"type": "ping"}


def request_job(*, count: int = 1) -> dict:
    return {"type": "request_job", "count": count}


def report_progress(*, job_id: str, progress: int, message: str) -> dict:
    return job_progress(job_id=job_id, progress=progress, message=message)  # same shape


def report_completed(*, job_id: str) -> dict:
    return {"type": "job_completed", "jobId": job_id}


def report_failed(*, job_id: str, error: str) -> dict:
    return job_failed(job_id=job_id, error=error)  # same shape


# -- delivery ------------------------------------------------------------------------------
CONTROL = "genova:control"


def close_sockets(r: redis.Redis, *, user_id: str, code: int, reason: str,
                  key_id: str | None = None) -> bool:
    """Ask every server process to close this user's sockets (``/ws/user`` and user-scoped
    extensions), or only those opened with API key ``key_id``, with ``code`` and
    ``reason``. False if Redis could not be told."""
    order = {"userId": user_id, "code": code, "reason": reason}
    if key_id is not None:
        order["keyId"] = key_id
    try:
        r.publish(CONTROL, json.dumps(order))
    except redis.RedisError as exc:
        log.warning("could not ask servers to close the sockets of %s: %s", user_id, exc)
        return False
    return True


EVENTS = "genova:events:"  # + user id: that user's job events


def channel(user_id: str) -> str:
    return EVENTS + user_id


def publish(r: redis.Redis, user_id: str, message: dict) -> None:
    """Best effort: an event lost to a Redis outage is recoverable over REST."""
    try:
        r.publish(channel(user_id), json.dumps(message))
    except redis.RedisError as exc:
        log.warning("event %s for %s not published: %s", message.get("type"), user_id, exc)
