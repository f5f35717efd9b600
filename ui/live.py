"""The live queue: one long-lived stream per open tab, fed by the visitor's ``/ws/user``
socket through ``genova_client`` and pushed to the page over Gradio's SSE (no polling)."""

from __future__ import annotations

import logging

import gradio as gr

from genova_client import AuthenticationError, GenovaError
from ui import render, session
from ui.handlers import EXPIRED

log = logging.getLogger("genova.studio")
SHOWN = 20  # jobs in the live queue
KEEPALIVE = 5.0  # seconds: lets Gradio notice a closed tab and end the stream


class Board:
    """The jobs on screen, updated from events; says which jobs to re-read over REST."""

    def __init__(self, jobs: list[dict] = ()):
        self.reset(list(jobs))

    def reset(self, jobs: list[dict]) -> None:
        """The API's listing, newest first (its order is kept: timestamps have only
        one-second precision, so they cannot order jobs made in the same second)."""
        self.jobs = {job["id"]: dict(job) for job in jobs}

    def put(self, job: dict) -> None:
        """A new job goes on top."""
        self.jobs = {job["id"]: dict(job), **{k: v for k, v in self.jobs.items()
                                                if k != job["id"]}}

    def apply(self, event) -> None:
        """Record ``event``. Events carry what the screen needs (a new job's prompt and
        settings, a finished job's signed links, error and balance), so no REST call is
        made; a job created before this board was filled arrives with the next listing."""
        data = event.data
        if event.type == "job_created":
            self.put({"id": event.job_id, "type": data.get("jobType"), "status": "queued",
                      "prompt": data.get("prompt", ""), "settings": data.get("settings", {}),
                      "created_at": data.get("createdAt"),
                      "queue_position": data.get("queuePosition"),
                      "estimated_time": data.get("estimatedTime")})
            return
        job = self.jobs.get(event.job_id)
        if job is not None:
            job.update(self._changes(event.type, data))

    @staticmethod
    def _changes(kind: str, data: dict) -> dict:
        if kind == "job_queued":
            return {"status": "queued", "queue_position": data.get("queuePosition"),
                    "estimated_time": data.get("estimatedTime")}
        if kind == "job_started":
            return {"status": "processing", "progress": 0, "queue_position": None}
        if kind == "job_progress":
            return {"status": "processing", "progress": data.get("progress"),
                    "message": data.get("message")}
        if kind == "job_completed":
            return {"status": "completed", "download_urls": data.get("downloadUrls") or [],
                    "generator": data.get("generator")}
        if kind == "job_failed":
            return {"status": "failed", "error_message": data.get("error")}
        if kind == "job_cancelled":
            return {"status": "cancelled"}
        return {}

    def shown(self) -> list[dict]:
        return list(self.jobs.values())[:SHOWN]


class LiveViews:
    async def feed(self, creds, request: gr.Request = None):
        """Stream the visitor's queue until the tab closes (or they sign out)."""
        if not session.signed_in(creds):
            # Yield once: a generator that yields nothing ends with ``None`` for every
            # output, which would blank the header of a sign-in that finished meanwhile.
            yield {self.c.queue: gr.skip()}
            return
        origin = session.public_origin(request)
        client = session.async_client_for(self.api_url, creds, request)
        board = Board()
        events = client.events(heartbeat=KEEPALIVE)
        try:
            async for event in events:
                if event is None:
                    yield {self.c.queue: gr.skip()}  # nothing new; lets Gradio notice a
                    continue                            # closed tab
                await self._absorb(client, board, event)
                out = {self.c.queue: render.queue(board.shown(), origin)}
                if "creditsRemaining" in event.data:  # a debit or a refund
                    out[self.c.credits] = render.credits_line(event.data["creditsRemaining"])
                yield {**out, **self.keep_signed_in(creds, client)}
        except AuthenticationError:
            yield self.signed_out(EXPIRED)
        finally:
            await events.aclose()
            await client.close()

    async def _absorb(self, client, board: Board, event) -> None:
        """Update the board from ``event`` (a welcome re-reads the list over REST)."""
        try:
            if event.type == "welcome":  # a first connect or a reconnect: start from REST
                page = await client.jobs.list(limit=SHOWN)
                board.reset([job.raw for job in page.jobs])
            elif event.job_id:
                board.apply(event)
        except AuthenticationError:
            raise
        except GenovaError as error:  # a rate limit, say: the next event catches up
            log.info("live queue could not refresh: %s", error)
