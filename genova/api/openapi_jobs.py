"""``JobCreate`` in the OpenAPI document: one schema per model, derived from the catalog.

The pydantic model validates the shape; the catalog rules (type follows the model, one video
per job, each platform's aspect ratios, qualities and reference modes) are checked in
``services/job_spec.py``. Here the same catalog writes those rules as JSON Schema, a
``oneOf`` with one branch per model, so generated clients and fuzzers know them too.
"""

from __future__ import annotations

import base64
import io
from itertools import permutations

from genova.catalog import DEFAULT_MODEL, MODELS, PLATFORMS, Model

IMAGE_FORMAT = "image-base64"
MAX_PROMPT = 500
PRIORITY = (-100, 100)


def _nullable_enum(values, description: str, default=None) -> dict:
    schema = {"type": ["string", "null"], "enum": [*values, None], "description": description}
    if default is not None:
        schema["default"] = default
    return schema


def _reference_images(platform) -> dict:
    modes = platform.reference_modes
    return {
        "type": "object", "additionalProperties": False, "required": ["images"],
        "description": f"Reference images for {platform.name} models.",
        "properties": {
            "images": {
                "type": "array", "minItems": 1, "maxItems": 4,
                "items": {"type": "string", "minLength": 1, "format": IMAGE_FORMAT,
                          "description": "A PNG, JPEG or WEBP image as a data URL "
                                         "(data:image/png;base64,...) or plain base64; at "
                                         "most 10 MB decoded and 40 megapixels. It is "
                                         "resized to 512 px on its longest side."}},
            "mode": _nullable_enum(modes, "How the references guide the result.", modes[0]),
        },
    }


def _quality(model: Model) -> dict:
    qualities = model.spec.qualities
    if not qualities:
        note = {"type": "null", "description": "Freepik only; leave it out."}
        return {"quality": note, "resolution": note}
    quality = _nullable_enum(qualities, "Output resolution.", qualities[0])
    return {"quality": quality,
            "resolution": {**quality, "description": "Synonym of quality; if both are "
                                                     "sent they must agree."}}


def _disagreeing(model: Model) -> dict | None:
    """quality and resolution may both be sent only with the same value."""
    pairs = list(permutations(model.spec.qualities, 2))
    if not pairs:
        return None
    return {"not": {"anyOf": [{"required": ["quality", "resolution"],
                               "properties": {"quality": {"const": q},
                                              "resolution": {"const": r}}}
                              for q, r in pairs]}}


def _variant(model: Model) -> dict:
    platform = model.spec
    props = {
        "type": {"type": "string", "const": model.media_type,
                 "description": f"{model.name} makes {model.media_type}s."},
        "prompt": {"type": "string", "minLength": 1, "maxLength": MAX_PROMPT,
                   "pattern": r"\S", "description": "What to generate (not blank)."},
        "model": {"type": "string", "const": model.id, "description": model.description},
        "aspectRatio": _nullable_enum(model.aspect_ratios, "The result's shape.",
                                      platform.default_aspect_ratio
                                      if platform.default_aspect_ratio in model.aspect_ratios
                                      else model.aspect_ratios[0]),
        "count": {"type": "integer", "minimum": 1, "maximum": model.max_count, "default": 1,
                  "description": "How many results (a whole number)."},
        **_quality(model),
        "referenceImages": {"anyOf": [
            {"$ref": f"#/components/schemas/ReferenceImages_{platform.name}"},
            {"type": "null"}]},
        "priority": {"type": "integer", "minimum": PRIORITY[0], "maximum": PRIORITY[1],
                     "default": 0, "description": "Higher runs sooner (a whole number)."},
    }
    required = ["type", "prompt"] + ([] if model.id == DEFAULT_MODEL else ["model"])
    variant = {"title": model.id, "type": "object", "additionalProperties": False,
               "required": required, "properties": props}
    if (rule := _disagreeing(model)) is not None:
        variant.update(rule)
    return variant


def job_create_components() -> dict:
    """``JobCreate`` and the per-platform reference-image schemas it refers to."""
    out = {f"ReferenceImages_{p.name}": _reference_images(p) for p in PLATFORMS.values()}
    out["JobCreate"] = {
        "title": "JobCreate",
        "description": f"A generation job. `model` defaults to {DEFAULT_MODEL}; each branch "
                       "below lists what one model accepts. Videos are always count 1.",
        "oneOf": [_variant(m) for m in MODELS.values()],
    }
    return out


def sample_png() -> str:
    """A small real PNG as a data URL, so the examples can be sent as they are."""
    from PIL import Image

    image = Image.new("RGB", (8, 8))
    image.putdata([(x * 32, y * 32, 128) for y in range(8) for x in range(8)])
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def job_create_examples() -> dict:
    """The seed documentation's own request examples (with a real reference image)."""
    png = sample_png()
    bodies = {
        "image": ("An image with Imagen 4", {
            "type": "image", "prompt": "A cat playing piano in a jazz club",
            "model": "imagen4", "aspectRatio": "landscape", "count": 1}),
        "two_images": ("Two images", {
            "type": "image", "prompt": "A futuristic cityscape at sunset",
            "model": "imagen4", "aspectRatio": "landscape", "count": 2}),
        "video": ("A video with VEO 3 Fast", {
            "type": "video", "prompt": "A drone flyover of a coral reef",
            "model": "veo3_fast", "aspectRatio": "landscape"}),
        "ingredients": ("Reference images (Flow)", {
            "type": "image", "prompt": "A sunset over mountains", "model": "imagen4",
            "referenceImages": {"images": [png], "mode": "ingredients"}}),
        "freepik_style": ("Freepik, 2K, with a style reference", {
            "type": "image", "prompt": "A portrait in this style", "model": "freepik",
            "aspectRatio": "1:1", "count": 4, "quality": "2K",
            "referenceImages": {"images": [png], "mode": "style"}}),
    }
    return {name: {"summary": summary, "value": value}
            for name, (summary, value) in bodies.items()}
