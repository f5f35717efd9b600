"""The generator registry and the built-in procedural renderer (images and MP4 videos)."""

from __future__ import annotations

import io
import re
import struct
import subprocess

import pytest
from PIL import Image, ImageChops, ImageStat

from genova.catalog import ASPECT_RATIOS, MODELS
from genova.generators import GenerationRequest
from genova.generators import video as video_mod
from genova.generators.procedural import SOFTWARE, ProceduralGenerator
from genova.generators.registry import Registry
from genova.generators.sizes import image_size

GEN = ProceduralGenerator()
PROMPT = "a lighthouse on a cliff at dusk, waves crashing below"
IMAGE_MODELS = [m for m in MODELS.values() if m.media_type == "image"]
VIDEO_MODELS = [m.id for m in MODELS.values() if m.media_type == "video"]
FLOW_SIZES = {"landscape": (1344, 756), "portrait": (756, 1344), "square": (1024, 1024)}
FREEPIK_INEXACT = {("3:2", "1K"): (1023, 682), ("2:3", "1K"): (682, 1023),
                   ("3:2", "2K"): (2046, 1364), ("2:3", "2K"): (1364, 2046)}


IMAGE_CASES = [
    pytest.param(model.id, ratio, quality, id=f"{model.id}-{ratio}-{quality}")
    for model in IMAGE_MODELS
    for ratio in model.aspect_ratios
    for quality in model.spec.qualities or (None,)
]


def request(model="imagen4", prompt=PROMPT, seed=1, refs=(), **settings):
    kind = MODELS[model].media_type
    return GenerationRequest("job-1", kind, model, prompt, settings, list(refs), seed)


def run(req):
    seen = []
    files = GEN.generate(req, lambda pct, msg: seen.append((pct, msg)))
    return files, [pct for pct, _ in seen]


def open_png(data: bytes) -> Image.Image:
    im = Image.open(io.BytesIO(data))
    assert im.format == "PNG"
    im.load()
    return im


def png_bytes(im: Image.Image) -> bytes:
    buf = io.BytesIO()
    im.save(buf, format="PNG")
    return buf.getvalue()


def small(im: Image.Image) -> Image.Image:
    return im.convert("RGB").resize((64, 64), Image.Resampling.BILINEAR)


def mean_diff(a: Image.Image, b: Image.Image) -> float:
    return sum(ImageStat.Stat(ImageChops.difference(small(a), small(b))).mean) / 3


def channel_means(im: Image.Image) -> list[float]:
    return ImageStat.Stat(small(im)).mean


def check_progress(pcts):
    assert pcts, "progress was never reported"
    assert pcts == sorted(pcts) and all(0 <= p <= 100 for p in pcts)
    assert pcts[-1] == 100 and len(pcts) >= 3


# --- sizes --------------------------------------------------------------------------------


@pytest.mark.parametrize("model,ratio,quality", IMAGE_CASES)
def test_image_size_is_exact_for_every_model_ratio_and_quality(model, ratio, quality):
    settings = {"aspectRatio": ratio, **({"quality": quality} if quality else {})}
    w, h = image_size(model, settings)
    rw, rh = ASPECT_RATIOS[ratio]
    assert w * rh == h * rw
    if model != "freepik":
        assert (w, h) == FLOW_SIZES[ratio]
        return
    target = {"1K": 1024, "2K": 2048}[quality]
    assert max(w, h) <= target < max(w, h) + max(rw, rh)  # the largest exact size that fits
    assert (w, h) == FREEPIK_INEXACT.get((ratio, quality), (w, h))
    if (ratio, quality) not in FREEPIK_INEXACT:
        assert max(w, h) == target


@pytest.mark.parametrize("model,ratio,quality", IMAGE_CASES)
def test_generated_png_has_the_computed_size(model, ratio, quality):
    settings = {"aspectRatio": ratio, "count": 1, **({"quality": quality} if quality else {})}
    (file,), _ = run(request(model, **settings))
    assert (file.width, file.height) == image_size(model, settings)
    assert open_png(file.data).size == (file.width, file.height)
    assert (file.extension, file.content_type) == ("png", "image/png")


def test_sizes_defaults_and_videos():
    assert image_size("imagen4", {}) == (1344, 756)
    assert image_size("freepik", {}) == (1024, 576)  # 16:9, 1K
    assert image_size("freepik", {"aspectRatio": "4:3", "quality": "2K"}) == (2048, 1536)
    for model in VIDEO_MODELS:
        assert image_size(model, {}) == (1280, 720)
        assert image_size(model, {"aspectRatio": "portrait"}) == (720, 1280)


