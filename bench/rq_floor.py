"""Bare RQ on the same Redis: enqueue plus a no-op job, as the floor for our overhead."""

from __future__ import annotations

import subprocess
import sys
import time

import redis
from rq import Queue

from bench.common import ROOT, percentiles

WORKER = """
import sys
from redis import Redis
from rq import Queue, SimpleWorker
connection = Redis.from_url(sys.argv[1])
SimpleWorker([Queue("bench-floor", connection=connection)], connection=connection).work()
"""


def measure_rq_floor(redis_url: str, n: int, workers: int = 2) -> dict:
    connection = redis.Redis.from_url(redis_url)
    queue = Queue("bench-floor", connection=connection)
    start = time.perf_counter()
    jobs = [queue.enqueue("bench.noop.noop", result_ttl=60) for _ in range(n)]
    enqueue_s = time.perf_counter() - start
    procs = [subprocess.Popen([sys.executable, "-c", WORKER, redis_url], cwd=ROOT,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
             for _ in range(workers)]
    try:
        drain_start = time.perf_counter()
        for job in jobs:
            job.latest_result(timeout=120)
        drain_s = time.perf_counter() - drain_start
        latencies = []
        for _ in range(50):  # idle workers: one job at a time
            t0 = time.perf_counter()
            queue.enqueue("bench.noop.noop", result_ttl=60).latest_result(timeout=30)
            latencies.append((time.perf_counter() - t0) * 1000)
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(30)
    return {"workers": workers, "worker_class": "SimpleWorker",
            "enqueue_per_s": round(n / enqueue_s, 1),
            "drain_jobs_per_s": round(n / drain_s, 1),
            "idle_single_job_ms": percentiles(latencies)}
