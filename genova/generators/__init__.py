"""Generators turn a job spec into files: one contract for the built-in procedural renderer
and the real providers (Google, Freepik).

``genova.generators.registry`` picks the generator of each model from ``GENOVA_GENERATORS``
(by default every model is served by ``procedural``, which is *not* an AI model). A
generator:

- says what it is (``describe()``: provider, provider model, ``ai_model``), which is stored
  with every result;
- refuses, when the job is *created*, what its model cannot do (``check(settings)`` raises
  ``Unsupported``: a 400 naming the setting);
- reports progress through the callback and stops when ``request.stop()`` gives a reason
  (the per-job deadline passed, or the worker lost the job's lease), raising ``Stopped``;
- fails with a ``GenerationError`` whose ``user_message`` is safe to show (never a secret,
  an address or a path); the job is then failed and its credit refunded.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

ProgressFn = Callable[[int, str], None]  # (percent 0-100, message)


def _never() -> str | None:
    return None


@dataclass(frozen=True)
class GenerationRequest:
    job_id: str
    type: str  # "image" | "video"
    model: str
    prompt: str
    settings: dict  # the validated job settings: aspectRatio, count, quality, ...
    references: list[bytes] = field(default_factory=list)  # PNG or JPEG bytes, normalised
    seed: int = 0
    # Why to stop now (e.g. "the job's deadline passed"), or None to go on; generators that
    # wait on a provider ask between polls.
    stop: Callable[[], str | None] = _never

    @property
    def reference_mode(self) -> str | None:
        return (self.settings.get("referenceImages") or {}).get("mode")


@dataclass(frozen=True)
class GeneratedFile:
    data: bytes
    extension: str  # "png" | "jpg" | "mp4"
    content_type: str
    width: int
    height: int


class Unsupported(ValueError):
    """The model, as this generator serves it, cannot do what a job asks (a 400 at
    creation). ``field`` names the request field."""

    def __init__(self, message: str, *, field: str):
        super().__init__(message)
        self.field = field


class GenerationError(Exception):
    """A job's generation failed for a reason its user may read (``user_message``); the job
    is failed and refunded."""

    def __init__(self, user_message: str):
        super().__init__(user_message)
        self.user_message = user_message


class ContentRefused(GenerationError):
    """The provider's safety filter declined the prompt or the result."""


class ProviderUnavailable(GenerationError):
    """The provider kept failing (rate limit, 5xx, timeouts) past the retry budget, or it
    refused Genova's credentials."""


class Stopped(Exception):
    """Generation stopped because ``request.stop()`` gave a reason."""


class Generator(Protocol):
    name: str  # the provider: "procedural", "google", "freepik"
    is_ai_model: bool

    def describe(self) -> dict:
        """Stored with the results: ``generator``, ``provider``, ``provider_model``,
        ``ai_model`` and anything else worth knowing (a note, the formats)."""
        ...

    def check(self, settings: dict) -> None:
        """Raise ``Unsupported`` for settings this model cannot honour here."""
        ...

    def generate(self, request: GenerationRequest, progress: ProgressFn
                 ) -> list[GeneratedFile]: ...

    def probe(self) -> str:
        """One cheap call to the provider (``flask providers check``); returns what it saw,
        raises on failure."""
        ...
