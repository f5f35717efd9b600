"""``/ws/extension`` sessions: remote workers that claim jobs from the job manager.

Protocol (docs/extension-protocol.md): the worker sends ``request_job``; the server
remembers how many jobs it asked for and sends ``new_job`` as soon as one is claimable
(woken by the hub, no polling). Progress, completion and failure come back on the socket;
result files are uploaded first over HTTP. Every job the session holds is heartbeated
while the worker keeps talking; when it goes silent or disconnects, its jobs are
abandoned: back in line once, then failed and refunded.
"""

from __future__ import annotations

import base64
import json
import logging
import math
import threading
import time
import uuid

from simple_websocket import ConnectionClosed

from genova.extensions import db, session_scope
from genova.models import Job, JobStatus, WorkerToken
from genova.realtime.hub import Full
from genova.services import events, lifecycle, storage, uploads
from genova.services.manager import Claim

log = logging.getLogger(__name__)
MAX_OUTSTANDING = 32


class WorkerSession:
    def __init__(self, ws, *, rt, app, platform: str, caller):
        self.ws, self.rt, self.app = ws, rt, app
        self.platform, self.identity, self.user_id = platform, caller.identity, caller.user_id
        self.key_id, self.expires_at = caller.key_id, caller.expires_at
        self.worker_id = f"ext:{caller.identity}:{uuid.uuid4().hex[:8]}"
        self.send_lock = threading.Lock()
        self.state_lock = threading.Lock()
        self.outstanding = 0
        self.held: dict[str, str] = {}  # job id -> lease
        self.wakeup = threading.Event()
        self.closed = threading.Event()
        self.last_seen = time.monotonic()

    def credential_valid(self) -> bool:
        """Pool tokens are re-checked while connected, so revoking one ends its sessions."""
        if not self.identity.startswith("token:"):
            return True
        with session_scope():
            token = db.session.get(WorkerToken, self.identity.split(":", 1)[1])
            return token is not None and token.revoked_at is None

    # -- hub interface --------------------------------------------------------------------
    def wants(self, platform: str, user_id: str) -> bool:
        return platform == self.platform and self.user_id in (None, user_id) and \
            self.outstanding > 0

    def poke(self) -> None:
        self.wakeup.set()

    def close(self, code: int, reason: str) -> None:
        """Closed from outside (the account was disabled): its jobs go back in line."""
        try:
            with self.send_lock:
                self.ws.close(reason=code, message=reason)
        except Exception as exc:  # noqa: BLE001 - closed already
            log.info("closing extension %s: %s", self.worker_id, exc)

    # -- io -----------------------------------------------------------------------------------
    def send(self, message: dict) -> None:
        with self.send_lock:
            self.ws.send(json.dumps(message))

    def run(self, hub) -> None:
        try:
            hub.add_waiter(self)
        except Full as full:
            self.close(full.code, full.reason)
            return
        feeder = threading.Thread(target=self._feed, daemon=True, name="extension-feed")
        try:
            self.send(events.worker_welcome(
                worker_id=self.worker_id, extension_type=self.platform,
                scope="user" if self.user_id else "pool",
                heartbeat_interval=self.rt.settings.lease_ttl / 3))
            self.rt.manager.touch_worker(worker_id=self.worker_id, platforms=[self.platform])
            feeder.start()
            self._read_loop()
        finally:
            self.closed.set()
            self.wakeup.set()
            hub.remove_waiter(self)
            if feeder.is_alive():
                feeder.join(timeout=5)
            self._abandon_all()
            self.rt.manager.drop_worker(worker_id=self.worker_id, platforms=[self.platform])

    def _read_loop(self) -> None:
        timeout = self.rt.settings.lease_ttl
        next_beat = time.monotonic() + timeout / 3
        while True:
            raw = self.ws.receive(timeout=1)
            now = time.monotonic()
            if raw is not None:
                self.last_seen = now
                self.handle(raw)
            elif now - self.last_seen > timeout:
                self.ws.close(reason=4408, message="no message for too long; jobs released")
                return
            if self.expires_at is not None and time.time() >= self.expires_at:
                self.close(4401, "unauthorized: the access token expired; jobs released")
                return
            if now >= next_beat:
                self._heartbeat_all()
                next_beat = now + timeout / 3

    # -- job flow -------------------------------------------------------------------------------
    def _feed(self) -> None:
        """Hand out jobs while the worker has requests outstanding; sleep until poked."""
        with self.app.app_context():
            while not self.closed.is_set():
                try:
                    with session_scope():
                        while self.outstanding > 0 and not self.closed.is_set() \
                                and self._give_one():
                            pass
                except Exception:
                    log.exception("feeding extension %s failed; retrying", self.worker_id)
                    self.closed.wait(1)
                self.wakeup.wait(timeout=5)  # the hub wakes us; the timeout is a safety net
                self.wakeup.clear()

    def _give_one(self) -> bool:
        claimed = lifecycle.claim_next(self.rt, platform=self.platform,
                                       worker_id=self.worker_id, user_id=self.user_id)
        if claimed is None:
            return False
        claim = claimed[0]
        job = db.session.get(Job, claim.job_id)
        try:
            described = self._describe(job)
        except OSError:  # a stored reference image is gone: the job cannot run anywhere
            lifecycle.fail(self.rt, claim, error=storage.UNREADABLE)
            return True
        with self.state_lock:
            self.outstanding -= 1
            self.held[claim.job_id] = claim.lease
        try:
            self.send(events.new_job(job_id=job.id, lease=claim.lease, job=described))
        except (ConnectionClosed, OSError):
            self.closed.set()  # _abandon_all puts it back
        return True

    def _describe(self, job: Job) -> dict:
        refs = [f"data:{r.get('mediaType', 'image/png')};base64,"  # older rows: PNG
                f"{base64.b64encode(self.rt.storage.read(r['path'])).decode()}"
                for r in job.reference_images or []]
        out = {"id": job.id, "type": job.type, "prompt": job.prompt, "model": job.model,
               "settings": job.settings, "priority": job.priority, "seed": job.seq}
        if refs:
            out["referenceImages"] = {"mode": job.settings["referenceImages"]["mode"],
                                      "images": refs}
        return out

    def _heartbeat_all(self) -> None:
        if not self.credential_valid():
            self.ws.close(reason=4401, message="unauthorized: the credential was revoked")
            raise ConnectionClosed(4401, "revoked")
        self.rt.manager.touch_worker(worker_id=self.worker_id, platforms=[self.platform])
        for job_id, lease in list(self.held.items()):
            if not lifecycle.heartbeat(self.rt, Claim(job_id, lease)):
                self.held.pop(job_id, None)
                self._try_send(events.job_revoked(job_id=job_id,
                                                  error="the lease on this job was lost"))

    def _abandon_all(self) -> None:
        for job_id, lease in list(self.held.items()):
            outcome = lifecycle.abandon(self.rt, Claim(job_id, lease))
            log.info("extension %s left; job %s %s", self.worker_id, job_id, outcome)
        self.held.clear()

    def _try_send(self, message: dict) -> None:
        try:
            self.send(message)
        except (ConnectionClosed, OSError):
            pass

    # -- messages -------------------------------------------------------------------------------
    def handle(self, raw) -> None:
        try:
            message = json.loads(raw)
            kind = message["type"]
        except (TypeError, ValueError, KeyError):
            self._try_send(events.error("messages are JSON objects with a type"))
            return
        handler = getattr(self, f"on_{kind}", None)
        if handler is None:
            self._try_send(events.error(f"unknown message type {kind!r}"))
            return
        handler(message)

    def on_ping(self, message: dict) -> None:
        self._try_send(events.pong())

    def on_request_job(self, message: dict) -> None:
        count = message.get("count", 1)
        if not isinstance(count, int) or isinstance(count, bool) or count < 1:
            self._try_send(events.error("count must be a positive integer"))
            return
        with self.state_lock:
            self.outstanding = min(MAX_OUTSTANDING, self.outstanding + count)
        self.wakeup.set()

    def _held_claim(self, message: dict) -> Claim | None:
        job_id = message.get("jobId")
        lease = self.held.get(job_id) if isinstance(job_id, str) else None
        if lease is None:
            self._try_send(events.job_error(
                job_id=job_id, error="this worker does not hold that job (lease lost?)"))
            return None
        return Claim(job_id, lease)

    def on_job_progress(self, message: dict) -> None:
        claim = self._held_claim(message)
        if claim is None:
            return
        progress = message.get("progress")
        if isinstance(progress, bool) or not isinstance(progress, (int, float)) \
                or not math.isfinite(progress):
            self._try_send(events.job_error(job_id=claim.job_id,
                                            error="progress must be a number from 0 to 100"))
            return
        with session_scope():
            job = db.session.get(Job, claim.job_id)
            ok = lifecycle.progress(self.rt, claim, user_id=job.user_id,
                                    percent=int(progress),
                                    message=str(message.get("message", ""))[:200])
        if not ok:
            self._lost(claim)

    def on_job_completed(self, message: dict) -> None:
        claim = self._held_claim(message)
        if claim is None:
            return
        files = uploads.uploaded(self.rt, claim)
        if not files:
            self._try_send(events.job_error(
                job_id=claim.job_id, error="upload the results to /api/jobs/<id>/results first"))
            return
        with session_scope():
            done = lifecycle.complete(self.rt, claim, files=files,
                                      meta={"generator": f"extension:{self.identity}",
                                            "worker": self.worker_id})
        self._finished(claim, done, JobStatus.COMPLETED)

    def on_job_failed(self, message: dict) -> None:
        claim = self._held_claim(message)
        if claim is None:
            return
        error = str(message.get("error") or "the worker reported a failure")[:500]
        with session_scope():
            done = lifecycle.fail(self.rt, claim, error=error)
        self._finished(claim, done, JobStatus.FAILED)

    def _finished(self, claim: Claim, done: bool, status: str) -> None:
        self.held.pop(claim.job_id, None)
        if done:
            self._try_send(events.ack(job_id=claim.job_id, status=status))
        else:
            self._lost(claim)

    def _lost(self, claim: Claim) -> None:
        self.held.pop(claim.job_id, None)
        self._try_send(events.job_revoked(
            job_id=claim.job_id,
            error="the lease on this job was lost; the result was not accepted"))
