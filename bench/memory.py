"""Memory of the whole app at rest: the PSS (proportional set size: shared pages split
between the processes sharing them) of every process ``python app.py`` runs.

    python bench/memory.py [--workers 2] [--jobs 20] [--settle 5]

Starts its own app without the studio (web, ``--workers`` generator workers, the
maintenance worker and scheduler, the embedded Redis), runs ``--jobs`` jobs so that every
process has done its work once, waits ``--settle`` seconds, then sums PSS per process.
Linux only (PSS comes from /proc/<pid>/smaps_rollup).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import psutil
import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import free_port, start_app  # noqa: E402

JOB = {"type": "image", "prompt": "memory", "model": "imagen4"}
MIB = 1024 * 1024


def role(proc: psutil.Process) -> str:
    line = " ".join(proc.cmdline())
    for needle, name in (("redis", "redis"), ("--maintenance", "maintenance worker"),
                         ("genova.workers.process", "generator worker"),
                         ("scheduler", "scheduler"), ("worker.py", "worker supervisor"),
                         ("app.py", "web")):
        if needle in line:
            return name
    return line[:40]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--jobs", type=int, default=20)
    parser.add_argument("--settle", type=float, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, start_app(
            Path(tmp), port=free_port(), workers=args.workers, credits=args.jobs + 10) as app:
        session = requests.Session()
        headers = {"X-API-Key": app.api_key}
        ids = [session.post(app.url + "/api/jobs", json=JOB, headers=headers, timeout=30
                            ).json()["jobId"] for _ in range(args.jobs)]
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and any(
                session.get(f"{app.url}/api/jobs/{i}", headers=headers, timeout=30
                            ).json()["status"] != "completed" for i in ids[-1:]):
            time.sleep(0.2)
        time.sleep(args.settle)
        root = psutil.Process(app.pid)
        processes = [root, *root.children(recursive=True)]
        rows = [(role(p), p.memory_full_info().pss / MIB) for p in processes]
    by_role: dict[str, float] = {}
    for name, pss in rows:
        by_role[name] = round(by_role.get(name, 0) + pss, 1)
    print(json.dumps({"processes": len(rows), "total_pss_mib": round(sum(p for _, p in rows), 1),
                      "pss_mib_by_role": by_role}, indent=2))


if __name__ == "__main__":
    main()
