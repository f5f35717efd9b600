"""Freepik's Mystic text-to-image task API (``POST /v1/ai/mystic``, then ``GET
/v1/ai/mystic/{task_id}`` until COMPLETED or FAILED, then the image URLs are downloaded).

One Mystic task makes one image, so ``count`` is that many tasks. Reference modes
(docs/providers.md has the table):

- ``style`` -> ``style_reference`` (the image, base64), ``adherence`` 50;
- ``camera`` -> ``structure_reference`` (keeps the reference's composition and
  perspective), ``structure_strength`` 50;
- ``color`` -> ``styling.colors``: the reference's five dominant colours with their weights;
- ``character``, ``element`` and ``effects`` have no equivalent for an uploaded picture
  (Mystic's characters and styles are trained LoRA ids), so a job asking for them is refused
  when it is created.

Mystic has no cancel endpoint: a job that must stop just stops polling.
"""

from __future__ import annotations

import base64
import io
import time

import httpx
from PIL import Image

from genova.catalog import ASPECT_RATIOS
from genova.generators import (
    ContentRefused,
    GeneratedFile,
    GenerationError,
    GenerationRequest,
    ProgressFn,
    ProviderUnavailable,
    Unsupported,
)
from genova.generators.calls import RETRY_STATUS, ProviderModel, Transient, pause, retry
from genova.generators.config import ProviderSettings

# Mystic's aspect ratios by width:height, so Flow's landscape/portrait/square map too
ASPECTS = {(1, 1): "square_1_1", (4, 3): "classic_4_3", (3, 4): "traditional_3_4",
           (16, 9): "widescreen_16_9", (9, 16): "social_story_9_16", (3, 2): "standard_3_2",
           (2, 3): "portrait_2_3"}
RESOLUTIONS = {"1K": "1k", "2K": "2k"}
SUPPORTED_MODES = ("style", "camera", "color")
MAX_DOWNLOAD = 64 * 1024 * 1024


class Status(Exception):
    """A non-2xx answer, with what ``classify`` needs."""

    def __init__(self, code: int, message: str, retry_after: float | None):
        super().__init__(f"HTTP {code}: {message}")
        self.code, self.message, self.retry_after = code, message, retry_after


def classify(exc: Exception):
    if isinstance(exc, Status):
        if exc.code in RETRY_STATUS:
            return Transient(f"HTTP {exc.code}", exc.retry_after)
        if exc.code in (401, 403):
            return ProviderUnavailable("Freepik refused Genova's credentials; the operator "
                                       "should check GENOVA_FREEPIK_API_KEY")
        return GenerationError(f"Freepik refused the request: {exc.message}")
    if isinstance(exc, httpx.TransportError):
        return Transient(f"{type(exc).__name__} talking to Freepik")
    return None


def classify_create(exc: Exception):
    if isinstance(exc, httpx.TimeoutException) and not isinstance(exc, httpx.ConnectTimeout):
        return ProviderUnavailable("Freepik did not answer in time; the job was not sent "
                                   "again, so that it is not made (and billed) twice")
    return classify(exc)


