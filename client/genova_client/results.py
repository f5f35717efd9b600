"""Generated files: a ``Result`` per file, a ``Results`` list per job.

In Jupyter an image result shows as the picture, a video as a player, and a list of results
as a grid of thumbnails; everywhere else they are bytes with ``save``.
"""

from __future__ import annotations

import base64
import html
import io
import mimetypes
from dataclasses import dataclass, field
from pathlib import Path

from genova_client.types import Job

THUMBNAIL = 256
VIDEO_EMBED_LIMIT = 20 * 1024 * 1024  # larger videos are linked, not embedded


def extension_for(content_type: str | None, key: str | None) -> str:
    if key and "." in key.rsplit("/", 1)[-1]:
        return "." + key.rsplit(".", 1)[-1]
    return mimetypes.guess_extension((content_type or "").split(";")[0].strip()) or ".bin"


@dataclass
class Result:
    """One generated file. ``content`` holds its bytes; ``path`` is set once it is saved."""

    job_id: str
    index: int
    type: str  # "image" or "video"
    content: bytes = field(repr=False)
    content_type: str = "application/octet-stream"
    key: str | None = None  # the storage key (the job's result_url)
    path: Path | None = None
    placeholder: bool = False  # made by the built-in procedural renderer, not an AI model

    @property
    def filename(self) -> str:
        return f"{self.job_id}-{self.index}{extension_for(self.content_type, self.key)}"

    @property
    def image(self):
        """The image as a PIL image (images only)."""
        if self.type != "image":
            raise TypeError(f"result {self.index} of job {self.job_id} is a {self.type}")
        from PIL import Image

        image = Image.open(io.BytesIO(self.content))
        image.load()
        return image

    def save(self, path: str | Path | None = None) -> Path:
        """Write the file; ``path`` may be a directory (the file keeps its own name)."""
        target = Path(path) if path is not None else Path(self.filename)
        if target.is_dir():
            target = target / self.filename
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(self.content)
        self.path = target
        return target

    def thumbnail_uri(self, size: int = THUMBNAIL) -> str:
        image = self.image
        image.thumbnail((size, size))
        buffer = io.BytesIO()
        image.convert("RGB").save(buffer, format="PNG")
        return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()

    def png(self) -> bytes:
        """The image as PNG bytes (converted when the server sent JPEG or WEBP)."""
        if self.content_type == "image/png":
            return self.content
        buffer = io.BytesIO()
        self.image.save(buffer, format="PNG")
        return buffer.getvalue()

    def _repr_mimebundle_(self, include=None, exclude=None) -> dict:
        """Jupyter: an image as one PNG output (never twice), a video as a player."""
        label = f"{self.type} {self.index} of job {self.job_id}" + (
            " (placeholder render, not AI output)" if self.placeholder else "")
        if self.type == "image":
            return {"image/png": base64.b64encode(self.png()).decode(), "text/plain": label}
        return {"text/html": self._video_html(), "text/plain": label}

    def _video_html(self) -> str:
        if len(self.content) <= VIDEO_EMBED_LIMIT:
            source = f"data:{self.content_type};base64," + base64.b64encode(self.content).decode()
        else:
            source = html.escape(str(self.path or self.save()))
        return (f'<video controls loop muted playsinline style="max-width:100%">'
                f'<source src="{source}" type="{self.content_type}"></video>')


class Results(list):
    """The results of one job (a list of ``Result``), with the ``job`` they came from."""

    def __init__(self, items=(), job: Job | None = None):
        super().__init__(items)
        self.job = job

    def save(self, directory: str | Path = ".") -> list[Path]:
        Path(directory).mkdir(parents=True, exist_ok=True)
        return [result.save(directory) for result in self]

    def _repr_html_(self) -> str:
        return grid_html(self)


def grid_html(results, captions: list[str] | None = None, size: int = THUMBNAIL) -> str:
    """A grid of thumbnails (images) and players (videos), each with an optional caption."""
    cells = []
    for i, result in enumerate(results):
        if result.type == "image":
            inner = f'<img src="{result.thumbnail_uri(size)}" style="max-width:{size}px">'
        else:
            inner = result._video_html().replace("max-width:100%", f"max-width:{size}px")
        caption = html.escape(captions[i]) if captions and i < len(captions) else ""
        cells.append(f'<figure style="margin:4px;text-align:center">{inner}'
                     f'<figcaption style="font-size:12px">{caption}</figcaption></figure>')
    return f'<div style="display:flex;flex-wrap:wrap">{"".join(cells)}</div>'
