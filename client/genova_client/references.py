"""Reference images as the API wants them: data URLs (``data:image/png;base64,...``).

Accepted: file paths (``str`` or ``Path``), raw bytes, PIL images, and data URLs or plain
base64 strings (passed through).
"""

from __future__ import annotations

import base64
import io
import re
from pathlib import Path

BASE64 = re.compile(r"[A-Za-z0-9+/\s]+={0,2}")
SIGNATURES = ((b"\x89PNG\r\n\x1a\n", "image/png"), (b"\xff\xd8\xff", "image/jpeg"),
              (b"GIF8", "image/gif"))


def sniff(data: bytes) -> str:
    for magic, mime in SIGNATURES:
        if data.startswith(magic):
            return mime
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return "application/octet-stream"  # the API answers 400 and names the image


def data_url(data: bytes) -> str:
    return f"data:{sniff(data)};base64,{base64.b64encode(data).decode()}"


def encode_reference(item) -> str:
    if isinstance(item, bytes | bytearray | memoryview):
        return data_url(bytes(item))
    if isinstance(item, Path):
        return data_url(item.read_bytes())
    if isinstance(item, str):
        if item.startswith("data:"):
            return item
        if len(item) < 4096 and Path(item).expanduser().is_file():
            return data_url(Path(item).expanduser().read_bytes())
        if len(item) >= 16 and BASE64.fullmatch(item):
            return item  # plain base64
        raise FileNotFoundError(f"reference image {item!r} is neither a file nor base64")
    if hasattr(item, "save") and hasattr(item, "mode"):  # a PIL image
        buffer = io.BytesIO()
        item.save(buffer, format="PNG")
        return data_url(buffer.getvalue())
    raise TypeError(f"a reference image must be a path, bytes, a PIL image or a data URL, "
                    f"not {type(item).__name__}")


def encode_references(items) -> list[str]:
    if isinstance(items, str | bytes | Path) or hasattr(items, "mode"):
        items = [items]
    return [encode_reference(item) for item in items]
