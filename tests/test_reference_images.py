import base64
import io
import struct
import time
import zlib

import pytest
from PIL import Image

from genova.errors import ValidationError
from genova.services.images import (
    NormalizedImage,
    normalize_reference_image,
    normalize_reference_images,
)

FIELD = "referenceImages.images"


def encode(im: Image.Image, fmt: str, **kwargs) -> bytes:
    buf = io.BytesIO()
    im.save(buf, format=fmt, **kwargs)
    return buf.getvalue()


def data_url(raw: bytes, media_type: str) -> str:
    return f"data:{media_type};base64," + base64.b64encode(raw).decode()


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def noisy(size=(64, 48), mode="RGB") -> Image.Image:
    return Image.effect_noise(size, 64).convert(mode)


def decode_output(result: NormalizedImage) -> Image.Image:
    im = Image.open(io.BytesIO(result.data))
    assert Image.MIME[im.format] == result.media_type
    assert im.size == (result.width, result.height)
    return im


def reject(items, match, *, field=f"{FIELD}[0]", **kwargs) -> ValidationError:
    with pytest.raises(ValidationError, match=match) as info:
        normalize_reference_images(items, **kwargs)
    assert info.value.field == field
    return info.value


def png_chunk(kind: bytes, body: bytes) -> bytes:
    crc = zlib.crc32(kind + body) & 0xFFFFFFFF
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)


# --- accepted inputs ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("fmt", "media_type"),
    [
        ("PNG", "image/png"),
        ("JPEG", "image/jpeg"),
        ("JPEG", "image/jpg"),
        ("WEBP", "image/webp"),
    ],
)
def test_data_urls_accepted(fmt, media_type):
    raw = encode(noisy(), fmt)
    [result] = normalize_reference_images([data_url(raw, media_type)])
    assert result.source_format == fmt
    assert (result.width, result.height) == (64, 48)
    assert decode_output(result).mode == "RGB"


@pytest.mark.parametrize(("fmt", "stored"), [("PNG", "image/png"), ("JPEG", "image/jpeg"),
                                             ("WEBP", "image/png")])
def test_plain_base64_accepted(fmt, stored):
    [result] = normalize_reference_images([b64(encode(noisy(), fmt))])
    assert result.source_format == fmt
    assert result.media_type == stored
    signature = b"\x89PNG\r\n\x1a\n" if stored == "image/png" else b"\xff\xd8\xff"
    assert result.data.startswith(signature)


def test_base64_with_newlines_and_missing_padding_accepted():
    text = b64(encode(noisy((5, 3)), "PNG")).rstrip("=")
    wrapped = "\n".join(text[i : i + 76] for i in range(0, len(text), 76))
    result = normalize_reference_image(wrapped, field="img")
    assert (result.width, result.height) == (5, 3)


def test_large_image_downscaled_keeping_aspect_ratio():
    raw = encode(Image.new("RGB", (2000, 1000), "red"), "PNG")
    [result] = normalize_reference_images([b64(raw)])
    assert (result.width, result.height) == (512, 256)
    out = decode_output(result)
    assert out.getpixel((10, 10)) == (255, 0, 0)


def test_small_image_not_upscaled():
    [result] = normalize_reference_images([b64(encode(noisy((30, 20)), "PNG"))])
    assert (result.width, result.height) == (30, 20)


def test_exif_orientation_applied():
    exif = Image.Exif()
    exif[0x0112] = 6
    raw = encode(Image.new("RGB", (200, 100), "blue"), "JPEG", exif=exif)
    [result] = normalize_reference_images([data_url(raw, "image/jpeg")])
    assert (result.width, result.height) == (100, 200)
    out = decode_output(result)
    assert "exif" not in out.info and not out.getexif()


def test_alpha_kept():
    im = Image.new("RGBA", (40, 40), (255, 0, 0, 0))
    im.paste((0, 255, 0, 255), (0, 0, 20, 40))
    [result] = normalize_reference_images([b64(encode(im, "PNG"))])
    out = decode_output(result)
    assert out.mode == "RGBA"
    assert out.getpixel((30, 10))[3] == 0
    assert out.getpixel((5, 10)) == (0, 255, 0, 255)


@pytest.mark.parametrize(
    ("im", "mode"),
    [
        (Image.new("P", (8, 8), 3), "RGB"),
        (Image.new("LA", (8, 8), (100, 50)), "RGBA"),
        (Image.new("L", (8, 8), 100), "RGB"),
        (Image.new("I;16", (8, 8), 65535), "RGB"),
    ],
)
def test_other_png_modes_converted(im, mode):
    [result] = normalize_reference_images([b64(encode(im, "PNG"))])
    assert decode_output(result).mode == mode


