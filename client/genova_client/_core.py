"""What the sync and async clients share: configuration, credentials, request building,
the retry policy and the resources (``jobs``, ``keys``, ``user``, ``auth``).

A resource method builds a ``Call`` and hands it to the client's ``_call``: the sync client
returns the parsed value, the async one a coroutine of it, so each API call is written once.
"""

from __future__ import annotations

import os
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from genova_client import errors
from genova_client.references import encode_references
from genova_client.sockets import credential_query, refusal, socket_url
from genova_client.types import (
    ApiKey,
    Job,
    JobCreated,
    JobPage,
    ModelInfo,
    Stats,
    Tokens,
    User,
    media_type,
)

DEFAULT_URL = "http://127.0.0.1:8000"
DEFAULT_MODEL = "imagen4"  # the server's default too
VERSION = "0.1.0"
IDEMPOTENT = frozenset({"GET", "HEAD", "PUT", "PATCH", "DELETE", "OPTIONS"})
MAX_RETRY_WAIT = 120.0


@dataclass
class Call:
    """One API request and how to read its answer."""

    method: str
    path: str
    parse: Callable[[httpx.Response], Any] = lambda response: response.json()
    params: dict | None = None
    json: Any = None
    auth: bool = True
    bearer: str | None = None  # overrides the client's credentials (token refresh)


def retry_delay(call: Call, attempt: int, max_retries: int, *,
                response: httpx.Response | None = None,
                exc: Exception | None = None) -> float | None:
    """Seconds to wait before trying ``call`` again, or None to give up.

    Only what cannot cost twice is retried: a request that never left (connect errors), a
    429 or 503 (the API refused it before doing anything: no job, no credit), and any
    failure of an idempotent method. A POST whose answer was lost is never resent blindly.
    """
    if attempt >= max_retries:
        return None
    backoff = min(MAX_RETRY_WAIT, 0.5 * 2 ** attempt) * random.uniform(0.8, 1.2)
    if exc is not None:
        if isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout):
            return backoff
        return backoff if call.method in IDEMPOTENT else None
    status = response.status_code
    if status in (429, 503):
        after = errors.retry_after(response)
        return min(MAX_RETRY_WAIT, after if after is not None else backoff)
    if status in (500, 502, 504) and call.method in IDEMPOTENT:
        return backoff
    return None


