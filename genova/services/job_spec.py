"""Catalog rules that a schema alone cannot express: what each model and platform allows."""

from __future__ import annotations

from dataclasses import dataclass, field

from genova.catalog import MODELS
from genova.errors import ValidationError
from genova.generators import Unsupported
from genova.offload import offload
from genova.schemas import JobCreate
from genova.services.images import NormalizedImage, normalize_reference_images

IMAGE_BUDGET = 10.0  # seconds of decoding one request may take (it is about 0.1 s per MP)


@dataclass(frozen=True)
class JobSpec:
    type: str
    prompt: str
    model: str
    platform: str
    priority: int
    settings: dict
    images: list[NormalizedImage] = field(default_factory=list)


def _choose(value, allowed: tuple[str, ...], default: str, *, name: str, model: str) -> str:
    value = default if value is None else value
    if value not in allowed:
        raise ValidationError(
            f"{name} {value!r} is not available for model {model!r}; use one of "
            f"{', '.join(allowed)}", field=name)
    return value


def _quality(req: JobCreate, platform) -> str | None:
    if req.quality and req.resolution and req.quality != req.resolution:
        raise ValidationError("quality and resolution disagree; send only one", field="quality")
    value = req.quality or req.resolution
    if not platform.qualities:
        if value is not None:
            name = "quality" if req.quality else "resolution"
            raise ValidationError(f"{name} is a Freepik-only setting; model {req.model!r} "
                                  "runs on Flow", field=name)
        return None
    return _choose(value, platform.qualities, platform.qualities[0], name="quality",
                   model=req.model)


def build_spec(req: JobCreate, *, max_image_bytes: int = 10 * 1024 * 1024,
               generators=None) -> JobSpec:
    """Validate a parsed request against the catalog, then against what the generator serving
    the model can do (``generators``: a ``Registry``), and decode its reference images."""
    model = MODELS[req.model]
    platform = model.spec
    if req.type != model.media_type:
        raise ValidationError(f"model {model.id!r} makes {model.media_type}s; set type to "
                              f"{model.media_type!r}", field="type")
    prompt = req.prompt.strip()
    if not prompt:
        raise ValidationError("prompt must not be blank", field="prompt")
    if req.count > model.max_count:
        raise ValidationError(f"count must be 1 for video models; {model.id!r} makes one video "
                              "per job", field="count")
    settings = {
        "model": model.id,
        "aspectRatio": _choose(req.aspectRatio, model.aspect_ratios,
                               platform.default_aspect_ratio, name="aspectRatio",
                               model=model.id),
        "count": req.count,
    }
    quality = _quality(req, platform)
    if quality:
        settings["quality"] = quality
    if req.referenceImages is not None:
        mode = _choose(req.referenceImages.mode, platform.reference_modes,
                       platform.reference_modes[0], name="referenceImages.mode",
                       model=model.id)
        settings["referenceImages"] = {"mode": mode, "count": len(req.referenceImages.images)}
    if generators is not None:
        _check_generator(generators, model.id, settings)
    images = [] if req.referenceImages is None else offload(
        normalize_reference_images, req.referenceImages.images, max_bytes=max_image_bytes,
        budget=IMAGE_BUDGET, what="decoding the reference images",
        field="referenceImages.images")
    if req.priority:
        settings["priority"] = req.priority
    return JobSpec(type=req.type, prompt=prompt, model=model.id,
                   platform=model.platform, priority=req.priority,
                   settings=settings, images=images)


def _check_generator(generators, model_id: str, settings: dict) -> None:
    """What the model's generator cannot do here (e.g. Imagen and reference images) is a 400
    now, before any credit is taken."""
    try:
        generators.for_model(model_id).check(settings)
    except Unsupported as exc:
        raise ValidationError(str(exc), field=exc.field) from None
