"""HTML and Markdown for what the studio shows: pure functions of API data, so they are
tested without a browser. Everything from users (prompts, names) is escaped."""

from __future__ import annotations

from html import escape

from ui.session import public_link

PLACEHOLDER_NOTE = "Placeholder render by the built-in procedural generator, not AI output"
ACTIVE = ("pending", "queued", "processing")


def _when(value: str | None) -> str:
    return value.replace("T", " ").replace("Z", " UTC") if value else "-"


def _size(n: int | None) -> str:
    if not n:
        return "-"
    return f"{n / 1024 / 1024:.1f} MB" if n >= 1024 * 1024 else f"{n / 1024:.0f} KB"


def placeholder(job: dict) -> bool:
    return (job.get("generator") or {}).get("ai_model") is False


def media(job: dict, origin: str, *, large: bool = False) -> str:
    """The results of a completed job as <img>/<video> elements on the public origin."""
    links = [public_link(u, origin) for u in job.get("download_urls") or []]
    css = "gv-large" if large else "gv-thumb"
    items = []
    for i, link in enumerate(links, 1):
        label = f"Result {i} of {len(links)}: {escape(job.get('prompt', ''))[:80]}"
        if job.get("type") == "video":
            items.append(f'<video class="{css}" src="{escape(link)}" controls loop muted '
                         f'playsinline preload="metadata" aria-label="{label}"></video>')
        else:
            items.append(f'<a href="{escape(link)}" target="_blank" rel="noopener">'
                         f'<img class="{css}" src="{escape(link)}" alt="{label}" '
                         f'loading="lazy"></a>')
    note = f'<div class="gv-note">{PLACEHOLDER_NOTE}</div>' if placeholder(job) else ""
    return f'<div class="gv-results">{"".join(items)}</div>{note}'


def _state_line(job: dict) -> str:
    status = job.get("status")
    if status in ("queued", "pending"):
        position, eta = job.get("queue_position"), job.get("estimated_time")
        where = f"Queued #{position}" if position else "Queued"
        return f'<div class="gv-state">{where}' + (f" · about {eta} s" if eta else "") + "</div>"
    if status == "processing":
        percent = int(job.get("progress") or 0)
        message = escape(job.get("message") or "")
        return (f'<div class="gv-state"><progress max="100" value="{percent}" '
                f'aria-label="Progress {percent}%"></progress> {percent}% {message}</div>')
    if status == "failed":
        error = escape(job.get("error_message") or "failed")
        return f'<div class="gv-error" role="alert">Failed: {error} · credit refunded</div>'
    if status == "cancelled":
        return '<div class="gv-state">Cancelled · credit refunded</div>'
    return ""


def job_card(job: dict, origin: str) -> str:
    settings = job.get("settings") or {}
    status = job.get("status", "")
    cancel = ""
    if status in ("pending", "queued"):
        cancel = (f'<button class="gv-cancel" data-cancel="{escape(job["id"])}" '
                  f'aria-label="Cancel this job">Cancel</button>')
    shape = " · ".join(str(v) for v in (settings.get("model"), settings.get("aspectRatio"),
                                        f"{settings.get('count', 1)}×") if v)
    body = media(job, origin) if status == "completed" else _state_line(job)
    return (f'<article class="gv-card gv-{escape(status)}" data-job="{escape(job["id"])}">'
            f'<header><span class="gv-badge">{escape(status)}</span> {escape(shape)}'
            f'<span class="gv-time">{_when(job.get("created_at"))}</span>{cancel}</header>'
            f'<p class="gv-prompt">{escape(job.get("prompt", ""))}</p>{body}</article>')


def queue(jobs: list[dict], origin: str) -> str:
    if not jobs:
        return ('<div class="gv-queue gv-empty">No jobs yet. Write a prompt and press '
                '<b>Generate</b> (or Ctrl+Enter).</div>')
    cards = "".join(job_card(job, origin) for job in jobs)
    return f'<div class="gv-queue" aria-live="polite">{cards}</div>'


def detail(job: dict | None, origin: str) -> str:
    if not job:
        return '<div class="gv-detail gv-empty">Pick a result to see it large.</div>'
    settings = job.get("settings") or {}
    rows = [("Status", job.get("status")), ("Model", settings.get("model")),
            ("Aspect ratio", settings.get("aspectRatio")), ("Count", settings.get("count")),
            ("Quality", settings.get("quality")), ("Priority", settings.get("priority")),
            ("References", (settings.get("referenceImages") or {}).get("count")),
            ("Created", _when(job.get("created_at"))), ("Started", _when(job.get("started_at"))),
            ("Finished", _when(job.get("completed_at"))),
            ("Processing", f"{job['processing_time']:.1f} s" if job.get("processing_time")
             else None), ("Size", _size(job.get("file_size")))]
    table = "".join(f"<tr><th>{escape(k)}</th><td>{escape(str(v))}</td></tr>"
                    for k, v in rows if v not in (None, ""))
    downloads = "".join(
        f'<a class="gv-download" href="{escape(public_link(u, origin))}" download>'
        f'Download result {i}</a> ' for i, u in enumerate(job.get("download_urls") or [], 1))
    return (f'<div class="gv-detail">{media(job, origin, large=True)}'
            f'<p class="gv-prompt">{escape(job.get("prompt", ""))}</p>'
            f'<div class="gv-downloads">{downloads}</div>'
            f'<table class="gv-facts">{table}</table></div>')


def account_line(me: dict | None) -> str:
    """The header line: who is signed in, their plan and credits (``me`` as the API's JSON)."""
    if not me:
        return ""
    name, email = me.get("name") or me.get("email", ""), me.get("email", "")
    return f"**{escape(name)}** · {escape(email)} · {str(me.get('plan', '')).title()} plan"


def credits_line(remaining) -> str:
    return "" if remaining is None else f"**{remaining}** credits left"


def profile(me) -> str:
    return (f"- **Email:** {escape(me.email)}\n- **Name:** {escape(me.name)}\n"
            f"- **Plan:** {me.plan.title()} ({me.subscription_status})\n"
            f"- **Credits:** {me.credits_remaining} left, {me.credits_used} used of "
            f"{me.monthly_credits} this month\n"
            f"- **Limits:** {me.requests_per_minute} requests a minute, {me.concurrent_jobs} "
            f"jobs at a time")


def stats(s) -> str:
    return (f"| Jobs | Completed | Failed | Cancelled | Active | Images | Videos |\n"
            f"|---|---|---|---|---|---|---|\n"
            f"| {s.total_jobs} | {s.completed_jobs} | {s.failed_jobs} | {s.cancelled_jobs} | "
            f"{s.active_jobs} | {s.images_generated} | {s.videos_generated} |")


def model_info(model) -> str:
    sizes = ", ".join(f"{r['value']} ({r['width']}×{r['height']})" for r in model.aspect_ratios)
    return (f"**{escape(model.name)}** · {model.platform.title()} · {model.type} · "
            f"{model.credit_cost} credit · about {model.estimated_seconds} s  \n"
            f"{escape(model.description)}  \nSizes: {sizes}")
