"""``python -m genova.remote_worker`` as a user runs it, against a real running app: what it
prints and how it exits when the server refuses it, and a user-scoped worker (API key)
doing real work. The app runs no generator workers, so only the extension completes jobs."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import threading

import pytest
import requests

from tests.live import live_app
from tests.procs import ROOT, free_port, wait_until

pytestmark = pytest.mark.e2e  # starts processes (app, workers, Redis, browser...)

REFUSAL_TIMEOUT = 60  # a refused extension exits at once; this only bounds a hang


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    with live_app(tmp_path_factory.mktemp("ext"), workers=0) as app:
        yield app


def command(url: str, *args: str) -> list[str]:
    return [sys.executable, "-m", "genova.remote_worker", "--url", url, *args]


def run_refused(live, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(command(live.url, *args), cwd=ROOT, capture_output=True, text=True,
                          check=False, timeout=REFUSAL_TIMEOUT)


def worker_token(live, platform: str = "flow") -> tuple[str, str]:
    """(id, raw token), from the admin command."""
    created = live.flask("worker-token", "create", f"cli-{platform}", "--platform", platform)
    token_id = re.search(r"created worker token (\S+) ", created.stderr).group(1)
    return token_id, created.stdout.strip().splitlines()[-1]


def revoke_keys(live, user) -> None:
    headers = {"Authorization": f"Bearer {user.access_token}"}
    keys = requests.get(f"{live.url}/api/keys", headers=headers, timeout=10).json()["keys"]
    for key in keys:
        revoked = requests.delete(f"{live.url}/api/keys/{key['id']}", headers=headers,
                                  timeout=10)
        assert revoked.status_code == 200, revoked.text


def assert_refused(result: subprocess.CompletedProcess, code: int, reason: str) -> None:
    assert result.returncode == 3, result.stderr  # 3: the credential was refused
    assert f"genova.remote_worker: refused by the server ({code}): {reason}" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_revoked_worker_token_is_refused(live):
    token_id, token = worker_token(live)
    live.flask("worker-token", "revoke", token_id)
    result = run_refused(live, "--token", token, "--type", "flow")
    assert_refused(result, 4401, "unauthorized: this worker token is unknown or has been "
                                 "revoked")


def test_a_worker_token_for_another_platform_is_refused(live):
    _, token = worker_token(live, "flow")
    result = run_refused(live, "--token", token, "--type", "freepik")
    assert_refused(result, 4403, "forbidden: this worker token is for flow")


def test_a_garbage_jwt_is_refused(live):
    result = run_refused(live, "--token", "not-a.jwt.at-all", "--type", "flow")
    assert_refused(result, 4401, "unauthorized: the token is not valid")


def test_a_revoked_api_key_is_refused(live):
    user = live.user()
    revoke_keys(live, user)
    result = run_refused(live, "--api-key", user.key, "--type", "flow")
    assert_refused(result, 4401, "unauthorized: this API key is unknown or has been revoked")


def test_a_credential_is_required(live):
    result = run_refused(live, "--type", "flow")
    assert result.returncode == 2 and "one of the arguments --token --api-key" in result.stderr
    both = run_refused(live, "--token", "x", "--api-key", "af_x", "--type", "flow")
    assert both.returncode == 2 and "not allowed with" in both.stderr


def job_status(live, user, job_id: str) -> str:
    return requests.get(f"{live.url}/api/jobs/{job_id}", headers={"X-API-Key": user.key},
                        timeout=10).json()["status"]


def create_job(live, user, prompt: str) -> str:
    response = requests.post(f"{live.url}/api/jobs", headers={"X-API-Key": user.key},
                             json={"type": "image", "prompt": prompt}, timeout=10)
    assert response.status_code == 201, response.text
    return response.json()["jobId"]


def start(url: str, log, *args: str) -> subprocess.Popen:
    with open(log, "wb") as out:
        return subprocess.Popen(command(url, *args), cwd=ROOT, stdout=out,
                                stderr=subprocess.STDOUT)


def stop(proc: subprocess.Popen, sig=signal.SIGTERM) -> int:
    if proc.poll() is None:
        proc.send_signal(sig)
    try:
        return proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_an_api_key_worker_completes_its_users_jobs_only(live, tmp_path):
    owner, stranger = live.user(plan="pro"), live.user()  # pro: the polling fits its limit
    theirs = create_job(live, stranger, "somebody else's lighthouse")
    mine = create_job(live, owner, "a lighthouse at dusk")
    log = tmp_path / "extension.log"
    proc = start(live.url, log, "--api-key", owner.key, "--type", "flow")
    try:
        wait_until(lambda: job_status(live, owner, mine) == "completed", 60,
                   lambda: log.read_text()[-3000:], interval=1.0)
        assert job_status(live, stranger, theirs) == "queued"
    finally:
        returncode = stop(proc)
    output = log.read_text()
    assert returncode == 0, output
    assert "(user scope)" in output and f"completed {mine}" in output
    assert "Traceback" not in output
    download = requests.get(f"{live.url}/api/jobs/{mine}/download", timeout=10,
                            headers={"X-API-Key": owner.key})
    assert download.status_code == 200 and download.content.startswith(b"\x89PNG")


def test_an_api_key_revoked_while_connected_stops_the_worker(live, tmp_path):
    """The revocation closes the worker's socket at once (4401): it leaves, and the job it
    might have taken stays in line, not failed."""
    user = live.user(plan="pro")
    log = tmp_path / "extension.log"
    proc = start(live.url, log, "--api-key", user.key, "--type", "flow")
    try:
        wait_until(lambda: "(user scope)" in log.read_text(), 30, lambda: log.read_text())
        revoke_keys(live, user)
        response = requests.post(f"{live.url}/api/jobs", timeout=10,
                                 json={"type": "image", "prompt": "a lighthouse at dusk"},
                                 headers={"Authorization": f"Bearer {user.access_token}"})
        assert response.status_code == 201, response.text
        returncode = proc.wait(60)
    finally:
        stop(proc)
    output = log.read_text()
    assert returncode == 3, output
    assert ("genova.remote_worker: refused by the server (4401): unauthorized: the API key was "
            "revoked") in output
    assert "Traceback" not in output
    job_url = f"{live.url}/api/jobs/{response.json()['jobId']}"

    def job():
        return requests.get(job_url, headers={"Authorization": f"Bearer {user.access_token}"},
                            timeout=10).json()

    wait_until(lambda: job()["status"] == "queued", 30, lambda: str(job()), interval=1.0)
    assert job().get("error_message") is None  # released, not failed


def test_an_unreachable_server_is_retried_until_stopped(tmp_path):
    log = tmp_path / "extension.log"
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    proc = start(url, log, "--token", "gwt_whatever", "--type", "flow")
    try:
        wait_until(lambda: log.read_text().count("cannot connect to") >= 2, 30,
                   lambda: log.read_text()[-3000:])
    finally:
        returncode = stop(proc, signal.SIGINT)
    output = log.read_text()
    assert returncode == 0, output
    assert "retrying in" in output and "Traceback" not in output


def test_a_dropped_session_is_reconnected(tmp_path):
    """A drop (here 4408, as after a silence or a restart) is not a refusal: reconnect."""
    from websockets.sync.server import serve

    connections = []

    def handler(ws):
        connections.append(ws.request.path)
        ws.send('{"type": "welcome", "workerId": "ext:test", "scope": "pool", '
                '"heartbeatInterval": 10.0}')
        if len(connections) == 1:
            ws.close(4408, "no message for too long; jobs released")
            return
        for _ in ws:  # the second session stays up until the extension leaves
            pass

    log = tmp_path / "extension.log"
    with serve(handler, "127.0.0.1", 0) as server:
        threading.Thread(target=server.serve_forever, daemon=True).start()
        url = f"http://127.0.0.1:{server.socket.getsockname()[1]}"
        proc = start(url, log, "--token", "gwt_x", "--type", "flow")
        try:
            wait_until(lambda: len(connections) >= 2, 30, lambda: log.read_text()[-3000:])
        finally:
            returncode = stop(proc)
            server.shutdown()
    output = log.read_text()
    assert returncode == 0, output
    assert "connection lost" in output and "4408" in output and "refused" not in output
    assert connections[0].startswith("/ws/extension?token=gwt_x&extensionType=flow")
