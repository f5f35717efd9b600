"""``/api/openapi.json`` generated from the endpoint schemas, and Swagger UI at ``/api/docs``
served from the assets of the ``swagger-ui-bundle-v2`` wheel (Swagger UI 5, which reads
OpenAPI 3.1; no CDN)."""

from __future__ import annotations

import re

from flask import Blueprint, Flask, current_app, send_from_directory
from pydantic.json_schema import models_json_schema
from swagger_ui_bundle import swagger_ui_path

from genova.api.endpoint import EndpointDoc

bp = Blueprint("docs", __name__)

SWAGGER_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Genova API</title>
<link rel="stylesheet" href="/api/docs/assets/swagger-ui.css"></head>
<body><div id="swagger-ui"></div>
<script src="/api/docs/assets/swagger-ui-bundle.js"></script>
<script>window.ui = SwaggerUIBundle({url: "/api/openapi.json", dom_id: "#swagger-ui",
persistAuthorization: true});</script></body></html>"""

SECURITY_SCHEMES = {
    "ApiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
    "Bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
}


def _documented(app: Flask):
    for rule in app.url_map.iter_rules():
        doc: EndpointDoc | None = getattr(app.view_functions[rule.endpoint], "api_doc", None)
        if doc is None:
            continue
        path = re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"{\1}", rule.rule)
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            yield path, method.lower(), rule.arguments, doc


def _operation(doc: EndpointDoc, args, schemas: dict) -> dict:
    def ref(model):
        return {"$ref": f"#/components/schemas/{model.__name__}"}

    op: dict = {"summary": doc.summary, "tags": [doc.tag], "responses": {}}
    if doc.description:
        op["description"] = doc.description
    params = [{"name": a, "in": "path", "required": True, "schema": {"type": "string"}}
              for a in sorted(args)]
    if doc.query is not None:
        query_schema = doc.query.model_json_schema()
        for name, prop in query_schema.get("properties", {}).items():
            params.append({"name": name, "in": "query", "schema": prop,
                           "required": name in query_schema.get("required", [])})
    if params:
        op["parameters"] = params
    if doc.body is not None:
        op["requestBody"] = {"required": True,
                             "content": {"application/json": {"schema": ref(doc.body)}}}
    for status, model in sorted(doc.responses.items()):
        entry: dict = {"description": "" if model is None else model.__name__}
        if model is not None:
            entry["content"] = {"application/json": {"schema": ref(model)}}
        op["responses"][str(status)] = entry
    op["security"] = [{"ApiKey": []}, {"Bearer": []}] if doc.auth else []
    return op


def build_spec(app: Flask) -> dict:
    entries = list(_documented(app))
    models = {m for *_, d in entries for m in [d.body, *d.responses.values()] if m is not None}
    _, defs = models_json_schema([(m, "validation") for m in sorted(models, key=str)],
                                 ref_template="#/components/schemas/{model}")
    paths: dict = {}
    for path, method, args, doc in entries:
        paths.setdefault(path, {})[method] = _operation(doc, args, defs)
    return {
        "openapi": "3.1.0",
        "info": {"title": "Genova API", "version": "1.0.0",
                 "description": "Generate images and videos. Authenticate with X-API-Key or "
                                "a Bearer JWT from /api/auth/login."},
        "paths": paths,
        "components": {"schemas": defs.get("$defs", {}), "securitySchemes": SECURITY_SCHEMES},
    }


@bp.get("/api/openapi.json")
def openapi():
    spec = current_app.extensions.get("genova.openapi")
    if spec is None:
        spec = current_app.extensions["genova.openapi"] = build_spec(current_app)
    return spec


@bp.get("/api/docs")
def swagger():
    return SWAGGER_PAGE


@bp.get("/api/docs/assets/<path:filename>")
def swagger_assets(filename: str):
    return send_from_directory(swagger_ui_path, filename, max_age=86400)