@pytest.mark.parametrize("model,settings", [
    ("imagen4", {"aspectRatio": "16:9"}),
    ("freepik", {"aspectRatio": "landscape"}),
    ("freepik", {"quality": "4K"}),
    ("veo3_fast", {"aspectRatio": "square"}),
])
def test_unsupported_settings_are_refused(model, settings):
    with pytest.raises(ValueError):
        image_size(model, settings)


# --- images -------------------------------------------------------------------------------


def test_count_is_honoured_and_images_differ():
    files, _ = run(request(count=4))
    assert len(files) == 4
    images = [open_png(f.data) for f in files]
    for i in range(4):
        for j in range(i + 1, 4):
            assert mean_diff(images[i], images[j]) > 5
    assert len(run(request())[0]) == 1  # count defaults to 1
    (single,), _ = run(request(count=1))
    assert single.data == files[0].data  # count does not change the first image


def test_same_inputs_give_identical_bytes():
    a, _ = run(request(seed=42, count=2, aspectRatio="portrait"))
    other_job = GenerationRequest("job-2", "image", "imagen4", PROMPT,
                                  {"aspectRatio": "portrait", "count": 2}, [], 42)
    b = GEN.generate(other_job, lambda pct, msg: None)
    assert [f.data for f in a] == [f.data for f in b]
    (c,), _ = run(request(seed=43, aspectRatio="portrait"))
    assert c.data != a[0].data


def test_different_prompts_give_clearly_different_images():
    (a,), _ = run(request(prompt="a red fox in fresh snow"))
    (b,), _ = run(request(prompt="neon city skyline reflected in rain"))
    assert mean_diff(open_png(a.data), open_png(b.data)) > 30


def test_reference_image_shapes_colours_and_content():
    red = png_bytes(Image.new("RGB", (64, 64), (255, 0, 0)))
    (plain,), _ = run(request(prompt="a quiet blue lake"))
    (tinted,), _ = run(request(prompt="a quiet blue lake", refs=[red]))
    plain_im, tinted_im = open_png(plain.data), open_png(tinted.data)
    assert mean_diff(plain_im, tinted_im) > 30
    r, g, b = channel_means(tinted_im)
    assert r > channel_means(plain_im)[0] + 50
    assert r > g + 80 and r > b + 80

    halves = Image.new("RGB", (128, 64), (0, 0, 0))
    halves.paste((255, 255, 255), (64, 0, 128, 64))
    (split,), _ = run(request(refs=[png_bytes(halves)], aspectRatio="landscape"))
    im = small(open_png(split.data)).convert("L")
    left = ImageStat.Stat(im.crop((0, 0, 32, 64))).mean[0]
    right = ImageStat.Stat(im.crop((32, 0, 64, 64))).mean[0]
    assert right > left + 40  # a faded copy of the reference is composited in


def test_several_references_are_all_used():
    refs = [png_bytes(Image.new("RGB", (40, 30), c)) for c in ((0, 200, 0), (0, 0, 220))]
    files, _ = run(request(refs=refs, count=2))
    first, second = (open_png(f.data) for f in files)
    assert channel_means(first)[1] > channel_means(first)[0] + 40  # green leads in image 1
    assert mean_diff(first, second) > 10  # image 2 is built on the other reference


def test_png_is_labelled_as_procedural_not_ai():
    (file,), _ = run(request())
    im = open_png(file.data)
    assert im.text["Software"] == SOFTWARE == "Genova procedural renderer (not an AI model)"
    assert im.mode == "RGB"


def test_image_progress_is_monotonic_and_completes():
    _, pcts = run(request(count=3))
    check_progress(pcts)


def test_generator_is_described_honestly():
    assert GEN.name == "genova-procedural" and GEN.is_ai_model is False
    info = GEN.describe()
    assert info["generator"] == "genova-procedural" and info["ai_model"] is False
    assert "not an AI model" in info["note"]


def test_registry_serves_every_model_procedurally_by_default():
    registry = Registry()
    generators = {registry.for_model(model_id) for model_id in MODELS}
    assert len(generators) == 1
    assert isinstance(generators.pop(), ProceduralGenerator)
    with pytest.raises(KeyError):
        registry.for_model("dall-e-9")


# --- videos -------------------------------------------------------------------------------

