"""Google's image and video models through the official ``google-genai`` SDK.

- Gemini image models ("Nano Banana"): ``models.generate_content`` with image output, on the
  Gemini API with ``GENOVA_GOOGLE_API_KEY``. Reference images are image parts before the
  prompt. One image per call, so ``count`` is that many calls.
- Imagen: ``models.generate_images`` (``:predict``); no reference images.
- Veo: ``models.generate_videos`` (``:predictLongRunning``), a long-running operation polled
  with ``operations.get`` every ``GENOVA_PROVIDER_POLL_INTERVAL`` seconds; one reference
  image becomes the first frame (Veo 3.1: up to three asset references).

google-genai 3.x refuses ``generate_images`` and ``generate_videos`` with a plain Gemini API
key, so with only ``GENOVA_GOOGLE_API_KEY`` they run on Vertex AI in express mode (the same
key); with ``GENOVA_GOOGLE_PROJECT`` everything runs on Vertex AI with application-default
credentials. ``GENOVA_GOOGLE_BASE_URL`` points both at a gateway, a proxy or a test fake.
The SDK's own retries are off: ``calls.with_retries`` retries 429, 5xx and timeouts within
Genova's budget and the job's deadline.
"""

from __future__ import annotations

import threading
import time
import warnings

import httpx
from google import genai
from google.genai import errors as genai_errors
from google.genai import types

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

try:  # google-genai 3.x talks through httpx2 (a fork of httpx), older ones through httpx
    import httpx2

    TRANSPORT_ERRORS: tuple[type[Exception], ...] = (httpx.TransportError,
                                                      httpx2.TransportError)
except ImportError:  # pragma: no cover - depends on the SDK's version
    TRANSPORT_ERRORS = (httpx.TransportError,)

# Known and documented (docs/providers.md): Imagen stays callable until at least 2027.
warnings.filterwarnings("ignore", message="The generate_images method is deprecated")

VIDEO_SIZES = {"16:9": (1280, 720), "9:16": (720, 1280)}  # Veo's default 720p
# What each kind of call accepts (Gemini image models also take 2:3, 3:2, 21:9 ...)
RATIOS = {"imagen": ("1:1", "3:4", "4:3", "9:16", "16:9"), "veo": ("16:9", "9:16"),
          "gemini": ("1:1", "2:3", "3:2", "3:4", "4:3", "9:16", "16:9")}


def aspect(settings: dict) -> str:
    """Genova's aspect-ratio value as Google's ``W:H`` (landscape -> 16:9)."""
    w, h = ASPECT_RATIOS[settings["aspectRatio"]]
    return f"{w}:{h}"


def mime_of(data: bytes) -> str:
    return "image/jpeg" if data[:3] == b"\xff\xd8\xff" else "image/png"


def classify(exc: Exception):
    """The SDK's exceptions as ``calls.with_retries`` needs them."""
    if isinstance(exc, genai_errors.APIError):
        message = (exc.message or exc.status or "").strip()[:300]
        if exc.code in RETRY_STATUS:
            return Transient(f"HTTP {exc.code} {exc.status or ''}".strip())
        if exc.code in (401, 403) or "API key" in message or "API_KEY" in str(exc.details):
            return ProviderUnavailable("Google refused Genova's credentials; the operator "
                                       "should check GENOVA_GOOGLE_API_KEY")
        return GenerationError(f"Google refused the request: {message}")
    if isinstance(exc, TRANSPORT_ERRORS):
        return Transient(f"{type(exc).__name__} talking to Google")
    return None


