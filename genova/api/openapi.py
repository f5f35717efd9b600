"""The OpenAPI 3.1 document, built from the routes' ``@endpoint`` records.

Request and response bodies come from the pydantic models that validate them. What every
operation shares is added here from facts about the route, so it cannot be forgotten: 401
wherever credentials are read (a bad credential is refused on any such route), 400 and 413
wherever a body or query is parsed, 429 and the ``X-RateLimit-*`` headers wherever the
plan's request limit applies (the same rule the limiter uses), and a default 500.
"""

from __future__ import annotations

import re

from flask import Flask
from pydantic.json_schema import models_json_schema

from genova.api.endpoint import EndpointDoc
from genova.api.openapi_jobs import job_create_components
from genova.api.ratelimit import is_exempt
from genova.schemas import Error, JobCreate

INTRO = """Generate images and videos with seven models on two platforms (Flow and Freepik).

**Authentication.** Send an API key in `X-API-Key`, or an access JWT from
`/api/auth/login` as `Authorization: Bearer <token>`. A missing, invalid, expired or revoked
credential is a 401 on every route that reads one.

**Errors.** Every error is JSON `{"error", "details"}`, plus `field` when one field of the
request is at fault.

**Limits.** Each plan allows a number of API requests per minute (free 10, starter 60,
pro 100, business 300); every counted response carries `X-RateLimit-Limit`,
`X-RateLimit-Remaining` and `X-RateLimit-Reset`, and a 429 carries `Retry-After` (seconds).
The model catalogue, these docs, the health probes and signed download links are not
counted. A 503 also carries `Retry-After`.

**Numbers and text.** Integer fields take whole numbers, `2` or `2.0`; `2.5`, `"2"` and
`true` are refused. Text may not contain NUL characters.

**Live updates.** `/ws/user?apiKey=...` (or `?token=<JWT>`) streams your jobs' events;
see the README. Those WebSocket routes are not listed here."""

SECURITY_SCHEMES = {
    "ApiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key",
               "description": "An API key from POST /api/keys or the studio (af_...)."},
    "Bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT",
               "description": "The accessToken from /api/auth/login or /api/auth/register."},
    "RefreshToken": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT",
                     "description": "The refreshToken from /api/auth/login or register."},
    "WorkerToken": {"type": "http", "scheme": "bearer",
                    "description": "A pool worker's token (gwt_...), issued with "
                                   "`flask --app app worker-token create`."},
}
USER_SECURITY = [{"ApiKey": []}, {"Bearer": []}]

RATE_HEADERS = {
    "X-RateLimit-Limit": "Requests your plan allows in the current window.",
    "X-RateLimit-Remaining": "Requests left in the current window.",
    "X-RateLimit-Reset": "When the window resets, in Unix seconds.",
}
RETRY_AFTER = {"description": "Seconds to wait before retrying.", "required": True,
               "schema": {"type": "integer", "minimum": 1}}

ERRORS = {  # status -> (component name, description)
    400: ("BadRequest", "The request is malformed or breaks a rule; `field` names it."),
    401: ("Unauthorized", "Missing, invalid, expired or revoked credentials."),
    402: ("PaymentRequired", "Not enough credits left this month."),
    403: ("Forbidden", "The credential is valid but may not do this."),
    404: ("NotFound", "No such resource (or it belongs to someone else)."),
    409: ("Conflict", "The resource is not in a state that allows this."),
    413: ("PayloadTooLarge", "The request body exceeds the server's limit."),
    429: ("TooManyRequests", "Your plan's request limit is used up; see `Retry-After`."),
    503: ("ServiceUnavailable", "Briefly unavailable, nothing charged; see Retry-After."),
    500: ("ServerError", "An unexpected error; nothing was charged."),
}


def _error_components() -> dict:
    error = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    out = {}
    for status, (name, description) in ERRORS.items():
        entry: dict = {"description": description, "content": error}
        if status in (429, 503):
            entry["headers"] = {"Retry-After": {"$ref": "#/components/headers/Retry-After"}}
        if status == 429:
            entry["headers"].update(_rate_header_refs())
        out[name] = entry
    return out


def _rate_header_refs() -> dict:
    return {name: {"$ref": f"#/components/headers/{name}"} for name in RATE_HEADERS}


def _header_components() -> dict:
    headers = {name: {"description": text, "schema": {"type": "integer"}}
               for name, text in RATE_HEADERS.items()}
    headers["Retry-After"] = RETRY_AFTER
    return headers


