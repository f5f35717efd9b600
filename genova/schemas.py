"""Request and response schemas (pydantic). The same classes validate requests and generate
the OpenAPI document, so the docs cannot drift from what the API accepts.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StrictInt, StrictStr

from genova.catalog import ASPECT_RATIOS, DEFAULT_MODEL, FREEPIK_QUALITIES, MODELS, PLATFORMS
from genova.models import JobStatus

ModelId = Literal[tuple(MODELS)]  # type: ignore[valid-type]
AspectRatio = Literal[tuple(ASPECT_RATIOS)]  # type: ignore[valid-type]
Quality = Literal[FREEPIK_QUALITIES]  # type: ignore[valid-type]
JobStatusName = Literal[tuple(s.value for s in JobStatus)]  # the API's names for states
ReferenceMode = Literal[tuple(dict.fromkeys(  # type: ignore[valid-type]
    m for p in PLATFORMS.values() for m in p.reference_modes))]
MAX_OFFSET = 1_000_000

Timestamp = Annotated[str, Field(json_schema_extra={"format": "date-time"},
                                 description="UTC, RFC 3339 (e.g. 2026-01-31T12:00:00Z).")]
Email = Annotated[StrictStr, Field(max_length=254, json_schema_extra={"format": "email"})]


def _whole_number(value):
    """Query strings: digits only (with an optional minus), so ``limit=1.0`` is a 400."""
    if isinstance(value, str) and not re.fullmatch(r"-?[0-9]{1,9}", value):
        raise ValueError("must be a whole number")
    return value


QueryInt = Annotated[int, BeforeValidator(_whole_number)]


def _integral(value):
    """JSON, and JSON Schema's ``integer``, do not tell 1 from 1.0, and some encoders write
    every number with a fraction: an integral number is taken as an integer. Fractions,
    text and booleans are still refused."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


