"""Typed responses: each API object as a dataclass, built from the JSON the API returns.

Unknown keys are kept in ``raw`` (never an error), so a newer server does not break an
older client.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any, ClassVar

FINAL_STATUSES = frozenset({"completed", "failed", "cancelled"})
# Media type of each model, so ``type`` can follow ``model`` when the caller omits it.
VIDEO_MODELS = frozenset({"veo3_fast", "veo3_quality", "veo2_fast"})


def media_type(model: str) -> str:
    return "video" if model in VIDEO_MODELS else "image"


def parse_time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


class _Record:
    """``from_dict`` maps JSON keys (snake_case or the documented camelCase) to fields."""

    _aliases: ClassVar[dict[str, str]] = {}
    _times: ClassVar[tuple[str, ...]] = ()

    @classmethod
    def from_dict(cls, data: dict):
        names = {f.name for f in fields(cls)} - {"raw"}
        values: dict[str, Any] = {}
        for key, value in data.items():
            name = cls._aliases.get(key, key)
            if name in names:
                values[name] = parse_time(value) if name in cls._times else value
        return cls(**values, raw=data)


@dataclass
class User(_Record):
    id: str
    email: str
    name: str
    plan: str
    subscription_status: str = "active"
    credits_remaining: int = 0
    credits_used: int = 0
    monthly_credits: int | None = None
    requests_per_minute: int | None = None
    concurrent_jobs: int | None = None
    created_at: datetime | None = None
    raw: dict = field(default_factory=dict, repr=False)
    _times: ClassVar[tuple[str, ...]] = ("created_at",)


@dataclass
class Stats(_Record):
    total_jobs: int = 0
    completed_jobs: int = 0
    failed_jobs: int = 0
    active_jobs: int = 0
    cancelled_jobs: int = 0
    image_jobs: int = 0
    video_jobs: int = 0
    images_generated: int = 0
    videos_generated: int = 0
    credits_remaining: int = 0
    credits_used: int = 0
    raw: dict = field(default_factory=dict, repr=False)


@dataclass
class ApiKey(_Record):
    id: str
    name: str
    prefix: str
    created_at: datetime | None = None
    last_used_at: datetime | None = None
    key: str | None = field(default=None, repr=False)  # only when just created
    raw: dict = field(default_factory=dict, repr=False)
    _times: ClassVar[tuple[str, ...]] = ("created_at", "last_used_at")


@dataclass
class Tokens:
    """What register and login answer: the user and a pair of JWTs."""

    user: User
    access_token: str = field(repr=False)
    refresh_token: str | None = field(default=None, repr=False)

    @classmethod
    def from_dict(cls, data: dict) -> Tokens:
        return cls(User.from_dict(data["user"]), data["accessToken"], data.get("refreshToken"))


@dataclass
class ModelInfo(_Record):
    """One model of ``GET /api/models``: what it makes and which options it takes."""

    id: str
    name: str
    platform: str
    type: str
    description: str = ""
    aspect_ratios: list[dict] = field(default_factory=list)  # value, ratio, width, height
    default_aspect_ratio: str | None = None
    min_count: int = 1
    max_count: int = 1
    default_count: int = 1
    qualities: list[str] = field(default_factory=list)
    default_quality: str | None = None
    reference_modes: list[str] = field(default_factory=list)
    default_reference_mode: str | None = None
    max_reference_images: int = 4
    credit_cost: int = 1
    estimated_seconds: int | None = None
    # Who makes the results on this server: {"provider", "provider_model", "ai_model"}
    generator: dict | None = None
    raw: dict = field(default_factory=dict, repr=False)

    @property
    def ai_model(self) -> bool | None:
        """False for the built-in procedural renderer (placeholders); None if not said."""
        return (self.generator or {}).get("ai_model")

    @property
    def aspect_values(self) -> list[str]:
        return [ratio["value"] for ratio in self.aspect_ratios]


@dataclass
class JobCreated(_Record):
    """What ``POST /api/jobs`` answers: the new job's id, status and place in the queue."""

    job_id: str
    status: str
    success: bool = True
    queue_position: int | None = None
    estimated_time: int | None = None
    credits_remaining: int | None = None
    raw: dict = field(default_factory=dict, repr=False)
    _aliases: ClassVar[dict[str, str]] = {"jobId": "job_id", "queuePosition": "queue_position",
                                          "estimatedTime": "estimated_time",
                                          "creditsRemaining": "credits_remaining"}

    @property
    def id(self) -> str:
        return self.job_id


@dataclass
class Job(_Record):
    id: str
    type: str
    status: str
    prompt: str
    settings: dict = field(default_factory=dict)
    result_url: str | None = None
    result_urls: list[str] | None = None
    created_at: datetime | None = None
    started_at: datetime | None = None
    completed_at: datetime | None = None
    processing_time: float | None = None
    file_size: int | None = None
    progress: int | None = None
    error_message: str | None = None
    queue_position: int | None = None
    estimated_time: int | None = None
    generator: dict | None = None
    download_urls: list[str] | None = field(default=None, repr=False)
    raw: dict = field(default_factory=dict, repr=False)
    _times: ClassVar[tuple[str, ...]] = ("created_at", "started_at", "completed_at")

    @property
    def model(self) -> str | None:
        return self.settings.get("model")

    @property
    def done(self) -> bool:
        return self.status in FINAL_STATUSES

    @property
    def result_keys(self) -> list[str]:
        """Storage keys of the results, in order (``result_urls``, else ``result_url``)."""
        if self.result_urls:
            return list(self.result_urls)
        return [self.result_url] if self.result_url else []

    @property
    def queue_wait(self) -> float | None:
        """Seconds from creation until a worker started it."""
        if self.created_at and self.started_at:
            return (self.started_at - self.created_at).total_seconds()
        return None


@dataclass
class JobPage:
    jobs: list[Job]
    total: int
    limit: int
    offset: int

    def __iter__(self):
        return iter(self.jobs)

    def __len__(self) -> int:
        return len(self.jobs)


@dataclass
class Event:
    """One message from ``/ws/user``: ``type`` plus the message's fields (``data``)."""

    type: str
    data: dict = field(default_factory=dict)

    FINAL = frozenset({"job_completed", "job_failed", "job_cancelled"})

    @property
    def job_id(self) -> str | None:
        return self.data.get("jobId")

    @property
    def final(self) -> bool:
        return self.type in self.FINAL

    def __getattr__(self, name: str):
        """``event.progress``, ``event.queuePosition``... read the message's fields."""
        data = self.__dict__.get("data", {})
        if name in data:
            return data[name]
        raise AttributeError(name)
