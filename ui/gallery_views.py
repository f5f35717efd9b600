"""The Gallery tab: every past result, newest first, filterable and paginated; a result
opens large with its facts, download links, "reuse settings" and "run again"."""

from __future__ import annotations

import functools
import math

import gradio as gr
from PIL import Image, ImageDraw

from genova_client import DEFAULT_MODEL
from ui import render, session
from ui.handlers import guarded

PAGE_SIZE = 12
ANY = "any"
TILE_COLOURS = {"failed": (190, 60, 60), "cancelled": (120, 120, 120),
                "queued": (70, 110, 170), "processing": (60, 140, 120)}


@functools.cache
def status_tile(status: str) -> Image.Image:
    """A tile for a job without a picture (failed, cancelled, still running)."""
    tile = Image.new("RGB", (256, 256), TILE_COLOURS.get(status, (100, 100, 100)))
    ImageDraw.Draw(tile).text((128, 128), status, fill="white", anchor="mm", font_size=28)
    return tile


def gallery_item(job: dict, origin: str):
    """``(image, caption)``: the first result on the public origin, with a fragment that
    names the file type (the signed link's query hides it from Gradio)."""
    caption = f"{job['settings'].get('model')} · {job['prompt'][:60]}"
    links = job.get("download_urls") or []
    if job["status"] != "completed" or not links:
        return status_tile(job["status"]), caption
    suffix = "#.mp4" if job["type"] == "video" else "#.png"
    return session.public_link(links[0], origin) + suffix, caption


class GalleryViews:
    @guarded("gallery_msg")
    def load_page(self, creds, status, media, model, page, request: gr.Request = None) -> dict:
        page = max(0, int(page or 0))
        client = self.client(creds, request)
        found = client.jobs.list(status=None if status == ANY else status,
                                 type=None if media == ANY else media,
                                 model=None if model == ANY else model,
                                 limit=PAGE_SIZE, offset=page * PAGE_SIZE)
        pages = max(1, math.ceil(found.total / PAGE_SIZE))
        if page >= pages and found.total:
            return self.load_page(creds, status, media, model, pages - 1, request)
        origin = session.public_origin(request)
        jobs = [job.raw for job in found.jobs]
        c = self.c
        return {c.grid: [gallery_item(job, origin) for job in jobs], c.page_jobs: jobs,
                c.page: page, c.page_label: f"Page {page + 1} of {pages} · {found.total} jobs",
                c.prev: gr.update(interactive=page > 0),
                c.next: gr.update(interactive=page + 1 < pages),
                c.detail: render.detail(None, origin), c.selected: {}, c.gallery_msg: "",
                **self.keep_signed_in(creds, client)}

    def select(self, jobs, evt: gr.SelectData, request: gr.Request = None) -> dict:
        job = (jobs or [])[evt.index] if evt is not None and evt.index < len(jobs or []) else {}
        origin = session.public_origin(request)
        return {self.c.detail: render.detail(job or None, origin), self.c.selected: job,
                self.c.reuse: gr.update(interactive=bool(job)),
                self.c.rerun: gr.update(interactive=bool(job))}

    def reuse(self, job) -> dict:
        """Fill the Create form with this job's prompt and settings."""
        if not job:
            return {}
        settings, c = job.get("settings") or {}, self.c
        model_id = settings.get("model", DEFAULT_MODEL)
        out = self.model_changed(model_id)
        out.update({c.prompt: job.get("prompt", ""), c.model: model_id,
                    c.aspect: settings.get("aspectRatio"), c.priority: settings.get("priority", 0),
                    c.tabs: gr.Tabs(selected="create"),
                    c.create_msg: "Settings copied from the gallery: edit and press Generate."})
        if settings.get("count"):
            out[c.count] = gr.update(value=settings["count"],
                                     interactive=self.models[model_id].max_count > 1)
        if settings.get("quality"):
            out[c.quality] = gr.update(value=settings["quality"], visible=True)
        return out

    @guarded("gallery_msg")
    def run_again(self, creds, me, job, request: gr.Request = None) -> dict:
        if not job:
            return {}
        settings = job.get("settings") or {}
        client = self.client(creds, request)
        created = client.jobs.create(job["prompt"], model=settings.get("model", DEFAULT_MODEL),
                                     aspect_ratio=settings.get("aspectRatio"),
                                     count=settings.get("count"),
                                     quality=settings.get("quality"),
                                     priority=settings.get("priority") or None)
        note = " (without its reference images)" if settings.get("referenceImages") else ""
        return {self.c.tabs: gr.Tabs(selected="create"),
                self.c.credits: render.credits_line(created.credits_remaining),
                self.c.create_msg: f"Running it again{note}: job {created.job_id[:8]}.",
                **self.keep_signed_in(creds, client)}