def test_sixteen_bit_greyscale_scaled_not_clipped():
    im = Image.new("I;16", (4, 4), 32768)
    result = normalize_reference_image(b64(encode(im, "PNG")), field="img")
    assert decode_output(result).getpixel((0, 0)) == (128, 128, 128)


def test_cmyk_jpeg_accepted():
    raw = encode(Image.new("CMYK", (50, 30), (0, 255, 255, 0)), "JPEG")
    [result] = normalize_reference_images([data_url(raw, "image/jpeg")])
    assert result.source_format == "JPEG"
    assert decode_output(result).mode == "RGB"
    assert (result.width, result.height) == (50, 30)


def test_metadata_stripped():
    im = noisy((16, 16))
    raw = encode(im, "PNG", icc_profile=b"not really a profile", dpi=(300, 300))
    out = decode_output(normalize_reference_image(b64(raw), field="img"))
    assert "icc_profile" not in out.info and "dpi" not in out.info


# --- list-level rejections ---------------------------------------------------------


def test_five_images_rejected():
    item = b64(encode(noisy((4, 4)), "PNG"))
    err = reject([item] * 5, "at most 4 images", field=FIELD)
    assert "(got 5)" in err.details


def test_empty_list_rejected():
    reject([], "at least one image", field=FIELD)


@pytest.mark.parametrize("items", [None, "abc", {"a": 1}, ("x",)])
def test_non_list_rejected(items):
    reject(items, "must be a list", field=FIELD)


def test_non_string_element_rejected():
    reject([123], "must be a base64 string or data URL, not int")


def test_error_field_names_the_index():
    good = b64(encode(noisy((4, 4)), "PNG"))
    reject([good, good, "not base64!!"], "is not valid base64", field=f"{FIELD}[2]")


def test_custom_field_name():
    with pytest.raises(ValidationError, match="is not valid base64") as info:
        normalize_reference_images(["@@@@"], field="style.refs")
    assert info.value.field == "style.refs[0]"


# --- per-item rejections -----------------------------------------------------------


@pytest.mark.parametrize(
    "bad", ["not base64!!", "abcde", "data:image/png;base64,%%%%", ""]
)
def test_not_base64_rejected(bad):
    reject([bad], "is not valid base64|is empty")


def test_base64_of_text_rejected():
    reject([b64(b"hello, this is just some text")], "is not a PNG, JPEG or WEBP image")


def test_gif_rejected_even_with_image_media_type():
    raw = encode(noisy((8, 8)), "GIF")
    reject([b64(raw)], "is not a PNG, JPEG or WEBP image")
    reject([data_url(raw, "image/png")], "is not a PNG, JPEG or WEBP image")


def test_bmp_rejected():
    reject([b64(encode(noisy((8, 8)), "BMP"))], "is not a PNG, JPEG or WEBP image")


@pytest.mark.parametrize(
    "media_type", ["text/plain", "image/gif", "application/octet-stream"]
)
def test_other_data_url_media_types_rejected(media_type):
    raw = encode(noisy((8, 8)), "PNG")
    reject([data_url(raw, media_type)], "unsupported media type")


def test_data_url_without_base64_rejected():
    raw = encode(noisy((8, 8)), "PNG")
    reject(["data:image/png," + b64(raw)], r"must be base64-encoded \(;base64\)")


@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
def test_truncated_image_rejected(fmt):
    raw = encode(noisy((256, 256)), fmt)
    reject([b64(raw[: len(raw) // 2])], "is truncated or corrupt")


def test_bomb_header_rejected_without_allocating():
    ihdr = struct.pack(">IIBBBBB", 100_000, 100_000, 8, 2, 0, 0, 0)
    raw = (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", ihdr)
        + png_chunk(b"IDAT", zlib.compress(b"\x00" * 16))
        + png_chunk(b"IEND", b"")
    )
    start = time.perf_counter()
    err = reject([b64(raw)], "too many pixels")
    assert time.perf_counter() - start < 2
    assert "decompression bomb" in err.details


def test_pixels_over_limit_rejected_before_decoding():
    raw = encode(noisy((100, 100)), "PNG")
    err = reject([b64(raw)], "too many pixels", max_pixels=9_999)
    assert "100x100" in err.details and "9999" in err.details


def test_oversized_payload_rejected():
    raw = encode(noisy((64, 64)), "PNG")
    assert len(raw) > 1000
    reject([b64(raw)], "too large .*limit is 1000 bytes", max_bytes=1000)


def test_oversized_payload_rejected_just_over_limit():
    raw = encode(noisy((64, 64)), "PNG")
    reject([b64(raw)], "too large", max_bytes=len(raw) - 1)
    assert normalize_reference_images([b64(raw)], max_bytes=len(raw))


def test_single_image_uses_field_verbatim():
    with pytest.raises(ValidationError, match="is not a PNG") as info:
        normalize_reference_image(b64(b"GIF89a........"), field="avatar")
    assert info.value.field == "avatar"
