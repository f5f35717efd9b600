"""Downloads: ``/api/jobs/:id/download`` redirects to a signed ``/files/...`` link."""

from __future__ import annotations

import re

from flask import Blueprint, current_app, redirect, request, send_file

from genova.api.auth import bearer_token, current_user, skip_identify, worker_credential
from genova.api.endpoint import endpoint
from genova.errors import Unauthorized, ValidationError
from genova.schemas import Error, UploadedFiles
from genova.services import downloads, jobs, uploads

bp = Blueprint("files", __name__)


def _rt():
    return current_app.extensions["genova"]


def _index() -> int:
    raw = request.args.get("index", "0")
    if not re.fullmatch(r"[0-9]{1,6}", raw):
        raise ValidationError("index must be a non-negative integer", field="index")
    return int(raw)


@bp.get("/api/jobs/<job_id>/download")
@endpoint("Redirect (302) to a signed, expiring link to a result; ?index=N picks one of "
          "several", tag="jobs", responses={302: None, 401: Error, 404: Error, 409: Error})
def download(job_id: str):
    job = jobs.get_job(user_id=current_user().id, job_id=job_id)
    rt = _rt()
    link = downloads.link_for_job(job=job, index=_index(), secret=current_app.secret_key,
                                  ttl=rt.settings.download_ttl)
    return redirect(request.host_url.rstrip("/") + link, code=302)


@bp.get("/files/<path:key>")
@skip_identify
def serve(key: str):
    path, content_type = downloads.resolve(
        storage=_rt().storage, secret=current_app.secret_key, key=key,
        expires=request.args.get("expires", ""), sig=request.args.get("sig", ""))
    return send_file(path, mimetype=content_type, conditional=True, max_age=0)


@bp.post("/api/jobs/<job_id>/results")
@skip_identify
@endpoint("Upload result files (multipart 'file' parts) for a job this extension holds; "
          "then send job_completed on the socket", tag="extensions", auth=False,
          responses={201: UploadedFiles, 400: Error, 401: Error, 403: Error, 404: Error,
                     409: Error, 413: Error})
def upload_results(job_id: str):
    rt = _rt()
    caller = worker_credential(token=bearer_token(), api_key=request.headers.get("X-API-Key"))
    if caller is None:
        raise Unauthorized("send the extension's credential as 'Authorization: Bearer ...' "
                           "(or X-API-Key)", error="Authentication required")
    lease = request.headers.get("X-Lease") or request.args.get("lease") or ""
    job = uploads.holder_claim(job_id=job_id, lease=lease, identity=caller.identity,
                               user_id=caller.user_id)
    request.max_content_length = rt.settings.max_upload_bytes
    files = [part.read() for part in request.files.getlist("file")]
    return {"files": uploads.store(rt, job=job, lease=lease, files=files)}, 201
