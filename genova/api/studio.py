"""The studio on the one public port: ``/`` sends people to it, and ``/studio/*`` is
streamed to the Gradio process on loopback (HTTP, uploads and server-sent events alike).

The Gradio app serves its routes at ``/`` and builds its URLs from ``root_path="/studio"``
and ``X-Forwarded-Host``/``-Proto``. Bodies are streamed both ways without buffering, so
Gradio's SSE queue updates arrive as they are sent. With ``GENOVA_STUDIO=0`` there is no
studio: ``/`` redirects to the API docs.
"""

from __future__ import annotations

import requests
from flask import Blueprint, Response, current_app, redirect, request, stream_with_context

from genova.api.auth import skip_identify
from genova.errors import ServiceUnavailable

bp = Blueprint("studio", __name__)
HOP_BY_HOP = {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te",
              "trailer", "trailers", "transfer-encoding", "upgrade"}
# Not forwarded: the API's credentials and cookies are none of the studio's business.
DROPPED = HOP_BY_HOP | {"host", "content-length", "accept-encoding", "cookie",
                        "authorization", "x-api-key"}
METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
_session = requests.Session()
_session.trust_env = False  # never through an HTTP proxy from the environment
_session.mount("http://", requests.adapters.HTTPAdapter(pool_connections=1, pool_maxsize=256))


class _Body:
    """The request body as a stream of known length (requests then sends Content-Length,
    not chunked encoding, which Gradio's upload and queue routes need)."""

    def __init__(self, stream, length: int):
        self.stream, self.length = stream, length

    def __len__(self) -> int:
        return self.length

    def read(self, size: int = -1) -> bytes:
        return self.stream.read(size if size and size > 0 else 65536)


def _settings():
    return current_app.config["GENOVA"]


@bp.get("/")
@skip_identify
def home():
    return redirect("/studio/" if _settings().studio else "/api/docs", code=302)


@bp.get("/studio")
@skip_identify
def studio_slash():
    query = request.query_string.decode("latin-1")
    return redirect("/studio/" + (f"?{query}" if query else ""), code=308)


@bp.get("/manifest.json")
@bp.get("/favicon.ico")
@skip_identify
def manifest():
    return "", 204  # the studio's page asks for these at the site root


def _upstream_request(path: str) -> requests.Response:
    base = _settings().studio_url
    if not _settings().studio or not base:
        raise ServiceUnavailable("the studio is not running on this server (GENOVA_STUDIO=0)",
                                 error="Studio unavailable")
    query = request.query_string.decode("latin-1")
    headers = {k: v for k, v in request.headers if k.lower() not in DROPPED}
    headers.update({"Accept-Encoding": "identity", "X-Forwarded-Host": request.host,
                    "X-Forwarded-Proto": request.scheme, "X-Forwarded-Prefix": "/studio",
                    "X-Forwarded-For": request.remote_addr or ""})
    body = None
    if request.method not in ("GET", "HEAD"):
        length = request.headers.get("Content-Length")
        body = _Body(request.stream, int(length)) if length else request.get_data()
    try:
        return _session.request(request.method, f"{base}/{path}" + (f"?{query}" if query else ""),
                                headers=headers, data=body, stream=True,
                                allow_redirects=False, timeout=(5, None))
    except requests.ConnectionError:
        raise ServiceUnavailable("the studio is starting; reload the page in a few seconds",
                                 error="Studio starting") from None


@bp.route("/studio/", defaults={"path": ""}, methods=METHODS)
@bp.route("/studio/<path:path>", methods=METHODS)
@skip_identify
def proxy(path: str):
    upstream = _upstream_request(path)
    base = _settings().studio_url
    headers = []
    for key, value in upstream.raw.headers.items():
        if key.lower() in HOP_BY_HOP:
            continue
        if key.lower() == "location" and value.startswith(base):
            value = "/studio" + value[len(base):]
        headers.append((key, value))
    if upstream.headers.get("content-type", "").startswith("text/event-stream"):
        headers += [("X-Accel-Buffering", "no"), ("Cache-Control", "no-cache")]

    def body():
        try:
            for chunk in upstream.raw.stream(65536, decode_content=False):
                if chunk:
                    yield chunk
        finally:
            upstream.close()  # the visitor left: Gradio sees its stream close

    return Response(stream_with_context(body()), status=upstream.status_code, headers=headers,
                    direct_passthrough=True)
