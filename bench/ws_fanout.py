"""WebSocket fan-out: sockets held by one server process, memory per socket, and event
latency from a worker's message to the user's sockets.

    python bench/ws_fanout.py --sockets 2000 --users 100 --events 200

Starts its own app (one web process, no built-in workers), opens ``--sockets`` /ws/user
connections spread over ``--users`` users, connects a pool extension that claims a job of
one user, and sends ``--events`` job_progress messages; each carries its send time, and the
time until every socket of that user has it is the latency. Prints JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlencode

import psutil
import requests
import websocket
from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import free_port, percentiles, start_app

ROOT = Path(__file__).resolve().parent.parent


def raise_fd_limit(needed: int) -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = min(hard, max(soft, needed))
    resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return target


def web_worker(app_pid: int) -> psutil.Process:
    """The gunicorn worker: the app's child that runs the same command line."""
    master = psutil.Process(app_pid)
    return next(c for c in master.children() if c.cmdline() == master.cmdline())


def users(base: str, n: int) -> list[dict]:
    out = []
    for i in tqdm(range(n), desc="users", file=sys.stderr):
        data = requests.post(base + "/api/auth/register", timeout=10, json={
            "email": f"fan{i}@example.com", "password": "fan-out-password"}).json()
        out.append(data)
    return out


def connect_all(base: str, accounts: list[dict], n: int) -> list[tuple[int, websocket.WebSocket]]:
    sockets = []
    ws_base = base.replace("http", "ws", 1)
    for i in tqdm(range(n), desc="sockets", file=sys.stderr):
        owner = i % len(accounts)
        token = accounts[owner]["accessToken"]
        ws = websocket.create_connection(f"{ws_base}/ws/user?token={token}", timeout=60)
        assert json.loads(ws.recv())["type"] == "welcome"
        sockets.append((owner, ws))
    return sockets


def pool_extension(app, data_dir: Path) -> websocket.WebSocket:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GENOVA_")}
    env["GENOVA_DATA_DIR"] = str(data_dir)
    token = subprocess.run([sys.executable, "-m", "flask", "--app", "app", "worker-token",
                            "create", "bench", "--platform", "flow"], cwd=ROOT, env=env,
                           check=True, capture_output=True, text=True).stdout.split()[-1]
    query = urlencode({"token": token, "extensionType": "flow"})
    ws = websocket.create_connection(f"{app.url.replace('http', 'ws', 1)}/ws/extension?{query}",
                                     timeout=60)
    assert json.loads(ws.recv())["type"] == "welcome"
    return ws


def drain_until(ws, kind: str) -> dict:
    while True:
        message = json.loads(ws.recv())
        if message.get("type") == kind:
            return message


def measure(app, data_dir: Path, args) -> dict:
    accounts = users(app.url, args.users)
    worker_proc = web_worker(app.pid)
    rss_before = worker_proc.memory_info().rss
    sockets = connect_all(app.url, accounts, args.sockets)
    time.sleep(1)
    rss_after = worker_proc.memory_info().rss
    healthz = []  # what a probe (or any HTTP client) feels with every socket open
    for _ in range(50):
        started = time.perf_counter()
        requests.get(app.url + "/healthz", timeout=10)
        healthz.append((time.perf_counter() - started) * 1000)
    target = accounts[0]
    mine = [ws for owner, ws in sockets if owner == 0]
    extension = pool_extension(app, data_dir)
    job_id = requests.post(app.url + "/api/jobs", timeout=10, json={
        "type": "image", "prompt": "fan-out"},
        headers={"Authorization": f"Bearer {target['accessToken']}"}).json()["jobId"]
    extension.send(json.dumps({"type": "request_job"}))
    drain_until(extension, "new_job")
    for ws in mine:
        drain_until(ws, "job_started")
    latencies, last_socket = [], []
    for i in tqdm(range(args.events), desc="events", file=sys.stderr):
        sent = time.perf_counter()
        extension.send(json.dumps({"type": "job_progress", "jobId": job_id,
                                   "progress": i % 100, "message": str(i)}))
        for ws in mine:
            drain_until(ws, "job_progress")
            latencies.append((time.perf_counter() - sent) * 1000)
        last_socket.append((time.perf_counter() - sent) * 1000)
        time.sleep(0.01)
    return {
        "sockets_requested": args.sockets,
        "sockets_held": sum(1 for _, ws in sockets if ws.connected),
        "web_process_rss_mib": {"before": round(rss_before / 2**20, 1),
                                "after": round(rss_after / 2**20, 1)},
        "memory_per_socket_kib": round((rss_after - rss_before) / max(1, args.sockets) / 1024,
                                       1),
        "healthz_ms_with_sockets_open": percentiles(healthz),
        "sockets_per_event": len(mine),
        "event_latency_ms": percentiles(latencies),
        "event_latency_all_sockets_ms": percentiles(last_socket),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sockets", type=int, default=2000)
    parser.add_argument("--users", type=int, default=100)
    parser.add_argument("--events", type=int, default=200)
    args = parser.parse_args()
    limit = raise_fd_limit(2 * args.sockets + 256)
    with tempfile.TemporaryDirectory() as tmp, start_app(
            Path(tmp), port=free_port(), workers=0, credits=10) as app:
        result = measure(app, Path(tmp), args)
    result["fd_limit"] = limit
    result["machine"] = {"cpus": os.cpu_count(), "python": sys.version.split()[0]}
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
