"""Following jobs live: parsing ``/ws/user`` messages, and ``JobWatch``, the state of one
``wait`` (shared by the sync and async clients) with its progress bar."""

from __future__ import annotations

import json
import sys

from genova_client.types import Event, Job

IDLE_CHECK = 30.0  # seconds without news before ``wait`` re-reads the job over REST
BACKOFF_START, BACKOFF_MAX = 0.5, 30.0


def parse_event(raw: str | bytes) -> Event:
    try:
        message = json.loads(raw)
    except ValueError:
        return Event("invalid", {"raw": raw if isinstance(raw, str) else raw.decode("latin-1")})
    if not isinstance(message, dict):
        return Event("invalid", {"raw": message})
    return Event(str(message.get("type", "unknown")), message)


def next_backoff(delay: float) -> float:
    return min(BACKOFF_MAX, delay * 2)


def _in_notebook() -> bool:
    shell = sys.modules.get("IPython")
    try:
        return bool(shell) and type(shell.get_ipython()).__name__ == "ZMQInteractiveShell"
    except AttributeError:
        return False


def make_bar(**kwargs):
    """tqdm's notebook widget inside Jupyter (when ipywidgets is installed), else the text
    bar on stderr."""
    if _in_notebook():
        try:
            import ipywidgets  # noqa: F401
            from tqdm.notebook import tqdm

            return tqdm(**kwargs)
        except ImportError:
            pass
    from tqdm import tqdm

    return tqdm(**kwargs)


class ProgressBar:
    """Queue position and ETA while queued, then percent and the worker's message."""

    def __init__(self, job_id: str, enabled: bool):
        self.bar = None
        if enabled:
            self.bar = make_bar(total=100, desc=f"job {job_id[:8]}", leave=True, unit="",
                                bar_format="{desc}: {percentage:3.0f}%|{bar}| {unit}")

    def update(self, *, status: str, percent: int | None = None, position=None, eta=None,
               message: str | None = None) -> None:
        if self.bar is None:
            return
        if status == "queued" and position is not None:
            note = f"queued #{position}" + (f", ETA {eta}s" if eta is not None else "")
        else:
            note = status if not message else f"{status}: {message}"
        if percent is not None:
            self.bar.n = max(0, min(100, int(percent)))
        self.bar.unit = note[:60]
        self.bar.refresh()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


class JobWatch:
    """Everything ``wait`` knows about one job, from REST snapshots and socket events."""

    def __init__(self, job_id: str, progress: bool):
        self.job_id = job_id
        self.bar = ProgressBar(job_id, progress)

    def snapshot(self, job: Job) -> bool:
        """Record the job as read over REST; True once it is finished."""
        self.bar.update(status=job.status, percent=100 if job.status == "completed"
                        else job.progress, position=job.queue_position,
                        eta=job.estimated_time, message=job.error_message)
        return job.done

    def event(self, event: Event) -> bool:
        """Record a socket event; True when it says the job finished."""
        if event.job_id != self.job_id:
            return False
        data = event.data
        if event.type == "job_queued":
            self.bar.update(status="queued", position=data.get("queuePosition"),
                            eta=data.get("estimatedTime"))
        elif event.type == "job_started":
            self.bar.update(status="processing", percent=0)
        elif event.type == "job_progress":
            self.bar.update(status="processing", percent=data.get("progress"),
                            message=data.get("message"))
        return event.final

    def close(self) -> None:
        self.bar.close()
