"""What an uploaded result file really is: its kind and its pixel size, read from its
headers (never the whole file), so that 150 MiB of zeros behind a PNG signature is refused
instead of being stored and served back through signed links."""

from __future__ import annotations

import struct
import warnings
from dataclasses import dataclass
from typing import BinaryIO

from PIL import Image

from genova.errors import ValidationError

MAX_SIDE = 16384  # pixels, either way
MP4_BRANDS = (b"isom", b"iso2", b"iso4", b"iso5", b"iso6", b"mp41", b"mp42", b"avc1", b"M4V ",
              b"dash")
PIL_KINDS = {"PNG": "png", "JPEG": "jpg", "MPO": "jpg", "WEBP": "webp"}
CONTAINERS = (b"moov", b"trak")  # boxes to descend into on the way to tkhd


@dataclass(frozen=True)
class Media:
    kind: str  # "png" | "jpg" | "webp" | "mp4"
    width: int
    height: int


def claimed_kind(stream: BinaryIO) -> str | None:
    """The kind a file's first bytes claim (checked for real by ``inspect``)."""
    head = stream.read(12)
    stream.seek(0)
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head.startswith(b"\xff\xd8\xff"):
        return "jpg"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    if head[4:8] == b"ftyp" and head[8:12] in MP4_BRANDS:
        return "mp4"
    return None


def inspect(stream: BinaryIO, *, field: str) -> Media:
    """The kind and size of a seekable stream; a 400 naming ``field`` if it is not a
    decodable PNG, JPEG, WEBP or MP4 of a sensible size. Leaves the stream at 0."""
    try:
        media = _mp4(stream) if claimed_kind(stream) == "mp4" else _image(stream)
    except ValueError as exc:  # ours: what is wrong with the MP4
        raise ValidationError(f"{field} is not a readable MP4: {exc}", field=field) from None
    except (OSError, struct.error, SyntaxError):
        raise ValidationError(f"{field} is not a readable PNG, JPEG, WEBP or MP4",
                              field=field) from None
    finally:
        stream.seek(0)
    if not (0 < media.width <= MAX_SIDE and 0 < media.height <= MAX_SIDE):
        raise ValidationError(f"{field} is {media.width}x{media.height} pixels; each side must "
                              f"be 1 to {MAX_SIDE}", field=field)
    return media


def _image(stream: BinaryIO) -> Media:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with Image.open(stream, formats=["PNG", "JPEG", "WEBP"]) as im:
            width, height = im.size
            im.verify()  # walks the chunks/markers without decoding the pixels
            return Media(PIL_KINDS[im.format], width, height)


def _boxes(stream: BinaryIO, end: int):
    """(type, payload start, payload end) of each MP4 box between here and ``end``."""
    while stream.tell() + 8 <= end:
        start = stream.tell()
        size, kind = struct.unpack(">I4s", stream.read(8))
        header = 8
        if size == 1:
            size, header = struct.unpack(">Q", stream.read(8))[0], 16
        elif size == 0:
            size = end - start
        if size < header or start + size > end:
            raise ValueError(f"its {kind.decode('latin-1')!r} box overruns the file")
        yield kind, start + header, start + size
        stream.seek(start + size)


def _mp4(stream: BinaryIO) -> Media:
    """The first video track's width and height, from its ``tkhd`` box."""
    end = stream.seek(0, 2)
    stream.seek(0)
    pending = [(0, end)]
    while pending:
        start, stop = pending.pop(0)
        stream.seek(start)
        for kind, body, box_end in list(_boxes(stream, stop)):
            if kind in CONTAINERS:
                pending.append((body, box_end))
            elif kind == b"tkhd":
                stream.seek(body)
                version = stream.read(1)[0]
                stream.seek(body + (88 if version == 1 else 76))  # to width, height (16.16)
                width, height = struct.unpack(">II", stream.read(8))
                if width and height:
                    return Media("mp4", width >> 16, height >> 16)
    raise ValueError("no video track with a size (no tkhd box)")
