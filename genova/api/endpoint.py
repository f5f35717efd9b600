"""``@endpoint``: validate a view's input with pydantic and record it for the OpenAPI spec.

The view receives the parsed ``body``/``query`` models as keyword arguments. Pydantic errors
become one 400 whose ``details`` name the offending field in the API's own spelling.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass, field

from flask import request
from pydantic import BaseModel
from pydantic import ValidationError as PydanticError
from werkzeug.exceptions import RequestEntityTooLarge

from genova.api.auth import current_user
from genova.errors import MissingFieldError, ValidationError


@dataclass
class EndpointDoc:
    summary: str
    tag: str
    body: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    responses: dict[int, type[BaseModel] | None] = field(default_factory=dict)
    auth: bool = True
    description: str = ""
    # A raw OpenAPI fragment for what the pydantic models cannot say (extra parameters,
    # response headers, links, another body media type): merged into the operation.
    openapi: dict = field(default_factory=dict)


def field_path(loc: tuple) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def to_api_error(exc: PydanticError) -> ValidationError:
    errors = exc.errors(include_url=False)
    missing = [field_path(e["loc"]) for e in errors if e["type"] == "missing"]
    if missing:
        names = " and ".join(missing) if len(missing) <= 2 else ", ".join(missing)
        verb = "is" if len(missing) == 1 else "are"
        return MissingFieldError(f"{names} {verb} required", field=missing[0])
    first = errors[0]
    name = field_path(first["loc"]) or "body"
    if first["type"] == "extra_forbidden":
        return ValidationError(f"unknown field {name!r}", field=name)
    msg = first["msg"]
    if first["type"] in ("literal_error", "enum") or "input" not in first:
        return ValidationError(f"{name}: {msg}", field=name)
    return ValidationError(f"{name}: {msg} (got {first['input']!r})"[:300], field=name)


def parse(model: type[BaseModel], data) -> BaseModel:
    try:
        return model.model_validate(data)
    except PydanticError as exc:
        raise to_api_error(exc) from None


def json_body():
    """The body as a JSON object; an empty body counts as ``{}`` so that the schema can name
    the missing fields. Text that PostgreSQL cannot store (NUL, lone surrogates) is a 400."""
    raw = request.get_data(cache=True)
    limit = request.max_content_length
    if request.content_length is None and limit is not None and len(raw) >= limit:
        # A chunked body (no Content-Length) is cut at the limit rather than refused:
        # what was read is a prefix, so say why instead of calling it malformed.
        raise RequestEntityTooLarge()
    if not raw.strip():
        return {}
    try:
        data = json.loads(raw)
        bad = _find_unstorable(data, "") if isinstance(data, dict) else None
    except (ValueError, RecursionError):  # RecursionError: absurdly deep nesting
        raise ValidationError("the request body is not valid JSON",
                              error="Malformed JSON") from None
    if not isinstance(data, dict):
        raise ValidationError("the request body must be a JSON object", error="Malformed JSON")
    if bad is not None:
        raise ValidationError(f"{bad} contains a NUL character or an unpaired surrogate",
                              field=bad)
    return data


def _storable(text: str) -> bool:
    if "\x00" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _find_unstorable(value, path: str) -> str | None:
    """Path of the first string (key or value) that no database can store, else None."""
    if isinstance(value, str):
        return None if _storable(value) else path
    items = value.items() if isinstance(value, dict) else (
        enumerate(value) if isinstance(value, list) else ())
    for key, item in items:
        here = f"{path}[{key}]" if isinstance(key, int) else (f"{path}.{key}" if path else key)
        if isinstance(key, str) and not _storable(key):
            return path or "body"
        if (found := _find_unstorable(item, here)) is not None:
            return found
    return None


def endpoint(summary: str, *, tag: str, body=None, query=None, responses=None, auth=True,
             description="", openapi=None):
    doc = EndpointDoc(summary, tag, body, query, responses or {}, auth, description,
                      openapi or {})

    def decorate(view):
        @functools.wraps(view)
        def wrapper(*args, **kwargs):
            if auth:
                current_user()
            if body is not None:
                kwargs["body"] = parse(body, json_body())
            if query is not None:
                kwargs["query"] = parse(query, request.args.to_dict())
            return view(*args, **kwargs)

        wrapper.api_doc = doc
        return wrapper

    return decorate
