"""Downloads: ``/api/jobs/:id/download`` redirects to a signed ``/files/...`` link."""

from __future__ import annotations

import re

from flask import Blueprint, current_app, redirect, request, send_file

from genova import runtime
from genova.api.auth import bearer_token, current_user, skip_identify, worker_credential
from genova.api.endpoint import endpoint
from genova.errors import Unauthorized, ValidationError
from genova.schemas import Error, UploadedFiles
from genova.services import downloads, jobs, uploads

bp = Blueprint("files", __name__)


def _index() -> int:
    raw = request.args.get("index", "0")
    if not re.fullmatch(r"[0-9]{1,6}", raw):
        raise ValidationError("index must be a non-negative integer", field="index")
    return int(raw)


INDEX = {"name": "index", "in": "query", "required": False,
         "description": "Which result of a multi-image job, from 0 (default 0).",
         "schema": {"type": "integer", "minimum": 0, "maximum": 999_999, "default": 0}}
SIGNED = {"headers": {"Location": {
    "required": True, "description": "The signed /files/... link to the result.",
    "schema": {"type": "string", "format": "uri"}}}}
RESULT_MEDIA = {media: {"schema": {"type": "string", "format": "binary"}}
                for media in ("image/png", "image/jpeg", "image/webp", "video/mp4")}


@bp.get("/api/jobs/<job_id>/download")
@endpoint("Redirect (302) to a signed, expiring link to a result; ?index=N picks one of "
          "several", tag="jobs", responses={302: None, 400: Error, 404: Error, 409: Error},
          description="Only completed jobs have results (409 otherwise). The link needs no "
                      "credentials and expires after GENOVA_DOWNLOAD_TTL seconds.",
          openapi={"parameters": [INDEX],
                   "responses": {"302": {"description": "Found", **SIGNED}}})
def download(job_id: str):
    job = jobs.get_job(user_id=current_user().id, job_id=job_id)
    rt = runtime.current()
    link = downloads.link_for_job(job=job, index=_index(), secret=current_app.secret_key,
                                  ttl=rt.settings.download_ttl)
    return redirect(request.host_url.rstrip("/") + link, code=302)


@bp.get("/files/<path:key>")
@skip_identify
@endpoint("A result file, through a signed link from the download route or download_urls",
          tag="jobs", auth=False, responses={200: None, 403: Error, 404: Error},
          openapi={"parameters": [
              {"name": "expires", "in": "query", "required": True,
               "description": "When the link expires, in Unix seconds.",
               "schema": {"type": "integer", "minimum": 0}},
              {"name": "sig", "in": "query", "required": True,
               "description": "HMAC-SHA256 of the key and expiry (64 hex digits).",
               "schema": {"type": "string", "pattern": "^[0-9a-f]{64}$"}}],
              "responses": {
                  "200": {"description": "The file.", "content": RESULT_MEDIA},
                  "206": {"description": "Part of the file (a Range request).",
                          "content": RESULT_MEDIA},
                  "304": {"description": "Not modified (If-None-Match or "
                                         "If-Modified-Since)."},
                  "416": {"description": "The Range cannot be satisfied."}}})
def serve(key: str):
    path, content_type = downloads.resolve(
        storage=runtime.current().storage, secret=current_app.secret_key, key=key,
        expires=request.args.get("expires", ""), sig=request.args.get("sig", ""))
    return send_file(path, mimetype=content_type, conditional=True, max_age=0)


UPLOAD = {
    "security": [{"WorkerToken": []}, {"ApiKey": []}, {"Bearer": []}],
    "parameters": [
        {"name": "X-Lease", "in": "header", "required": False,
         "description": "The lease from the job_assigned message (or send ?lease=).",
         "schema": {"type": "string"}},
        {"name": "lease", "in": "query", "required": False,
         "description": "The lease, if the X-Lease header cannot be sent.",
         "schema": {"type": "string"}}],
    "requestBody": {"required": True, "content": {"multipart/form-data": {
        "schema": {"type": "object", "required": ["file"], "properties": {
            "file": {"type": "array", "minItems": 1,
                     "items": {"type": "string", "format": "binary"},
                     "description": "One part per result: PNG, JPEG or WEBP for image "
                                    "jobs, MP4 for videos."}}},
        "encoding": {"file": {"contentType": ", ".join(RESULT_MEDIA)}}}}},
}


@bp.post("/api/jobs/<job_id>/results")
@skip_identify
@endpoint("Upload result files (multipart 'file' parts) for a job this extension holds; "
          "then send job_completed on the socket", tag="extensions", auth=False,
          responses={201: UploadedFiles, 401: Error, 403: Error, 404: Error, 409: Error},
          description="Authenticate as the extension does: a worker token, or the user's "
                      "API key or JWT for a user-scoped extension. 409 if the lease no "
                      "longer holds the job.", openapi=UPLOAD)
def upload_results(job_id: str):
    rt = runtime.current()
    caller = worker_credential(token=bearer_token(), api_key=request.headers.get("X-API-Key"))
    if caller is None:
        raise Unauthorized("send the extension's credential as 'Authorization: Bearer ...' "
                           "(or X-API-Key)", error="Authentication required")
    lease = request.headers.get("X-Lease") or request.args.get("lease") or ""
    job = uploads.holder_claim(job_id=job_id, lease=lease, identity=caller.identity,
                               user_id=caller.user_id)
    request.max_content_length = rt.settings.max_upload_bytes
    # werkzeug spools each part to a temporary file: streamed on, never all in memory
    files = [part.stream for part in request.files.getlist("file")]
    return {"files": uploads.store(rt, job=job, lease=lease, files=files)}, 201