JsonInt = Annotated[StrictInt, BeforeValidator(_integral)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ReferenceImagesIn(Strict):
    images: list[Annotated[StrictStr, Field(min_length=1)]] = Field(
        min_length=1, max_length=4,
        description="1-4 images as data URLs (data:image/png;base64,...) or plain base64. "
                    "PNG, JPEG or WEBP; resized to 512 px on the longest side.")
    mode: ReferenceMode | None = Field(
        None, description="Flow: ingredients (default). Freepik: style (default), character, "
                          "element, color, effects, camera.")


class JobCreate(Strict):
    type: Literal["image", "video"] = Field(description="Must match the model's media type.")
    prompt: StrictStr = Field(min_length=1, max_length=500)
    model: ModelId = Field(DEFAULT_MODEL, description="One of the seven models.")
    aspectRatio: AspectRatio | None = Field(
        None, description="Flow: landscape/portrait/square (default landscape). "
                          "Freepik: 1:1, 4:3, 3:4, 16:9, 9:16, 3:2, 2:3 (default 16:9).")
    count: JsonInt = Field(1, ge=1, le=4, description="1-4 images; videos are always 1.")
    quality: Quality | None = Field(None, description="Freepik only: 1K (default) or 2K.")
    resolution: Quality | None = Field(None, description="Synonym of quality (Freepik only).")
    referenceImages: ReferenceImagesIn | None = None
    priority: JsonInt = Field(0, ge=-100, le=100, description="Higher runs sooner.")


class JobCreated(BaseModel):
    """The job was accepted and your credit debited."""

    success: bool
    jobId: str
    status: JobStatusName
    queuePosition: int | None
    estimatedTime: int | None = Field(description="Seconds until the result is expected.")
    creditsRemaining: int = Field(description="Your credits left after this job's debit.")


class JobOut(BaseModel):
    """A job: its status, settings, timings and results."""

    id: str
    type: Literal["image", "video"]
    status: JobStatusName
    prompt: str
    settings: dict
    result_url: str | None
    result_urls: list[str] | None
    created_at: Timestamp
    started_at: Timestamp | None
    completed_at: Timestamp | None
    processing_time: float | None = Field(
        description="Seconds from start to completion, with a fraction (e.g. 12.84).")
    file_size: int | None
    progress: int | None = None
    error_message: str | None = None
    queue_position: int | None = None
    estimated_time: int | None = None
    download_urls: list[str] | None = Field(
        None, description="Completed jobs: a signed, expiring link to each result, in order "
                          "(the same links GET /api/jobs/:id/download redirects to). They "
                          "need no credentials and cost no API request.")
    generator: dict | None = Field(None, description="What made the results, e.g. the "
                                   "built-in procedural renderer (not an AI model), and how "
                                   "long it took.")


class JobListQuery(Strict):
    status: JobStatusName | None = None
    type: Literal["image", "video"] | None = None
    model: ModelId | None = None
    limit: QueryInt = Field(50, ge=1, le=100)
    offset: QueryInt = Field(0, ge=0, le=MAX_OFFSET)


class JobList(BaseModel):
    """One page of your jobs, newest first, and how many there are."""

    jobs: list[JobOut]
    total: int


class Success(BaseModel):
    """Done."""

    success: bool


class Error(BaseModel):
    error: str
    details: str
    field: str | None = None


class Register(Strict):
    model_config = ConfigDict(json_schema_extra={"examples": [
        {"email": "ada@example.com", "password": "correct horse battery", "name": "Ada"}]})

    email: Email
    password: StrictStr = Field(min_length=8, max_length=256)
    name: StrictStr | None = Field(None, max_length=100)


class Login(Strict):
    model_config = ConfigDict(json_schema_extra={"examples": [
        {"email": "ada@example.com", "password": "correct horse battery"}]})

    email: Email
    password: StrictStr


class UserOut(BaseModel):
    """Your profile, plan and credits."""

    id: str
    email: str
    name: str
    plan: str
    subscription_status: str
    credits_remaining: int
    credits_used: int
    monthly_credits: int
    requests_per_minute: int
    concurrent_jobs: int
    created_at: Timestamp


class Tokens(BaseModel):
    """The account and a fresh pair of tokens."""

    user: UserOut
    accessToken: str
    refreshToken: str


class AccessToken(BaseModel):
    """A new access token."""

    accessToken: str


class ProfileUpdate(Strict):
    model_config = ConfigDict(json_schema_extra={"examples": [{"name": "New Name"}]})

    name: StrictStr = Field(min_length=1, max_length=100)


class Stats(BaseModel):
    """Counts of your jobs and results, and your credits."""

    total_jobs: int
    completed_jobs: int
    failed_jobs: int
    active_jobs: int
    cancelled_jobs: int
    image_jobs: int
    video_jobs: int
    images_generated: int
    videos_generated: int
    credits_remaining: int
    credits_used: int


class KeyCreate(Strict):
    model_config = ConfigDict(json_schema_extra={"examples": [{"name": "My Key"}]})

    name: StrictStr = Field("API key", min_length=1, max_length=100)


class KeyOut(BaseModel):
    id: str
    name: str
    prefix: str
    created_at: Timestamp
    last_used_at: Timestamp | None


class KeyCreated(KeyOut):
    """The new key, in full this one time."""

    key: str = Field(description="The full key. Shown only once.")


class KeyList(BaseModel):
    """Your active API keys."""

    keys: list[KeyOut]


class AspectRatioInfo(BaseModel):
    value: str = Field(description="What to send as aspectRatio.")
    ratio: str = Field(description="Width:height, e.g. 16:9.")
    width: int = Field(description="Pixel width of the result (at the default quality).")
    height: int
    sizes: dict[str, dict[str, int]] | None = Field(
        None, description="Freepik: the pixel size at each quality.")


class GeneratorInfo(BaseModel):
    provider: str = Field(description="procedural, google or freepik.")
    provider_model: str = Field(description="The provider's own model id.")
    ai_model: bool


class ModelInfo(BaseModel):
    id: str
    name: str
    description: str
    platform: Literal[tuple(PLATFORMS)]  # type: ignore[valid-type]
    type: Literal["image", "video"]
    aspect_ratios: list[AspectRatioInfo]
    default_aspect_ratio: str
    min_count: int
    max_count: int
    default_count: int
    qualities: list[str]
    default_quality: str | None
    reference_modes: list[str]
    default_reference_mode: str
    max_reference_images: int
    credit_cost: int = Field(description="Credits one job costs.")
    estimated_seconds: int = Field(description="Typical generation time before any is "
                                   "measured.")
    generator: GeneratorInfo | None = Field(
        None, description="Who makes this model's results on this server: the built-in "
                          "procedural renderer (not an AI model) unless the operator "
                          "configured a provider (GENOVA_GENERATORS).")


class ModelList(BaseModel):
    """Every model with what it accepts and costs."""

    models: list[ModelInfo]


class Health(BaseModel):
    """The process is up."""

    status: Literal["ok"]


class Readiness(BaseModel):
    """Whether each dependency answers ("ok" or "error: <kind>")."""

    status: Literal["ok", "unavailable"]
    checks: dict[str, str]


class UploadedFiles(BaseModel):
    """The stored results."""

    files: list[str] = Field(description="Storage keys, in upload order.")
