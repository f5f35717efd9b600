"""``AsyncClient``: the same API as ``Client``, with coroutines (and async iterators)."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Self

import httpx
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake

from genova_client import errors
from genova_client._core import DEFAULT_MODEL, BaseClient, Call, retry_delay
from genova_client.realtime import (
    BACKOFF_START,
    IDLE_CHECK,
    JobWatch,
    next_backoff,
    parse_event,
)
from genova_client.results import Results
from genova_client.sockets import MAX_MESSAGE
from genova_client.transfer import deadline_left, deliver, result_for, result_links
from genova_client.types import Event, Job


class AsyncClient(BaseClient):
    """Like ``Client``; every API method is a coroutine, ``events()`` and ``jobs.iter()``
    are async iterators. Use ``async with AsyncClient() as client:``."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._http = httpx.AsyncClient(timeout=self.timeout, follow_redirects=False)

    async def close(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc) -> None:
        await self.close()

    async def _call(self, call: Call):
        attempt, refreshed = 0, False
        while True:
            try:
                response = await self._http.request(**self._request_args(call))
            except httpx.TransportError as exc:
                delay = retry_delay(call, attempt, self.max_retries, exc=exc)
                if delay is None:
                    raise self._transport_error(exc) from exc
            else:
                if not refreshed and self._should_refresh(call, response):
                    refreshed = True
                    await self._call(self._refresh_call())
                    continue
                delay = None
                if response.status_code >= 400:
                    delay = retry_delay(call, attempt, self.max_retries, response=response)
                if delay is None:
                    return self._finish(call, response)
            attempt += 1
            await asyncio.sleep(delay)

    async def _fetch(self, job_id: str, index: int | None,
                     link: str | None = None) -> httpx.Response:
        location = link or await self._call(self.jobs._link(job_id, index))
        try:
            response = await self._http.get(location, headers={"User-Agent": "genova-client"})
        except httpx.TransportError as exc:
            raise self._transport_error(exc) from exc
        if response.status_code >= 400:
            raise errors.from_response(response)
        return response

    async def _download(self, job_id: str, *, index: int | None, path) -> bytes | Path:
        return deliver(await self._fetch(job_id, index), path)

    async def results(self, job: Job | str) -> Results:
        job = await self.jobs.get(job) if isinstance(job, str) else job
        items = [result_for(job, i, await self._fetch(job.id, i, link))
                 for i, link in enumerate(result_links(job))]
        return Results(items, job=job)

    async def _iter_jobs(self, *, status: str | None, page_size: int) -> AsyncIterator[Job]:
        offset = 0
        while True:
            page = await self.jobs.list(status=status, limit=page_size, offset=offset)
            for job in page.jobs:
                yield job
            offset += len(page.jobs)
            if not page.jobs or offset >= page.total:
                return

    async def _open_socket(self):
        try:
            return await connect(self.socket_url(), open_timeout=self.timeout,
                                 user_agent_header="genova-client", max_size=MAX_MESSAGE)
        except (OSError, InvalidHandshake, TimeoutError) as exc:
            raise errors.ConnectionError("WebSocket unavailable", f"{exc}") from exc

    async def _stream(self, *, max_failures: int | None = None,
                      idle: float | None = None) -> AsyncIterator[Event | None]:
        failures, delay = 0, BACKOFF_START
        while True:
            try:
                ws = await self._open_socket()
            except errors.ConnectionError:
                failures += 1
                if max_failures is not None and failures >= max_failures:
                    raise
            else:
                failures, delay = 0, BACKOFF_START
                try:
                    async with ws:
                        while True:
                            try:
                                raw = await asyncio.wait_for(ws.recv(), idle)
                            except TimeoutError:
                                yield None
                                continue
                            yield parse_event(raw)
                except ConnectionClosed as exc:
                    if self._refresh_for_socket(exc):
                        await self._call(self._refresh_call())
                        continue
            await asyncio.sleep(delay * random.uniform(0.8, 1.2))
            delay = next_backoff(delay)

    async def events(self, *, idle_timeout: float | None = None,
                     heartbeat: float | None = None) -> AsyncIterator[Event | None]:
        """Your live events, reconnecting with back-off (see ``Client.events``)."""
        stream = self._stream(idle=heartbeat or idle_timeout)
        try:
            async for event in stream:
                if event is None and not heartbeat:
                    return
                yield event
        finally:
            await stream.aclose()

    async def wait(self, job_id: str, *, timeout: float | None = None,
                   progress: bool = True) -> Job:
        """See ``Client.wait``."""
        watch = JobWatch(job_id, progress)
        deadline = None if timeout is None else time.monotonic() + timeout
        try:
            try:
                return await self._wait_socket(watch, deadline, timeout)
            except errors.ConnectionError:
                return await self._wait_poll(watch, deadline, timeout)
        finally:
            watch.close()

    async def _wait_socket(self, watch: JobWatch, deadline, timeout) -> Job:
        quiet_since = time.monotonic()
        stream = self._stream(max_failures=1, idle=1.0)
        try:
            async for event in stream:
                deadline_left(deadline, watch.job_id, timeout)
                now = time.monotonic()
                if event is None and now - quiet_since < IDLE_CHECK:
                    continue
                quiet_since = now
                if event is None or event.type == "welcome" or watch.event(event):
                    job = await self.jobs.get(watch.job_id)
                    if watch.snapshot(job):
                        return job
        finally:
            await stream.aclose()
        raise AssertionError("unreachable: the event stream only ends by raising")

    async def _wait_poll(self, watch: JobWatch, deadline, timeout) -> Job:
        while True:
            try:
                job = await self.jobs.get(watch.job_id)
                if watch.snapshot(job):
                    return job
                pause = self.poll_interval()
            except errors.RateLimited as exc:
                pause = exc.retry_after or self.poll_interval()
            await asyncio.sleep(min(pause, deadline_left(deadline, watch.job_id, timeout)))

    async def generate(self, prompt: str, model: str = DEFAULT_MODEL, *,
                       timeout: float | None = None, progress: bool = True,
                       save_to: str | Path | None = None, **options) -> Results:
        """See ``Client.generate``."""
        created = await self.jobs.create(prompt, model=model, **options)
        job = await self.wait(created.job_id, timeout=timeout, progress=progress)
        if job.status != "completed":
            raise errors.JobFailed(job)
        results = await self.results(job)
        if save_to is not None:
            results.save(save_to)
        return results
