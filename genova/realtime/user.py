"""``/ws/user`` sessions: a user's live job events, plus live queue positions."""

from __future__ import annotations

import json
import logging
import threading

from simple_websocket import ConnectionClosed
from sqlalchemy import select

from genova.extensions import db
from genova.models import Job

log = logging.getLogger(__name__)
FINAL = {"job_started", "job_completed", "job_failed", "job_cancelled"}


class UserSession:
    def __init__(self, ws, user_id: str):
        self.ws, self.user_id = ws, user_id
        self.send_lock = threading.Lock()
        self.queued: dict[str, list] = {}  # job id -> [model, last position sent]

    def send(self, message: dict | str) -> None:
        data = message if isinstance(message, str) else json.dumps(message)
        try:
            with self.send_lock:
                self.ws.send(data)
        except (ConnectionClosed, OSError):
            pass  # the handler loop notices and cleans up

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
            Job.user_id == self.user_id, Job.status == "queued").order_by(Job.seq))
        for job_id, model in rows:
            self.queued[job_id] = [model, None]
        self.refresh_positions(rt)

    def refresh_positions(self, rt) -> None:
        """Send ``job_queued`` for each queued job whose position changed since last sent."""
        for job_id, entry in list(self.queued.items()):
            model, last = entry
            if model is None:
                model = entry[0] = db.session.get(Job, job_id).model
            position, eta = rt.manager.placement(job_id, model)
            if position is None or position == last:
                continue
            entry[1] = position
            self.send({"type": "job_queued", "jobId": job_id, "queuePosition": position,
                       "estimatedTime": eta, "model": model})

    def run(self, rt, hub) -> None:
        self.send({"type": "welcome", "userId": self.user_id})
        hub.add_user(self)
        try:
            self.snapshot(rt)
            db.session.remove()  # do not hold a connection for the socket's lifetime
            while True:
                raw = self.ws.receive()
                self.handle(raw)
        finally:
            hub.remove_user(self)

    def handle(self, raw) -> None:
        try:
            message = json.loads(raw)
        except (TypeError, ValueError):
            self.send({"type": "error", "error": "messages must be JSON objects"})
            return
        if isinstance(message, dict) and message.get("type") == "ping":
            self.send({"type": "pong"})
        else:
            self.send({"type": "error", "error": "unknown message; send {\"type\": \"ping\"}"})
