"""``Client``: the synchronous Genova client."""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Self

import httpx
from websockets.exceptions import ConnectionClosed

from genova_client import errors
from genova_client._core import DEFAULT_MODEL, BaseClient, Call, retry_delay
from genova_client.realtime import (
    BACKOFF_START,
    IDLE_CHECK,
    JobWatch,
    next_backoff,
    parse_event,
)
from genova_client.results import Result, Results
from genova_client.sockets import connect
from genova_client.transfer import deadline_left, deliver, result_for, result_links
from genova_client.types import Event, Job


class Client(BaseClient):
    """The Genova API from Python.

    ``Client(base_url=None, api_key=None, token=None, timeout=30, max_retries=2)``; the URL
    defaults to ``GENOVA_URL`` (else ``http://127.0.0.1:8000``) and the key to
    ``GENOVA_API_KEY``. Use it as a context manager, or call ``close()``.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._http = httpx.Client(timeout=self.timeout, follow_redirects=False)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _call(self, call: Call):
        attempt, refreshed = 0, False
        while True:
            try:
                response = self._http.request(**self._request_args(call))
            except httpx.TransportError as exc:
                delay = retry_delay(call, attempt, self.max_retries, exc=exc)
                if delay is None:
                    raise self._transport_error(exc) from exc
            else:
                if not refreshed and self._should_refresh(call, response):
                    refreshed = True
                    self._call(self._refresh_call())
                    continue
                delay = None
                if response.status_code >= 400:
                    delay = retry_delay(call, attempt, self.max_retries, response=response)
                if delay is None:
                    return self._finish(call, response)
            attempt += 1
            time.sleep(delay)

    # -- files ------------------------------------------------------------------------
    def _fetch(self, job_id: str, index: int | None, link: str | None = None
               ) -> httpx.Response:
        """GET a signed link (the job's own, or the one the API's download 302 gives),
        which needs no credentials."""
        location = link or self._call(self.jobs._link(job_id, index))
        try:
            response = self._http.get(location, headers={"User-Agent": "genova-client"})
        except httpx.TransportError as exc:
            raise self._transport_error(exc) from exc
        if response.status_code >= 400:
            raise errors.from_response(response)
        return response

    def _download(self, job_id: str, *, index: int | None, path) -> bytes | Path:
        return deliver(self._fetch(job_id, index), path)

    def results(self, job: Job | str) -> Results:
        """Download every result of a completed job."""
        job = self.jobs.get(job) if isinstance(job, str) else job
        items = [result_for(job, i, self._fetch(job.id, i, link))
                 for i, link in enumerate(result_links(job))]
        return Results(items, job=job)

    def _iter_jobs(self, *, status: str | None, page_size: int) -> Iterator[Job]:
        offset = 0
        while True:
            page = self.jobs.list(status=status, limit=page_size, offset=offset)
            yield from page.jobs
            offset += len(page.jobs)
            if not page.jobs or offset >= page.total:
                return

    # -- live events ------------------------------------------------------------------
    def _open_socket(self):
        return connect(self.socket_url(), timeout=self.timeout)

    def _stream(self, *, max_failures: int | None = None,
                idle: float | None = None) -> Iterator[Event | None]:
        """Events, reconnecting with back-off; ``None`` after ``idle`` quiet seconds.
        Raises ``ConnectionError`` after ``max_failures`` failed connects in a row."""
        failures, delay = 0, BACKOFF_START
        while True:
            try:
                ws = self._open_socket()
            except errors.ConnectionError:
                failures += 1
                if max_failures is not None and failures >= max_failures:
                    raise
            else:
                failures, delay = 0, BACKOFF_START
                try:
                    with ws:
                        while True:
                            try:
                                raw = ws.recv(timeout=idle)
                            except TimeoutError:
                                yield None
                                continue
                            yield parse_event(raw)
                except ConnectionClosed as exc:
                    if self._refresh_for_socket(exc):
                        self._call(self._refresh_call())
                        continue
            time.sleep(delay * random.uniform(0.8, 1.2))
            delay = next_backoff(delay)

    def events(self, *, idle_timeout: float | None = None,
               heartbeat: float | None = None) -> Iterator[Event | None]:
        """Your live events from ``/ws/user``. It reconnects with back-off after a drop; the
        server then sends ``welcome`` and the current position of every queued job again,
        so nothing about queued jobs is lost. It runs forever, or ends once no event came
        for ``idle_timeout`` seconds; with ``heartbeat`` it yields ``None`` after each such
        quiet spell instead (time for the caller's own housekeeping)."""
        for event in self._stream(idle=heartbeat or idle_timeout):
            if event is None and not heartbeat:
                return
            yield event

    def wait(self, job_id: str, *, timeout: float | None = None, progress: bool = True) -> Job:
        """Block until the job is completed, failed or cancelled; return it.

        Follows ``/ws/user``; if the socket cannot connect, polls within the plan's rate
        limit. ``progress=True`` shows a bar with the queue position and ETA, then the
        percentage and the worker's message. ``WaitTimeout`` after ``timeout`` seconds.
        """
        watch = JobWatch(job_id, progress)
        deadline = None if timeout is None else time.monotonic() + timeout
        try:
            try:
                return self._wait_socket(watch, deadline, timeout)
            except errors.ConnectionError:
                return self._wait_poll(watch, deadline, timeout)
        finally:
            watch.close()

    def _wait_socket(self, watch: JobWatch, deadline, timeout) -> Job:
        quiet_since = time.monotonic()
        for event in self._stream(max_failures=1, idle=1.0):
            deadline_left(deadline, watch.job_id, timeout)
            now = time.monotonic()
            if event is None and now - quiet_since < IDLE_CHECK:
                continue
            quiet_since = now
            if event is None or event.type == "welcome" or watch.event(event):
                job = self.jobs.get(watch.job_id)
                if watch.snapshot(job):
                    return job
        raise AssertionError("unreachable: the event stream only ends by raising")

    def _wait_poll(self, watch: JobWatch, deadline, timeout) -> Job:
        while True:
            try:
                job = self.jobs.get(watch.job_id)
                if watch.snapshot(job):
                    return job
                pause = self.poll_interval()
            except errors.RateLimited as exc:
                pause = exc.retry_after or self.poll_interval()
            time.sleep(min(pause, deadline_left(deadline, watch.job_id, timeout)))

    def generate(self, prompt: str, model: str = DEFAULT_MODEL, *, timeout: float | None = None,
                 progress: bool = True, save_to: str | Path | None = None,
                 **options) -> Results:
        """Create a job, wait for it and return its results (``JobFailed`` if it failed or
        was cancelled). ``options`` are those of ``jobs.create``; ``save_to`` also writes
        the files into that directory."""
        created = self.jobs.create(prompt, model=model, **options)
        job = self.wait(created.job_id, timeout=timeout, progress=progress)
        if job.status != "completed":
            raise errors.JobFailed(job)
        results = self.results(job)
        if save_to is not None:
            results.save(save_to)
        return results


__all__ = ["Client", "Result", "Results"]
