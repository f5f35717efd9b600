"""Request and response schemas (pydantic). The same classes validate requests and generate
the OpenAPI document, so the docs cannot drift from what the API accepts.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr

from genova.catalog import ASPECT_RATIOS, FREEPIK_QUALITIES, MODELS

ModelId = Literal[tuple(MODELS)]  # type: ignore[valid-type]
AspectRatio = Literal[tuple(ASPECT_RATIOS)]  # type: ignore[valid-type]
Quality = Literal[FREEPIK_QUALITIES]  # type: ignore[valid-type]
JobStatus = Literal["pending", "queued", "processing", "completed", "failed", "cancelled"]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ReferenceImagesIn(Strict):
    images: list[StrictStr] = Field(
        min_length=1, max_length=4,
        description="1-4 images as data URLs (data:image/png;base64,...) or plain base64. "
                    "PNG, JPEG or WEBP; resized to 512 px on the longest side.")
    mode: StrictStr | None = Field(
        None, description="Flow: ingredients (default). Freepik: style (default), character, "
                          "element, color, effects, camera.")


class JobCreate(Strict):
    type: Literal["image", "video"] = Field(description="Must match the model's media type.")
    prompt: StrictStr = Field(min_length=1, max_length=500)
    model: ModelId = Field("imagen4", description="One of the seven models.")
    aspectRatio: AspectRatio | None = Field(
        None, description="Flow: landscape/portrait/square (default landscape). "
                          "Freepik: 1:1, 4:3, 3:4, 16:9, 9:16, 3:2, 2:3 (default 16:9).")
    count: StrictInt = Field(1, ge=1, le=4, description="1-4 images; videos are always 1.")
    quality: Quality | None = Field(None, description="Freepik only: 1K (default) or 2K.")
    resolution: Quality | None = Field(None, description="Synonym of quality (Freepik only).")
    referenceImages: ReferenceImagesIn | None = None
    priority: StrictInt = Field(0, ge=-100, le=100, description="Higher runs sooner.")


class JobCreated(BaseModel):
    success: bool
    jobId: str
    status: JobStatus
    queuePosition: int | None
    estimatedTime: int | None = Field(description="Seconds until the result is expected.")
    creditsRemaining: int = Field(description="Your credits left after this job's debit.")


class JobOut(BaseModel):
    id: str
    type: Literal["image", "video"]
    status: JobStatus
    prompt: str
    settings: dict
    result_url: str | None
    result_urls: list[str] | None
    created_at: str
    started_at: str | None
    completed_at: str | None
    processing_time: float | None
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
    status: JobStatus | None = None
    type: Literal["image", "video"] | None = None
    model: ModelId | None = None
    limit: int = Field(50, ge=1, le=100)
    offset: int = Field(0, ge=0)


class JobList(BaseModel):
    jobs: list[JobOut]
    total: int


class Success(BaseModel):
    success: bool


class Error(BaseModel):
    error: str
    details: str
    field: str | None = None


class Register(Strict):
    email: StrictStr
    password: StrictStr = Field(min_length=8, max_length=256)
    name: StrictStr | None = Field(None, max_length=100)


class Login(Strict):
    email: StrictStr
    password: StrictStr


class UserOut(BaseModel):
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
    created_at: str


class Tokens(BaseModel):
    user: UserOut
    accessToken: str
    refreshToken: str


class AccessToken(BaseModel):
    accessToken: str


class ProfileUpdate(Strict):
    name: StrictStr = Field(min_length=1, max_length=100)


class Stats(BaseModel):
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
    name: StrictStr = Field("API key", min_length=1, max_length=100)


class KeyOut(BaseModel):
    id: str
    name: str
    prefix: str
    created_at: str
    last_used_at: str | None


class KeyCreated(KeyOut):
    key: str = Field(description="The full key. Shown only once.")


class KeyList(BaseModel):
    keys: list[KeyOut]


class AspectRatioInfo(BaseModel):
    value: str = Field(description="What to send as aspectRatio.")
    ratio: str = Field(description="Width:height, e.g. 16:9.")
    width: int = Field(description="Pixel width of the result (at the default quality).")
    height: int
    sizes: dict[str, dict[str, int]] | None = Field(
        None, description="Freepik: the pixel size at each quality.")


class ModelInfo(BaseModel):
    id: str
    name: str
    description: str
    platform: Literal["flow", "freepik"]
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


class ModelList(BaseModel):
    models: list[ModelInfo]


class UploadedFiles(BaseModel):
    files: list[str] = Field(description="Storage keys, in upload order.")
