"""Generators turn a job spec into files. One small interface, so that real model providers
can be added later without touching the job manager.

``for_model(model_id)`` returns the generator serving that model; by default every model is
served by the built-in procedural renderer, which is *not* an AI model (see ``procedural``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

ProgressFn = Callable[[int, str], None]  # (percent 0-100, message)


@dataclass(frozen=True)
class GenerationRequest:
    job_id: str
    type: str  # "image" | "video"
    model: str
    prompt: str
    settings: dict  # the validated job settings: aspectRatio, count, quality, ...
    references: list[bytes] = field(default_factory=list)  # PNG or JPEG bytes, normalised
    seed: int = 0


@dataclass(frozen=True)
class GeneratedFile:
    data: bytes
    extension: str  # "png" | "mp4"
    content_type: str
    width: int
    height: int


class Generator(Protocol):
    name: str
    is_ai_model: bool

    def generate(self, request: GenerationRequest, progress: ProgressFn
                 ) -> list[GeneratedFile]: ...
