"""Downloads: ``/api/jobs/:id/download`` redirects to a signed ``/files/...`` link."""

from __future__ import annotations

from flask import Blueprint, current_app, redirect, request, send_file

from genova.api.auth import current_user, skip_identify
from genova.api.endpoint import endpoint
from genova.errors import ValidationError
from genova.schemas import Error
from genova.services import downloads, jobs

bp = Blueprint("files", __name__)


def _rt():
    return current_app.extensions["genova"]


def _index() -> int:
    raw = request.args.get("index", "0")
    if not raw.isdigit():
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
