"""Run ``worker.py`` (and stand-in dying workers) as real processes against a test app."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from contextlib import contextmanager

from tests.procs import ROOT, wait_until


def worker_env(settings, **extra) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GENOVA_")}
    env.update(GENOVA_DATABASE_URL=settings.resolved_database_url,
               GENOVA_REDIS_URL=settings.redis_url, GENOVA_SECRET_KEY=settings.secret_key,
               GENOVA_DATA_DIR=str(settings.data_dir), GENOVA_LEASE_TTL="2",
               GENOVA_SWEEP_INTERVAL="1", PYTHONUNBUFFERED="1")
    env.update({k: str(v) for k, v in extra.items()})
    return env


@contextmanager
def running_workers(settings, *, concurrency=2, platform="all", **extra):
    log = settings.data_dir.parent / f"worker-{os.getpid()}-{id(settings)}.log"
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as out:
        proc = subprocess.Popen([sys.executable, str(ROOT / "worker.py"), "--platform", platform,
                                 "--concurrency", str(concurrency)], cwd=ROOT,
                                env=worker_env(settings, **extra), stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


def wait_for_status(client, headers, job_id, statuses, timeout=90):
    """Poll the REST API until the job reaches one of ``statuses``; returns the job."""
    seen = {}

    def done():
        response = client.get(f"/api/jobs/{job_id}", headers=headers)
        assert response.status_code == 200, response.get_json()
        seen["job"] = response.get_json()
        return seen["job"]["status"] in statuses

    # 0.3 s between polls stays inside the Business plan's 300 requests a minute
    wait_until(done, timeout, lambda: f"job never reached {statuses}: {seen.get('job')}",
               interval=0.3)
    return seen["job"]


CLAIM_AND_HANG = """
import sys, time
from genova import create_app, runtime
from genova.config import Settings
from genova.services import lifecycle
app = create_app(Settings.from_env())
with app.app_context():
    rt = runtime.of(app)
    while True:
        got = lifecycle.claim_next(rt, platform=sys.argv[1], worker_id="doomed")
        if got:
            print("CLAIMED", got[0].job_id, got[0].lease, flush=True)
            break
        time.sleep(0.05)
    time.sleep(3600)
"""


def claim_then_die(settings, platform="flow", timeout=60):
    """A worker process that claims one job and is then SIGKILLed: returns (job, lease)."""
    proc = subprocess.Popen([sys.executable, "-c", CLAIM_AND_HANG, platform], cwd=ROOT,
                            env=worker_env(settings), stdout=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        assert line.startswith("CLAIMED"), line
        _, job_id, lease = line.split()
        return job_id, lease
    finally:
        proc.kill()
        proc.wait()
