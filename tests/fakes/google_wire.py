"""The wire shapes the Google fake (``google_api.py``) answers with: Google's JSON error
bodies, small real media files (PNG/JPEG and an H.264 MP4), the models' JSON, and the
recorded request."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import tempfile
import threading
import time
from typing import Any
from urllib.parse import parse_qs, urlsplit

# ---------------------------------------------------------------------------------------
# Google error bodies
# ---------------------------------------------------------------------------------------

STATUS_NAMES = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    409: "ABORTED",
    429: "RESOURCE_EXHAUSTED",
    499: "CANCELLED",
    500: "INTERNAL",
    501: "UNIMPLEMENTED",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}

DEFAULT_MESSAGES = {
    400: "Request contains an invalid argument.",
    401: ("Request had invalid authentication credentials. Expected OAuth 2 access token,"
          " login cookie or other valid authentication credential. See"
          " https://developers.google.com/identity/sign-in/web/devconsole-project."),
    403: "The caller does not have permission",
    404: "Requested entity was not found.",
    409: "The operation was aborted.",
    429: "Resource has been exhausted (e.g. check quota).",
    499: "The operation was cancelled.",
    500: "Internal error encountered.",
    501: "Operation is not implemented, or supported, or enabled.",
    503: "The service is currently unavailable.",
    504: "Deadline expired before operation could complete.",
}

# What the Gemini Developer API itself says for these (the Vertex wording is above).
GEMINI_MESSAGES = {
    500: ("An internal error has occurred. Please retry or report in"
          " https://developers.generativeai.google/guide/troubleshooting"),
    503: "The model is overloaded. Please try again later.",
}

GEMINI_SERVICE = "generativelanguage.googleapis.com"
VERTEX_SERVICE = "aiplatform.googleapis.com"


def google_error(code: int, message: str | None = None, status: str | None = None,
                 details: list | None = None, vertex: bool = False) -> dict:
    """Google's JSON error body (google.rpc.Status as mapped to HTTP/JSON)."""
    if message is None:
        message = (None if vertex else GEMINI_MESSAGES.get(code)) or DEFAULT_MESSAGES.get(
            code, "Unknown error.")
    error: dict[str, Any] = {
        "code": code,
        "message": message,
        "status": status or STATUS_NAMES.get(code, "UNKNOWN"),
    }
    if details:
        error["details"] = details
    return {"error": error}


def api_key_invalid_error(vertex: bool = False) -> dict:
    return google_error(400, "API key not valid. Please pass a valid API key.",
                        "INVALID_ARGUMENT", [{
                            "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                            "reason": "API_KEY_INVALID",
                            "domain": "googleapis.com",
                            "metadata": {"service": VERTEX_SERVICE if vertex else GEMINI_SERVICE},
                        }])


def missing_credentials_error(vertex: bool) -> tuple[int, dict]:
    if vertex:
        return 401, google_error(401, (
            "Request is missing required authentication credential. Expected OAuth 2 access"
            " token, login cookie or other valid authentication credential. See"
            " https://developers.google.com/identity/sign-in/web/devconsole-project."),
            "UNAUTHENTICATED", [{
                "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                "reason": "CREDENTIALS_MISSING",
                "domain": "googleapis.com",
                "metadata": {"service": VERTEX_SERVICE},
            }])
    return 403, google_error(403, (
        "Method doesn't allow unregistered callers (callers without established identity)."
        " Please use API Key or other form of API consumer identity to call this API."),
        "PERMISSION_DENIED")


# ---------------------------------------------------------------------------------------
# Media
# ---------------------------------------------------------------------------------------

LONG_SIDE = 64

GEMINI_ASPECT_RATIOS = {"1:1", "2:3", "3:2", "3:4", "4:3", "4:5", "5:4", "9:16", "16:9",
                        "21:9", "9:21", "1:4", "4:1", "1:8", "8:1"}
IMAGEN_ASPECT_RATIOS = {"1:1", "3:4", "4:3", "9:16", "16:9"}
VEO_ASPECT_RATIOS = {"16:9", "9:16"}


def size_for_aspect(aspect_ratio: str | None, long_side: int = LONG_SIDE) -> tuple[int, int]:
    """(width, height) with ``long_side`` on the longer side, shaped by "W:H"."""
    try:
        w, h = (float(x) for x in (aspect_ratio or "1:1").split(":"))
    except ValueError:
        w, h = 1.0, 1.0
    if w <= 0 or h <= 0:
        w, h = 1.0, 1.0
    if w >= h:
        return long_side, max(1, round(long_side * h / w))
    return max(1, round(long_side * w / h)), long_side


