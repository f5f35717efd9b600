"""Validate and normalise user-supplied reference images.

Clients send reference images as base64 strings (optionally ``data:`` URLs).
Everything here is hostile input: it is decoded strictly, opened with Pillow
restricted to PNG, JPEG and WEBP, checked for decompression bombs before any pixel
data is loaded, oriented per EXIF, converted to RGB/RGBA, downscaled and re-encoded
without metadata: as a quality-95 JPEG when the source was a JPEG without alpha (the
source was lossy already, and writing a JPEG takes a tenth of the time of a PNG, which
matters when fifty people upload at once), as a PNG otherwise.

Every failure is a :class:`~genova.errors.ValidationError` naming the offending field.
"""

from __future__ import annotations

import binascii
import io
import math
import re
import warnings
from dataclasses import dataclass

import pybase64
from PIL import Image, ImageOps, UnidentifiedImageError

from genova.errors import ValidationError

ALLOWED_FORMATS = ("PNG", "JPEG", "WEBP")
_MEDIA_TYPES = {"image/png", "image/jpeg", "image/jpg", "image/webp"}
_WHITESPACE = re.compile(r"\s+")


@dataclass(frozen=True)
class NormalizedImage:
    data: bytes  # re-encoded PNG or JPEG bytes (metadata stripped)
    width: int
    height: int
    source_format: str  # "PNG" | "JPEG" | "WEBP"
    media_type: str = "image/png"  # of ``data``: "image/png" | "image/jpeg"

    @property
    def extension(self) -> str:
        return "jpg" if self.media_type == "image/jpeg" else "png"


def normalize_reference_images(
    items: object,
    *,
    field: str = "referenceImages.images",
    max_images: int = 4,
    max_side: int = 512,
    max_bytes: int = 10 * 1024 * 1024,
    max_pixels: int = 40_000_000,
    max_total_pixels: int = 50_000_000,
) -> list[NormalizedImage]:
    """Validate a list of 1..max_images encoded images and normalise each one. The pixels
    of all of them together are capped too, before any is decoded."""
    if not isinstance(items, list):
        raise ValidationError(
            f"{field} must be a list of base64-encoded images", field=field
        )
    if not items:
        raise ValidationError(f"{field} must contain at least one image", field=field)
    if len(items) > max_images:
        raise ValidationError(
            f"{field} may contain at most {max_images} images (got {len(items)})",
            field=field,
        )
    raws = [_decode(item, field=f"{field}[{i}]", max_bytes=max_bytes)
            for i, item in enumerate(items)]
    total = sum(_pixels(raw) for raw in raws)  # from the headers: nothing decoded yet
    if total > max_total_pixels:
        raise ValidationError(
            f"{field} hold {total / 1e6:.1f} megapixels in total; a request may hold at "
            f"most {max_total_pixels / 1e6:g} (they are resized to {max_side} px anyway)",
            field=field)
    return [_normalize(raw, field=f"{field}[{i}]", max_side=max_side, max_pixels=max_pixels)
            for i, raw in enumerate(raws)]