class BaseClient:
    """Configuration and credentials. ``api_key`` wins over ``token`` when both are set,
    as on the server."""

    def __init__(self, base_url: str | None = None, api_key: str | None = None,
                 token: str | None = None, *, refresh_token: str | None = None,
                 timeout: float = 30.0, max_retries: int = 2, headers: dict | None = None):
        self.base_url = (base_url or os.environ.get("GENOVA_URL") or DEFAULT_URL).rstrip("/")
        self.api_key = api_key if api_key is not None else os.environ.get("GENOVA_API_KEY")
        self.token, self.refresh_token = token, refresh_token
        self.timeout, self.max_retries = timeout, max_retries
        self.headers = dict(headers or {})  # sent with every API request
        self.rate_limit: int | None = None  # requests per minute, from X-RateLimit-Limit
        self._socket_refreshed = float("-inf")
        self.jobs = Jobs(self)
        self.keys = Keys(self)
        self.user = UserResource(self)
        self.auth = Auth(self)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.base_url!r})"

    def models(self) -> list[ModelInfo]:
        """The model catalogue (public): options, defaults, pixel sizes and cost."""
        return self._call(Call("GET", "/api/models", auth=False, parse=lambda r: [
            ModelInfo.from_dict(m) for m in r.json()["models"]]))

    # -- requests ----------------------------------------------------------------------
    def _headers(self, call: Call) -> dict:
        headers = {"User-Agent": f"genova-client/{VERSION}", "Accept": "application/json",
                   **self.headers}
        if call.bearer:
            headers["Authorization"] = f"Bearer {call.bearer}"
        elif call.auth and self.api_key:
            headers["X-API-Key"] = self.api_key
        elif call.auth and self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        return headers

    def _request_args(self, call: Call) -> dict:
        args = {"method": call.method, "url": self.base_url + call.path,
                "headers": self._headers(call), "params": call.params}
        if call.json is not None:
            args["json"] = call.json
        return args

    def _should_refresh(self, call: Call, response: httpx.Response) -> bool:
        """An expired access token with a refresh token at hand: refresh once, retry."""
        if response.status_code != 401 or not call.auth or call.bearer or self.api_key:
            return False
        if not (self.token and self.refresh_token):
            return False
        try:
            return response.json().get("error") == "Token expired"
        except ValueError:
            return False

    def _finish(self, call: Call, response: httpx.Response):
        limit = response.headers.get("X-RateLimit-Limit")
        if limit and limit.isdigit():
            self.rate_limit = int(limit)
        if response.status_code >= 400:
            raise errors.from_response(response)
        return call.parse(response)

    def _transport_error(self, exc: httpx.HTTPError) -> errors.ConnectionError:
        return errors.ConnectionError("Connection failed",
                                      f"{self.base_url}: {exc.__class__.__name__}: {exc}")

    def _refresh_call(self) -> Call:
        def adopt(response: httpx.Response) -> str:
            self.token = response.json()["accessToken"]
            return self.token

        return Call("POST", "/api/auth/refresh", adopt, auth=False, bearer=self.refresh_token)

    def _adopt(self, response: httpx.Response) -> Tokens:
        tokens = Tokens.from_dict(response.json())
        self.token, self.refresh_token = tokens.access_token, tokens.refresh_token
        return tokens

    # -- the live socket ---------------------------------------------------------------
    def socket_url(self, path: str = "/ws/user", **query) -> str:
        """The WebSocket URL with this client's credential in the query."""
        query.update(credential_query(api_key=self.api_key, token=self.token))
        return socket_url(self.base_url, path, query)

    def _refresh_for_socket(self, exc) -> bool:
        """A socket closed by the server: True if it refused an expired access token that
        this client can refresh (then reconnect); any other refusal is raised; False for
        a plain drop. Refreshes at most once a minute, so a refusal cannot loop."""
        error = refusal(exc)
        if error is None:
            return False
        expired = isinstance(error, errors.AuthenticationError) and "expired" in error.details
        if (expired and self.token and self.refresh_token and not self.api_key
                and time.monotonic() - self._socket_refreshed > 60):
            self._socket_refreshed = time.monotonic()
            return True
        raise error

    def poll_interval(self) -> float:
        """How often ``wait`` polls without a socket: half the plan's request budget."""
        per_minute = self.rate_limit or 10
        return max(1.0, 120.0 / per_minute)


def job_body(prompt: str, *, model: str = DEFAULT_MODEL, type: str | None = None,
             aspect_ratio: str | None = None, count: int | None = None,
             quality: str | None = None, reference_images=None, reference_mode: str | None = None,
             priority: int | None = None) -> dict:
    """The JSON body of ``POST /api/jobs``; ``type`` follows ``model`` unless given."""
    body: dict[str, Any] = {"type": type or media_type(model), "prompt": prompt, "model": model}
    for key, value in (("aspectRatio", aspect_ratio), ("count", count), ("quality", quality),
                       ("priority", priority)):
        if value is not None:
            body[key] = value
    if reference_images:
        body["referenceImages"] = {"images": encode_references(reference_images)}
        if reference_mode:
            body["referenceImages"]["mode"] = reference_mode
    return body


class _Resource:
    def __init__(self, client: BaseClient):
        self._client = client

    def _call(self, call: Call):
        return self._client._call(call)


