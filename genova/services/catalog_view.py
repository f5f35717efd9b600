"""The model catalogue as clients see it (``GET /api/models``): every option of every
model, with the pixel sizes it renders, so no client hard-codes them."""

from __future__ import annotations

from genova.catalog import ASPECT_RATIOS, MODELS, VIDEO_ASPECT_RATIOS, Model
from genova.generators.sizes import image_size

MAX_REFERENCE_IMAGES = 4
CREDIT_COST = 1


def _ratio(model: Model, value: str) -> dict:
    rw, rh = ASPECT_RATIOS[value]
    width, height = image_size(model.id, {"aspectRatio": value})
    entry = {"value": value, "ratio": f"{rw}:{rh}", "width": width, "height": height}
    if model.spec.qualities and model.media_type == "image":
        entry["sizes"] = {}
        for quality in model.spec.qualities:
            w, h = image_size(model.id, {"aspectRatio": value, "quality": quality})
            entry["sizes"][quality] = {"width": w, "height": h}
    return entry


def describe(model: Model, generators=None) -> dict:
    video = model.media_type == "video"
    qualities = [] if video else list(model.spec.qualities)
    return {
        "id": model.id, "name": model.name, "description": model.description,
        "platform": model.platform, "type": model.media_type,
        "aspect_ratios": [_ratio(model, value) for value in model.aspect_ratios],
        "default_aspect_ratio": VIDEO_ASPECT_RATIOS[0] if video
        else model.spec.default_aspect_ratio,
        "min_count": 1, "max_count": model.max_count, "default_count": 1,
        "qualities": qualities, "default_quality": qualities[0] if qualities else None,
        "reference_modes": list(model.spec.reference_modes),
        "default_reference_mode": model.spec.reference_modes[0],
        "max_reference_images": MAX_REFERENCE_IMAGES,
        "credit_cost": CREDIT_COST, "estimated_seconds": model.default_seconds,
        "generator": _generator(model, generators),
    }


def _generator(model: Model, generators) -> dict | None:
    """Who makes this model's results on this server (GENOVA_GENERATORS)."""
    if generators is None:
        return None
    info = generators.for_model(model.id).describe()
    return {k: info[k] for k in ("provider", "provider_model", "ai_model")}


def describe_models(generators=None) -> list[dict]:
    """``generators``: the server's ``Registry``, to say who serves each model."""
    return [describe(model, generators) for model in MODELS.values()]
