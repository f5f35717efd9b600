"""End-to-end job benchmark: submission, completion, idle latency, platform overhead, and
bare RQ as the floor. Prints one JSON document (see bench/README.md).

    python bench/jobs.py                      # starts its own app (temp data dir)
    python bench/jobs.py -n 2000 -c 16 --workers 2
    python bench/jobs.py --url http://host:8000 --api-key af_... --redis-url redis://...

Completion is observed over /ws/user (pushed, not polled). Against an existing app, the
key's user needs credits for every job and the app needs GENOVA_RATE_LIMITS=0.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlencode

import requests
import websocket
from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import free_port, percentiles, start_app
from bench.rq_floor import measure_rq_floor

JOB = {"type": "image", "prompt": "benchmark: a lighthouse at dusk", "model": "imagen4",
       "aspectRatio": "landscape"}


class Completions:
    """Listens on /ws/user and records when each job completed (monotonic clock)."""

    def __init__(self, base: str, api_key: str):
        url = base.replace("http", "ws", 1) + "/ws/user?" + urlencode({"apiKey": api_key})
        self.ws = websocket.create_connection(url, timeout=120)
        assert json.loads(self.ws.recv())["type"] == "welcome"
        self.done: dict[str, float] = {}
        self.failed: dict[str, str] = {}
        self.cond = threading.Condition()
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self) -> None:
        while True:
            try:
                message = json.loads(self.ws.recv())
            except (websocket.WebSocketException, OSError, ValueError):
                return
            if message.get("type") in ("job_completed", "job_failed"):
                with self.cond:
                    self.done[message["jobId"]] = time.perf_counter()
                    if message["type"] == "job_failed":
                        self.failed[message["jobId"]] = message.get("error", "")
                    self.cond.notify_all()

    def wait(self, ids, timeout: float, bar=None) -> None:
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                finished = sum(1 for i in ids if i in self.done)
                if bar is not None:
                    bar.update(finished - bar.n)
                if finished == len(ids) or time.monotonic() > deadline:
                    return
                self.cond.wait(0.5)


def submit_all(base, api_key, n, concurrency):
    """POST n jobs from ``concurrency`` threads; returns [(job id, start, end)]."""
    local = threading.local()

    def post(_):
        session = getattr(local, "session", None)
        if session is None:
            session = local.session = requests.Session()  # keep-alive per thread
        start = time.perf_counter()
        response = session.post(base + "/api/jobs", json=JOB, headers={"X-API-Key": api_key},
                                timeout=60)
        end = time.perf_counter()
        if response.status_code != 201:
            raise RuntimeError(f"submit failed: {response.status_code} {response.text[:200]}")
        return response.json()["jobId"], start, end

    with ThreadPoolExecutor(concurrency) as pool:
        return list(tqdm(pool.map(post, range(n)), total=n, desc="submit", file=sys.stderr))


def generator_seconds(base, api_key, job_ids):
    session = requests.Session()
    out = {}
    for job_id in job_ids:
        job = session.get(f"{base}/api/jobs/{job_id}", headers={"X-API-Key": api_key},
                          timeout=30).json()
        out[job_id] = (job.get("generator") or {}).get("seconds")
    return out


def idle_latency(base, api_key, listener, runs):
    session = requests.Session()
    samples = []
    for _ in tqdm(range(runs), desc="idle single jobs", file=sys.stderr):
        start = time.perf_counter()
        job_id = session.post(base + "/api/jobs", json=JOB, headers={"X-API-Key": api_key},
                              timeout=30).json()["jobId"]
        listener.wait([job_id], 60)
        samples.append((job_id, listener.done[job_id] - start))
        time.sleep(0.05)  # idle between runs: the system is quiet for each sample
    return samples


def submit_only(args, base, api_key, redis_url):
    """Submission alone, no workers: the web process's own ceiling, next to the floor."""
    start = time.perf_counter()
    submitted = submit_all(base, api_key, args.jobs, args.concurrency)
    wall = max(e for _, _, e in submitted) - start
    return {"jobs": args.jobs, "concurrency": args.concurrency, "workers": 0, "job": JOB,
            "submit": {"jobs_per_s": round(args.jobs / wall, 1),
                       "latency_ms": percentiles([(e - s) * 1000 for _, s, e in submitted])},
            "rq_floor": measure_rq_floor(redis_url, args.rq_jobs) if redis_url else None}


def run(args, base, api_key, redis_url):
    if args.submit_only:
        return submit_only(args, base, api_key, redis_url)
    listener = Completions(base, api_key)
    batch_start = time.perf_counter()
    submitted = submit_all(base, api_key, args.jobs, args.concurrency)
    submit_wall = max(e for _, _, e in submitted) - batch_start
    ids = [j for j, _, _ in submitted]
    with tqdm(total=len(ids), desc="complete", file=sys.stderr) as bar:
        listener.wait(ids, args.timeout, bar)
    missing = [j for j in ids if j not in listener.done]
    e2e = [listener.done[j] - s for j, s, _ in submitted if j in listener.done]
    last = max(listener.done[j] for j in ids if j in listener.done)
    idle = idle_latency(base, api_key, listener, args.idle_runs)
    gen = generator_seconds(base, api_key, [j for j, _ in idle])
    overhead = [(lat - gen[j]) * 1000 for j, lat in idle if gen.get(j) is not None]
    return {
        "jobs": args.jobs, "concurrency": args.concurrency, "workers": args.workers,
        "job": JOB, "failed": len(listener.failed), "not_completed": len(missing),
        "submit": {"jobs_per_s": round(args.jobs / submit_wall, 1),
                   "latency_ms": percentiles([(e - s) * 1000 for _, s, e in submitted])},
        "end_to_end": {"jobs_per_s": round(len(e2e) / (last - batch_start), 1),
                       "latency_ms": percentiles([x * 1000 for x in e2e])},
        "idle_single_job_ms": percentiles([x * 1000 for _, x in idle]),
        "generator_ms": percentiles([gen[j] * 1000 for j, _ in idle if gen.get(j)]),
        "overhead_per_job_ms": percentiles(overhead),
        "rq_floor": measure_rq_floor(redis_url, args.rq_jobs) if redis_url else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", "--jobs", type=int, default=2000)
    parser.add_argument("-c", "--concurrency", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2, help="embedded workers (own app)")
    parser.add_argument("--submit-only", action="store_true",
                        help="no workers: measure submission alone (the jobs stay queued)")
    parser.add_argument("--idle-runs", type=int, default=30)
    parser.add_argument("--rq-jobs", type=int, default=2000)
    parser.add_argument("--timeout", type=float, default=600)
    parser.add_argument("--url")
    parser.add_argument("--api-key")
    parser.add_argument("--redis-url")
    args = parser.parse_args()
    if args.url:
        result = run(args, args.url.rstrip("/"), args.api_key, args.redis_url)
    else:
        with tempfile.TemporaryDirectory() as tmp, start_app(
                Path(tmp), port=free_port(), workers=0 if args.submit_only else args.workers,
                credits=args.jobs + args.idle_runs + 10) as app:
            result = run(args, app.url, app.api_key, app.redis_url)
    result["machine"] = {"cpus": os.cpu_count(), "python": sys.version.split()[0]}
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
