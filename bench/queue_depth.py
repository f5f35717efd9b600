"""Job-manager scaling: submit, position and claim latency with a deep queue.

    python bench/queue_depth.py --depth 100000

Fills one platform's queue with ``depth`` jobs from 1,000 users (pipelined Lua calls on a
private embedded Redis), then times single operations at that depth. Prints JSON.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from pathlib import Path

from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import percentiles
from genova.embedded_redis import EmbeddedRedis
from genova.services.manager import JobManager, score


def fill(manager: JobManager, depth: int, users: int) -> None:
    pipe = manager.r.pipeline(transaction=False)
    for i in tqdm(range(depth), desc="fill", file=sys.stderr):
        args = [f"job{i}", f"user{i % users}", "flow", score(random.choice((0, 0, 0, 5)), i + 1),
                depth, "", "imagen4", 30, 100, int(time.time() * 1000), 15000]
        manager._submit(args=args, client=pipe)
        if i % 1000 == 999:
            pipe.execute()
    pipe.execute()
    manager.r.set("genova:seq", depth + 1)
    manager.r.set("genova:epoch", "bench")


def timed(fn, n: int) -> dict:
    samples = []
    for i in range(n):
        t0 = time.perf_counter()
        fn(i)
        samples.append((time.perf_counter() - t0) * 1000)
    return percentiles(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--depth", type=int, default=100_000)
    parser.add_argument("--users", type=int, default=1000)
    parser.add_argument("--samples", type=int, default=2000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, EmbeddedRedis(tmp) as server:
        import redis

        manager = JobManager(redis.Redis.from_url(server.url, decode_responses=True))
        fill(manager, args.depth, args.users)
        ids = [f"job{random.randrange(args.depth)}" for _ in range(args.samples)]
        result = {
            "depth": args.depth, "users": args.users,
            "position_ms": timed(lambda i: manager.position(ids[i]), args.samples),
            "placement_ms": timed(lambda i: manager.placement(ids[i], "imagen4"), args.samples),
            "submit_ms": timed(lambda i: manager.submit(
                job_id=f"new{i}", user_id=f"user{i % args.users}", platform="flow",
                priority=0, seq=args.depth + 10 + i, cap=10**9, model="imagen4",
                announce=False), args.samples),
            "claim_ms": timed(lambda i: manager.claim(platform="flow", worker_id="bench",
                                                      lease_ttl=60), args.samples),
            "redis_round_trip_ms": timed(lambda i: manager.r.ping(), args.samples),
        }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
