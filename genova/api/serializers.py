"""Rows to the documented JSON shapes."""

from __future__ import annotations

from genova.catalog import PLANS
from genova.models import ApiKey, Job, JobStatus, User, iso
from genova.services.lifecycle import Placement


def user_out(user: User) -> dict:
    plan = PLANS[user.plan]
    return {
        "id": user.id,
        "email": user.email,
        "name": user.name,
        "plan": user.plan,
        "subscription_status": user.subscription_status,
        "credits_remaining": user.credits_remaining,
        "credits_used": user.credits_used,
        "monthly_credits": plan.monthly_credits,
        "requests_per_minute": plan.requests_per_minute,
        "concurrent_jobs": plan.concurrent_jobs,
        "created_at": iso(user.created_at),
    }


def job_out(job: Job, placement: Placement | None = None,
            links: list[str] | None = None) -> dict:
    out = {
        "id": job.id,
        "type": job.type,
        "status": job.status,
        "prompt": job.prompt,
        "settings": job.settings,
        "result_url": job.result_url,
        "result_urls": job.result_urls,
        "created_at": iso(job.created_at),
        "started_at": iso(job.started_at),
        "completed_at": iso(job.completed_at),
        "processing_time": job.processing_time,
        "file_size": job.file_size,
    }
    if job.status in (JobStatus.QUEUED, JobStatus.PROCESSING):
        out["progress"] = job.progress
    if job.error_message:
        out["error_message"] = job.error_message
    if job.result_meta:
        out["generator"] = job.result_meta
    if links:
        out["download_urls"] = links
    if placement is not None and placement.position is not None:
        out["queue_position"] = placement.position
        out["estimated_time"] = placement.estimated_time
    return out


def key_out(key: ApiKey) -> dict:
    return {
        "id": key.id,
        "name": key.name,
        "prefix": key.prefix,
        "created_at": iso(key.created_at),
        "last_used_at": iso(key.last_used_at),
    }