def make_image(width: int, height: int, seed: str, mime_type: str = "image/png") -> bytes:
    """A small picture whose colours come from ``seed`` (so different prompts differ)."""
    from PIL import Image, ImageDraw

    digest = hashlib.sha256(seed.encode("utf-8")).digest()
    background = tuple(digest[0:3])
    foreground = tuple(digest[3:6])
    accent = tuple(digest[6:9])
    image = Image.new("RGB", (width, height), background)
    draw = ImageDraw.Draw(image)
    draw.rectangle([width // 4, height // 4, (3 * width) // 4, (3 * height) // 4],
                   fill=foreground)
    # a row of seed-coloured pixels along the top edge
    for x in range(width):
        byte = digest[x % len(digest)]
        image.putpixel((x, 0), (byte, accent[1], accent[2]))
    draw.point([(width // 2, height // 2)], fill=accent)
    out = io.BytesIO()
    if mime_type == "image/jpeg":
        image.save(out, format="JPEG", quality=90)
    elif mime_type == "image/webp":
        image.save(out, format="WEBP")
    else:
        image.save(out, format="PNG")
    return out.getvalue()


def image_size_of(data: bytes) -> tuple[int, int] | None:
    try:
        from PIL import Image

        with Image.open(io.BytesIO(data)) as image:
            return image.size
    except Exception:  # noqa: BLE001 - any undecodable input just has no size
        return None


_mp4_cache: dict[tuple[int, int], bytes] = {}
_mp4_lock = threading.Lock()


def make_mp4(width: int = 64, height: int = 36) -> bytes:
    """A real 1-second H.264 MP4 (made once per size per process with imageio-ffmpeg)."""
    key = (width, height)
    with _mp4_lock:
        if key in _mp4_cache:
            return _mp4_cache[key]
        import imageio_ffmpeg

        exe = imageio_ffmpeg.get_ffmpeg_exe()
        tmpdir = tempfile.mkdtemp(prefix="googlefake-")
        try:
            target = os.path.join(tmpdir, "clip.mp4")
            base = [exe, "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i",
                    f"testsrc=size={width}x{height}:rate=12:duration=1", "-an"]
            attempts = [
                ["-c:v", "libx264", "-pix_fmt", "yuv420p", "-movflags", "+faststart"],
                ["-c:v", "mpeg4", "-movflags", "+faststart"],
            ]
            last_error = b""
            for codec in attempts:
                result = subprocess.run(base + codec + ["-f", "mp4", target],
                                        capture_output=True, timeout=60)
                if result.returncode == 0 and os.path.getsize(target) > 0:
                    break
                last_error = result.stderr
            else:
                raise RuntimeError(f"ffmpeg could not make an MP4: {last_error[-500:]!r}")
            with open(target, "rb") as f:
                data = f.read()
        finally:
            shutil.rmtree(tmpdir, ignore_errors=True)
        _mp4_cache[key] = data
        return data


def camelize(value: Any) -> Any:
    """Google's JSON parser takes proto field names in either spelling, and the SDK sends
    some nested objects (inlineData, thinkingConfig...) with snake_case keys. The fake reads
    a camelCase copy of every body (``fake.requests`` keep the raw one)."""
    if isinstance(value, dict):
        return {re.sub(r"_([a-z0-9])", lambda m: m.group(1).upper(), k)
                if isinstance(k, str) and not k.startswith("@") else k: camelize(v)
                for k, v in value.items()}
    if isinstance(value, list):
        return [camelize(v) for v in value]
    return value


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def unb64(text: str) -> bytes:
    """Decodes standard or URL-safe base64 (the SDK sends inlineData.data URL-safe)."""
    text = (text or "").strip().replace("-", "+").replace("_", "/")
    try:
        return base64.b64decode(text + "=" * (-len(text) % 4))
    except ValueError:
        return b""


# ---------------------------------------------------------------------------------------
# Models
# ---------------------------------------------------------------------------------------

GEMINI_IMAGE_MODELS = {
    "gemini-2.5-flash-image": "Nano Banana",
    "gemini-2.5-flash-image-preview": "Nano Banana (preview)",
    "gemini-3-pro-image-preview": "Nano Banana Pro",
    "gemini-3-pro-image": "Nano Banana Pro",
    "nano-banana-pro-preview": "Nano Banana Pro",
    "gemini-3.1-flash-image-preview": "Nano Banana 2",
    "gemini-3.1-flash-image": "Nano Banana 2",
    "gemini-3.1-flash-lite-image": "Gemini 3.1 Flash Lite Image",
    "gemini-nano-banana-2.1": "Nano Banana 2.1",
    "gemini-2.0-flash-preview-image-generation": "Gemini 2.0 Flash Preview Image Generation",
}
IMAGEN_MODELS = {
    "imagen-3.0-generate-001": "Imagen 3",
    "imagen-3.0-generate-002": "Imagen 3",
    "imagen-3.0-fast-generate-001": "Imagen 3 Fast",
    "imagen-4.0-generate-001": "Imagen 4",
    "imagen-4.0-ultra-generate-001": "Imagen 4 Ultra",
    "imagen-4.0-fast-generate-001": "Imagen 4 Fast",
}
VEO_MODELS = {
    "veo-2.0-generate-001": "Veo 2",
    "veo-2.0-generate-exp": "Veo 2 (experimental)",
    "veo-3.0-generate-001": "Veo 3",
    "veo-3.0-fast-generate-001": "Veo 3 Fast",
    "veo-3.1-generate-preview": "Veo 3.1",
    "veo-3.1-fast-generate-preview": "Veo 3.1 Fast",
    "veo-3.1-generate-001": "Veo 3.1",
    "veo-3.1-fast-generate-001": "Veo 3.1 Fast",
    "veo-3.1-lite-generate-001": "Veo 3.1 Lite",
}
TEXT_MODELS = {"gemini-2.5-flash": "Gemini 2.5 Flash", "gemini-2.5-pro": "Gemini 2.5 Pro"}


def model_kind(model_id: str) -> str | None:
    """'gemini' (generateContent), 'imagen' (predict), 'veo' (predictLongRunning) or None.
    Known ids and anything that looks like one of these families are served."""
    if model_id in GEMINI_IMAGE_MODELS or model_id in TEXT_MODELS:
        return "gemini"
    if model_id in IMAGEN_MODELS or model_id.startswith("imagen-"):
        return "imagen"
    if model_id in VEO_MODELS or model_id.startswith("veo-"):
        return "veo"
    if model_id.startswith("gemini-") or model_id.startswith("nano-banana"):
        return "gemini"
    return None


def display_name(model_id: str) -> str:
    for table in (GEMINI_IMAGE_MODELS, IMAGEN_MODELS, VEO_MODELS, TEXT_MODELS):
        if model_id in table:
            return table[model_id]
    return model_id


def gemini_model_json(model_id: str) -> dict:
    kind = model_kind(model_id)
    methods = {"gemini": ["generateContent", "countTokens", "batchGenerateContent"],
               "imagen": ["predict"], "veo": ["predictLongRunning"]}[kind or "gemini"]
    body: dict[str, Any] = {
        "name": f"models/{model_id}",
        "version": "001" if kind != "gemini" else "2.0",
        "displayName": display_name(model_id),
        "description": f"{display_name(model_id)} (fake)",
        "inputTokenLimit": 32768 if kind == "gemini" else 480,
        "outputTokenLimit": 32768 if kind == "gemini" else 8192,
        "supportedGenerationMethods": methods,
    }
    if kind == "gemini":
        body.update({"temperature": 1, "topP": 0.95, "topK": 64, "maxTemperature": 2})
    return body


def vertex_model_json(model_id: str) -> dict:
    return {
        "name": f"publishers/google/models/{model_id}",
        "versionId": "001",
        "openSourceCategory": "PROPRIETARY",
        "launchStage": "PUBLIC_PREVIEW" if "preview" in model_id else "GA",
        "versionState": "VERSION_STATE_STABLE",
        "publisherModelTemplate":
            f"projects/{{project}}/locations/{{location}}/publishers/google/models/{model_id}",
    }


# ---------------------------------------------------------------------------------------
# Recording
# ---------------------------------------------------------------------------------------


class RecordedRequest:
    """One request as it arrived. Attribute access, or ``req["path"]`` like a dict."""

    def __init__(self, method: str, raw_path: str, headers: dict[str, str], body: bytes):
        split = urlsplit(raw_path)
        self.method = method
        self.raw_path = raw_path  # with the query string
        self.path = split.path  # without it
        self.query = {k: v[0] if len(v) == 1 else v for k, v in parse_qs(split.query).items()}
        self.headers = headers  # lower-case names
        self.body = body
        self.time = time.time()
        try:
            self.json = json.loads(body) if body else None
        except ValueError:
            self.json = None

    def __getitem__(self, key: str) -> Any:
        return getattr(self, key)

    def get(self, key: str, default: Any = None) -> Any:
        return getattr(self, key, default)

    def __repr__(self) -> str:
        return f"<RecordedRequest {self.method} {self.raw_path}>"


class Reply(Exception):
    """Raised inside a route to answer at once."""

    def __init__(self, status: int, body: Any, content_type: str = "application/json"):
        super().__init__(status)
        self.status, self.body, self.content_type = status, body, content_type
