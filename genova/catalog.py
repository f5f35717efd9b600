"""The seven models and four plans, as data.

Validation, routing (a job goes to its model's ``platform``), the job manager's Lua
scripts, the workers' command-line choices, the generators and the API docs all read these
tables, so adding a model, a platform or an aspect ratio is a change here and nowhere else
(``tests/test_catalog_extension.py`` adds one of each and runs a job through them).
"""

from __future__ import annotations

from dataclasses import dataclass

FLOW_ASPECT_RATIOS = ("landscape", "portrait", "square")
FREEPIK_ASPECT_RATIOS = ("1:1", "4:3", "3:4", "16:9", "9:16", "3:2", "2:3")
VIDEO_ASPECT_RATIOS = ("landscape", "portrait")
FREEPIK_QUALITIES = ("1K", "2K")
FLOW_REFERENCE_MODES = ("ingredients",)
FREEPIK_REFERENCE_MODES = ("style", "character", "element", "color", "effects", "camera")

# width:height of each aspect-ratio value.
ASPECT_RATIOS: dict[str, tuple[int, int]] = {
    "landscape": (16, 9),
    "portrait": (9, 16),
    "square": (1, 1),
    "1:1": (1, 1),
    "4:3": (4, 3),
    "3:4": (3, 4),
    "16:9": (16, 9),
    "9:16": (9, 16),
    "3:2": (3, 2),
    "2:3": (2, 3),
}


@dataclass(frozen=True)
class Platform:
    name: str
    aspect_ratios: tuple[str, ...]
    default_aspect_ratio: str
    reference_modes: tuple[str, ...]
    qualities: tuple[str, ...] = ()


PLATFORMS = {
    "flow": Platform("flow", FLOW_ASPECT_RATIOS, "landscape", FLOW_REFERENCE_MODES),
    "freepik": Platform(
        "freepik", FREEPIK_ASPECT_RATIOS, "16:9", FREEPIK_REFERENCE_MODES, FREEPIK_QUALITIES
    ),
}


@dataclass(frozen=True)
class Model:
    id: str
    name: str
    platform: str
    media_type: str  # "image" | "video"
    default_seconds: int  # ETA before any measurement exists
    description: str

    @property
    def spec(self) -> Platform:
        return PLATFORMS[self.platform]

    @property
    def max_count(self) -> int:
        return 1 if self.media_type == "video" else 4

    @property
    def aspect_ratios(self) -> tuple[str, ...]:
        """Videos are 16:9 or 9:16 (720p), as VEO renders them; images take the platform's."""
        if self.media_type == "video":
            return VIDEO_ASPECT_RATIOS
        return self.spec.aspect_ratios


MODELS: dict[str, Model] = {
    m.id: m
    for m in (
        Model("imagen4", "Imagen 4", "flow", "image", 30, "Best overall quality and adherence."),
        Model("nano_banana_pro", "Nano Banana Pro", "flow", "image", 25, "Artistic styles."),
        Model("nano_banana2", "Nano Banana 2", "flow", "image", 25, "Photo-realism."),
        Model("veo3_fast", "VEO 3 Fast", "flow", "video", 180, "VEO 3, fast mode."),
        Model("veo3_quality", "VEO 3 Quality", "flow", "video", 300, "VEO 3, maximum quality."),
        Model("veo2_fast", "VEO 2 Fast", "flow", "video", 120, "Fastest video drafts."),
        Model("freepik", "Freepik Pikaso AI", "freepik", "image", 30, "Freepik's generator."),
    )
}
DEFAULT_MODEL = "imagen4"


@dataclass(frozen=True)
class Plan:
    id: str
    name: str
    requests_per_minute: int
    concurrent_jobs: int
    monthly_credits: int

    @property
    def rate_limit(self) -> str:
        return f"{self.requests_per_minute} per minute"


PLANS: dict[str, Plan] = {
    p.id: p
    for p in (
        Plan("free", "Free", 10, 2, 50),
        Plan("starter", "Starter", 60, 5, 500),
        Plan("pro", "Pro", 100, 10, 2000),
        Plan("business", "Business", 300, 25, 10000),
    )
}
DEFAULT_PLAN = "free"