_VIDEOS: dict = {}


def video(model: str, ratio: str):
    """Each (model, ratio) clip is rendered once per test session."""
    if (model, ratio) not in _VIDEOS:
        _VIDEOS[model, ratio] = run(request(model, aspectRatio=ratio, count=1))
    return _VIDEOS[model, ratio]


def boxes(data: bytes, start: int = 0, end: int | None = None):
    """(type, payload start, payload end) of the MP4 boxes in ``data[start:end]``."""
    end = len(data) if end is None else end
    while start + 8 <= end:
        size, kind = struct.unpack(">I4s", data[start:start + 8])
        header = 8
        if size == 1:
            size, header = struct.unpack(">Q", data[start + 8:start + 16])[0], 16
        elif size == 0:
            size = end - start
        assert size >= header and start + size <= end, f"bad box {kind!r} at {start}"
        yield kind, start + header, start + size
        start += size


def sample_entries(data: bytes) -> list[bytes]:
    """Sample-entry types of every track: moov/trak/mdia/minf/stbl/stsd."""
    found = []

    def walk(start, end, path):
        for kind, lo, hi in boxes(data, start, end):
            if kind == path[0] and len(path) > 1:
                walk(lo, hi, path[1:])
            elif kind == path[0]:  # stsd: version/flags, entry count, then entries
                found.extend(k for k, _, _ in boxes(data, lo + 8, hi))

    walk(0, len(data), [b"moov", b"trak", b"mdia", b"minf", b"stbl", b"stsd"])
    return found


def ffmpeg(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([video_mod.ffmpeg_exe(), "-hide_banner", *args],
                          check=False, capture_output=True, text=True, timeout=120)


def frame(path, index: int) -> Image.Image:
    out = path.with_name(f"frame{index}.png")
    done = ffmpeg("-v", "error", "-y", "-i", str(path), "-vf", f"select=eq(n\\,{index})",
                  "-frames:v", "1", str(out))
    assert done.returncode == 0, done.stderr
    return Image.open(out).convert("RGB")


VIDEO_CASES = [(m, r) for m in VIDEO_MODELS for r in ("landscape", "portrait")]


@pytest.mark.e2e  # runs ffmpeg to encode, then to decode
@pytest.mark.parametrize("model,ratio", VIDEO_CASES)
def test_video_is_a_playable_h264_mp4(model, ratio, tmp_path):
    files, pcts = video(model, ratio)
    assert len(files) == 1
    (file,) = files
    size = "1280x720" if ratio == "landscape" else "720x1280"
    assert (file.extension, file.content_type) == ("mp4", "video/mp4")
    assert f"{file.width}x{file.height}" == size
    check_progress(pcts)

    top = [kind for kind, _, _ in boxes(file.data)]
    assert file.data[4:8] == b"ftyp" and top[0] == b"ftyp"
    assert top.index(b"moov") < top.index(b"mdat")  # +faststart
    assert sample_entries(file.data) == [b"avc1"]

    path = tmp_path / "clip.mp4"
    path.write_bytes(file.data)
    decoded = ffmpeg("-v", "error", "-i", str(path), "-f", "null", "-")
    assert decoded.returncode == 0 and not decoded.stderr.strip(), decoded.stderr
    info = ffmpeg("-i", str(path)).stderr  # exits 1 (no output file), but describes the input
    assert size in info and "h264" in info and "yuv420p" in info and "24 fps" in info
    h, m, s = re.search(r"Duration: (\d+):(\d+):([\d.]+)", info).groups()
    assert 2.0 <= int(h) * 3600 + int(m) * 60 + float(s) <= 4.0
    assert "not an AI model" in info  # the comment tag

    first, last = frame(path, 0), frame(path, video_mod.FRAMES - 1)
    assert first.size == last.size == (file.width, file.height)
    assert mean_diff(first, last) > 10  # the camera and the orb moved


@pytest.mark.e2e  # runs ffmpeg
def test_video_ignores_count_and_is_deterministic():
    (reference,), _ = video("veo2_fast", "landscape")
    files, _ = run(request("veo2_fast", aspectRatio="landscape", count=3))
    assert [f.data for f in files] == [reference.data]


def test_ffmpeg_failure_raises_with_its_log():
    with pytest.raises(RuntimeError, match="ffmpeg failed"):  # x264 refuses odd sizes
        video_mod.encode_mp4([bytes(27)], (3, 3), total=1, progress=lambda pct, msg: None)
