"""Video plumbing for the procedural renderer: camera motion over a still canvas, a moving
orb, and H.264 encoding with the ffmpeg binary shipped in the ``imageio-ffmpeg`` wheel.

``procedural`` renders the canvas and the caption layers; this module animates them.
Frames are piped to ffmpeg as raw RGB on stdin, so no frame ever touches the disk; the MP4
goes to a temporary file because ``+faststart`` needs a seekable output.
"""

from __future__ import annotations

import math
import os
import random
import subprocess
import tempfile
from collections.abc import Iterable, Iterator

from PIL import Image, ImageDraw

from genova.generators import ProgressFn

FPS = 24
FRAMES = 72  # three seconds
CANVAS_SCALE = 1.3  # the canvas is this much larger than a frame, so the camera can pan
FFMPEG_TIMEOUT = 300  # seconds ffmpeg may take to finish after the last frame
_ZOOM = (1.1, 1.4)  # canvas-to-box ratio at the ends of the move; CANVAS_SCALE is 1:1


def ffmpeg_exe() -> str:
    import imageio_ffmpeg  # imported lazily: only video jobs need it

    return imageio_ffmpeg.get_ffmpeg_exe()


def canvas_size(size: tuple[int, int]) -> tuple[int, int]:
    """Size of the still canvas the camera moves across for a clip of frame ``size``."""
    return round(size[0] * CANVAS_SCALE), round(size[1] * CANVAS_SCALE)


def _ease(t: float) -> float:
    return t * t * (3 - 2 * t)


def _ends(rng: random.Random) -> tuple[float, float]:
    """Start and end of a pan along one axis, as fractions of the free travel."""
    start, end = rng.uniform(0.0, 0.25), rng.uniform(0.75, 1.0)
    return (start, end) if rng.random() < 0.5 else (end, start)


def pan_zoom(canvas: Image.Image, size: tuple[int, int], rng: random.Random,
             frames: int = FRAMES) -> Iterator[tuple[float, Image.Image]]:
    """Yield ``(t, frame)`` for ``t`` from 0 to 1: an eased zoom and pan across ``canvas``."""
    cw, ch = canvas.size
    z0, z1 = _ZOOM if rng.random() < 0.5 else _ZOOM[::-1]
    (x0, x1), (y0, y1) = _ends(rng), _ends(rng)
    for i in range(frames):
        t = i / (frames - 1) if frames > 1 else 1.0
        e = _ease(t)
        zoom = z0 + (z1 - z0) * e
        bw, bh = cw / zoom, ch / zoom
        left = (cw - bw) * (x0 + (x1 - x0) * e)
        top = (ch - bh) * (y0 + (y1 - y0) * e)
        box = (left, top, left + bw, top + bh)
        yield t, canvas.resize(size, Image.Resampling.BILINEAR, box=box)


def _orb(frame: Image.Image, t: float, path: tuple[float, ...], colour: tuple) -> None:
    """A ring with a bright core, sweeping across the frame along a wavy path."""
    w, h = frame.size
    x0, y0, x1, y1, wobble = path
    x = (x0 + (x1 - x0) * t) * w
    y = (y0 + (y1 - y0) * t + wobble * math.sin(t * 2 * math.pi)) * h
    r = min(w, h) * 0.07
    draw = ImageDraw.Draw(frame, "RGBA")
    draw.ellipse((x - r, y - r, x + r, y + r), fill=(*colour, 110))
    draw.ellipse((x - r / 2, y - r / 2, x + r / 2, y + r / 2), fill=(255, 255, 255, 200))
    draw.ellipse((x - r, y - r, x + r, y + r), outline=(255, 255, 255, 230),
                 width=max(2, round(r / 10)))


def render_clip(canvas: Image.Image, size: tuple[int, int],
                layers: list[tuple[Image.Image, tuple[int, int]]], accent: tuple,
                rng: random.Random, progress: ProgressFn, comment: str = "") -> bytes:
    """A 3-second MP4 of ``size``: pan/zoom across ``canvas``, an ``accent`` orb moving across,
    and the RGBA ``layers`` (image, position) fixed on top of every frame."""
    path = (rng.uniform(0.05, 0.25), rng.uniform(0.2, 0.8), rng.uniform(0.75, 0.95),
            rng.uniform(0.2, 0.8), rng.uniform(-0.12, 0.12))
    if rng.random() < 0.5:
        path = (path[2], path[1], path[0], path[3], path[4])

    def frames() -> Iterator[bytes]:
        for t, frame in pan_zoom(canvas, size, rng):
            _orb(frame, t, path, accent)
            for layer, xy in layers:
                frame.paste(layer, xy, layer)
            yield frame.tobytes()

    return encode_mp4(frames(), size, total=FRAMES, progress=progress, comment=comment)


def _ffmpeg_args(size: tuple[int, int], fps: int, out: str, comment: str) -> list[str]:
    width, height = size
    return [
        ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y",
        "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{width}x{height}", "-r", str(fps),
        "-i", "-",
        "-an", "-c:v", "libx264", "-preset", "ultrafast", "-threads", "1",
        "-pix_fmt", "yuv420p", "-movflags", "+faststart",
        "-fflags", "+bitexact", "-flags:v", "+bitexact", "-map_metadata", "-1",
        "-metadata", f"comment={comment}",
        "-f", "mp4", out,
    ]


def _feed(proc: subprocess.Popen, frames: Iterable[bytes], total: int,
          progress: ProgressFn) -> None:
    assert proc.stdin is not None
    try:
        for i, frame in enumerate(frames, 1):
            proc.stdin.write(frame)
            if i % 8 == 0 or i == total:
                progress(10 + 80 * min(i, total) // total, f"encoded frame {i}/{total}")
    except BrokenPipeError:
        pass  # ffmpeg exited early; its exit code and log say why
    finally:
        try:
            proc.stdin.close()
        except BrokenPipeError:
            pass


def _tail(path: str, limit: int = 2000) -> str:
    with open(path, "rb") as f:
        text = f.read().decode("utf-8", "replace").strip()
    return text[-limit:] or "(no output)"


def encode_mp4(frames: Iterable[bytes], size: tuple[int, int], *, total: int,
               progress: ProgressFn, comment: str = "", fps: int = FPS) -> bytes:
    """Encode raw RGB ``frames`` (``total`` of them) as an H.264/yuv420p MP4 and return it.

    Reports progress from 10 to 90 while feeding frames. Raises ``RuntimeError`` with the tail
    of ffmpeg's log when it fails. ``-threads 1`` keeps the output byte-for-byte repeatable.
    """
    with tempfile.TemporaryDirectory(prefix="genova-video-") as tmp:
        out, log_path = os.path.join(tmp, "out.mp4"), os.path.join(tmp, "ffmpeg.log")
        with open(log_path, "wb") as log:
            proc = subprocess.Popen(_ffmpeg_args(size, fps, out, comment),
                                    stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=log)
            try:
                _feed(proc, frames, total, progress)
                code = proc.wait(timeout=FFMPEG_TIMEOUT)
            except subprocess.TimeoutExpired:
                code = None
            finally:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
        if code != 0:
            raise RuntimeError(f"ffmpeg failed (exit code {code}): {_tail(log_path)}")
        with open(out, "rb") as f:
            return f.read()