def _documented(app: Flask):
    for rule in app.url_map.iter_rules():
        view = app.view_functions[rule.endpoint]
        doc: EndpointDoc | None = getattr(view, "api_doc", None)
        if doc is None:
            continue
        path = re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"{\1}", rule.rule)
        facts = {"path": path, "endpoint": rule.endpoint, "args": sorted(rule.arguments),
                 "identifies": not getattr(view, "skip_identify", False),
                 "rate_limited": not is_exempt(rule.rule, rule.endpoint)}
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            yield method.lower(), facts, doc


def _ref(model) -> dict:
    return {"$ref": f"#/components/schemas/{model.__name__}"}


def _without_null(schema: dict) -> dict:
    """A query parameter is absent rather than null."""
    options = schema.get("anyOf")
    if options and {"type": "null"} in options and len(options) == 2:
        rest = {k: v for k, v in schema.items() if k != "anyOf"}
        return {**rest, **next(o for o in options if o != {"type": "null"})}
    return schema


def _parameters(doc: EndpointDoc, facts: dict) -> list[dict]:
    params = [{"name": a, "in": "path", "required": True, "schema": {"type": "string"}}
              for a in facts["args"]]
    if doc.query is not None:
        schema = doc.query.model_json_schema()
        params += [{"name": name, "in": "query", "schema": _without_null(prop),
                    "required": name in schema.get("required", [])}
                   for name, prop in schema.get("properties", {}).items()]
    return params + doc.openapi.get("parameters", [])


def _request_body(doc: EndpointDoc) -> dict | None:
    extra = doc.openapi.get("requestBody", {})
    if doc.body is None:
        return extra or None
    # A body whose every field has a default may be left out (an empty body means {}).
    required = any(f.is_required() for f in doc.body.model_fields.values())
    return _merge({"required": required,
                   "content": {"application/json": {"schema": _ref(doc.body)}}}, extra)


def _responses(doc: EndpointDoc, facts: dict, has_input: bool) -> dict:
    statuses = dict(doc.responses)
    if facts["identifies"] or doc.auth:
        statuses.setdefault(401, Error)
    if has_input:
        statuses.setdefault(400, Error)
    if doc.body is not None or "requestBody" in doc.openapi:
        statuses.setdefault(413, Error)
    if facts["rate_limited"]:
        statuses.setdefault(429, Error)
    out: dict = {}
    for status, model in sorted(statuses.items()):
        if model is Error:
            out[str(status)] = {"$ref": f"#/components/responses/{ERRORS[status][0]}"}
            continue
        entry: dict = {"description": model.__doc__ or model.__name__ if model else "OK"}
        if model is not None:
            entry["content"] = {"application/json": {"schema": _ref(model)}}
        if facts["rate_limited"]:
            entry["headers"] = _rate_header_refs()
        out[str(status)] = entry
    out["default"] = {"$ref": "#/components/responses/ServerError"}
    for status, extra in doc.openapi.get("responses", {}).items():
        out[status] = _merge(out.get(status, {"description": "OK"}), extra)
    return dict(sorted(out.items(), key=lambda item: (item[0] == "default", item[0])))


def _merge(base: dict, extra: dict) -> dict:
    merged = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _operation(doc: EndpointDoc, facts: dict) -> dict:
    op: dict = {"operationId": facts["endpoint"].replace(".", "_"), "summary": doc.summary,
                "tags": [doc.tag]}
    if doc.description:
        op["description"] = doc.description
    params = _parameters(doc, facts)
    if params:
        op["parameters"] = params
    body = _request_body(doc)
    if body is not None:
        op["requestBody"] = body
    has_input = body is not None or doc.query is not None
    op["responses"] = _responses(doc, facts, has_input)
    op["security"] = doc.openapi.get("security", USER_SECURITY if doc.auth else [])
    return op


def _model_schemas(entries) -> dict:
    models = {m for *_, d in entries for m in [d.body, *d.responses.values()]
              if m is not None and m is not JobCreate}
    models.add(Error)
    _, defs = models_json_schema([(m, "validation") for m in sorted(models, key=str)],
                                 ref_template="#/components/schemas/{model}")
    return {**defs.get("$defs", {}), **job_create_components()}


def build_spec(app: Flask) -> dict:
    entries = list(_documented(app))
    paths: dict = {}
    for method, facts, doc in entries:
        paths.setdefault(facts["path"], {})[method] = _operation(doc, facts)
    return {
        "openapi": "3.1.0",
        "info": {"title": "Genova API", "version": "1.0.0", "description": INTRO},
        "tags": [{"name": t} for t in ("jobs", "models", "keys", "user", "auth",
                                       "extensions", "operators")],
        "paths": paths,
        "components": {"schemas": _model_schemas(entries),
                       "responses": _error_components(),
                       "headers": _header_components(),
                       "securitySchemes": SECURITY_SCHEMES},
    }
