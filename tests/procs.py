"""Run ``python app.py`` as a real process for end-to-end tests."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def redis_pids_for(data_dir: Path) -> list[int]:
    """Live (non-zombie) redis-server processes whose command line mentions ``data_dir``."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().decode(errors="replace")
            state = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if "redis-server" in cmdline and str(data_dir) in cmdline and state not in "ZX":
            found.append(int(proc.name))
    return found


class AppProcess:
    def __init__(self, proc: subprocess.Popen, url: str, data_dir: Path, log: Path):
        self.proc, self.url, self.data_dir, self.log = proc, url, data_dir, log

    def get(self, path, **kw):
        return requests.get(self.url + path, timeout=10, **kw)

    def post(self, path, **kw):
        return requests.post(self.url + path, timeout=10, **kw)

    def stop(self, sig=signal.SIGTERM, timeout: float = 30) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        return self.proc.wait(timeout)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def app_env(data_dir: Path, port: int, **extra) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GENOVA_")}
    env.update(GENOVA_DATA_DIR=str(data_dir), GENOVA_PORT=str(port), GENOVA_STUDIO="0",
               GENOVA_EMBEDDED_WORKERS="0", PYTHONUNBUFFERED="1")
    env.update({k: str(v) for k, v in extra.items()})
    return env


def start_app(data_dir: Path, *, port: int | None = None, startup_timeout: float = 60,
              **extra) -> AppProcess:
    """Start ``python app.py`` and wait until it answers; the caller stops it."""
    port = port or free_port()
    data_dir.mkdir(parents=True, exist_ok=True)
    log = data_dir.parent / f"app-{port}.log"
    with open(log, "ab") as out:
        proc = subprocess.Popen([sys.executable, str(ROOT / "app.py")], cwd=ROOT,
                                env=app_env(data_dir, port, **extra), stdout=out,
                                stderr=subprocess.STDOUT)
    app = AppProcess(proc, f"http://127.0.0.1:{port}", data_dir, log)
    try:
        wait_until(lambda: _healthy(app), startup_timeout,
                   lambda: f"app did not start:\n{log.read_text()[-3000:]}")
    except BaseException:
        app.kill()
        raise
    return app


@contextmanager
def running_app(data_dir: Path, *, startup_timeout: float = 60, **extra):
    app = start_app(data_dir, startup_timeout=startup_timeout, **extra)
    try:
        yield app
    finally:
        app.kill()


def admin(app: AppProcess, *args, stdin: str | None = None, **extra
          ) -> subprocess.CompletedProcess:
    """``flask --app app ARGS`` as an operator runs it, on the server's configuration."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GENOVA_")}
    env.update(app_env(app.data_dir, 0, **extra))
    return subprocess.run([sys.executable, "-m", "flask", "--app", "app", *args], cwd=ROOT,
                          env=env, capture_output=True, text=True, input=stdin, timeout=60,
                          check=False)


def _healthy(app: AppProcess) -> bool:
    if app.proc.poll() is not None:
        raise AssertionError(f"app exited with {app.proc.returncode}:\n"
                             f"{app.log.read_text()[-3000:]}")
    try:
        return app.get("/healthz").status_code == 200
    except requests.ConnectionError:
        return False


def wait_until(predicate, timeout: float, message=lambda: "condition not met",
               interval: float = 0.1):
    """Poll ``predicate`` until it is true; fail with ``message()`` at the deadline."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    raise AssertionError(message())
