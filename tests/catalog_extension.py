"""Run by ``tests/test_catalog_extension.py`` in a fresh interpreter: add a platform and a
model to the catalog *before* anything else imports it (as an edit of ``genova/catalog.py``
would), then take a job of that model through validation, the queue, a claim and a
generator, and print what was observed as JSON.

Usage: ``python -m tests.catalog_extension DATABASE_URL REDIS_URL DATA_DIR``
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from genova import catalog

catalog.PLATFORMS["testbed"] = catalog.Platform("testbed", ("square", "portrait"), "square",
                                                ("ingredients",))
catalog.MODELS["testbed_model"] = catalog.Model("testbed_model", "Testbed", "testbed",
                                                "image", 7, "A model added by a test.")

import worker  # noqa: E402
from genova import create_app, runtime, tasks  # noqa: E402
from genova.remote_worker.__main__ import parse as parse_remote_worker  # noqa: E402
from genova.services import lifecycle  # noqa: E402
from tests.conftest import clean, make_settings  # noqa: E402
from tests.helpers import job_body, register  # noqa: E402


def main(database_url: str, redis_url: str, data_dir: str) -> dict:
    app = create_app(make_settings(Path(data_dir), database_url, redis_url))
    clean(app)
    client = app.test_client()
    user = register(client, plan="business")
    body = job_body(model="testbed_model", aspectRatio="square")
    out: dict = {
        "refused_ratio": client.post("/api/jobs", json={**body, "aspectRatio": "landscape"},
                                     headers=user["headers"]).get_json(),
        "created": client.post("/api/jobs", json=body, headers=user["headers"]).get_json(),
        "models": client.get("/api/models").get_json()["models"],
        "openapi_models": [v["properties"]["model"]["const"] for v in client.get(
            "/api/openapi.json").get_json()["components"]["schemas"]["JobCreate"]["oneOf"]],
        "worker_choices": worker.build_parser()._option_string_actions["--platform"].choices,
        "remote_worker_platform": parse_remote_worker(
            ["--url", "http://127.0.0.1:1", "--token", "gwt_x", "--type", "testbed"]).platform,
    }
    rt = runtime.of(app)
    out["ready_on_testbed"] = rt.redis.zrange("genova:ready:testbed", 0, -1)
    with app.app_context():
        out["claimed_on_flow"] = lifecycle.claim_next(rt, platform="flow", worker_id="w")
        claim, _ = lifecycle.claim_next(rt, platform="testbed", worker_id="w")
        out["outcome"] = tasks.generate(claim.job_id, claim.lease)
    out["job"] = client.get(f"/api/jobs/{claim.job_id}", headers=user["headers"]).get_json()
    return out


if __name__ == "__main__":
    print(json.dumps(main(*sys.argv[1:4]), default=str))
