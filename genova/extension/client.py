"""The reference extension: claims jobs over the socket, generates them with any generator
behind ``genova.generators``, uploads the files over HTTP and reports completion."""

from __future__ import annotations

import base64
import json
import logging
import random
import threading
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlencode

import requests
import websocket

from genova.generators import GenerationRequest
from genova.generators.registry import for_model

log = logging.getLogger("genova.extension")
BACKOFF_MAX = 30.0


def user_id_from_jwt(token: str) -> str | None:
    """The ``sub`` claim, read without verification (the server verifies)."""
    try:
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        return claims.get("sub")
    except (IndexError, ValueError):
        return None


def decode_reference(item: str) -> bytes:
    return base64.b64decode(item.split(",", 1)[1] if item.startswith("data:") else item)


class Extension:
    def __init__(self, *, url: str, token: str, platform: str, concurrency: int = 1,
                 user_id: str | None = None, generator_for=for_model):
        self.base = url.rstrip("/")
        self.token, self.platform, self.concurrency = token, platform, concurrency
        self.user_id = user_id or (None if token.startswith("gwt_") else user_id_from_jwt(token))
        self.generator_for = generator_for
        self.pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="job")
        self.stopping = threading.Event()
        self.ws: websocket.WebSocket | None = None
        self.completed = 0

    def socket_url(self) -> str:
        query = {"token": self.token, "extensionType": self.platform}
        if self.user_id:
            query["userId"] = self.user_id
        return self.base.replace("http", "ws", 1) + "/ws/extension?" + urlencode(query)

    def run_forever(self) -> None:
        """Connect, work, and reconnect with exponential backoff (and jitter) until stopped."""
        delay = 1.0
        while not self.stopping.is_set():
            try:
                self.session()
                delay = 1.0
            except (OSError, websocket.WebSocketException) as exc:
                if self.stopping.is_set():
                    break
                log.warning("connection lost (%s); retrying in %.1fs", exc, delay)
            if self.stopping.wait(delay * random.uniform(0.8, 1.2)):
                break
            delay = min(BACKOFF_MAX, delay * 2)

    def stop(self) -> None:
        """Safe from a signal handler: ``abort`` only shuts the socket down, waking the
        receive loop (``close`` would wait for the receive lock the loop holds)."""
        self.stopping.set()
        if self.ws is not None:
            self.ws.abort()

    def send(self, message: dict) -> None:
        if self.ws is not None:
            self.ws.send(json.dumps(message))

    def session(self) -> None:
        self.ws = websocket.create_connection(self.socket_url(), timeout=60)
        welcome = json.loads(self.ws.recv())
        if welcome.get("type") != "welcome":
            raise websocket.WebSocketException(f"unexpected first message {welcome}")
        log.info("connected as %s (%s scope)", welcome["workerId"], welcome["scope"])
        beat = threading.Thread(target=self._heartbeat, args=(self.ws, welcome), daemon=True)
        beat.start()
        self.send({"type": "request_job", "count": self.concurrency})
        while not self.stopping.is_set():
            raw = self.ws.recv()
            if not raw:
                raise websocket.WebSocketConnectionClosedException("closed by the server")
            self.handle(json.loads(raw))

    def _heartbeat(self, ws, welcome: dict) -> None:
        interval = float(welcome.get("heartbeatInterval", 10))
        while not self.stopping.wait(interval) and ws is self.ws and ws.connected:
            try:
                self.send({"type": "ping"})
            except (OSError, websocket.WebSocketException):
                return

    def handle(self, message: dict) -> None:
        kind = message.get("type")
        if kind == "new_job":
            self.pool.submit(self.work, message)
        elif kind in ("error", "job_revoked"):
            log.warning("server: %s", message)

    def work(self, message: dict) -> None:
        job, lease = message["job"], message["lease"]
        try:
            files = self.generate(job)
            self.upload(job["id"], lease, files)
            self.send({"type": "job_completed", "jobId": job["id"]})
            self.completed += 1
            log.info("completed %s (%d files)", job["id"], len(files))
        except Exception as exc:
            log.exception("job %s failed", job["id"])
            self._try_send({"type": "job_failed", "jobId": job["id"], "error": str(exc)[:300]})
        finally:
            self._try_send({"type": "request_job", "count": 1})

    def _try_send(self, message: dict) -> None:
        try:
            self.send(message)
        except (OSError, websocket.WebSocketException):
            pass  # the session loop reconnects; the server re-queues what we held

    def generate(self, job: dict):
        refs = [decode_reference(i) for i in (job.get("referenceImages") or {}).get("images", [])]
        request = GenerationRequest(job_id=job["id"], type=job["type"], model=job["model"],
                                    prompt=job["prompt"], settings=job["settings"],
                                    references=refs, seed=job.get("seed", 0))

        def progress(percent: int, text: str) -> None:
            self._try_send({"type": "job_progress", "jobId": job["id"],
                            "progress": int(percent), "message": text})

        return self.generator_for(job["model"]).generate(request, progress)

    def upload(self, job_id: str, lease: str, files) -> None:
        parts = [("file", (f"result-{i + 1}.{f.extension}", f.data, f.content_type))
                 for i, f in enumerate(files)]
        response = requests.post(f"{self.base}/api/jobs/{job_id}/results", files=parts,
                                 headers={"Authorization": f"Bearer {self.token}",
                                          "X-Lease": lease}, timeout=300)
        if response.status_code != 201:
            raise RuntimeError(f"upload refused ({response.status_code}): {response.text[:200]}")