def _message(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.reason_phrase or "error"
    text = str(body.get("message") or response.reason_phrase) if isinstance(body, dict) else ""
    problems = body.get("invalid_params") if isinstance(body, dict) else None
    if problems:
        text += ": " + "; ".join(f"{p.get('field')} {p.get('reason')}" for p in problems[:5])
    return text[:300]


def _retry_after(response: httpx.Response) -> float | None:
    try:
        return float(response.headers["retry-after"])
    except (KeyError, ValueError):
        return None


class FreepikProvider:
    name = "freepik"

    def __init__(self, settings: ProviderSettings, slots):
        self.settings, self.slots = settings, slots
        self._http: httpx.Client | None = None

    def model(self, model_id: str, provider_model: str) -> FreepikModel:
        return FreepikModel(self, model_id, provider_model)

    @property
    def http(self) -> httpx.Client:
        if self._http is None:  # built on first use: nothing connects at start
            self._http = httpx.Client(
                base_url=self.settings.freepik_base_url, follow_redirects=False,
                timeout=self.settings.request_timeout,
                # the API was renamed Magnific in 2026; both names of the header are sent
                headers={"x-freepik-api-key": self.settings.freepik_api_key or "",
                         "x-magnific-api-key": self.settings.freepik_api_key or "",
                         "accept": "application/json"})
        return self._http

    def request(self, method: str, path: str, stop, *, creates: bool = False, **kwargs
                ) -> dict:
        """One API call with retries. A call that ``creates`` a (billed) task is not sent
        again after a timeout, which may have created it: the job fails instead."""
        def once():
            response = self.http.request(method, path, **kwargs)
            if response.status_code >= 400:
                raise Status(response.status_code, _message(response), _retry_after(response))
            return response.json()

        return retry(self.settings, once, classify=classify_create if creates else classify,
                     stop=stop, provider="Freepik")

    def download(self, url: str, stop) -> bytes:
        """A generated image (a CDN URL: no key sent, no redirects, bounded size)."""
        def once():
            with httpx.stream("GET", url, timeout=self.settings.request_timeout,
                              follow_redirects=False) as response:
                if response.status_code >= 400:
                    raise Status(response.status_code, "download failed", None)
                data = bytearray()
                for chunk in response.iter_bytes():
                    data += chunk
                    if len(data) > MAX_DOWNLOAD:
                        raise GenerationError("Freepik's image is larger than Genova accepts")
                return bytes(data)

        return retry(self.settings, once, classify=classify, stop=stop, provider="Freepik")


class FreepikModel(ProviderModel):
    name = "freepik"

    def describe(self) -> dict:
        return {"generator": f"freepik/mystic-{self.provider_model}", "provider": "freepik",
                "provider_model": f"mystic/{self.provider_model}", "api": "Freepik Mystic",
                "ai_model": True}

    def check(self, settings: dict) -> None:
        mode = (settings.get("referenceImages") or {}).get("mode")
        if mode and mode not in SUPPORTED_MODES:
            raise Unsupported(
                f"referenceImages.mode {mode!r} has no Freepik Mystic equivalent for an "
                f"uploaded image; use one of {', '.join(SUPPORTED_MODES)}",
                field="referenceImages.mode")
        if ASPECT_RATIOS[settings["aspectRatio"]] not in ASPECTS:
            raise Unsupported(f"aspectRatio {settings['aspectRatio']!r} is not available on "
                              "Freepik Mystic", field="aspectRatio")

    def probe(self) -> str:
        listed = self.provider.request("GET", "/v1/ai/mystic", lambda: None,
                                       params={"per_page": 1})
        return f"the Mystic API answers ({len(listed.get('data') or [])} recent task listed)"

    def generate(self, request: GenerationRequest, progress: ProgressFn
                 ) -> list[GeneratedFile]:
        count = max(1, int(request.settings.get("count") or 1))
        body = self.body(request)
        files = []
        with self.provider.slots.hold(request.stop):
            for index in range(count):
                files.append(self._one(request, body, progress, index, count))
        return files

    def body(self, request: GenerationRequest) -> dict:
        settings = request.settings
        body = {"prompt": request.prompt,
                "aspect_ratio": ASPECTS[ASPECT_RATIOS[settings["aspectRatio"]]],
                "resolution": RESOLUTIONS.get(settings.get("quality") or "1K", "1k"),
                "model": self.provider_model, "filter_nsfw": True}
        refs, mode = request.references, request.reference_mode
        if refs and mode == "style":
            body.update(style_reference=_b64(refs[0]), adherence=50)
        elif refs and mode == "camera":
            body.update(structure_reference=_b64(refs[0]), structure_strength=50)
        elif refs and mode == "color":
            body["styling"] = {"colors": dominant_colors(refs)}
        return body

    def _one(self, request: GenerationRequest, body: dict, progress: ProgressFn,
             index: int, count: int) -> GeneratedFile:
        created = self.provider.request("POST", "/v1/ai/mystic", request.stop, json=body,
                                        creates=True)
        task_id = (created.get("data") or {}).get("task_id")
        if not task_id:
            raise GenerationError("Freepik accepted the job but returned no task id")
        started = time.monotonic()
        while True:
            pause(self.provider.settings.poll_interval, request.stop)
            task = self.provider.request("GET", f"/v1/ai/mystic/{task_id}",
                                         request.stop).get("data") or {}
            status = task.get("status")
            if status == "COMPLETED":
                break
            if status == "FAILED":
                raise ContentRefused("Freepik did not make this image (the task failed; "
                                     "Mystic gives no reason, usually its content policy)")
            progress(5 + int(90 * (index + self.share_done(started)) / count),
                     f"rendering on Freepik ({status})")
        if any(task.get("has_nsfw") or []):
            raise ContentRefused("Freepik flagged the image as not safe for work")
        urls = task.get("generated") or []
        if not urls:
            raise GenerationError("Freepik finished the task but returned no image")
        return self.image_file(self.provider.download(urls[0], request.stop))


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def dominant_colors(refs: list[bytes], n: int = 5) -> list[dict]:
    """The references' ``n`` most common colours (after quantizing) as Mystic's
    ``{"color": "#RRGGBB", "weight": 0.05-1}``."""
    with Image.open(io.BytesIO(refs[0])) as im:
        small = im.convert("RGB").resize((64, 64))
    quantized = small.quantize(colors=n, method=Image.Quantize.MEDIANCUT)
    palette = quantized.getpalette() or []
    counts = sorted(quantized.getcolors() or [], reverse=True)[:n]
    total = sum(c for c, _ in counts) or 1
    return [{"color": "#{:02X}{:02X}{:02X}".format(*palette[3 * i:3 * i + 3]),
             "weight": round(max(0.05, min(1.0, c / total)), 2)} for c, i in counts]