class Jobs(_Resource):
    """``client.jobs``: create, get, list, iter, cancel and download generation jobs."""

    def create(self, prompt: str, *, model: str = DEFAULT_MODEL, **options) -> JobCreated:
        """Queue a job (costs 1 credit). Options: ``type``, ``aspect_ratio``, ``count``,
        ``quality``, ``reference_images`` (paths, bytes, PIL images or data URLs),
        ``reference_mode``, ``priority``."""
        body = job_body(prompt, model=model, **options)
        return self._call(Call("POST", "/api/jobs", lambda r: JobCreated.from_dict(r.json()),
                               json=body))

    def get(self, job_id: str) -> Job:
        return self._call(Call("GET", f"/api/jobs/{job_id}", lambda r: Job.from_dict(r.json())))

    def list(self, *, status: str | None = None, limit: int = 50, offset: int = 0,
             type: str | None = None, model: str | None = None) -> JobPage:
        """A page of your jobs, newest first, optionally of one status, type or model."""
        params = {"limit": limit, "offset": offset}
        for key, value in (("status", status), ("type", type), ("model", model)):
            if value:
                params[key] = value

        def parse(response: httpx.Response) -> JobPage:
            data = response.json()
            return JobPage([Job.from_dict(j) for j in data["jobs"]], data["total"], limit,
                           offset)

        return self._call(Call("GET", "/api/jobs", parse, params=params))

    def iter(self, *, status: str | None = None, page_size: int = 100):
        """Every job (newest first), a page at a time."""
        return self._client._iter_jobs(status=status, page_size=page_size)

    def cancel(self, job_id: str) -> bool:
        """Cancel a pending or queued job; its credit comes back. ``Conflict`` otherwise."""
        return self._call(Call("DELETE", f"/api/jobs/{job_id}",
                               lambda r: bool(r.json().get("success"))))

    def download(self, job_id: str, index: int | None = None, path=None):
        """The result's bytes, or the path it was saved to when ``path`` is given (a file
        or a directory)."""
        return self._client._download(job_id, index=index, path=path)

    def _link(self, job_id: str, index: int | None) -> Call:
        params = {"index": index} if index is not None else None
        return Call("GET", f"/api/jobs/{job_id}/download", lambda r: r.headers["Location"],
                    params=params)


class Keys(_Resource):
    """``client.keys``: API keys. A new key's secret is only in ``create``'s answer."""

    def create(self, name: str = "API key") -> ApiKey:
        return self._call(Call("POST", "/api/keys", lambda r: ApiKey.from_dict(r.json()),
                               json={"name": name}))

    def list(self) -> list[ApiKey]:
        return self._call(Call("GET", "/api/keys",
                               lambda r: [ApiKey.from_dict(k) for k in r.json()["keys"]]))

    def revoke(self, key_id: str) -> bool:
        return self._call(Call("DELETE", f"/api/keys/{key_id}",
                               lambda r: bool(r.json().get("success"))))


class UserResource(_Resource):
    """``client.user``: your profile, plan, credits and statistics."""

    def me(self) -> User:
        return self._call(Call("GET", "/api/user/me", lambda r: User.from_dict(r.json())))

    def update(self, *, name: str) -> User:
        return self._call(Call("PATCH", "/api/user/me", lambda r: User.from_dict(r.json()),
                               json={"name": name}))

    def stats(self) -> Stats:
        return self._call(Call("GET", "/api/user/stats", lambda r: Stats.from_dict(r.json())))


class Auth(_Resource):
    """``client.auth``: accounts and tokens. ``register`` and ``login`` also make this
    client use the new tokens (it refreshes them itself when the access token expires)."""

    def register(self, email: str, password: str, name: str | None = None) -> Tokens:
        body = {"email": email, "password": password}
        if name:
            body["name"] = name
        return self._call(Call("POST", "/api/auth/register", self._client._adopt, json=body,
                               auth=False))

    def login(self, email: str, password: str) -> Tokens:
        return self._call(Call("POST", "/api/auth/login", self._client._adopt,
                               json={"email": email, "password": password}, auth=False))

    def refresh(self, refresh_token: str | None = None) -> str:
        """A new access token (also adopted by this client)."""
        if refresh_token:
            self._client.refresh_token = refresh_token
        if not self._client.refresh_token:
            raise errors.AuthenticationError("Authentication required",
                                             "no refresh token: log in first", status=401)
        return self._call(self._client._refresh_call())
