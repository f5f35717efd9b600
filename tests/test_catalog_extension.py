"""The catalog decides everything about a model: a platform and a model added to it (and
nowhere else) are validated, routed, offered to workers, claimed and completed."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_a_model_on_a_new_platform_runs_end_to_end(database_url, redis_url, tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "tests.catalog_extension", database_url, redis_url,
         str(tmp_path)], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout.strip().splitlines()[-1])

    assert out["refused_ratio"]["error"] == "Invalid request"  # the platform's own ratios
    assert "square" in json.dumps(out["refused_ratio"]["details"])
    assert out["created"]["success"] is True
    listed = {m["id"]: m for m in out["models"]}
    assert listed["testbed_model"]["platform"] == "testbed"
    assert "testbed_model" in out["openapi_models"]
    assert "testbed" in out["worker_choices"] and out["remote_worker_platform"] == "testbed"

    job_id = out["created"]["jobId"]
    assert out["ready_on_testbed"] == [job_id]  # queued on its own platform...
    assert out["claimed_on_flow"] is None  # ...not on flow
    assert out["outcome"]["completed"] is True
    assert out["job"]["status"] == "completed" and out["job"]["settings"]["aspectRatio"] == "square"
    assert out["job"]["result_url"]
