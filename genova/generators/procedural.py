"""The built-in procedural renderer: Genova's offline, deterministic default generator.

It is **not an AI model**. It draws a placeholder that visibly depends on the job: a palette
from the prompt (or the reference images), a gradient with glows, bands and discs laid out
from the seed and settings, a faded copy of the reference, and the prompt as a caption.
Videos are a camera move across such a canvas with a moving orb. Every file says what made
it: a label on the picture, the PNG ``Software`` chunk and the MP4 ``comment`` tag.

Same (model, prompt, seed, settings, references) in, byte-identical files out: all randomness
comes from ``random.Random`` seeded with a SHA-256 of those inputs; no clock, no global RNG.
"""

from __future__ import annotations

import colorsys
import functools
import hashlib
import io
import json
import random
import struct

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont, ImageOps
from zlib_ng import zlib_ng

from genova.catalog import MODELS
from genova.generators import GeneratedFile, GenerationRequest, ProgressFn, video
from genova.generators.sizes import Size, image_size

NAME = "genova-procedural"
SOFTWARE = "Genova procedural renderer (not an AI model)"
NOTE = "Procedural placeholder renderer, not an AI model"
LABEL = "genova-procedural - not an AI model"
_NOT_CONTENT = ("count", "priority")  # settings that must not change what an image looks like

Rgb = tuple[int, int, int]


def job_digest(request: GenerationRequest) -> bytes:
    """SHA-256 of everything that determines the output (not the job id, count or priority)."""
    settings = {k: v for k, v in request.settings.items() if k not in _NOT_CONTENT}
    material = {"model": request.model, "prompt": request.prompt, "seed": request.seed,
                "settings": settings,
                "references": [hashlib.sha256(ref).hexdigest() for ref in request.references]}
    return hashlib.sha256(json.dumps(material, sort_keys=True, default=str).encode()).digest()


def make_rng(digest: bytes, *parts: object) -> random.Random:
    seed = hashlib.sha256(digest + repr(parts).encode()).digest()
    return random.Random(int.from_bytes(seed, "big"))


def _luminance(c: Rgb) -> float:
    return 0.299 * c[0] + 0.587 * c[1] + 0.114 * c[2]


def _rgb(r: float, g: float, b: float) -> Rgb:
    return round(r * 255), round(g * 255), round(b * 255)


def prompt_palette(prompt: str) -> list[Rgb]:
    """Five colours, darkest first, derived from the prompt text alone."""
    rng = make_rng(hashlib.sha256(prompt.encode()).digest(), "palette")
    base = rng.random()
    offsets = rng.choice(((0, 0.06, 0.12, 0.5, 0.56),  # analogous + complement
                          (0, 0.33, 0.66, 0.08, 0.41),  # triadic
                          (0, 0.5, 0.03, 0.53, 0.25)))  # split complementary
    colours = [_rgb(*colorsys.hsv_to_rgb((base + off) % 1.0, rng.uniform(0.45, 0.95),
                                         rng.uniform(0.3, 0.98))) for off in offsets]
    return sorted(colours, key=_luminance)


def _shade(colour: Rgb, factor: float) -> Rgb:
    h, lum, s = colorsys.rgb_to_hls(*(c / 255 for c in colour))
    return _rgb(*colorsys.hls_to_rgb(h, min(0.92, max(0.08, lum * factor)), s))


def reference_palette(refs: list[Image.Image]) -> list[Rgb]:
    """Five colours, darkest first: the references' dominant colours in a few shades."""
    found: list[Rgb] = []
    for ref in refs:
        thumb = ref.copy()
        thumb.thumbnail((64, 64))
        quantized = thumb.quantize(colors=4)
        flat = quantized.getpalette() or []
        for _, idx in sorted(quantized.getcolors() or [], reverse=True):
            found.append(tuple(flat[3 * idx:3 * idx + 3]))
    shades = (1.0, 0.55, 1.3, 0.8, 1.15)
    return sorted((_shade(found[i % len(found)], f) for i, f in enumerate(shades)),
                  key=_luminance)


_RAMP = Image.linear_gradient("L").resize((256, 256), Image.Resampling.BILINEAR)


