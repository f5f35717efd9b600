"""Shared helpers for the benchmarks: percentiles and a throwaway app."""

from __future__ import annotations

import os
import socket
import statistics
import subprocess
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent


def percentiles(values: list[float]) -> dict:
    if not values:
        return {}
    ordered = sorted(values)

    def pick(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 2)

    return {"p50": pick(0.50), "p90": pick(0.90), "p99": pick(0.99),
            "mean": round(statistics.fmean(ordered), 2), "n": len(ordered)}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class BenchApp:
    url: str
    api_key: str
    redis_url: str
    pid: int


@contextmanager
def start_app(data_dir: Path, *, port: int, workers: int, credits: int, **env_extra):
    """``python app.py`` with rate limits off, a user with ``credits`` and an API key."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GENOVA_")}
    env.update(GENOVA_DATA_DIR=str(data_dir), GENOVA_PORT=str(port), GENOVA_STUDIO="0",
               GENOVA_RATE_LIMITS="0", GENOVA_EMBEDDED_WORKERS=str(workers))
    env.update(env_extra)
    log = open(data_dir / "app.log", "wb")  # noqa: SIM115 - closed below
    proc = subprocess.Popen([sys.executable, str(ROOT / "app.py")], cwd=ROOT, env=env,
                            stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(url, proc, data_dir)
        user = requests.post(url + "/api/auth/register", timeout=10, json={
            "email": "bench@example.com", "password": "benchmark-password"}).json()
        subprocess.run([sys.executable, "-m", "flask", "--app", "app", "user", "credits",
                        "bench@example.com", str(credits)], cwd=ROOT, env=env, check=True,
                       capture_output=True)
        key = requests.post(url + "/api/keys", json={"name": "bench"}, timeout=10, headers={
            "Authorization": f"Bearer {user['accessToken']}"}).json()["key"]
        redis_url = (data_dir / "redis" / "redis.url").read_text().strip()
        if workers:
            _wait_for_workers(url, key, workers)
        yield BenchApp(url, key, redis_url, proc.pid)
    finally:
        proc.terminate()
        proc.wait(60)
        log.close()


def _wait_healthy(url: str, proc, data_dir: Path, timeout: float = 120) -> None:
    def exited():
        if proc.poll() is not None:
            raise RuntimeError((data_dir / "app.log").read_text()[-3000:])

    wait_until_answers(url + "/healthz", timeout, check=exited)


def wait_until_answers(url: str, timeout: float = 120, check=lambda: None) -> None:
    """Until ``url`` answers 200 (``check`` may raise to give up early)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        check()
        try:
            if requests.get(url, timeout=2).status_code == 200:
                return
        except (requests.ConnectionError, requests.Timeout):  # still starting (or busy)
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer")


def _wait_for_workers(url: str, key: str, workers: int, timeout: float = 60) -> None:
    """Warm-up: one job per worker, so worker start-up is not measured."""
    headers = {"X-API-Key": key}
    body = {"type": "image", "prompt": "warm-up"}
    ids = [requests.post(url + "/api/jobs", json=body, headers=headers, timeout=10)
           .json()["jobId"] for _ in range(max(1, workers))]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        states = {requests.get(f"{url}/api/jobs/{i}", headers=headers, timeout=10)
                  .json()["status"] for i in ids}
        if states == {"completed"}:
            return
        time.sleep(0.2)
    raise RuntimeError("workers did not complete the warm-up jobs")
