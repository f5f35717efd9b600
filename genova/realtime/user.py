"""``/ws/user`` sessions: a user's live job events, plus live queue positions."""

from __future__ import annotations

import json
import logging
import queue
import threading
import time

from simple_websocket import ConnectionClosed
from sqlalchemy import select

from genova.catalog import MODELS
from genova.extensions import db, session_scope
from genova.models import Job, JobStatus
from genova.realtime.hub import Full
from genova.services import events

log = logging.getLogger(__name__)
FINAL = {"job_started", "job_completed", "job_failed", "job_cancelled"}


class UserSession:
    """One socket. Everything it sends goes through a bounded outbound queue drained by its
    own writer, so a slow client never holds up the hub or any other socket; a client that
    falls ``OUTBOX`` messages behind is disconnected (it can catch up over REST)."""

    OUTBOX = 1000

    def __init__(self, ws, user_id: str, *, key_id: str | None = None,
                 expires_at: float | None = None):
        self.ws, self.user_id = ws, user_id
        self.key_id, self.expires_at = key_id, expires_at  # what it authenticated with
        self.outbox: queue.Queue = queue.Queue(maxsize=self.OUTBOX)
        self.queued: dict[str, list] = {}  # job id -> [model, last position sent]

    def send(self, message: dict | str) -> None:
        data = message if isinstance(message, str) else json.dumps(message)
        try:
            self.outbox.put_nowait(data)
        except queue.Full:
            log.warning("socket of %s is %d messages behind; closing it", self.user_id,
                        self.OUTBOX)
            self.close(4429, "too slow: fetch the current state over REST and reconnect")

    def close(self, code: int, reason: str) -> None:
        try:
            self.ws.close(reason=code, message=reason)
        except Exception as exc:  # noqa: BLE001 - closed already, or the writer is mid-send
            log.info("closing a socket of %s: %s", self.user_id, exc)

    def _write(self) -> None:
        while True:
            data = self.outbox.get()
            if data is None:
                return
            try:
                self.ws.send(data)
            except (ConnectionClosed, OSError):
                return

    def deliver(self, message: dict, raw: str) -> None:
        """An event for this user from the hub: track queued jobs, then forward it."""
        kind, job_id = message.get("type"), message.get("jobId")
        if kind == "job_queued" and job_id:
            self.queued[job_id] = [message.get("model"), message.get("queuePosition")]
        elif kind in FINAL:
            self.queued.pop(job_id, None)
        self.send(raw)

    def snapshot(self, rt) -> None:
        """On connect: the current position of each of the user's queued jobs."""
        rows = db.session.execute(select(Job.id, Job.model).where(
            Job.user_id == self.user_id, Job.status == JobStatus.QUEUED).order_by(Job.seq))
        for job_id, model in rows:
            self.queued[job_id] = [model, None]
        self.refresh_positions(rt)

    def refresh_positions(self, rt) -> None:
        """Send ``job_queued`` for each queued job whose position changed since last sent."""
        watched = self.watched(None)
        for (job_id, _), placed in zip(watched, rt.manager.placements(watched), strict=True):
            self.placed(job_id, *placed)

    def watched(self, platforms: set[str] | None) -> list[tuple[str, str]]:
        """(job id, model) of the queued jobs this socket follows, on ``platforms`` (None:
        all). A job whose model is not known yet (queued before the socket heard of it) is
        looked up once."""
        out = []
        for job_id, entry in list(self.queued.items()):
            if entry[0] is None:
                job = db.session.get(Job, job_id)
                if job is None:  # deleted meanwhile (an undone creation): nothing to follow
                    self.queued.pop(job_id, None)
                    continue
                entry[0] = job.model
            if entry[0] in MODELS and (platforms is None
                                       or MODELS[entry[0]].platform in platforms):
                out.append((job_id, entry[0]))
        return out

    def placed(self, job_id: str, position: int | None, eta: int | None) -> bool:
        """A watched job's current place: sent if it moved. Positions are the one kind of
        message that may wait: while the socket is half its outbox behind (a user
        following thousands of queued jobs), they are held back for a later round rather
        than pushing it over the limit that closes it. False when held back."""
        entry = self.queued.get(job_id)
        if entry is None or position is None or position == entry[1]:
            return True
        if self.outbox.qsize() >= self.OUTBOX // 2:
            return False
        entry[1] = position
        self.send(events.job_queued(job_id=job_id, queue_position=position,
                                    estimated_time=eta, model=entry[0]))
        return True

    def run(self, rt, hub) -> None:
        self.send(events.user_welcome(user_id=self.user_id))  # first in the outbox
        try:
            hub.add_user(self)
        except Full as full:  # nothing was written yet: the refusal is all it gets
            self.close(full.code, full.reason)
            return
        writer = threading.Thread(target=self._write, daemon=True, name="user-socket-writer")
        writer.start()
        try:
            with session_scope():  # no connection held for the socket's lifetime
                self.snapshot(rt)
            while True:
                left = None if self.expires_at is None else self.expires_at - time.time()
                raw = self.ws.receive(timeout=None if left is None else max(left, 0))
                if raw is None:  # only when the access token ran out
                    self.close(4401, "unauthorized: the access token expired; reconnect "
                                     "with a fresh one")
                    return
                self.handle(raw)
        finally:
            hub.remove_user(self)
            try:
                self.outbox.put_nowait(None)  # lets the writer finish
            except queue.Full:
                pass  # the writer ends when its next send fails on the closed socket

    def handle(self, raw) -> None:
        try:
            message = json.loads(raw)
        except (TypeError, ValueError):
            self.send(events.error("messages must be JSON objects"))
            return
        if isinstance(message, dict) and message.get("type") == "ping":
            self.send(events.pong())
        else:
            self.send(events.error('unknown message; send {"type": "ping"}'))
