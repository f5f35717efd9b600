"""Live queue positions at depth: do watchers get true positions quickly, and what does it
cost the web process?

    python bench/positions.py [--depth 10000] [--users 100] [--sockets-per-user 10]
                              [--jobs-per-user 10] [--claims-per-s 20] [--seconds 15]

Starts its own app (one web process, no built-in workers). One bulk account queues
``--depth`` minus the watched jobs; ``--users`` accounts queue ``--jobs-per-user`` each
(the watched jobs, spread through the queue) and open ``--sockets-per-user`` /ws/user
sockets each. A claimer in this process then takes jobs off the head of the queue at
``--claims-per-s`` (as workers would), so every watched position moves. Reported:

- ``web_cpu_percent``: the web process's CPU (of one core) while the queue moves, with the
  sockets open, next to ``web_cpu_percent_without_sockets`` (the same claims, no watcher);
- ``converged_ms``: after the claimer stops, how long until every socket's last
  ``job_queued`` equals the job manager's own position for every watched job;
- ``wrong_after_converging``: watched jobs whose last position still differs (must be 0).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlencode

import psutil
import redis
import requests
import websocket
from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import free_port, start_app  # noqa: E402
from bench.ws_fanout import raise_fd_limit, users, web_worker  # noqa: E402
from genova.services.manager import JobManager  # noqa: E402

JOB = {"type": "image", "prompt": "positions", "model": "imagen4"}


class Watcher:
    """One socket: the last position it heard for each job."""

    def __init__(self, url: str):
        self.ws = websocket.create_connection(url, timeout=30)
        self.ws.recv()  # welcome
        self.last: dict[str, int] = {}
        self.heard = 0
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        while True:
            try:
                message = json.loads(self.ws.recv())
            except Exception:  # noqa: BLE001 - closed at the end
                return
            if message.get("type") == "job_queued":
                self.last[message["jobId"]] = message["queuePosition"]
                self.heard += 1


def post_jobs(base: str, headers: dict, n: int, desc: str) -> list[str]:
    session = requests.Session()
    return [session.post(base + "/api/jobs", json=JOB, headers=headers, timeout=30
                         ).json()["jobId"] for _ in tqdm(range(n), desc=desc, file=sys.stderr)]


def cpu_percent(proc: psutil.Process, seconds: float, during) -> float:
    """The process's CPU (percent of one core) while ``during(seconds)`` runs."""
    before = sum(proc.cpu_times()[:2])
    during(seconds)
    return round(100 * (sum(proc.cpu_times()[:2]) - before) / seconds, 1)


def claimer(manager: JobManager, rate: float):
    def run(seconds: float) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            manager.claim(platform="flow", worker_id="bench-claimer", lease_ttl=600)
            time.sleep(1 / rate)
    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--depth", type=int, default=10_000)
    parser.add_argument("--users", type=int, default=100)
    parser.add_argument("--sockets-per-user", type=int, default=10)
    parser.add_argument("--jobs-per-user", type=int, default=10)
    parser.add_argument("--claims-per-s", type=float, default=20)
    parser.add_argument("--seconds", type=float, default=15)
    args = parser.parse_args()
    raise_fd_limit(args.users * args.sockets_per_user + 1000)
    watched_total = args.users * args.jobs_per_user
    with tempfile.TemporaryDirectory() as tmp, start_app(
            Path(tmp), port=free_port(), workers=0, credits=args.depth + 10,
            GENOVA_MAX_USER_SOCKETS=str(args.sockets_per_user)) as app:
        web = web_worker(app.pid)
        print(f"web process {web.pid}: {' '.join(web.cmdline())}", file=sys.stderr)
        accounts = users(app.url, args.users)
        bulk = {"X-API-Key": app.api_key}
        bulk_per_round = (args.depth - watched_total) // args.jobs_per_user
        watched: dict[str, list[str]] = {a["user"]["id"]: [] for a in accounts}
        for round_ in range(args.jobs_per_user):  # watched jobs spread through the queue
            post_jobs(app.url, bulk, bulk_per_round, f"bulk {round_ + 1}")
            for account in accounts:
                headers = {"Authorization": f"Bearer {account['accessToken']}"}
                watched[account["user"]["id"]].append(requests.post(
                    app.url + "/api/jobs", json=JOB, headers=headers, timeout=30
                ).json()["jobId"])
        manager = JobManager(redis.Redis.from_url(app.redis_url, decode_responses=True))
        quiet = cpu_percent(web, args.seconds, claimer(manager, args.claims_per_s))
        sockets = []
        for account in tqdm(accounts, desc="sockets", file=sys.stderr):
            url = app.url.replace("http", "ws", 1) + "/ws/user?" + urlencode(
                {"token": account["accessToken"]})
            sockets += [(account["user"]["id"], Watcher(url))
                        for _ in range(args.sockets_per_user)]
        time.sleep(2)  # the snapshots
        heard = sum(w.heard for _, w in sockets)
        busy = cpu_percent(web, args.seconds, claimer(manager, args.claims_per_s))
        heard = sum(w.heard for _, w in sockets) - heard
        stopped = time.monotonic()
        truth = {j: manager.position(j) for ids in watched.values() for j in ids}

        def wrong() -> int:
            return sum(1 for user_id, w in sockets for j in watched[user_id]
                       if truth[j] is not None and w.last.get(j) != truth[j])

        while wrong() and time.monotonic() - stopped < 10:
            time.sleep(0.02)
        converged = round((time.monotonic() - stopped) * 1000)
        result = {
            "depth": args.depth, "sockets": len(sockets), "watched_jobs": watched_total,
            "claims_per_s": args.claims_per_s,
            "web_cpu_percent": busy, "web_cpu_percent_without_sockets": quiet,
            "positions_sent_per_s": round(heard / args.seconds),
            "converged_ms": converged, "wrong_after_converging": wrong(),
        }
        for _, w in sockets:
            w.ws.close()
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
