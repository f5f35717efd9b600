"""Keeps worker processes running and the scheduler ticking (used by ``worker.py``)."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from genova.config import Settings, settings_or_exit
from genova.embedded_redis import read_running_url
from genova.workers import rq_connection, scheduler
from genova.workers.childproc import spawn

log = logging.getLogger("genova.worker")
RESTART_BACKOFF = (0.5, 1, 2, 5, 10)
PROJECT_ROOT = str(Path(__file__).resolve().parent.parent)


@dataclass
class Child:
    args: list[str]
    name: str
    named: bool = True  # RQ workers get a fresh ``--name`` at each start
    proc: subprocess.Popen | None = None
    spawned: int = 0
    restarts: int = 0
    next_start: float = 0.0
    stable_since: float = field(default_factory=time.monotonic)


class Supervisor:
    def __init__(self, settings: Settings, *, platforms: list[str], concurrency: int,
                 extra: list[Child] = ()):
        self.settings = settings
        self.stop_event = threading.Event()
        worker = [sys.executable, "-m", "genova.workers.process"]
        tag = uuid.uuid4().hex[:6]
        host = f"{os.uname().nodename}-{os.getpid()}-{tag}"
        self.children = [Child(worker + ["--platform", ",".join(platforms)], f"gen-{host}-{i}")
                         for i in range(concurrency)]
        self.children.append(Child(worker + ["--maintenance"], f"maint-{host}"))
        self.children.extend(extra)

    @classmethod
    def from_env(cls, *, platforms: list[str], concurrency: int,
                 extra: list[Child] = ()) -> Supervisor:
        settings = settings_or_exit("genova worker")
        if not settings.redis_url:
            url = read_running_url(settings.data_dir)
            if not url:
                raise SystemExit("no Redis: set GENOVA_REDIS_URL, or start `python app.py` "
                                 f"with the same GENOVA_DATA_DIR ({settings.data_dir})")
            settings = settings.with_(redis_url=url)
        return cls(settings, platforms=platforms, concurrency=concurrency, extra=extra)

    def request_stop(self) -> None:
        self.stop_event.set()

    def _env(self) -> dict:
        env = dict(os.environ)
        # children run `python -m genova.workers.process` from any working directory
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [PROJECT_ROOT, env.get("PYTHONPATH")]))
        env["GENOVA_REDIS_URL"] = self.settings.redis_url
        env["GENOVA_DATA_DIR"] = str(self.settings.data_dir)
        return env

    def _ensure_running(self) -> None:
        now = time.monotonic()
        for child in self.children:
            if child.proc is not None and child.proc.poll() is None:
                if now - child.stable_since > 60:
                    child.restarts = 0
                continue
            if child.proc is not None:
                log.warning("worker %s exited with %s; restarting", child.name,
                            child.proc.returncode)
                child.next_start = now + RESTART_BACKOFF[min(child.restarts,
                                                             len(RESTART_BACKOFF) - 1)]
                child.restarts += 1
                child.proc = None
            if now >= child.next_start:
                # a fresh name: RQ keeps a dead worker's name registered until its TTL ends
                name = ["--name", f"{child.name}-{child.spawned}"] if child.named else []
                child.proc = spawn(child.args + name, env=self._env())
                child.spawned += 1
                child.stable_since = now

    def run(self) -> int:
        r = rq_connection(self.settings.redis_url)
        try:
            scheduler.run_now(r, self.settings, "sweep")  # rebuild the queue from SQL now
        except Exception as exc:  # noqa: BLE001 - the periodic sweep will do it
            log.warning("start-up sweep not enqueued: %s", exc)
        log.info("starting %d generator worker(s)",
                 sum(c.named for c in self.children) - 1)
        while not self.stop_event.is_set():
            self._ensure_running()
            try:
                scheduler.tick(r, self.settings)
            except Exception as exc:  # noqa: BLE001 - Redis may be restarting; keep going
                log.warning("scheduler tick failed: %s", exc)
            self.stop_event.wait(min(1.0, scheduler.seconds_to_next_slot(self.settings)))
        self._stop_children()
        return 0

    def _stop_children(self, grace: float = 60) -> None:
        running = [c.proc for c in self.children if c.proc and c.proc.poll() is None]
        for proc in running:
            proc.terminate()  # RQ: warm shutdown, the current job finishes first
        deadline = time.monotonic() + grace
        for proc in running:
            try:
                proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
