"""``/api/jobs``: create, read, list and cancel generation jobs."""

from __future__ import annotations

from flask import Blueprint, request

from genova import runtime
from genova.api.auth import current_user
from genova.api.endpoint import endpoint
from genova.api.openapi_jobs import job_create_examples
from genova.api.serializers import job_out
from genova.models import JobStatus
from genova.schemas import Error, JobCreate, JobCreated, JobList, JobListQuery, JobOut, Success
from genova.services import downloads, jobs

bp = Blueprint("jobs", __name__, url_prefix="/api/jobs")


def _out(job) -> dict:
    """A job as JSON; a completed one carries signed links to its results."""
    rt, links = runtime.current(), None
    if job.status == JobStatus.COMPLETED:
        host = request.host_url.rstrip("/")
        links = [host + link for link in downloads.sign_all(
            downloads.result_keys(job), secret=rt.secret, ttl=rt.settings.download_ttl)]
    return job_out(job, jobs.placement(rt, job), links)


JOB_LINKS = {  # what a client (or a fuzzer) can do next with the new job's id
    name: {"operationId": op, "parameters": {"job_id": "$response.body#/jobId"}}
    for name, op in (("GetJob", "jobs_show"), ("CancelJob", "jobs_cancel"),
                     ("DownloadResult", "files_download"))}


@bp.post("")
@endpoint("Create a generation job (costs 1 credit)", tag="jobs", body=JobCreate,
          responses={201: JobCreated, 402: Error, 503: Error},
          description="The job is committed before this answers. `creditsRemaining` is "
                      "your balance after the debit; a refused job costs nothing.",
          openapi={"requestBody": {"content": {"application/json": {
                       "examples": job_create_examples()}}},
                   "responses": {"201": {"links": JOB_LINKS}}})
def create(body: JobCreate):
    created = jobs.submit(runtime.current(), user_id=current_user().id, request=body)
    return {"success": True, "jobId": created.job_id, "status": created.status,
            "queuePosition": created.placement.position,
            "estimatedTime": created.placement.estimated_time,
            "creditsRemaining": created.credits_remaining}, 201


@bp.get("")
@endpoint("List your jobs, newest first", tag="jobs", query=JobListQuery,
          responses={200: JobList})
def index(query: JobListQuery):
    rows, total = jobs.list_jobs(user_id=current_user().id, status=query.status,
                                 type=query.type, model=query.model, limit=query.limit,
                                 offset=query.offset)
    return {"jobs": [_out(j) for j in rows], "total": total}


@bp.get("/<job_id>")
@endpoint("Job status and details", tag="jobs", responses={200: JobOut, 404: Error})
def show(job_id: str):
    return _out(jobs.get_job(user_id=current_user().id, job_id=job_id))


@bp.delete("/<job_id>")
@endpoint("Cancel a pending or queued job and refund its credit", tag="jobs",
          responses={200: Success, 404: Error, 409: Error},
          description="A cancelled job stays readable with status `cancelled`; 409 if it "
                      "is already processing or finished.")
def cancel(job_id: str):
    jobs.cancel_job(runtime.current(), user_id=current_user().id, job_id=job_id)
    return {"success": True}
