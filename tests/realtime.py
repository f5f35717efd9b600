"""Helpers for socket tests against real server processes."""

from __future__ import annotations

import json

import requests
import websocket

from tests.conftest import TEST_SECRET
from tests.procs import running_app


def server_env(database_url, redis_url, **extra) -> dict:
    env = {"GENOVA_DATABASE_URL": database_url, "GENOVA_REDIS_URL": redis_url,
           "GENOVA_SECRET_KEY": TEST_SECRET, "GENOVA_LEASE_TTL": "2",
           "GENOVA_SWEEP_INTERVAL": "1", "GENOVA_ANON_RATE_LIMIT": "10000 per minute",
           "GENOVA_AUTH_FAILURE_LIMIT": "10000 per minute",
           "GENOVA_EMBEDDED_WORKERS": "0"}
    env.update({k: str(v) for k, v in extra.items()})
    return env


def start_server(data_dir, database_url, redis_url, **extra):
    return running_app(data_dir, **server_env(database_url, redis_url, **extra))


OPEN: list = []  # closed after each test (tests/conftest.py), so no worker outlives its test


class Socket:
    """A websocket-client connection that speaks JSON. ``skip`` names message types to pass
    over (``job_created``, which these position tests are not about, by default)."""

    def __init__(self, url: str, timeout: float = 20, skip=("job_created",)):
        self.ws = websocket.create_connection(url, timeout=timeout)
        self.skip = set(skip)
        OPEN.append(self)

    def send(self, message: dict) -> None:
        self.ws.send(json.dumps(message))

    def recv(self) -> dict:
        while True:
            opcode, data = self.ws.recv_data(control_frame=False)
            if opcode == websocket.ABNF.OPCODE_CLOSE:
                raise ConnectionError(close_info(data))
            message = json.loads(data)
            if message.get("type") not in self.skip:
                return message

    def until(self, kind: str, job_id: str | None = None, limit: int = 50) -> list[dict]:
        """Messages up to and including the first of ``kind`` (for ``job_id``)."""
        seen = []
        for _ in range(limit):
            message = self.recv()
            seen.append(message)
            if message.get("type") == kind and job_id in (None, message.get("jobId")):
                return seen
        raise AssertionError(f"no {kind} in {seen}")

    def close_reason(self) -> tuple[int, str]:
        """Read until the server closes; returns (code, reason)."""
        while True:
            opcode, data = self.ws.recv_data(control_frame=True)
            if opcode == websocket.ABNF.OPCODE_CLOSE:
                return close_info(data)

    def close(self):
        self.ws.close()


def close_info(data: bytes) -> tuple[int, str]:
    if len(data) < 2:
        return 1005, ""
    return int.from_bytes(data[:2], "big"), data[2:].decode(errors="replace")


def ws_url(server, path: str, **query) -> str:
    base = server.url.replace("http://", "ws://")
    params = "&".join(f"{k}={v}" for k, v in query.items())
    return f"{base}{path}?{params}" if params else f"{base}{path}"


def register(server, email: str) -> dict:
    response = requests.post(server.url + "/api/auth/register",
                             json={"email": email, "password": "long-password"}, timeout=10)
    assert response.status_code == 201, response.text
    data = response.json()
    data["headers"] = {"Authorization": f"Bearer {data['accessToken']}"}
    return data


def create_job(server, user, **body) -> str:
    payload = {"type": "image", "prompt": "a lighthouse at dusk", **body}
    response = requests.post(server.url + "/api/jobs", json=payload, headers=user["headers"],
                             timeout=10)
    assert response.status_code == 201, response.text
    return response.json()["jobId"]


def get_job(server, user, job_id) -> dict:
    return requests.get(f"{server.url}/api/jobs/{job_id}", headers=user["headers"],
                        timeout=10).json()
