"""How the Freepik fake (``freepik_api.py``) validates a Mystic request body: the live API's
pydantic-style 400 answers, field by field."""

from __future__ import annotations

import base64
import binascii
import io
import re
from typing import Any

RESOLUTIONS = ("1k", "2k", "4k")
# The order of the live API's own validation message (captured answer, see the notes); the last
# two are accepted by the live API although the published enum does not list them.
ASPECT_RATIOS = ("square_1_1", "classic_4_3", "traditional_3_4", "widescreen_16_9",
                 "social_story_9_16", "smartphone_horizontal_20_9", "smartphone_vertical_9_20",
                 "film_horizontal_21_9", "film_vertical_9_21", "standard_3_2", "portrait_2_3",
                 "horizontal_2_1", "vertical_1_2", "social_5_4", "social_post_4_5")
MODELS = ("fluid", "realism", "zen", "flexible", "super_real", "editorial_portraits")
ENGINES = ("automatic", "magnific_illusio", "magnific_sharpy", "magnific_sparkle")
FLUID_ASPECTS = ("square_1_1", "social_story_9_16", "widescreen_16_9", "traditional_3_4",
                 "classic_4_3")
COLOR_RE = re.compile(r"^#[0-9A-F]{6}$")


def _input_list(values) -> str:
    quoted = [f"'{v}'" for v in values]
    return ", ".join(quoted[:-1]) + f" or {quoted[-1]}"


# ---- validation (the live API's pydantic-style answer) -------------------------------------

NOT_OBJECT = "Input should be a valid dictionary or object to extract fields from"


class _Checker:
    """Collects ``invalid_params`` entries the way the live API words them."""

    def __init__(self) -> None:
        self.errs: list[dict[str, str]] = []

    def bad(self, loc: str, reason: str) -> None:
        self.errs.append({"field": f"body.{loc}" if loc else "body", "reason": reason})

    def failed(self, loc: str) -> bool:
        return any(e["field"] == f"body.{loc}" for e in self.errs)

    def enum(self, body: dict, name: str, values) -> None:
        if name in body and body[name] not in values:
            self.bad(name, f"Input should be {_input_list(values)}")

    def number(self, obj: dict, key: str, loc: str, lo, hi, *, required=False,
               integer=False) -> None:
        if key not in obj:
            if required:
                self.bad(loc, "Field required")
            return
        v = obj[key]
        kind = "integer" if integer else "number"
        if isinstance(v, bool) or not isinstance(v, (int, float)) or (
                integer and isinstance(v, float) and not v.is_integer()):
            self.bad(loc, f"Input should be a valid {kind}")
        elif v < lo:
            self.bad(loc, f"Input should be greater than or equal to {lo}")
        elif v > hi:
            self.bad(loc, f"Input should be less than or equal to {hi}")

    def boolean(self, body: dict, name: str) -> None:
        if name in body and not isinstance(body[name], bool):
            self.bad(name, "Input should be a valid boolean")

    def string(self, obj: dict, key: str, loc: str, *, required=False) -> None:
        if key not in obj or obj[key] is None:
            if required:
                self.bad(loc, "Field required")
        elif not isinstance(obj[key], str):
            self.bad(loc, "Input should be a valid string")

    def items(self, styling: dict, name: str, max_items: int, min_items: int = 0) -> list:
        v = styling.get(name)
        if v is None:
            return []
        loc = f"styling.{name}"
        if not isinstance(v, list):
            self.bad(loc, "Input should be a valid list")
            return []
        if len(v) > max_items:
            plural = "s" if max_items != 1 else ""
            self.bad(loc, f"List should have at most {max_items} item{plural} after "
                          f"validation, not {len(v)}")
        if len(v) < min_items:
            self.bad(loc, f"List should have at least {min_items} item after validation, "
                          f"not {len(v)}")
        good = [(i, x) for i, x in enumerate(v) if isinstance(x, dict)]
        for i, x in enumerate(v):
            if not isinstance(x, dict):
                self.bad(f"{loc}.{i}", NOT_OBJECT)
        return good


def _check_webhook(c: _Checker, body: dict) -> None:
    v = body.get("webhook_url")
    if v is not None and (not isinstance(v, str) or not re.match(r"^https?://[^\s/]+", v)):
        c.bad("webhook_url", "Input should be a valid URL, relative URL without a base")


def _check_styling(c: _Checker, styling: Any) -> None:
    if styling is None:
        return
    if not isinstance(styling, dict):
        c.bad("styling", NOT_OBJECT)
        return
    for i, item in c.items(styling, "styles", 1):
        c.string(item, "name", f"styling.styles.{i}.name", required=True)
        c.number(item, "strength", f"styling.styles.{i}.strength", 0, 200)
    for i, item in c.items(styling, "characters", 1):
        c.string(item, "id", f"styling.characters.{i}.id")
        c.number(item, "strength", f"styling.characters.{i}.strength", 0, 200, required=True)
    for i, item in c.items(styling, "colors", 5, 1):
        loc = f"styling.colors.{i}"
        c.string(item, "color", f"{loc}.color", required=True)
        colour = item.get("color")
        if isinstance(colour, str) and not COLOR_RE.match(colour):
            c.bad(f"{loc}.color", "String should match pattern '^#[0-9A-F]{6}$'")
        c.number(item, "weight", f"{loc}.weight", 0.05, 1, required=True)


def validate_body(body: Any) -> tuple[list[dict[str, str]], str | None]:
    """``(invalid_params, image_message)`` for a Mystic request body: the 400 validation list,
    or the message for a reference image that cannot be read."""
    c = _Checker()
    if not isinstance(body, dict):
        c.bad("", NOT_OBJECT)
        return c.errs, None
    c.string(body, "prompt", "prompt")
    _check_webhook(c, body)
    c.enum(body, "resolution", RESOLUTIONS)
    c.enum(body, "aspect_ratio", ASPECT_RATIOS)
    c.enum(body, "model", MODELS)
    c.enum(body, "engine", ENGINES)
    for name in ("structure_strength", "adherence", "hdr", "creative_detailing"):
        c.number(body, name, name, 0, 100, integer=True)
    c.boolean(body, "fixed_generation")
    c.boolean(body, "filter_nsfw")
    _check_styling(c, body.get("styling"))
    image_message = None
    for name in ("structure_reference", "style_reference"):
        c.string(body, name, name)
        v = body.get(name)
        if isinstance(v, str) and v and not _decodes_to_image(v):
            image_message = f"Unable to resolve image from {v[:80]}"
    return c.errs, image_message


def _decodes_to_image(value: str) -> bool:
    if value.startswith(("http://", "https://", "data:")):
        return False
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return False
    try:
        from PIL import Image

        with Image.open(io.BytesIO(raw)) as img:
            img.verify()
        return True
    except Exception:
        return False
