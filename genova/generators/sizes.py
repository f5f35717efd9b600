"""The pixel size of each model's output: what the procedural renderer draws and what
``GET /api/models`` lists. Kept apart from the renderer so that listing sizes does not load
it (Pillow drawing, numpy, zlib-ng)."""

from __future__ import annotations

import math

from genova.catalog import ASPECT_RATIOS, MODELS, VIDEO_ASPECT_RATIOS

FLOW_PIXELS = 1 << 20  # Flow images: about one megapixel, both sides multiples of 4
FREEPIK_LONG_SIDE = {"1K": 1024, "2K": 2048}
VIDEO_SIZES = {"landscape": (1280, 720), "portrait": (720, 1280)}
Size = tuple[int, int]


def image_size(model: str, settings: dict) -> Size:
    """Pixel size of ``model``'s output for ``settings`` (the frame size for videos).

    The aspect ratio is always exact: ``width * rh == height * rw``.

    - Flow images: the largest size of at most 2**20 pixels whose sides are multiples of 4:
      1344x756, 756x1344, 1024x1024.
    - Freepik: the long side is 1024 ("1K", the default) or 2048 ("2K"); when the ratio cannot
      be exact at that length (3:2, 2:3), the largest exact size below it (1023x682, 2046x1364).
    - Videos: 720p, 1280x720 or 720x1280.
    """
    spec = MODELS[model]
    video = spec.media_type == "video"
    default = VIDEO_ASPECT_RATIOS[0] if video else spec.spec.default_aspect_ratio
    ratio = settings.get("aspectRatio") or default
    if ratio not in spec.aspect_ratios:
        raise ValueError(f"aspect ratio {ratio!r} is not available for {model!r}")
    if video:
        return VIDEO_SIZES[ratio]
    rw, rh = ASPECT_RATIOS[ratio]
    if spec.spec.qualities:  # sized by quality (Freepik), else by pixel count (Flow)
        quality = settings.get("quality") or "1K"
        if quality not in FREEPIK_LONG_SIDE:
            raise ValueError(f"quality {quality!r} is not available for {model!r}")
        k = FREEPIK_LONG_SIDE[quality] // max(rw, rh)
    else:
        k = math.isqrt(FLOW_PIXELS // (rw * rh)) // 4 * 4
    return rw * k, rh * k
