"""The reference extension: claims jobs over ``/ws/extension``, generates them with any
generator behind ``genova.generators``, uploads the files over HTTP and reports completion.

It connects with the client's socket code (``genova_client.sockets``). A refusal (close code
4400, 4401 or 4403, or a 401 on an upload) is raised as the client's error and never retried.
A dropped session, or a server that cannot be reached, is retried with exponential backoff
and jitter."""

from __future__ import annotations

import base64
import json
import logging
import queue
import random
import threading
from concurrent.futures import ThreadPoolExecutor

import requests
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection

from genova.generators import GenerationRequest
from genova.generators.registry import Registry
from genova.services import events
from genova_client import errors, sockets

log = logging.getLogger("genova.remote_worker")
BACKOFF_MAX = 30.0
OPEN_TIMEOUT = 10.0  # to open the socket, then again to receive the welcome
POLL = 0.5  # how often the receive loop looks at ``stopping``
GONE = (403, 404, 409)  # upload statuses meaning "this job is no longer yours"


def decode_reference(item: str) -> bytes:
    return base64.b64decode(item.split(",", 1)[1] if item.startswith("data:") else item)


class Extension:
    """A worker for ``platform``. The credential is ``token`` (a user's access JWT or a
    pool-worker token ``gwt_...``) or ``api_key`` (a user's ``af_...``): exactly one. With a
    user's credential the server hands it only that user's jobs."""

    def __init__(self, *, url: str, platform: str, token: str | None = None,
                 api_key: str | None = None, concurrency: int = 1, user_id: str | None = None,
                 generator_for=None):
        if bool(token) == bool(api_key):
            raise ValueError("pass exactly one of token and api_key")
        self.base = url.rstrip("/")
        self.platform, self.concurrency, self.user_id = platform, concurrency, user_id
        self.credential = sockets.credential_query(api_key=api_key, token=token)
        self.auth = {"X-API-Key": api_key} if api_key else {"Authorization": f"Bearer {token}"}
        # GENOVA_GENERATORS and the providers' keys, read where this worker runs
        self.generator_for = generator_for or Registry().for_model
        self.pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="job")
        self.stopping = threading.Event()  # set by stop() only; other code only reads it
        self._wake = queue.SimpleQueue()  # stop() wakes the backoff pause through it
        self.refused: errors.GenovaError | None = None  # an upload's 401
        self.sessions = self.completed = 0

    def socket_url(self) -> str:
        query = {**self.credential, "extensionType": self.platform}
        if self.user_id:
            query["userId"] = self.user_id
        return sockets.socket_url(self.base, "/ws/extension", query)

    def run_forever(self) -> None:
        """Work until stop(), reconnecting with exponential backoff (and jitter) after a drop
        or while the server is unreachable. Raises the client's error (``close_code``,
        ``details``: the server's reason) when the server refuses the credential."""
        delay = 1.0
        try:
            while not self.stopping.is_set():
                before = self.sessions
                try:
                    self.session()
                except (errors.ConnectionError, ConnectionClosed) as exc:
                    self._raise_if_refused(exc)
                    if self.sessions > before:
                        delay = 1.0  # it was an established session: start over
                    if not self.stopping.is_set():
                        log.warning("%s; retrying in %.0fs", _describe(exc, self.base), delay)
                self._pause(delay * random.uniform(0.8, 1.2))
                delay = min(BACKOFF_MAX, delay * 2)
        finally:
            self.pool.shutdown(wait=False, cancel_futures=True)

    def _raise_if_refused(self, exc: Exception) -> None:
        error = self.refused or (sockets.refusal(exc) if isinstance(exc, ConnectionClosed)
                                 else None)
        if error is not None:
            raise error from None

    def _pause(self, seconds: float) -> None:
        if not self.stopping.is_set():
            try:
                self._wake.get(timeout=seconds)
            except queue.Empty:
                pass

    def stop(self) -> None:
        """Make run_forever return: the receive loop sees ``stopping`` within ``POLL``
        seconds and closes the socket cleanly (the server re-queues the jobs we held); a
        backoff pause ends at once; a connection attempt in progress ends first.

        Safe from a signal handler, which runs on the main thread between any two bytecodes:
        it takes no lock the main thread may hold. The main thread never waits on
        ``stopping`` (it only reads it, which takes no lock), and ``SimpleQueue.put`` is
        reentrant. (``ws.close()`` here could deadlock on the connection's own locks.)"""
        self.stopping.set()
        self._wake.put(None)

    def session(self) -> None:
        """One connection: the welcome, then messages until it closes (ConnectionClosed) or
        until stop()."""
        ws = sockets.connect(self.socket_url(), timeout=OPEN_TIMEOUT)
        try:
            interval = self._welcome(ws)
            threading.Thread(target=self._heartbeat, args=(ws, interval), daemon=True).start()
            self._send(ws, events.request_job(count=self.concurrency))
            while not self.stopping.is_set():
                try:
                    raw = ws.recv(timeout=POLL)
                except TimeoutError:
                    continue
                self.handle(ws, raw)
        finally:
            ws.close()

    def _welcome(self, ws: ClientConnection) -> float:
        """The heartbeat interval the server asks for. A refusal raises ConnectionClosed."""
        try:
            welcome = json.loads(ws.recv(timeout=OPEN_TIMEOUT))
        except (TimeoutError, ValueError) as exc:
            raise errors.ConnectionError("No welcome", f"{exc!r}") from None
        if not isinstance(welcome, dict) or welcome.get("type") != "welcome":
            raise errors.ConnectionError("No welcome", f"first message {welcome!r:.200}")
        self.sessions += 1
        log.info("connected to %s as %s (%s scope)", self.base, welcome.get("workerId"),
                 welcome.get("scope"))
        return float(welcome.get("heartbeatInterval", 10))

    def _heartbeat(self, ws: ClientConnection, interval: float) -> None:
        """Some message every ``interval``, for as long as this connection lasts."""
        while not self.stopping.wait(interval) and self._send(ws, events.ping()):
            pass

    @staticmethod
    def _send(ws: ClientConnection, message: dict) -> bool:
        """False if the connection is gone: the session loop reconnects, and the server
        re-queues the jobs it held. (websockets' sync connections are thread-safe.)"""
        try:
            ws.send(json.dumps(message))
            return True
        except (ConnectionClosed, OSError):
            return False

    def handle(self, ws: ClientConnection, raw: str | bytes) -> None:
        try:
            message = json.loads(raw)
        except ValueError:
            message = None
        kind = message.get("type") if isinstance(message, dict) else None
        if kind == "new_job":
            self.pool.submit(self.work, ws, message)
        elif kind in ("error", "job_revoked", None):
            log.warning("server: %.300s", message or raw)

    def work(self, ws: ClientConnection, message: dict) -> None:
        job, lease = message["job"], message["lease"]
        try:
            files = self.generate(ws, job)
            if self.stopping.is_set() or not self.upload(job["id"], lease, files):
                return
            if self._send(ws, events.report_completed(job_id=job["id"])):
                self.completed += 1
                log.info("completed %s (%d files)", job["id"], len(files))
        except errors.AuthenticationError as error:
            self.refused = error  # the credential went bad: end the session, do not retry
            ws.close()
        except Exception as exc:
            log.exception("job %s failed", job["id"])
            self._send(ws, events.report_failed(job_id=job["id"], error=str(exc)[:300]))
        finally:
            self._send(ws, events.request_job(count=1))

    def generate(self, ws: ClientConnection, job: dict):
        refs = [decode_reference(i) for i in (job.get("referenceImages") or {}).get("images", [])]
        request = GenerationRequest(job_id=job["id"], type=job["type"], model=job["model"],
                                    prompt=job["prompt"], settings=job["settings"],
                                    references=refs, seed=job.get("seed", 0),
                                    stop=lambda: "stopping" if self.stopping.is_set() else None)

        def progress(percent: int, text: str) -> None:
            self._send(ws, events.report_progress(job_id=job["id"], progress=int(percent),
                                                  message=text))

        return self.generator_for(job["model"]).generate(request, progress)

    def upload(self, job_id: str, lease: str, files) -> bool:
        """True once stored; False if the job is no longer ours (drop it, do not report it).
        Raises AuthenticationError on a 401."""
        parts = [("file", (f"result-{i + 1}.{f.extension}", f.data, f.content_type))
                 for i, f in enumerate(files)]
        response = requests.post(f"{self.base}/api/jobs/{job_id}/results", files=parts,
                                 headers={**self.auth, "X-Lease": lease}, timeout=300)
        if response.status_code == 201:
            return True
        if response.status_code in GONE:
            log.warning("job %s is no longer ours (HTTP %d); dropped", job_id,
                        response.status_code)
            return False
        body = _json_object(response)
        if response.status_code == 401:
            raise errors.AuthenticationError(str(body.get("error") or "Unauthorized"),
                                             str(body.get("details") or ""))
        raise RuntimeError(f"upload refused ({response.status_code}): {response.text[:200]}")


def _json_object(response: requests.Response) -> dict:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _describe(exc: Exception, base: str) -> str:
    if isinstance(exc, errors.ConnectionError):
        return f"cannot connect to {base} ({exc.details or exc.error})"
    frame = exc.rcvd
    return f"connection lost ({f'{frame.code}: {frame.reason}' if frame else 'no close frame'})"