def _background(size: Size, palette: list[Rgb], rng: random.Random) -> Image.Image:
    """A rotated three-stop gradient with soft glows, drawn small and scaled up."""
    small = (max(8, size[0] // 8), max(8, size[1] // 8))
    ramp = _RAMP.rotate(rng.uniform(0, 360), Image.Resampling.BILINEAR).crop((64, 64, 192, 192))
    ramp = ramp.resize(small, Image.Resampling.BILINEAR)
    bg = ImageOps.colorize(ramp, black=palette[0], white=palette[3], mid=palette[1])
    draw = ImageDraw.Draw(bg, "RGBA")
    unit = max(small)
    for _ in range(rng.randint(3, 5)):
        x, y = rng.uniform(0, small[0]), rng.uniform(0, small[1])
        r = rng.uniform(0.12, 0.4) * unit
        fill = (*rng.choice(palette), rng.randint(90, 170))
        draw.ellipse((x - r, y - r, x + r, y + r), fill=fill)
    bg = bg.filter(ImageFilter.GaussianBlur(unit / 12))
    return bg.resize(size, Image.Resampling.BILINEAR)


def _shapes(canvas: Image.Image, palette: list[Rgb], rng: random.Random) -> None:
    """Translucent bands, discs, rings and dots, drawn in place."""
    w, h = canvas.size
    unit = min(w, h)
    draw = ImageDraw.Draw(canvas, "RGBA")
    for _ in range(rng.randint(2, 4)):
        a, b, thick = rng.uniform(-0.2, 1.1), rng.uniform(-0.2, 1.1), rng.uniform(0.04, 0.16)
        if rng.random() < 0.5:
            band = [(0, a * h), (w, b * h), (w, b * h + thick * unit), (0, a * h + thick * unit)]
        else:
            band = [(a * w, 0), (b * w, h), (b * w + thick * unit, h), (a * w + thick * unit, 0)]
        draw.polygon(band, fill=(*rng.choice(palette[1:]), rng.randint(60, 130)))
    for _ in range(rng.randint(4, 7)):
        x, y, r = rng.uniform(0, w), rng.uniform(0, h), rng.uniform(0.04, 0.2) * unit
        colour = rng.choice(palette[2:])
        if rng.random() < 0.4:
            draw.ellipse((x - r, y - r, x + r, y + r), outline=(*colour, 230),
                         width=max(2, round(r * 0.12)))
        else:
            draw.ellipse((x - r, y - r, x + r, y + r), fill=(*colour, rng.randint(140, 230)))
    for _ in range(rng.randint(12, 24)):
        x, y, r = rng.uniform(0, w), rng.uniform(0, h), rng.uniform(0.004, 0.015) * unit
        draw.ellipse((x - r, y - r, x + r, y + r), fill=(*palette[-1], 200))


def render_canvas(size: Size, palette: list[Rgb], rng: random.Random,
                  reference: Image.Image | None = None) -> Image.Image:
    """Everything but the caption: background, faded reference, shapes. Drawn at half size
    and pixel-doubled (a quarter of the drawing, and no full-size resize); the caption,
    drawn on top at full size, stays sharp."""
    half = ((size[0] + 1) // 2, (size[1] + 1) // 2)
    canvas = _background(half, palette, rng)
    if reference is not None:
        cover = ImageOps.fit(reference, half, Image.Resampling.BILINEAR,
                             centering=(rng.random(), rng.random()))
        canvas = Image.blend(canvas, cover, 0.55)
    _shapes(canvas, palette, rng)
    full = canvas.resize((half[0] * 2, half[1] * 2), Image.Resampling.NEAREST)
    return full if full.size == size else full.crop((0, 0, *size))


def _insets(canvas: Image.Image, refs: list[Image.Image], skip: int) -> None:
    """The other reference images as framed tiles down the right edge."""
    w, h = canvas.size
    side = round(min(w, h) * 0.17)
    pad, y = max(4, side // 10), max(4, side // 10) + round(min(w, h) * 0.06)
    draw = ImageDraw.Draw(canvas)
    for i, ref in enumerate(refs):
        if i == skip:
            continue
        x = w - pad - side
        draw.rectangle((x - 3, y - 3, x + side + 2, y + side + 2), fill=(255, 255, 255))
        canvas.paste(ImageOps.fit(ref, (side, side), Image.Resampling.BILINEAR), (x, y))
        y += side + pad


def _fit(text: str, font: ImageFont.FreeTypeFont, width: float, more: bool = False) -> str:
    """``text`` cut with "..." so that it fits ``width`` (and always cut when ``more``)."""
    if not more and font.getlength(text) <= width:
        return text
    lo, hi = 0, len(text)
    while lo < hi:  # longest prefix that fits with the ellipsis
        mid = (lo + hi + 1) // 2
        fits = font.getlength(text[:mid].rstrip() + "...") <= width
        lo, hi = (mid, hi) if fits else (lo, mid - 1)
    return text[:lo].rstrip() + "..."


def _wrap(text: str, font: ImageFont.FreeTypeFont, width: float, max_lines: int) -> list[str]:
    """Greedy word wrap, measuring each word once (a line's width is its words' widths plus
    spaces; kerning across a space is negligible at caption sizes)."""
    words, lines = text.split(), []
    space = font.getlength(" ")
    measured = [font.getlength(word) for word in words[:200]]  # more never fits 3 lines
    while words and len(lines) < max_lines:
        line, used = words.pop(0), measured.pop(0)
        while words and used + space + measured[0] <= width:
            line, used = f"{line} {words.pop(0)}", used + space + measured.pop(0)
        lines.append(_fit(line, font, width))
    if words and lines:
        lines[-1] = _fit(lines[-1], font, width, more=True)
    return lines or [""]


def _panel(lines: list[str], font: ImageFont.FreeTypeFont, width: float) -> Image.Image:
    """White text on a translucent dark rounded box, as an RGBA layer."""
    ascent, descent = font.getmetrics()
    pad, line_h = max(4, ascent // 3), ascent + descent
    inner = max(font.getlength(line) for line in lines)
    layer = Image.new("RGBA", (round(min(width, inner + 2 * pad)), line_h * len(lines) + 2 * pad))
    draw = ImageDraw.Draw(layer)
    draw.rounded_rectangle((0, 0, layer.width - 1, layer.height - 1), radius=pad,
                           fill=(0, 0, 0, 130))
    for i, line in enumerate(lines):
        draw.text((pad, pad + i * line_h), line, font=font, fill=(255, 255, 255, 255))
    return layer


def caption_layers(size: Size, prompt: str) -> list[tuple[Image.Image, tuple[int, int]]]:
    """The prompt (bottom centre) and the not-an-AI-model label (top left), with positions."""
    w, h = size
    margin = _margin(size)
    caption = _caption(size, prompt)
    return [(caption, ((w - caption.width) // 2, h - caption.height - margin)),
            (_label(size), (margin, margin))]


def _margin(size: Size) -> int:
    """Between the caption and label panels and the picture's edges."""
    return round(min(size) * 0.03)


@functools.lru_cache(maxsize=8)  # a job's images, and a user's retries, share a prompt
def _caption(size: Size, prompt: str) -> Image.Image:
    """The prompt's panel (never modified: it is only pasted)."""
    w, h = size
    font = _font(max(14, min(w, h) // 22))
    return _panel(_wrap(prompt, font, w * 0.86, 3), font, w - 2 * _margin(size))


@functools.lru_cache(maxsize=32)
def _font(size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.load_default(size=size)


@functools.lru_cache(maxsize=32)
def _label(size: Size) -> Image.Image:
    """The not-an-AI-model label: the same for every image of a size (never modified)."""
    w, h = size
    return _panel([LABEL], _font(max(11, min(w, h) // 48)), w - 2 * _margin(size))


def render_image(size: Size, prompt: str, palette: list[Rgb], refs: list[Image.Image],
                 rng: random.Random, index: int = 0) -> Image.Image:
    primary = index % len(refs) if refs else -1
    canvas = render_canvas(size, palette, rng, refs[primary] if refs else None)
    if len(refs) > 1:
        _insets(canvas, refs, primary)
    for layer, xy in caption_layers(size, prompt):
        canvas.paste(layer, xy, layer)
    return canvas


def _png_chunk(tag: bytes, data: bytes) -> bytes:
    return (struct.pack(">I", len(data)) + tag + data
            + struct.pack(">I", zlib_ng.crc32(tag + data) & 0xFFFFFFFF))


def encode_png(image: Image.Image) -> bytes:
    """An 8-bit RGB PNG with a ``Software`` text chunk, about 6x faster than Pillow's
    encoder at the same size: every row uses PNG's "Up" filter (computed at once with
    numpy; the smooth placeholder compresses well with it) and zlib-ng deflates at level 1.
    """
    pixels = np.asarray(image.convert("RGB"), dtype=np.uint8)
    height, width, _ = pixels.shape
    rows = np.empty((height, width * 3 + 1), dtype=np.uint8)
    rows[:, 0] = 2  # filter type Up: each byte minus the byte above it
    rows[0, 1:] = pixels[0].reshape(-1)
    np.subtract(pixels[1:].reshape(height - 1, -1), pixels[:-1].reshape(height - 1, -1),
                out=rows[1:, 1:])
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"".join((b"\x89PNG\r\n\x1a\n", _png_chunk(b"IHDR", header),
                     _png_chunk(b"tEXt", b"Software\x00" + SOFTWARE.encode("latin-1")),
                     _png_chunk(b"IDAT", zlib_ng.compress(rows.tobytes(), 1)),
                     _png_chunk(b"IEND", b"")))


def render_video(size: Size, prompt: str, palette: list[Rgb], refs: list[Image.Image],
                 rng: random.Random, progress: ProgressFn) -> bytes:
    canvas = render_canvas(video.canvas_size(size), palette, rng, refs[0] if refs else None)
    if len(refs) > 1:
        _insets(canvas, refs, 0)
    progress(10, "rendering frames")
    return video.render_clip(canvas, size, caption_layers(size, prompt), palette[-1], rng,
                             progress, comment=SOFTWARE)


def _open(data: bytes) -> Image.Image:
    with Image.open(io.BytesIO(data)) as im:
        return im.convert("RGB")


class ProceduralGenerator:
    """Serves every model with offline procedural art. Not an AI model; says so everywhere."""

    name = NAME
    is_ai_model = False

    def describe(self) -> dict:
        return {"generator": NAME, "provider": "procedural", "provider_model": NAME,
                "ai_model": False, "note": NOTE, "deterministic": True,
                "formats": {"image": "image/png", "video": "video/mp4 (H.264, 24 fps, 3 s)"}}

    def check(self, settings: dict) -> None:
        """Every catalog setting can be drawn."""

    def probe(self) -> str:
        return "built in, offline: nothing to call"

    def generate(self, request: GenerationRequest, progress: ProgressFn) -> list[GeneratedFile]:
        size = image_size(request.model, request.settings)
        refs = [_open(data) for data in request.references]
        palette = reference_palette(refs) if refs else prompt_palette(request.prompt)
        digest = job_digest(request)
        progress(5, "rendering")
        if MODELS[request.model].media_type == "video":
            data = render_video(size, request.prompt, palette, refs, make_rng(digest, "video"),
                                progress)
            files = [GeneratedFile(data, "mp4", "video/mp4", *size)]
        else:
            files = self._images(request, size, palette, refs, digest, progress)
        progress(100, "done")
        return files

    @staticmethod
    def _images(request: GenerationRequest, size: Size, palette: list[Rgb],
                refs: list[Image.Image], digest: bytes, progress: ProgressFn
                ) -> list[GeneratedFile]:
        count = max(1, int(request.settings.get("count") or 1))
        files = []
        for index in range(count):
            rng = make_rng(digest, "image", index)
            image = render_image(size, request.prompt, palette, refs, rng, index)
            files.append(GeneratedFile(encode_png(image), "png", "image/png", *size))
            if index + 1 < count:  # after the last one, the completion says it
                progress(5 + 90 * (index + 1) // count, f"image {index + 1} of {count} done")
        return files


PROCEDURAL = ProceduralGenerator()  # stateless: one serves every model