def _pixels(raw: bytes) -> int:
    """Width × height from the image's header (0 if it has none: decoding will say why)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(io.BytesIO(raw), formats=list(ALLOWED_FORMATS)) as im:
                return im.size[0] * im.size[1]
    except Exception:  # noqa: BLE001 - reported properly by _normalize
        return 0


def normalize_reference_image(
    item: object,
    *,
    field: str,
    max_side: int = 512,
    max_bytes: int = 10 * 1024 * 1024,
    max_pixels: int = 40_000_000,
) -> NormalizedImage:
    """Decode one base64 / data-URL image and return it normalised."""
    raw = _decode(item, field=field, max_bytes=max_bytes)
    return _normalize(raw, field=field, max_side=max_side, max_pixels=max_pixels)


def _prepare(im: Image.Image, *, field: str, max_side: int, max_pixels: int) -> str:
    """Check an opened (not yet decoded) image's format and size; returns its format. A
    JPEG is set to decode straight at about its final size."""
    source_format = "JPEG" if im.format == "MPO" else im.format
    if source_format not in ALLOWED_FORMATS:
        raise _not_image(field)
    width, height = im.size
    if width < 1 or height < 1:
        raise ValidationError(f"{field} has no pixels", field=field)
    if width * height > max_pixels:
        raise _too_many_pixels(field, width, height, max_pixels)
    if source_format == "JPEG":
        scale = min(1.0, max_side / max(width, height))
        im.draft("RGB", (math.ceil(width * scale), math.ceil(height * scale)))
    return source_format


def _normalize(raw: bytes, *, field: str, max_side: int, max_pixels: int) -> NormalizedImage:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # "Corrupt EXIF data" noise
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(raw), formats=list(ALLOWED_FORMATS)) as im:
                source_format = _prepare(im, field=field, max_side=max_side,
                                         max_pixels=max_pixels)
                im.load()
                out = _to_rgb(ImageOps.exif_transpose(im))
    except ValidationError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ValidationError(
            f"{field} has too many pixels (decompression bomb suspected: {exc})",
            field=field,
        ) from exc
    except UnidentifiedImageError as exc:
        raise _not_image(field) from exc
    except MemoryError as exc:
        raise ValidationError(f"{field} is too large to decode", field=field) from exc
    except Exception as exc:  # OSError, SyntaxError, ValueError, zlib/struct errors...
        raise ValidationError(
            f"{field} is truncated or corrupt ({exc})", field=field
        ) from exc

    longest = max(out.size)
    if longest > max_side:
        scale = max_side / longest
        size = (max(1, round(out.width * scale)), max(1, round(out.height * scale)))
        out = out.resize(size, Image.Resampling.LANCZOS)
    out.info = {}  # drop ICC profile, EXIF, text chunks, transparency...
    buf = io.BytesIO()
    if source_format == "JPEG" and out.mode == "RGB":
        out.save(buf, format="JPEG", quality=95, subsampling=0)
        media_type = "image/jpeg"
    else:
        out.save(buf, format="PNG", compress_level=1)  # internal copy: speed over size
        media_type = "image/png"
    return NormalizedImage(data=buf.getvalue(), width=out.width, height=out.height,
                           source_format=source_format, media_type=media_type)


def _decode(item: object, *, field: str, max_bytes: int) -> bytes:
    if not isinstance(item, str):
        raise ValidationError(
            f"{field} must be a base64 string or data URL, not {type(item).__name__}",
            field=field,
        )
    payload = item.strip()
    if payload[:5].lower() == "data:":
        header, sep, payload = payload.partition(",")
        if not sep:
            raise ValidationError(
                f"{field} is a malformed data URL (no comma)", field=field
            )
        media_type, *params = header[5:].split(";")
        media_type = media_type.strip().lower()
        if media_type not in _MEDIA_TYPES:
            raise ValidationError(
                f"{field} has unsupported media type {media_type or '(none)'!r}; "
                "expected image/png, image/jpeg or image/webp",
                field=field,
            )
        if not params or params[-1].strip().lower() != "base64":
            raise ValidationError(
                f"{field} data URL must be base64-encoded (;base64)", field=field
            )
    if any(ws in payload for ws in " \n\r\t\f\v"):  # a fast scan; the regex is slow
        payload = _WHITESPACE.sub("", payload)
    if not payload:
        raise ValidationError(f"{field} is empty", field=field)
    # Refuse before decoding anything absurdly large (4 chars -> 3 bytes).
    if len(payload) // 4 * 3 > max_bytes + 3:
        raise _too_large(field, max_bytes)
    if ("-" in payload or "_" in payload) and not ("+" in payload or "/" in payload):
        payload = payload.replace("-", "+").replace("_", "/")  # urlsafe alphabet
    if len(payload) % 4 == 1:  # b64decode(validate=True) below checks the alphabet
        raise ValidationError(f"{field} is not valid base64", field=field)
    payload += "=" * (-len(payload) % 4)
    try:
        raw = pybase64.b64decode(payload, validate=True)  # SIMD: ~40x the stdlib's speed
    except (binascii.Error, ValueError) as exc:
        raise ValidationError(f"{field} is not valid base64", field=field) from exc
    if not raw:
        raise ValidationError(f"{field} is empty", field=field)
    if len(raw) > max_bytes:
        raise _too_large(field, max_bytes)
    return raw


def _to_rgb(im: Image.Image) -> Image.Image:
    """Convert any decoded mode to RGB, or RGBA when the image carries alpha."""
    if im.mode in ("RGB", "RGBA"):
        return im
    if im.mode.startswith("I") or im.mode == "F":  # 16/32-bit greyscale -> 8 bit
        im = im.convert("I").point(lambda v: v * (1 / 256)).convert("L")
    elif im.mode == "P":
        return im.convert("RGBA" if "transparency" in im.info else "RGB")
    has_alpha = "A" in im.mode or "a" in im.mode or "transparency" in im.info
    return im.convert("RGBA" if has_alpha else "RGB")


def _not_image(field: str) -> ValidationError:
    return ValidationError(f"{field} is not a PNG, JPEG or WEBP image", field=field)


def _too_large(field: str, max_bytes: int) -> ValidationError:
    return ValidationError(
        f"{field} is too large (limit is {max_bytes} bytes decoded)", field=field
    )


def _too_many_pixels(
    field: str, width: int, height: int, max_pixels: int
) -> ValidationError:
    return ValidationError(
        f"{field} has too many pixels ({width}x{height}; limit is {max_pixels} pixels)",
        field=field,
    )
