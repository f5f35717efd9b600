"""The Create tab: options that follow the model, reference images, Generate, Cancel."""

from __future__ import annotations

from pathlib import Path

import gradio as gr

from ui import render
from ui.handlers import guarded

MAX_REFERENCES = 4
SHAPES = {"16:9": "▭", "9:16": "▯", "1:1": "□", "4:3": "▭", "3:4": "▯", "3:2": "▭", "2:3": "▯"}
PRIORITIES = (-10, 10)


def aspect_choices(model) -> list[tuple[str, str]]:
    """Named choices with their shape, e.g. ("▭ landscape 16:9 · 1344×756", "landscape")."""
    out = []
    for ratio in model.aspect_ratios:
        name = ratio["value"] if ratio["value"] == ratio["ratio"] else \
            f"{ratio['value']} {ratio['ratio']}"
        label = f"{SHAPES.get(ratio['ratio'], '▭')} {name} · {ratio['width']}×{ratio['height']}"
        out.append((label, ratio["value"]))
    return out


def model_choices(models) -> list[tuple[str, str]]:
    return [(f"{m.name} · {m.platform.title()} {m.type}", m.id) for m in models]


def reference_paths(files) -> list[str]:
    paths = [getattr(f, "name", f) for f in (files or [])]
    return [str(p) for p in paths if p]


class CreateViews:
    def model_changed(self, model_id: str) -> dict:
        """Only the options this model takes, with its defaults."""
        model = self.models[model_id]
        c = self.c
        return {
            c.aspect: gr.update(choices=aspect_choices(model), value=model.default_aspect_ratio),
            c.count: gr.update(maximum=model.max_count, value=model.default_count,
                               interactive=model.max_count > 1),
            c.quality: gr.update(choices=model.qualities, value=model.default_quality,
                                 visible=bool(model.qualities)),
            c.mode: gr.update(choices=model.reference_modes, value=model.default_reference_mode),
            c.model_info: render.model_info(model),
        }

    def references_changed(self, files) -> dict:
        paths = reference_paths(files)
        note = ""
        if len(paths) > MAX_REFERENCES:
            note = f"**Reference images:** at most {MAX_REFERENCES}; remove {len(paths) - 4}."
        return {self.c.ref_preview: gr.update(value=paths or None, visible=bool(paths)),
                self.c.create_msg: note}

    @guarded("create_msg")
    def generate(self, creds, me, prompt, model_id, aspect, count, quality, files, mode,
                 priority, request: gr.Request = None) -> dict:
        prompt = (prompt or "").strip()
        if not prompt:
            return {self.c.create_msg: "**Prompt:** write what you want to see."}
        model = self.models[model_id]
        paths = reference_paths(files)
        if len(paths) > MAX_REFERENCES:
            return {self.c.create_msg: f"**Reference images:** at most {MAX_REFERENCES}."}
        client = self.client(creds, request)
        created = client.jobs.create(
            prompt, model=model_id, aspect_ratio=aspect,
            count=int(count) if model.max_count > 1 else None,
            quality=quality if model.qualities else None,
            reference_images=[Path(p) for p in paths] or None,
            reference_mode=mode if paths else None, priority=int(priority) or None)
        where = f"#{created.queue_position} in the queue" if created.queue_position else "queued"
        return {self.c.create_msg: f"Job {created.job_id[:8]} is {where}.",
                self.c.credits: render.credits_line(created.credits_remaining),
                **self.keep_signed_in(creds, client)}

    @guarded("create_msg")
    def cancel(self, creds, job_id: str, request: gr.Request = None) -> dict:
        job_id = (job_id or "").strip()
        if not job_id:
            return {}
        client = self.client(creds, request)
        client.jobs.cancel(job_id)
        return {self.c.create_msg: f"Job {job_id[:8]} cancelled; its credit is back.",
                **self.keep_signed_in(creds, client)}
