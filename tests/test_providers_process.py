"""Providers as an operator meets them: ``python app.py`` refuses a model mapped to a provider
without credentials; ``flask --app app providers check`` reports what works; and a whole app
making real-provider jobs (through the providers' local fakes), failures included, never
writes a secret into its log, its job records, its errors or its metrics."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest
import requests

from tests.fakes.freepik_api import FreepikFake
from tests.fakes.google_api import GoogleFake
from tests.live import live_app
from tests.procs import ROOT, app_env, wait_until

pytestmark = pytest.mark.e2e

GOOGLE_KEY = "AIzaSy-test-google-secret-4242424242"
FREEPIK_KEY = "fpk-test-freepik-secret-4242424242"
TERMINAL = ("completed", "failed", "cancelled")


@pytest.mark.parametrize("command", [["app.py"], ["worker.py"],
                                     ["-m", "flask", "--app", "app", "providers", "check"]])
def test_a_model_mapped_to_a_provider_without_credentials_is_refused_at_start(
        tmp_path, command):
    env = app_env(tmp_path / "data", 0,
                  GENOVA_GENERATORS="imagen4=google,freepik=freepik,*=procedural",
                  GENOVA_FREEPIK_API_KEY=FREEPIK_KEY)
    done = subprocess.run([sys.executable, *command], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode != 0
    assert "cannot start" in done.stderr
    assert "maps imagen4 to google" in done.stderr and "GENOVA_GOOGLE_API_KEY" in done.stderr
    assert "Traceback" not in done.stderr and FREEPIK_KEY not in done.stderr


@pytest.fixture
def fakes():
    with GoogleFake(api_key=GOOGLE_KEY) as google, FreepikFake(api_key=FREEPIK_KEY) as freepik:
        yield google, freepik


def provider_env(google, freepik, google_key=GOOGLE_KEY) -> dict:
    return {"GENOVA_GENERATORS": "imagen4=google,nano_banana2=google,veo2_fast=google,"
                                 "freepik=freepik,*=procedural",
            "GENOVA_GOOGLE_API_KEY": google_key, "GENOVA_GOOGLE_BASE_URL": google.url,
            "GENOVA_FREEPIK_API_KEY": FREEPIK_KEY, "GENOVA_FREEPIK_BASE_URL": freepik.url,
            "GENOVA_PROVIDER_POLL_INTERVAL": "0.05", "GENOVA_PROVIDER_BACKOFF": "0.05",
            "GENOVA_PROVIDER_RETRIES": "3"}


def _wait(app, user, job_id: str) -> dict:
    headers = {"X-API-Key": user.key}
    job = {}

    def done() -> bool:
        job.update(requests.get(f"{app.url}/api/jobs/{job_id}", headers=headers,
                                timeout=10).json())
        return job.get("status") in TERMINAL

    wait_until(done, 60, lambda: f"job never finished: {job}", interval=0.1)
    return job


def test_provider_jobs_in_the_whole_app_never_write_a_secret(tmp_path, fakes):
    google, freepik = fakes
    with live_app(tmp_path, workers=1, **provider_env(google, freepik)) as app:
        user = app.user(plan="business")
        headers = {"X-API-Key": user.key}
        google.fail_next(429)  # retried
        bodies = [
            {"type": "image", "prompt": "a lighthouse at dawn", "model": "imagen4"},
            {"type": "image", "prompt": "a red fox", "model": "nano_banana2"},
            {"type": "video", "prompt": "waves", "model": "veo2_fast"},
            {"type": "image", "prompt": "a BLOCKED thing", "model": "freepik"},
            {"type": "image", "prompt": "a teapot", "model": "freepik", "quality": "2K"},
        ]
        jobs = []
        for body in bodies:
            created = requests.post(f"{app.url}/api/jobs", json=body, headers=headers,
                                    timeout=10)
            assert created.status_code == 201, created.text
            jobs.append(_wait(app, user, created.json()["jobId"]))
        assert [j["status"] for j in jobs] == ["completed", "completed", "completed", "failed",
                                               "completed"]
        assert jobs[0]["generator"]["provider_model"] == "imagen-4.0-generate-001"
        assert jobs[2]["result_url"].endswith(".mp4")
        metrics = requests.get(f"{app.url}/metrics", timeout=10).text
        checked = app.flask("providers", "check", check=False)
        time.sleep(0.2)
        log = app.process.log.read_text()
    everything = "\n".join([log, metrics, str(jobs), checked.stdout, checked.stderr])
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "imagen-4.0-generate-001" in checked.stdout and "FAILED" not in checked.stdout
    for secret in (GOOGLE_KEY, FREEPIK_KEY):
        assert secret not in everything


def test_providers_check_reports_a_refused_key_without_writing_it(tmp_path, fakes):
    google, freepik = fakes
    env = app_env(tmp_path / "data", 0, **provider_env(google, freepik,
                                                       google_key="AIzaSy-wrong-key-777"))
    done = subprocess.run([sys.executable, "-m", "flask", "--app", "app", "providers",
                           "check"], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 1
    rows = {line.split()[0]: line for line in done.stdout.splitlines()[1:]}
    assert "FAILED" in rows["imagen4"] and "GENOVA_GOOGLE_API_KEY" in rows["imagen4"]
    assert rows["freepik"].split()[1] == "freepik" and "ok:" in rows["freepik"]
    assert "ok:" in rows["veo3_fast"] and "procedural" in rows["veo3_fast"]
    assert "AIzaSy-wrong-key-777" not in done.stdout + done.stderr


def test_a_worker_killed_while_polling_a_provider_is_recovered_by_its_lease(tmp_path, fakes):
    """The lease rules cover provider jobs: a worker SIGKILLed in the middle of polling Veo
    loses the job when its lease expires; it goes back in line and a restarted worker makes
    it (with a second provider call)."""
    import os
    import signal

    import psutil

    google, freepik = fakes
    google.video_polls = 10_000  # the first worker never sees it finish
    env = {**provider_env(google, freepik), "GENOVA_LEASE_TTL": "2",
           "GENOVA_SWEEP_INTERVAL": "1"}
    with live_app(tmp_path, workers=1, **env) as app:
        user = app.user(plan="business")
        created = requests.post(f"{app.url}/api/jobs", headers={"X-API-Key": user.key},
                                json={"type": "video", "prompt": "waves", "model": "veo2_fast"},
                                timeout=10).json()
        wait_until(lambda: google.poll_count >= 2, 30, lambda: "the worker never polled")
        (worker,) = [p for p in psutil.Process(app.process.proc.pid).children(recursive=True)
                     if "genova.workers.process" in " ".join(p.cmdline())
                     and "--maintenance" not in p.cmdline()]
        os.kill(worker.pid, signal.SIGKILL)
        google.video_polls = 1  # the next operation is done at its first poll
        job = _wait(app, user, created["jobId"])
    assert job["status"] == "completed", job
    assert len(google.calls(":predictLongRunning")) == 2
