"""``python app.py`` as a user runs it: embedded defaults, clean shutdown, admin CLI."""

from __future__ import annotations

import signal
import stat
import subprocess
import sys

import pytest

from tests.procs import ROOT, app_env, redis_pids_for, running_app, wait_until


def _register(app, email="first@example.com"):
    response = app.post("/api/auth/register", json={"email": email, "password": "long-password"})
    assert response.status_code == 201, response.text
    return response.json()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_embedded_defaults_and_clean_shutdown(tmp_path, sig):
    data = tmp_path / "var"
    with running_app(data) as app:
        tokens = _register(app)
        headers = {"Authorization": f"Bearer {tokens['accessToken']}"}
        job = app.post("/api/jobs", headers=headers, json={"type": "image", "prompt": "a fox"})
        assert job.status_code == 201 and job.json()["queuePosition"] == 1
        assert app.get("/readyz").json()["checks"] == {"database": "ok", "redis": "ok"}
        assert (data / "genova.db").is_file()
        secret = data / "secret_key"
        assert stat.S_IMODE(secret.stat().st_mode) == 0o600
        assert redis_pids_for(data), "the embedded Redis should be running"
        assert app.stop(sig) == 0
    wait_until(lambda: not redis_pids_for(data), 15, lambda: "embedded Redis outlived the app")
    assert not (data / "redis" / "redis.pid").exists()


def test_sigkill_leaves_no_orphan_redis(tmp_path):
    data = tmp_path / "var"
    with running_app(data) as app:
        assert redis_pids_for(data)
        app.stop(signal.SIGKILL)
    wait_until(lambda: not redis_pids_for(data), 15, lambda: "embedded Redis outlived the app")


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
