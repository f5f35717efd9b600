"""The contract run: Schemathesis against a live app checks every answer against
/api/openapi.json (all checks, stateful links on; schemathesis.toml holds the settings).

It authenticates with an API key an operator issued, the way a user's integration would,
and also holds a refresh token and a pool worker token so the two routes that take those
are exercised beyond their 401s.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.procs import ROOT, admin, running_app

pytestmark = pytest.mark.e2e  # starts processes (app, workers, Redis, browser...)

SCHEMATHESIS = [sys.executable, "-m", "schemathesis.cli", "run", "--no-color"]


def _credentials(app, **extra) -> dict:
    """A business user with plenty of credits, an API key, a refresh token, a worker token."""
    email = "fuzz@example.com"
    for args in (("user", "create", email, "--password", "fuzz-password", "--plan",
                  "business"), ("user", "credits", email, "100000")):
        result = admin(app, *args, **extra)
        assert result.returncode == 0, result.stderr
    issued = admin(app, "keys", "create", email, "fuzz", **extra)
    key_id = issued.stderr.split("created key ", 1)[1].split()[0]
    token = admin(app, "worker-token", "create", "fuzz", "--platform", "flow", **extra)
    login = app.post("/api/auth/login", json={"email": email, "password": "fuzz-password"})
    return {"GENOVA_API_KEY": issued.stdout.strip(), "GENOVA_FUZZ_KEY_ID": key_id,
            "GENOVA_WORKER_TOKEN": token.stdout.strip(),
            "GENOVA_REFRESH_TOKEN": login.json()["refreshToken"]}


def _schemathesis(app, credentials: dict, *args: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GENOVA_")}
    env.update(credentials)
    result = subprocess.run([*SCHEMATHESIS, f"{app.url}/api/openapi.json", *args], cwd=ROOT,
                            env=env, capture_output=True, text=True, timeout=900,
                            check=False)
    assert result.returncode == 0, result.stdout[-12000:] + result.stderr[-3000:]
    operations = sum(len(ops) for ops in app.get("/api/openapi.json").json()["paths"].values())
    assert f"Tested: {operations}" in result.stdout, result.stdout[-3000:]


@pytest.mark.timeout(1200)
def test_every_answer_matches_the_openapi_document(tmp_path, database_url):
    """With request limits off, so that the fuzzer reaches the logic behind every route."""
    extra = {"GENOVA_DATABASE_URL": database_url, "GENOVA_RATE_LIMITS": "0",
             "GENOVA_EMBEDDED_WORKERS": "1"}
    with running_app(tmp_path / "var", **extra) as app:
        _schemathesis(app, _credentials(app, **extra))


@pytest.mark.timeout(600)
def test_rate_limited_answers_match_the_document(tmp_path):
    """With the plans' limits on: the 429s, their Retry-After and X-RateLimit-* headers.
    (A call without credentials can meet the anonymous limit before the 401 that
    missing_required_header insists on; that check runs in the test above.)"""
    with running_app(tmp_path / "var") as app:
        _schemathesis(app, _credentials(app), "--max-examples", "5",
                      "--exclude-checks", "missing_required_header")