class GoogleProvider:
    name = "google"

    def __init__(self, settings: ProviderSettings, slots):
        self.settings, self.slots = settings, slots
        self._clients: dict[bool, genai.Client] = {}
        self._lock = threading.Lock()

    def model(self, model_id: str, provider_model: str) -> GoogleModel:
        return GoogleModel(self, model_id, provider_model)

    def client(self, *, vertex: bool) -> genai.Client:
        """Built on first use (nothing connects at start). A project means Vertex AI with
        application-default credentials for every model."""
        s = self.settings
        vertex = vertex or bool(s.google_project)
        with self._lock:
            if vertex not in self._clients:
                # Gemini image output is documented on v1beta (the SDK's default is v1)
                options = types.HttpOptions(base_url=s.google_base_url,
                                            api_version=None if vertex else "v1beta",
                                            timeout=int(s.request_timeout * 1000))
                if s.google_project:
                    self._clients[vertex] = genai.Client(
                        vertexai=True, project=s.google_project, location=s.google_location,
                        http_options=options)
                else:
                    self._clients[vertex] = genai.Client(
                        vertexai=vertex, api_key=s.google_api_key, http_options=options)
            return self._clients[vertex]

    def call(self, fn, stop):
        return retry(self.settings, fn, classify=classify, stop=stop, provider="Google")


