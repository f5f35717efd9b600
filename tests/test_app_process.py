"""``python app.py`` as a user runs it: embedded defaults, clean shutdown, admin CLI."""

from __future__ import annotations

import signal
import stat
import subprocess
import sys

import psutil
import pytest

from tests.procs import ROOT, app_env, redis_pids_for, running_app, wait_until

pytestmark = pytest.mark.e2e  # starts processes (app, workers, Redis, browser...)


def _register(app, email="first@example.com"):
    response = app.post("/api/auth/register", json={"email": email, "password": "long-password"})
    assert response.status_code == 201, response.text
    return response.json()


def _descendants(pid):
    return [p for p in psutil.Process(pid).children(recursive=True) if p.status() != "zombie"]


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_embedded_defaults_and_clean_shutdown(tmp_path, sig):
    data = tmp_path / "var"
    with running_app(data, GENOVA_EMBEDDED_WORKERS=1) as app:
        tokens = _register(app)
        headers = {"Authorization": f"Bearer {tokens['accessToken']}"}
        job = app.post("/api/jobs", headers=headers, json={"type": "image", "prompt": "a fox"})
        assert job.status_code == 201
        job_id = job.json()["jobId"]
        wait_until(lambda: app.get(f"/api/jobs/{job_id}", headers=headers).json()["status"]
                   == "completed", 60, lambda: app.log.read_text()[-3000:], interval=0.5)
        image = app.get(f"/api/jobs/{job_id}/download", headers=headers)
        assert image.status_code == 200 and image.headers["Content-Type"] == "image/png"
        children = _descendants(app.proc.pid)
        assert any("genova.workers.process" in " ".join(c.cmdline()) for c in children)
        assert app.get("/readyz").json()["checks"] == {"database": "ok", "redis": "ok"}
        assert (data / "genova.db").is_file()
        secret = data / "secret_key"
        assert stat.S_IMODE(secret.stat().st_mode) == 0o600
        assert redis_pids_for(data), "the embedded Redis should be running"
        assert "Traceback" not in app.log.read_text()  # e.g. a forked copy of a watcher
        assert app.stop(sig) == 0
    wait_until(lambda: not redis_pids_for(data), 15, lambda: "embedded Redis outlived the app")
    assert not (data / "redis" / "redis.pid").exists()
    wait_until(lambda: not [c for c in children if c.is_running() and c.status() != "zombie"],
               15, lambda: "worker processes outlived the app")


def test_sigkill_leaves_no_orphans(tmp_path):
    data = tmp_path / "var"
    with running_app(data, GENOVA_EMBEDDED_WORKERS=1) as app:
        assert redis_pids_for(data)
        children = _descendants(app.proc.pid)
        app.stop(signal.SIGKILL)
    wait_until(lambda: not redis_pids_for(data), 15, lambda: "embedded Redis outlived the app")
    wait_until(lambda: not [c for c in children if c.is_running() and c.status() != "zombie"],
               30, lambda: "worker processes outlived the app")


def test_two_instances_and_a_restart_keep_their_state(tmp_path):
    one, two = tmp_path / "one", tmp_path / "two"
    with running_app(one) as a, running_app(two) as b:
        tokens = _register(a)
        _register(b)  # same email, different data dir: no collision
        assert redis_pids_for(one) != redis_pids_for(two)
        a.stop()
    with running_app(one) as again:
        me = again.get("/api/user/me",
                       headers={"Authorization": f"Bearer {tokens['accessToken']}"})
        assert me.status_code == 200 and me.json()["email"] == "first@example.com"


def test_admin_cli_uses_the_same_configuration(tmp_path):
    data = tmp_path / "var"
    with running_app(data) as app:
        env = app_env(data, 0)
        result = subprocess.run(
            [sys.executable, "-m", "flask", "--app", "app", "user", "create", "ops@example.com",
             "--password", "hunter2hunter2", "--plan", "pro"],
            check=False, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result.stderr
        login = app.post("/api/auth/login", json={"email": "ops@example.com",
                                                  "password": "hunter2hunter2"})
        assert login.status_code == 200 and login.json()["user"]["plan"] == "pro"


def test_external_database_and_redis(tmp_path, database_url, redis_url):
    data = tmp_path / "var"
    with running_app(data, GENOVA_DATABASE_URL=database_url, GENOVA_REDIS_URL=redis_url) as app:
        tokens = _register(app, email="external@example.com")
        assert tokens["user"]["credits_remaining"] == 50
        assert not (data / "redis").exists(), "no embedded Redis with GENOVA_REDIS_URL set"
        if database_url.startswith("sqlite"):
            assert not (data / "genova.db").exists()
