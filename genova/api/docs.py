"""``/api/openapi.json`` generated from the endpoint schemas, and Swagger UI at ``/api/docs``
served from the assets of the ``swagger-ui-bundle-v2`` wheel (Swagger UI 5, which reads
OpenAPI 3.1; no CDN)."""

from __future__ import annotations

from flask import Blueprint, current_app, send_from_directory
from swagger_ui_bundle import swagger_ui_path

from genova.api.auth import skip_identify
from genova.api.openapi import build_spec

bp = Blueprint("docs", __name__)

SWAGGER_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Genova API</title>
<link rel="stylesheet" href="/api/docs/assets/swagger-ui.css"></head>
<body><div id="swagger-ui"></div>
<script src="/api/docs/assets/swagger-ui-bundle.js"></script>
<script>window.ui = SwaggerUIBundle({url: "/api/openapi.json", dom_id: "#swagger-ui",
persistAuthorization: true});</script></body></html>"""

@bp.get("/api/openapi.json")
@skip_identify
def openapi():
    spec = current_app.extensions.get("genova.openapi")
    if spec is None:
        spec = current_app.extensions["genova.openapi"] = build_spec(current_app)
    return spec


@bp.get("/api/docs")
@skip_identify
def swagger():
    return SWAGGER_PAGE


@bp.get("/api/docs/assets/<path:filename>")
@skip_identify
def swagger_assets(filename: str):
    return send_from_directory(swagger_ui_path, filename, max_age=86400)