class GoogleModel(ProviderModel):
    """One catalog model served by one Google model id."""

    name = "google"

    def __init__(self, provider: GoogleProvider, model_id: str, provider_model: str):
        super().__init__(provider, model_id, provider_model)
        self.kind = ("gemini" if provider_model.startswith("gemini")
                     else "veo" if provider_model.startswith("veo") else "imagen")
        self.max_references = {"gemini": 4, "imagen": 0,
                               "veo": 3 if provider_model.startswith("veo-3.1") else 1
                               }[self.kind]

    def describe(self) -> dict:
        api = ("Vertex AI" if self.kind != "gemini" or self.provider.settings.google_project
               else "Gemini API")
        return {"generator": f"google/{self.provider_model}", "provider": "google",
                "provider_model": self.provider_model, "api": api, "ai_model": True}

    def check(self, settings: dict) -> None:
        if aspect(settings) not in RATIOS[self.kind]:
            raise Unsupported(f"aspectRatio {settings['aspectRatio']!r} is not available on "
                              f"Google {self.provider_model}; use one of "
                              f"{', '.join(RATIOS[self.kind])}", field="aspectRatio")
        refs = (settings.get("referenceImages") or {}).get("count", 0)
        if refs > self.max_references:
            what = ("takes no reference images; nano_banana_pro and nano_banana2 do"
                    if self.max_references == 0
                    else f"takes at most {self.max_references} reference image"
                         f"{'s' if self.max_references > 1 else ''}")
            raise Unsupported(f"{self.model_id} (Google {self.provider_model}) {what}",
                              field="referenceImages")

    def probe(self) -> str:
        client = self.provider.client(vertex=self.kind != "gemini")
        found = self.provider.call(lambda: client.models.get(model=self.provider_model),
                                   lambda: None)
        return f"{found.name or self.provider_model} answers"

    def generate(self, request: GenerationRequest, progress: ProgressFn
                 ) -> list[GeneratedFile]:
        with self.provider.slots.hold(request.stop):
            progress(5, f"sent to Google {self.provider_model}")
            if self.kind == "gemini":
                return self._gemini(request, progress)
            if self.kind == "imagen":
                return self._imagen(request)
            return [self._veo(request, progress)]

    # -- Gemini image models ----------------------------------------------------------------
    def _gemini(self, request: GenerationRequest, progress: ProgressFn) -> list[GeneratedFile]:
        client = self.provider.client(vertex=False)
        contents = [types.Part.from_bytes(data=ref, mime_type=mime_of(ref))
                    for ref in request.references] + [request.prompt]
        config = types.GenerateContentConfig(
            response_modalities=["TEXT", "IMAGE"],
            image_config=types.ImageConfig(aspect_ratio=aspect(request.settings)))
        count = max(1, int(request.settings.get("count") or 1))
        files = []
        for index in range(count):
            response = self.provider.call(lambda: client.models.generate_content(
                model=self.provider_model, contents=contents, config=config), request.stop)
            files.append(self.image_file(_first_image(response)))
            progress(5 + 90 * (index + 1) // count, f"image {index + 1} of {count} done")
        return files

    # -- Imagen ---------------------------------------------------------------------------
    def _imagen(self, request: GenerationRequest) -> list[GeneratedFile]:
        client = self.provider.client(vertex=True)
        config = types.GenerateImagesConfig(
            number_of_images=max(1, int(request.settings.get("count") or 1)),
            aspect_ratio=aspect(request.settings), include_rai_reason=True,
            output_mime_type="image/png")
        response = self.provider.call(lambda: client.models.generate_images(
            model=self.provider_model, prompt=request.prompt, config=config), request.stop)
        generated = response.generated_images or []
        images = [g.image.image_bytes for g in generated if g.image and g.image.image_bytes]
        if not images:
            reasons = [g.rai_filtered_reason for g in generated if g.rai_filtered_reason]
            raise ContentRefused("Google's safety filter declined this prompt: "
                                 + ("; ".join(reasons) or "no image was returned"))
        return [self.image_file(data) for data in images]

    # -- Veo ------------------------------------------------------------------------------
    def _veo(self, request: GenerationRequest, progress: ProgressFn) -> GeneratedFile:
        client, s = self.provider.client(vertex=True), self.provider.settings
        ratio = aspect(request.settings)
        config = types.GenerateVideosConfig(aspect_ratio=ratio, number_of_videos=1)
        image = None
        if request.references and self.max_references > 1:
            config.reference_images = [types.VideoGenerationReferenceImage(
                image=types.Image(image_bytes=ref, mime_type=mime_of(ref)),
                reference_type="asset") for ref in request.references]
        elif request.references:
            ref = request.references[0]
            image = types.Image(image_bytes=ref, mime_type=mime_of(ref))
        source = types.GenerateVideosSource(prompt=request.prompt, image=image)
        operation = self.provider.call(lambda: client.models.generate_videos(
            model=self.provider_model, source=source, config=config), request.stop)
        started = time.monotonic()
        while not operation.done:
            pause(s.poll_interval, request.stop)
            operation = self.provider.call(lambda op=operation: client.operations.get(op),
                                           request.stop)
            progress(5 + int(90 * self.share_done(started)), "rendering on Google Veo")
        return self._video_file(client, operation, ratio)

    def _video_file(self, client, operation, ratio: str) -> GeneratedFile:
        if operation.error:
            message = str((operation.error or {}).get("message") or operation.error)[:300]
            raise GenerationError(f"Google could not make the video: {message}")
        response = operation.response or operation.result
        if response is not None and response.rai_media_filtered_count:
            reasons = "; ".join(response.rai_media_filtered_reasons or [])
            raise ContentRefused("Google's safety filter declined this video: "
                                 + (reasons or "no reason given"))
        videos = (response.generated_videos or []) if response is not None else []
        if not videos or videos[0].video is None:
            raise GenerationError("Google returned no video")
        video = videos[0].video
        data = video.video_bytes
        if not data:  # a Gemini API file to fetch; Vertex AI answers inline
            try:
                data = client.files.download(file=video)
            except ValueError as exc:  # e.g. a gs:// URI on Vertex AI
                raise GenerationError("Google returned the video only as a link Genova "
                                      f"cannot fetch: {exc}") from None
        return GeneratedFile(data, "mp4", "video/mp4", *VIDEO_SIZES.get(ratio, (1280, 720)))


def _first_image(response) -> bytes:
    """The first image part of a ``generate_content`` response, or why there is none."""
    for candidate in response.candidates or []:
        for part in (candidate.content.parts if candidate.content else None) or []:
            if part.thought:  # an interim sketch of a thinking model, not the answer
                continue
            if part.inline_data and (part.inline_data.mime_type or "").startswith("image/"):
                return part.inline_data.data
    feedback = response.prompt_feedback
    if feedback is not None and feedback.block_reason:
        raise ContentRefused("Google's safety filter declined this prompt: "
                             f"{feedback.block_reason_message or feedback.block_reason}")
    finish = next((str(c.finish_reason) for c in response.candidates or [] if c.finish_reason),
                  "")
    if any(word in finish for word in ("SAFETY", "PROHIBITED", "BLOCKLIST", "RECITATION")):
        raise ContentRefused(f"Google's safety filter declined this prompt: {finish}")
    text = (response.text or "").strip() if response.candidates else ""
    raise GenerationError("Google returned no image"
                          + (f"; the model said: {text[:200]}" if text else ""))

