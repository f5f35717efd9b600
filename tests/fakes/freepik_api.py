"""A local stand-in for Freepik's (now Magnific's) public REST API, Mystic text-to-image.

It speaks the wire protocol written up in ``docs/wire/freepik.md``:

* ``POST /v1/ai/mystic`` -> ``200 {"data": {"task_id", "status": "CREATED", "generated": []}}``
* ``GET  /v1/ai/mystic/{task_id}`` -> ``{"data": {"task_id", "status", "generated": [url...],
  "has_nsfw": [bool...]}}`` (``has_nsfw`` once COMPLETED)
* ``GET  /v1/ai/mystic`` -> ``{"data": [{"task_id", "status"}, ...]}`` (the task list, also a
  read-only credentials check that costs nothing)
* ``GET  /v1/ai/loras`` -> the LoRA catalogue (style / character ids for ``styling``)
* ``GET  /files/<name>.png`` -> the generated pictures (no key needed, like the real CDN)

The key travels in ``x-freepik-api-key`` (``x-magnific-api-key``, the post-rebrand name, is
accepted too). A missing key answers ``401 {"message": "Missing API key"}``, a wrong one
``401 {"message": "Invalid API key"}``. A body that breaks the schema answers the observed
``400 {"message": "Validation error", "invalid_params": [{"field": "body.<x>", "reason": ...}]}``.
There is no cancel or delete endpoint: a ``DELETE`` is counted in ``delete_calls`` and refused.

A task moves CREATED -> IN_PROGRESS -> COMPLETED on the task GETs (``polls_to_finish``, default
2: the first GET says IN_PROGRESS, the second COMPLETED). A prompt containing ``BLOCKED`` ends
FAILED with nothing generated (how a content-policy refusal looks: the POST is accepted, the task
fails, no reason given); ``NSFW`` in the prompt completes with ``has_nsfw: [true]``;
``fail_task_next = True`` makes the next task FAILED. With a ``webhook_url`` every status change
is POSTed there (the GET payload without the ``data`` wrapper, signed with ``webhook-id``,
``webhook-timestamp`` and ``webhook-signature`` as the docs describe).

Usage::

    with FreepikFake(api_key="test-freepik-key") as fake:
        base = fake.url            # use instead of https://api.freepik.com
        ...
        fake.fail_next(429, retry_after=2)     # next request answers 429
        fake.fail_next(503, path_contains="/v1/ai/mystic/", times=2)
        fake.delay = 0.5           # seconds before every answer
        fake.fail_task_next = True # the next task ends FAILED
        fake.calls("/v1/ai/mystic")  # recorded requests whose path contains that
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
import json
import threading
import time
import urllib.request
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.fakes.freepik_validation import FLUID_ASPECTS, validate_body
from tests.fakes.server import LocalServer

KEY_HEADERS = ("x-freepik-api-key", "x-magnific-api-key")

MESSAGES = {
    400: "Validation error",
    401: "Invalid API key",
    402: "Payment Required",
    403: "Forbidden",
    404: "Not found",
    405: "Method Not Allowed",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable. Please try again later.",
    504: "Gateway Timeout",
}

DEFAULT_LORAS = {
    "default": [
        {"id": 1, "name": "vintage-japanese", "description": "Bold red colors and nostalgia.",
         "category": "illustration", "type": "style",
         "training": {"status": "completed", "defaultScale": 1.2}},
        {"id": 2, "name": "sara", "description": "sara", "category": "people",
         "type": "character", "training": {"status": "completed", "defaultScale": 1.2}},
        {"id": 3, "name": "glasses", "description": "glasses", "category": "glasses",
         "type": "product", "training": {"status": "completed", "defaultScale": 1.2}},
    ],
    "customs": [],
}


@dataclass
class RecordedRequest:
    method: str
    path: str                      # without the query string
    headers: dict[str, str]        # lower-cased names
    json: Any                      # the parsed body, or None
    query: dict[str, list[str]] = field(default_factory=dict)
    raw: bytes = b""


@dataclass
class _Fault:
    status: int
    times: int
    path_contains: str | None
    method: str | None
    message: str | None
    headers: dict[str, str]
    body: Any
    drop: bool = False


def _ratio(aspect: str) -> tuple[int, int]:
    w, h = aspect.rsplit("_", 2)[-2:]
    return int(w), int(h)


class FreepikFake(LocalServer):
    """Fake Mystic API on 127.0.0.1 (port 0) in a daemon thread. See the module docstring."""

    def __init__(self, api_key: str = "test-freepik-key", *, polls_to_finish: int = 2,
                 webhook_secret: str = "test-webhook-secret",
                 long_sides: dict[str, int] | None = None) -> None:
        self.api_key = api_key
        self.polls_to_finish = polls_to_finish
        self.delay = 0.0
        self.fail_task_next = False
        self.webhook_secret = webhook_secret
        # the long side of the generated picture per resolution (real Mystic: about 1024, 2048,
        # 4096; kept small here so tests stay fast)
        self.long_sides = dict(long_sides or {"1k": 64, "2k": 128, "4k": 256})
        self.webhook_statuses = ("IN_PROGRESS", "COMPLETED", "FAILED")
        self.auto_finish_after: float | None = None  # seconds; completes tasks without polling
        self.loras = json.loads(json.dumps(DEFAULT_LORAS))

        self.requests: list[RecordedRequest] = []
        self.tasks: dict[str, dict[str, Any]] = {}
        self.task_gets: dict[str, int] = {}
        self.delete_calls: list[RecordedRequest] = []
        self.webhooks_sent: list[dict[str, Any]] = []
        self.files: dict[str, bytes] = {}
        self.files_expired = False

        self._faults: list[_Fault] = []
        self._lock = threading.RLock()
        self._webhook_threads: list[threading.Thread] = []
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.url = ""

    # ---- lifecycle ---------------------------------------------------------------------------

    def stop(self) -> None:
        super().stop()
        for t in list(self._webhook_threads):
            t.join(timeout=2)

    def reset(self) -> None:
        """Forget recorded requests, tasks, files and queued faults (settings stay)."""
        with self._lock:
            self.requests.clear()
            self.tasks.clear()
            self.task_gets.clear()
            self.delete_calls.clear()
            self.webhooks_sent.clear()
            self.files.clear()
            self._faults.clear()
            self.fail_task_next = False
            self.files_expired = False

    # ---- test controls -----------------------------------------------------------------------

    def fail_next(self, status: int, times: int = 1, path_contains: str | None = None,
                  message: str | None = None, *, method: str | None = None,
                  retry_after: float | None = None, headers: dict[str, str] | None = None,
                  body: Any = None) -> None:
        """The next ``times`` matching requests answer ``status`` with the API's error body
        ``{"message": ...}`` (``body`` replaces it whole). ``retry_after`` adds a Retry-After
        header (the real 429 headers are not documented)."""
        extra = dict(headers or {})
        if retry_after is not None:
            extra["Retry-After"] = str(retry_after)
        with self._lock:
            self._faults.append(_Fault(status, times, path_contains,
                                       method.upper() if method else None, message, extra, body))

    def drop_next(self, times: int = 1, path_contains: str | None = None,
                  method: str | None = None) -> None:
        """The next ``times`` matching requests get the connection closed, no answer."""
        with self._lock:
            self._faults.append(_Fault(0, times, path_contains,
                                       method.upper() if method else None, None, {}, None,
                                       drop=True))

    def calls(self, path_contains: str | None = None, method: str | None = None
              ) -> list[RecordedRequest]:
        with self._lock:
            return [r for r in self.requests
                    if (path_contains is None or path_contains in r.path)
                    and (method is None or r.method == method.upper())]

    @property
    def task_get_count(self) -> int:
        """Task status GETs (``/v1/ai/mystic/{id}``), all tasks together."""
        with self._lock:
            return sum(self.task_gets.values())

    @property
    def created_count(self) -> int:
        with self._lock:
            return len(self.tasks)

    def task(self, task_id: str) -> dict[str, Any]:
        with self._lock:
            return self.tasks[task_id]

    def last_task(self) -> dict[str, Any]:
        with self._lock:
            return list(self.tasks.values())[-1]

    def finish(self, task_id: str | None = None) -> dict[str, Any]:
        """Drive a task (the last one by default) to its end state now, as if polled."""
        with self._lock:
            task = self.tasks[task_id] if task_id else list(self.tasks.values())[-1]
            if task["status"] == "CREATED":
                self._set_status(task, "IN_PROGRESS")
            if task["status"] == "IN_PROGRESS":
                self._finish(task)
            return task

    def expire_files(self, expired: bool = True) -> None:
        """Make the generated file URLs answer 403, as expired signed CDN links do."""
        self.files_expired = expired

    def wait_webhooks(self, count: int = 1, timeout: float = 5.0) -> list[dict[str, Any]]:
        """Wait until at least ``count`` webhook deliveries were attempted."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if len(self.webhooks_sent) >= count:
                    return list(self.webhooks_sent)
            time.sleep(0.01)
        with self._lock:
            return list(self.webhooks_sent)

    def sign_webhook(self, webhook_id: str, timestamp: str, body: bytes) -> str:
        """The ``webhook-signature`` value: ``v1,<base64 HMAC-SHA256 of id.timestamp.body>``."""
        content = f"{webhook_id}.{timestamp}.".encode() + body
        digest = hmac.new(self.webhook_secret.encode(), content, hashlib.sha256).digest()
        return "v1," + base64.b64encode(digest).decode()

    # ---- task model --------------------------------------------------------------------------

    def _public(self, task: dict[str, Any]) -> dict[str, Any]:
        out = {"task_id": task["task_id"], "status": task["status"],
               "generated": list(task["generated"])}
        if task["status"] == "COMPLETED":
            out["has_nsfw"] = list(task["has_nsfw"])
        return out

    def _set_status(self, task: dict[str, Any], status: str) -> None:
        task["status"] = status
        task["history"].append(status)
        if task["webhook_url"] and status in self.webhook_statuses:
            self._send_webhook(task["webhook_url"], self._public(task))

    def _finish(self, task: dict[str, Any]) -> None:
        if task["fail"]:
            self._set_status(task, "FAILED")
            return
        name = f"{task['task_id']}_0"
        self.files[name] = self._picture(task)
        task["generated"] = [f"{self.url}/files/{name}.png"]
        task["has_nsfw"] = [bool(task["nsfw"])]
        self._set_status(task, "COMPLETED")

    def _advance_on_get(self, task: dict[str, Any]) -> None:
        n = self.task_gets[task["task_id"]]
        if task["status"] in ("COMPLETED", "FAILED"):
            return
        if n >= max(1, self.polls_to_finish):
            if task["status"] == "CREATED":
                self._set_status(task, "IN_PROGRESS")
            self._finish(task)
        elif task["status"] == "CREATED":
            self._set_status(task, "IN_PROGRESS")

    def _picture(self, task: dict[str, Any]) -> bytes:
        from PIL import Image, ImageDraw

        w, h = _ratio(task["aspect_ratio"])
        k = max(1, self.long_sides.get(task["resolution"], 64) // max(w, h))
        size = (w * k, h * k)
        digest = hashlib.sha256((task["prompt"] or "").encode()).digest()
        colour = tuple(digest[:3])
        img = Image.new("RGB", size, colour)
        draw = ImageDraw.Draw(img)
        inset = max(1, min(size) // 8)
        draw.rectangle([inset, inset, size[0] - 1 - inset, size[1] - 1 - inset],
                       outline=tuple(255 - c for c in colour), width=max(1, inset // 2))
        buf = io.BytesIO()
        img.save(buf, "PNG")
        return buf.getvalue()

    def _send_webhook(self, url: str, payload: dict[str, Any]) -> None:
        body = json.dumps(payload).encode()
        webhook_id = f"msg_{uuid.uuid4().hex}"
        timestamp = str(int(time.time()))
        headers = {"Content-Type": "application/json", "webhook-id": webhook_id,
                   "webhook-timestamp": timestamp,
                   "webhook-signature": self.sign_webhook(webhook_id, timestamp, body)}
        record = {"url": url, "headers": headers, "payload": payload, "body": body,
                  "status": None, "error": None}

        def deliver():
            try:
                req = urllib.request.Request(url, data=body, headers=headers, method="POST")
                with urllib.request.urlopen(req, timeout=5) as resp:
                    record["status"] = resp.status
            except Exception as exc:  # failures are ignored, as the brief asks
                record["status"] = getattr(exc, "code", None)
                record["error"] = repr(exc)
            with self._lock:
                self.webhooks_sent.append(record)

        t = threading.Thread(target=deliver, daemon=True, name="FreepikFake-webhook")
        self._webhook_threads = [x for x in self._webhook_threads if x.is_alive()] + [t]
        t.start()

    def _auto_finish(self, task_id: str, after: float) -> None:
        def run():
            time.sleep(after)
            with self._lock:
                task = self.tasks.get(task_id)
                if task and task["status"] not in ("COMPLETED", "FAILED"):
                    self.finish(task_id)

        threading.Thread(target=run, daemon=True, name="FreepikFake-auto").start()

    # ---- HTTP --------------------------------------------------------------------------------

    def _handler_class(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            server_version = "FreepikFake/1.0"

            def log_message(self, *args):
                pass

            def _send(self, status, payload=None, *, headers=None, raw=None,
                      content_type="application/json"):
                data = raw if raw is not None else (
                    b"" if payload is None else json.dumps(payload).encode())
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)

            def _handle(self):
                parts = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                parsed = None
                if raw:
                    try:
                        parsed = json.loads(raw)
                    except ValueError:
                        parsed = None
                rec = RecordedRequest(self.command, parts.path,
                                      {k.lower(): v for k, v in self.headers.items()},
                                      parsed, parse_qs(parts.query), raw)
                with fake._lock:
                    fake.requests.append(rec)
                    fault = fake._take_fault(rec)
                if fake.delay:
                    time.sleep(fake.delay)
                if fault is not None:
                    if fault.drop:
                        self.close_connection = True
                        try:
                            self.connection.shutdown(2)
                        except OSError:
                            pass
                        return
                    payload = fault.body if fault.body is not None else {
                        "message": fault.message or MESSAGES.get(fault.status, "Error")}
                    return self._send(fault.status, payload, headers=fault.headers)
                return fake._route(self, rec)

            do_GET = do_POST = do_DELETE = do_PUT = do_PATCH = do_HEAD = _handle

        return Handler

    def _take_fault(self, rec: RecordedRequest) -> _Fault | None:
        for fault in self._faults:
            if fault.path_contains is not None and fault.path_contains not in rec.path:
                continue
            if fault.method is not None and fault.method != rec.method:
                continue
            fault.times -= 1
            if fault.times <= 0:
                self._faults.remove(fault)
            return fault
        return None

    def _route(self, h, rec: RecordedRequest) -> None:
        path = rec.path.rstrip("/") or "/"
        if path.startswith("/files/"):
            return self._serve_file(h, rec, path)

        key = next((rec.headers[k] for k in KEY_HEADERS if rec.headers.get(k)), None)
        if key is None:
            return h._send(401, {"message": "Missing API key"})
        if key != self.api_key:
            return h._send(401, {"message": "Invalid API key"})

        if path == "/v1/ai/mystic":
            if rec.method == "POST":
                return self._create(h, rec)
            if rec.method == "GET":
                return self._list(h, rec)
        elif path.startswith("/v1/ai/mystic/") and path.count("/") == 4:
            task_id = path.rsplit("/", 1)[1]
            if rec.method == "GET":
                return self._get(h, task_id)
            if rec.method == "DELETE":
                with self._lock:
                    self.delete_calls.append(rec)
                return h._send(405, {"message": MESSAGES[405]})
        elif path == "/v1/ai/loras" and rec.method == "GET":
            return h._send(200, {"data": self.loras})
        if rec.method == "DELETE":
            with self._lock:
                self.delete_calls.append(rec)
        return h._send(404, {"message": MESSAGES[404]})

    def _serve_file(self, h, rec, path):
        if rec.method not in ("GET", "HEAD"):
            return h._send(405, {"message": MESSAGES[405]})
        name = path[len("/files/"):]
        if name.endswith(".png"):
            name = name[:-4]
        with self._lock:
            data = self.files.get(name)
        if data is None:
            return h._send(404, {"message": MESSAGES[404]})
        if self.files_expired:
            return h._send(403, raw=b"<Error><Code>AccessDenied</Code></Error>",
                           content_type="application/xml")
        return h._send(200, raw=data, content_type="image/png")

    def _create(self, h, rec: RecordedRequest) -> None:
        ctype = rec.headers.get("content-type", "")
        # the docs: with another Content-Type "the payload will be ignored, and the request will
        # proceed without processing the body"
        if rec.raw and ctype.split(";")[0].strip().lower() == "application/json":
            if rec.json is None:
                return h._send(400, {"message": "Validation error", "invalid_params": [
                    {"field": "body", "reason": "JSON decode error"}]})
            body = rec.json
        else:
            body = {}
        errs, image_message = validate_body(body)
        if errs:
            return h._send(400, {"message": "Validation error", "invalid_params": errs})
        if image_message:
            return h._send(400, {"message": image_message})

        prompt = body.get("prompt") or ""
        aspect = body.get("aspect_ratio") or "square_1_1"
        model = body.get("model") or "realism"
        ignored = []
        if model == "fluid" and aspect not in FLUID_ASPECTS:
            ignored.append("aspect_ratio not supported by fluid (accepted silently)")
        if (body.get("styling") or {}).get("styles") or (body.get("styling") or {}).get(
                "characters"):
            if model in ("fluid", "flexible", "super_real", "editorial_portraits") or \
                    body.get("structure_reference") or body.get("style_reference"):
                ignored.append("LoRAs ignored (model or reference)")
        with self._lock:
            fail = "BLOCKED" in prompt or self.fail_task_next
            self.fail_task_next = False
            task_id = str(uuid.uuid4())
            task = {
                "task_id": task_id, "status": "CREATED", "generated": [], "has_nsfw": [],
                "prompt": prompt, "aspect_ratio": aspect,
                "resolution": body.get("resolution") or "2k", "model": model,
                "webhook_url": body.get("webhook_url"), "body": body, "fail": fail,
                "blocked": "BLOCKED" in prompt, "nsfw": "NSFW" in prompt,
                "history": ["CREATED"], "ignored": ignored, "created_at": time.time(),
            }
            self.tasks[task_id] = task
            self.task_gets[task_id] = 0
            answer = {"data": self._public(task)}
        if self.auto_finish_after is not None:
            self._auto_finish(task_id, self.auto_finish_after)
        return h._send(200, answer)

    def _get(self, h, task_id: str) -> None:
        with self._lock:
            task = self.tasks.get(task_id)
            if task is None:
                return h._send(404, {"message": MESSAGES[404]})
            self.task_gets[task_id] += 1
            self._advance_on_get(task)
            answer = {"data": self._public(task)}
        return h._send(200, answer)

    def _list(self, h, rec: RecordedRequest) -> None:
        for name in ("page", "per_page"):
            if name in rec.query:
                v = rec.query[name][0]
                if not v.isdigit() or int(v) < 1:
                    return h._send(400, {"message": f"Parameter '{name}' must be greater "
                                                   f"than 0"})
        with self._lock:
            items = [{"task_id": t["task_id"], "status": t["status"]}
                     for t in reversed(list(self.tasks.values()))]
        if "per_page" in rec.query or "page" in rec.query:
            per_page = int(rec.query.get("per_page", ["20"])[0])
            page = int(rec.query.get("page", ["1"])[0])
            items = items[(page - 1) * per_page: page * per_page]
        return h._send(200, {"data": items})
