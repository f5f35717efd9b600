"""One hub per server process: listens to Redis pub/sub and fans out to local sockets.

- ``genova:events:<user>``: a user's job events, sent to that user's sockets here.
- ``genova:queue``: ``ready|<platform>|<user>`` (a job became claimable) wakes waiting
  extensions; any message schedules a refresh of the live ``job_queued`` positions of the
  users connected to this process.
- ``genova:control``: ``{"userId", "keyId"?, "code", "reason"}`` closes that user's
  sockets here, or those opened with that API key (revoked key, disabled account, new
  plan).

Events reach a socket whatever process it is attached to, because every process hears the
same channels. The listener reconnects on its own after a Redis outage.
"""

from __future__ import annotations

import json
import logging
import threading
import time

import redis

from genova import runtime
from genova.catalog import MODELS
from genova.realtime.limits import socket_cap
from genova.services import events

log = logging.getLogger(__name__)
REFRESH_EVERY = 0.5  # seconds: live queue positions are recomputed at most this often


class Full(Exception):
    """A socket over a cap: refused with ``code`` and ``reason`` before anything is sent."""

    def __init__(self, code: int, reason: str):
        super().__init__(reason)
        self.code, self.reason = code, reason


class Hub:
    def __init__(self, app):
        self.app = app
        self.settings = app.config["GENOVA"]
        self.cap: int | None = None  # computed on the first socket, in the web process
        self.lock = threading.Lock()
        self.users: dict[str, set] = {}  # user id -> UserSession
        self.waiters: set = set()  # WorkerSession
        self.started = False
        self.subscribed = threading.Event()
        self.refresh_needed = threading.Event()
        self.moved: set[str] = set()  # platforms whose queue changed since the last refresh

    def _runtime(self):
        return runtime.of(self.app)

    def ensure_started(self, timeout: float = 5) -> None:
        """Start listening, and wait until subscribed: an event published after a socket
        registered must reach it."""
        with self.lock:
            start, self.started = not self.started, True
        if start:
            threading.Thread(target=self._listen, daemon=True, name="genova-hub").start()
            threading.Thread(target=self._refresher, daemon=True,
                             name="genova-positions").start()
        self.subscribed.wait(timeout)

    # -- registration ---------------------------------------------------------------------
    def _admit(self, same_owner: int, cap: int, what: str) -> None:
        """Under ``self.lock``: refuse a socket past the process's or the owner's cap."""
        if self.cap is None:
            self.cap = socket_cap(self.settings.max_sockets)
        if self._count() >= self.cap:
            raise Full(1013, "the server has as many sockets open as it takes; retry later")
        if same_owner >= cap:
            raise Full(4429, f"too many open {what} sockets for this credential (at most "
                             f"{cap} per server process); close one first")

    def _count(self) -> int:
        return sum(len(s) for s in self.users.values()) + len(self.waiters)

    def add_user(self, session) -> None:
        self.ensure_started()
        with self.lock:
            mine = len(self.users.get(session.user_id, ()))
            self._admit(mine, self.settings.max_user_sockets, "/ws/user")
            self.users.setdefault(session.user_id, set()).add(session)

    def remove_user(self, session) -> None:
        with self.lock:
            sessions = self.users.get(session.user_id, set())
            sessions.discard(session)
            if not sessions:
                self.users.pop(session.user_id, None)

    def add_waiter(self, session) -> None:
        self.ensure_started()
        with self.lock:
            same = sum(1 for w in self.waiters if w.identity == session.identity)
            self._admit(same, self.settings.max_extension_sockets, "/ws/extension")
            self.waiters.add(session)

    def remove_waiter(self, session) -> None:
        with self.lock:
            self.waiters.discard(session)

    # -- delivery ---------------------------------------------------------------------------
    def _listen(self) -> None:
        client = self._runtime().redis
        while True:
            try:
                pubsub = client.pubsub()
                pubsub.psubscribe(events.EVENTS + "*")
                pubsub.subscribe("genova:queue", events.CONTROL)
                for message in pubsub.listen():
                    if message["type"] not in ("message", "pmessage"):
                        if message["type"] == "subscribe":  # confirmed after psubscribe
                            self.subscribed.set()
                        continue
                    try:
                        self._dispatch(message)
                    except Exception:
                        log.exception("could not deliver %r", message)
            except redis.RedisError as exc:
                self.subscribed.clear()
                log.warning("event listener lost Redis (%s); reconnecting", exc)
                time.sleep(1)

    def _dispatch(self, message: dict) -> None:
        channel, data = message["channel"], message["data"]
        if channel == "genova:queue":
            self._on_queue(data)
            return
        if channel == events.CONTROL:
            self._on_control(json.loads(data))
            return
        user_id = channel.rsplit(":", 1)[1]
        with self.lock:
            targets = list(self.users.get(user_id, ()))
        if targets:
            parsed = json.loads(data)
            for session in targets:
                session.deliver(parsed, data)

    def _on_queue(self, data: str) -> None:
        kind, _, rest = data.partition("|")
        platform, _, user_id = rest.partition("|")
        if kind == "ready":
            with self.lock:
                targets = [w for w in self.waiters if w.wants(platform, user_id)]
            for waiter in targets:
                waiter.poke()
        with self.lock:
            self.moved.add(platform)
            if self.users:
                self.refresh_needed.set()

    def _on_control(self, order: dict) -> None:
        """Close a user's sockets here, or only those opened with one API key."""
        user_id, key_id = order["userId"], order.get("keyId")
        with self.lock:
            targets = [s for s in (*self.users.get(user_id, ()), *self.waiters)
                       if s.user_id == user_id and key_id in (None, s.key_id)]
        for session in targets:
            session.close(order["code"], order["reason"])

    def _refresher(self) -> None:
        """Send ``job_queued`` to local sockets whose jobs moved, at most every 0.5 s."""
        while True:
            self.refresh_needed.wait()
            self.refresh_needed.clear()
            self.refresh_round()
            time.sleep(REFRESH_EVERY)

    def refresh_round(self) -> None:
        """One pass over the jobs this process's user sockets follow on the platforms whose
        queue moved: their places in one Redis round trip per 500, whatever the queue's
        depth, and ``job_queued`` to the sockets whose jobs moved. A session that fails is
        skipped, not every one after it."""
        with self.lock:
            sessions = [s for group in self.users.values() for s in group]
            moved, self.moved = self.moved, set()
        watched: list[tuple[object, str, str]] = []
        with self.app.app_context():
            for session in sessions:
                try:
                    watched += [(session, job_id, model)
                                for job_id, model in session.watched(moved)]
                except Exception as exc:  # noqa: BLE001 - keep the refresher alive
                    log.warning("queue position refresh failed for user %s: %s",
                                getattr(session, "user_id", "?"), exc)
        if not watched:
            return
        jobs = list(dict.fromkeys((j, m) for _, j, m in watched))  # a user's sockets share
        try:
            places = dict(zip(jobs, self._runtime().manager.placements(jobs), strict=True))
        except redis.RedisError as exc:
            log.warning("queue position refresh failed: %s", exc)
            return
        held = set()
        for session, job_id, model in watched:
            if not session.placed(job_id, *places[job_id, model]):
                held.add(MODELS[model].platform)
        if held:  # a socket that was behind gets them in a later round, even if all is quiet
            with self.lock:
                self.moved |= held
            self.refresh_needed.set()


def hub_for(app) -> Hub:
    hub = app.extensions.get("genova.hub")
    if hub is None:
        hub = app.extensions["genova.hub"] = Hub(app)
    return hub
