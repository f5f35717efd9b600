"""The OpenAPI document says exactly what the server does: what each operation accepts, every
status it can answer, and the headers that come with them."""

from __future__ import annotations

import itertools
import random

import pytest
from jsonschema import Draft202012Validator

from genova.api.endpoint import parse
from genova.api.openapi_jobs import sample_png
from genova.catalog import ASPECT_RATIOS, MODELS, PLATFORMS
from genova.errors import GenovaError
from genova.schemas import JobCreate
from genova.services.job_spec import build_spec
from tests.helpers import register


@pytest.fixture
def spec(client):
    return client.get("/api/openapi.json").get_json()


def _operations(spec):
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            yield path, method, op


def _validator(spec, name: str) -> Draft202012Validator:
    return Draft202012Validator({"$ref": f"#/components/schemas/{name}",
                                 "components": spec["components"]})


def _server_accepts(body: dict) -> bool:
    try:
        build_spec(parse(JobCreate, body))
    except GenovaError:
        return False
    return True


def _job_bodies(n: int):
    """A seeded sample of the grid of settings a client might combine, valid and not."""
    png = sample_png()
    modes = sorted({m for p in PLATFORMS.values() for m in p.reference_modes}) + [None]
    grid = list(itertools.product(
        MODELS, ["image", "video"], [*ASPECT_RATIOS, None, "21:9"], [1, 2, 4, 5, 2.0, 1.5],
        [(None, None), ("1K", None), (None, "2K"), ("1K", "2K"), ("2K", "2K")],
        [False, *modes]))
    for model, kind, ratio, count, (quality, resolution), ref in random.Random(9).sample(
            grid, n):
        body = {"type": kind, "prompt": "a lighthouse", "model": model, "count": count}
        for key, value in (("aspectRatio", ratio), ("quality", quality),
                           ("resolution", resolution)):
            if value is not None:
                body[key] = value
        if ref is not False:
            body["referenceImages"] = {"images": [png], "mode": ref}
        yield body


def test_the_job_schema_accepts_exactly_what_the_server_accepts(spec):
    """Each model's branch of JobCreate (types, counts, aspect ratios, qualities, reference
    modes) agrees with the server's own validation on every sampled combination."""
    validator = _validator(spec, "JobCreate")
    accepted = 0
    for body in _job_bodies(2500):
        documented = validator.is_valid(body)
        assert documented == _server_accepts(body), body
        accepted += documented
    assert 25 < accepted < 2475  # the sample holds both kinds
    without_model = {"type": "image", "prompt": "x"}  # model defaults to imagen4
    assert validator.is_valid(without_model) and _server_accepts(without_model)
    for blank in ("", "   "):
        assert not validator.is_valid({"type": "image", "prompt": blank})
        assert not _server_accepts({"type": "image", "prompt": blank})


def test_every_example_is_valid_and_is_accepted(spec, client):
    user = register(client, plan="business")
    for path, method, op in _operations(spec):
        content = op.get("requestBody", {}).get("content", {}).get("application/json")
        if not content:
            continue
        name = content["schema"]["$ref"].rsplit("/", 1)[1]
        examples = [e["value"] for e in content.get("examples", {}).values()]
        examples += spec["components"]["schemas"][name].get("examples", [])
        assert examples, f"{method} {path} has no example"
        for example in examples:
            assert _validator(spec, name).is_valid(example), (path, example)
    for example in spec["paths"]["/api/jobs"]["post"]["requestBody"]["content"][
            "application/json"]["examples"].values():
        created = client.post("/api/jobs", json=example["value"], headers=user["headers"])
        assert created.status_code == 201, (example, created.get_json())


def test_every_operation_declares_its_shared_answers(spec):
    for path, method, op in _operations(spec):
        responses, where = op["responses"], f"{method.upper()} {path}"
        assert "default" in responses, where
        if op["security"]:
            assert "401" in responses, where
        if "requestBody" in op:
            assert {"400", "413"} <= set(responses), where
        limited = not path.startswith(("/api/models", "/files/", "/healthz", "/readyz",
                                       "/metrics")) and not path.endswith("/results")
        assert ("429" in responses) == limited, where
        for status, response in responses.items():
            if status.startswith("2") and limited:
                assert "X-RateLimit-Remaining" in response["headers"], where
    too_many = spec["components"]["responses"]["TooManyRequests"]["headers"]
    assert {"Retry-After", "X-RateLimit-Limit", "X-RateLimit-Reset"} <= set(too_many)
    assert spec["components"]["headers"]["Retry-After"]["required"] is True
    assert "503" in spec["paths"]["/api/jobs"]["post"]["responses"]


def test_the_fields_a_generator_relies_on(spec):
    paths, schemas = spec["paths"], spec["components"]["schemas"]
    listing = {p["name"]: p["schema"] for p in paths["/api/jobs"]["get"]["parameters"]}
    assert listing["offset"]["maximum"] >= 1000 and listing["limit"]["maximum"] == 100
    assert "completed" in listing["status"]["enum"]
    assert schemas["Register"]["properties"]["email"]["format"] == "email"
    job = schemas["JobOut"]["properties"]
    assert job["created_at"]["format"] == "date-time"
    assert {"type": "number"} in job["processing_time"]["anyOf"]
    for platform in PLATFORMS.values():
        refs = schemas[f"ReferenceImages_{platform.name}"]["properties"]
        assert refs["mode"]["enum"] == [*platform.reference_modes, None]
        assert refs["images"]["items"]["minLength"] == 1
    download = paths["/api/jobs/{job_id}/download"]["get"]
    assert any(p["name"] == "index" for p in download["parameters"])
    assert download["responses"]["302"]["headers"]["Location"]["required"] is True
    assert paths["/api/keys"]["post"]["requestBody"]["required"] is False  # {} is fine
    assert paths["/api/auth/register"]["post"]["requestBody"]["required"] is True


def test_the_upload_route_says_how_extensions_call_it(spec):
    upload = spec["paths"]["/api/jobs/{job_id}/results"]["post"]
    assert {"WorkerToken": []} in upload["security"] and {"ApiKey": []} in upload["security"]
    assert any(p["name"] == "X-Lease" and p["in"] == "header" for p in upload["parameters"])
    body = upload["requestBody"]["content"]["multipart/form-data"]["schema"]
    assert body["required"] == ["file"]
    assert body["properties"]["file"]["items"]["format"] == "binary"
    assert {"403", "409", "413"} <= set(upload["responses"])


def test_a_refused_upload_without_credentials_is_the_documented_401(client, spec):
    job = "00000000-0000-4000-8000-000000000000"
    response = client.post(f"/api/jobs/{job}/results")
    assert response.status_code == 401
    assert set(response.get_json()) >= {"error", "details"}


def test_links_lead_from_a_new_job_to_what_can_be_done_with_it(spec):
    links = spec["paths"]["/api/jobs"]["post"]["responses"]["201"]["links"]
    operation_ids = {op["operationId"] for *_, op in _operations(spec)}
    assert {link["operationId"] for link in links.values()} <= operation_ids
    assert links["GetJob"]["parameters"] == {"job_id": "$response.body#/jobId"}
