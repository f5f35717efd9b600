"""A local stand-in for Google's generative media APIs, speaking their real wire protocol
so that the real ``google-genai`` SDK can be pointed at it with
``http_options=types.HttpOptions(base_url=fake.url)``.

It serves both client modes of the SDK:

* Gemini Developer API (``genai.Client(api_key=K, ...)``): paths ``/{v1|v1beta}/models/...``.
  ``generateContent`` / ``streamGenerateContent`` (Gemini image models, "Nano Banana"),
  ``GET models`` / ``GET models/X``; also ``:predict`` (Imagen), ``:predictLongRunning`` +
  ``GET models/X/operations/Y`` (Veo) and ``GET files/Y:download?alt=media`` in the Gemini
  API's own shapes, although google-genai 3.3.0 refuses generate_images/generate_videos in
  this mode before sending anything.
* Vertex AI express mode (``genai.Client(vertexai=True, api_key=K, ...)``): paths
  ``/v1beta1/publishers/google/models/...`` (also with a ``projects/P/locations/L/`` prefix).
  ``:generateContent``, ``:predict`` (Imagen), ``:predictLongRunning`` (Veo),
  ``:fetchPredictOperation`` (what ``client.operations.get`` POSTs in this mode),
  ``GET publishers/google/models[/X]``.

The API key is checked as the SDK sends it (``x-goog-api-key`` header; a ``key=`` query
parameter is accepted too, as Google does). Vertex AI with application-default credentials
works too: ``POST /token`` answers a service account's grant (set the account file's
``token_uri`` to ``{fake.url}/token``) and the bearer tokens it issued are accepted.
Errors use Google's JSON error body.

Scripted behaviour:

* ``fake.fail_next(status, times=1, message=None, path_contains=None, details=None)``
* ``fake.delay = seconds`` (sleep before answering every request)
* ``fake.video_polls = N`` (a Veo operation is done on its N-th poll; 0 = done at once)
* ``fake.video_op_error = {"code": 13, "message": "..."}`` (Veo operations end in error)
* ``fake.block_style = "prompt"`` (default) or ``"image"``: what a prompt containing
  ``BLOCKED`` gets from generateContent (``promptFeedback.blockReason=PROHIBITED_CONTENT``,
  or a candidate with ``finishReason=IMAGE_SAFETY`` and no content). A prompt containing
  ``IMAGE_SAFETY`` always gets the candidate form. Imagen: ``BLOCKED`` filters every image
  (``raiFilteredReason`` when ``includeRaiReason`` was asked, else an empty ``{}`` body, as
  Vertex does). Veo: the operation ends with ``raiMediaFilteredCount``/``Reasons`` and no
  videos. ``TEXTONLY`` makes generateContent answer with a text part only.

Recorded: ``fake.requests`` (``RecordedRequest`` objects: method, path, raw_path, query,
headers with lower-case names, json, body), ``fake.calls(path_contains, method=None)``,
``fake.reference_images`` (every image that arrived as input), ``fake.poll_count``,
``fake.operations``, ``fake.server_errors`` (tracebacks of bugs in the fake itself).
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
import time
import traceback
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.fakes.google_wire import (
    GEMINI_ASPECT_RATIOS,
    GEMINI_IMAGE_MODELS,
    IMAGEN_ASPECT_RATIOS,
    IMAGEN_MODELS,
    TEXT_MODELS,
    VEO_ASPECT_RATIOS,
    VEO_MODELS,
    RecordedRequest,
    Reply,
    api_key_invalid_error,
    b64,
    camelize,
    gemini_model_json,
    google_error,
    image_size_of,
    make_image,
    make_mp4,
    missing_credentials_error,
    model_kind,
    size_for_aspect,
    unb64,
    vertex_model_json,
)
from tests.fakes.server import LocalServer

# ---------------------------------------------------------------------------------------
# The fake
# ---------------------------------------------------------------------------------------

VERSION_RE = re.compile(r"v\d+(?:(?:alpha|beta)\d*)?")
PROJECT_PREFIX_RE = re.compile(r"^projects/[^/]+/locations/[^/]+/")
FAKE_PROJECT_NUMBER = "123456789012"
FAKE_LOCATION = "us-central1"


class GoogleFake(LocalServer):
    """See the module docstring. ``with GoogleFake(api_key=K) as fake: fake.url``."""

    def __init__(self, api_key: str = "test-google-key", video_polls: int = 2):
        self.api_key = api_key
        self.video_polls = video_polls
        self.delay: float = 0.0
        self.block_style = "prompt"
        self.video_op_error: dict | None = None
        self.requests: list[RecordedRequest] = []
        self.reference_images: list[dict] = []
        self.access_tokens: set[str] = set()  # issued by POST /token
        self.operations: dict[str, dict] = {}
        self.files: dict[str, bytes] = {}
        self.poll_count = 0
        self.server_errors: list[str] = []
        self._faults: list[dict] = []
        self._lock = threading.RLock()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.url = ""

    # -- scripting ----------------------------------------------------------------------

    def fail_next(self, status: int, times: int = 1, message: str | None = None,
                  path_contains: str | None = None, details: list | None = None) -> None:
        """Answer the next ``times`` requests (whose raw path contains ``path_contains``,
        if given) with Google's error body for ``status``."""
        with self._lock:
            self._faults.append({"status": status, "times": times, "message": message,
                                 "path_contains": path_contains, "details": details})

    def reset(self) -> None:
        with self._lock:
            self.requests.clear()
            self.reference_images.clear()
            self.operations.clear()
            self.files.clear()
            self._faults.clear()
            self.poll_count = 0
            self.server_errors.clear()
            self.delay = 0.0
            self.video_op_error = None
            self.block_style = "prompt"

    def calls(self, path_contains: str | None = None,
              method: str | None = None) -> list[RecordedRequest]:
        with self._lock:
            return [r for r in self.requests
                    if (path_contains is None or path_contains in r.raw_path)
                    and (method is None or r.method == method.upper())]

    # -- HTTP ---------------------------------------------------------------------------

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            server_version = "ESF"
            sys_version = ""

            def log_message(self, *args: Any) -> None:
                pass

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                headers = {k.lower(): v for k, v in self.headers.items()}
                request = RecordedRequest(self.command, self.path, headers, body)
                with fake._lock:
                    fake.requests.append(request)
                if fake.delay:
                    time.sleep(fake.delay)
                try:
                    status, payload, content_type = fake._dispatch(request)
                except Reply as reply:
                    status, payload, content_type = reply.status, reply.body, reply.content_type
                except Exception:  # noqa: BLE001 - a bug in the fake, answered as Google's 500
                    fake.server_errors.append(traceback.format_exc())
                    status, payload, content_type = 500, google_error(500), "application/json"
                if isinstance(payload, (dict, list)):
                    data = json.dumps(payload, indent=2).encode("utf-8")
                    content_type = "application/json; charset=UTF-8"
                elif isinstance(payload, str):
                    data = payload.encode("utf-8")
                else:
                    data = payload
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", content_type)
                    self.send_header("Content-Length", str(len(data)))
                    self.send_header("Vary", "Origin, X-Origin, Referer")
                    self.send_header("X-XSS-Protection", "0")
                    self.send_header("X-Content-Type-Options", "nosniff")
                    self.end_headers()
                    if self.command != "HEAD":
                        self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (a timeout test)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _serve

        return Handler

    # -- routing ------------------------------------------------------------------------

    def _dispatch(self, req: RecordedRequest) -> tuple[int, Any, str]:
        path = req.path.lstrip("/")
        first, _, rest = path.partition("/")
        version = first if VERSION_RE.fullmatch(first) else None
        if version is None:
            rest = path
        vertex = rest.startswith("publishers/") or rest.startswith("projects/")
        rest = PROJECT_PREFIX_RE.sub("", rest)

        fault = self._take_fault(req)
        if fault is not None:
            return fault["status"], google_error(
                fault["status"], fault["message"], details=fault["details"],
                vertex=vertex), "application/json"

        if path == "token" and req.method == "POST":  # OAuth 2.0 token endpoint
            return 200, self._issue_token(), "application/json"
        bearer = req.headers.get("authorization", "").removeprefix("Bearer ")
        if vertex and bearer in self.access_tokens:  # application-default credentials
            return self._route(req, rest, {"version": version or "", "vertex": vertex})
        key = req.headers.get("x-goog-api-key") or req.query.get("key")
        if not key:
            status, body = missing_credentials_error(vertex)
            return status, body, "application/json"
        if key != self.api_key:
            return 400, api_key_invalid_error(vertex), "application/json"
        return self._route(req, rest, {"version": version or "", "vertex": vertex})

    def _issue_token(self) -> dict:
        """What Google's token endpoint answers a service account's JWT-bearer grant (point
        a service-account file's ``token_uri`` at ``{fake.url}/token``)."""
        token = f"ya29.fake-{uuid.uuid4().hex}"
        with self._lock:
            self.access_tokens.add(token)
        return {"access_token": token, "token_type": "Bearer", "expires_in": 3599}

    def _route(self, req: RecordedRequest, rest: str, ctx: dict) -> tuple[int, Any, str]:
        resource, _, verb = rest.partition(":")
        vertex = ctx["vertex"]
        collection = "publishers/google/models" if vertex else "models"
        if resource == collection and req.method == "GET" and not verb:
            return 200, self._list_models(req, vertex), "application/json"
        match = re.fullmatch(re.escape(collection) + r"/([^/]+)(/operations/[^/]+)?", resource)
        if match is None:
            if not vertex and resource.startswith("files/") and verb == "download":
                return self._download(req, resource)
            return self._no_route(req)
        model_id, is_operation = match.group(1), bool(match.group(2))
        if req.method == "POST" and verb in ("generateContent", "streamGenerateContent"):
            return self._generate_content(req, model_id, verb, ctx)
        handlers: dict[tuple[str, str], Any] = {
            ("GET", ""): (lambda: self._poll(resource)) if is_operation
            else (lambda: self._get_model(model_id, vertex)),
            ("POST", "predict"): lambda: self._imagen_predict(req, model_id, ctx),
            ("POST", "predictLongRunning"): lambda: self._veo_start(req, model_id, ctx),
        }
        if vertex:
            handlers["POST", "fetchPredictOperation"] = lambda: self._poll(
                camelize(req.json or {}).get("operationName") or "")
        handler = handlers.get((req.method, verb))
        if handler is None or (is_operation and verb):
            return self._no_route(req)
        return 200, handler(), "application/json"

    def _download(self, req: RecordedRequest, resource: str) -> tuple[int, Any, str]:
        data = self.files.get(resource.removeprefix("files/"))
        if data is None or req.method != "GET":
            raise Reply(404, google_error(404))
        return 200, data, "video/mp4"

    def _no_route(self, req: RecordedRequest) -> tuple[int, Any, str]:
        return 404, google_error(
            404, f"GoogleFake has no route for {req.method} {req.path}"), "application/json"

    def _take_fault(self, req: RecordedRequest) -> dict | None:
        with self._lock:
            for fault in self._faults:
                if fault["path_contains"] is None or fault["path_contains"] in req.raw_path:
                    fault["times"] -= 1
                    if fault["times"] <= 0:
                        self._faults.remove(fault)
                    return fault
        return None

    # -- models -------------------------------------------------------------------------

    def _known_ids(self) -> list[str]:
        return [*GEMINI_IMAGE_MODELS, *TEXT_MODELS, *IMAGEN_MODELS, *VEO_MODELS]

    def _list_models(self, req: RecordedRequest, vertex: bool) -> dict:
        ids = self._known_ids()
        try:
            page_size = int(req.query.get("pageSize") or 0)
        except ValueError:
            page_size = 0
        start = int(req.query.get("pageToken") or 0) if str(
            req.query.get("pageToken") or "0").isdigit() else 0
        end = start + page_size if page_size > 0 else len(ids)
        page = ids[start:end]
        items = [vertex_model_json(m) if vertex else gemini_model_json(m) for m in page]
        body: dict[str, Any] = {"publisherModels" if vertex else "models": items}
        if end < len(ids):
            body["nextPageToken"] = str(end)
        return body

    def _get_model(self, model_id: str, vertex: bool) -> dict:
        if model_kind(model_id) is None:
            raise Reply(404, self._model_not_found(model_id, vertex, "get"))
        return vertex_model_json(model_id) if vertex else gemini_model_json(model_id)

    def _model_not_found(self, model_id: str, vertex: bool, method: str,
                         version: str = "v1beta") -> dict:
        if vertex:
            return google_error(404, (
                f"Publisher Model `projects/{FAKE_PROJECT_NUMBER}/locations/{FAKE_LOCATION}/"
                f"publishers/google/models/{model_id}` was not found or your project does not"
                " have access to it. Please ensure you are using a valid model version. For"
                " more information, see:"
                " https://cloud.google.com/vertex-ai/generative-ai/docs/learn/model-versions"),
                vertex=True)
        return google_error(404, (
            f"models/{model_id} is not found for API version {version}, or is not supported"
            f" for {method}. Call ListModels to see the list of available models and their"
            " supported methods."))

    def _require_kind(self, model_id: str, kind: str, ctx: dict, method: str) -> None:
        if model_kind(model_id) != kind:
            raise Reply(404, self._model_not_found(model_id, ctx["vertex"], method,
                                                    ctx["version"] or "v1beta"))

    def _record_image(self, source: str, path: str, image: dict | None,
                      reference_type: str | None = None) -> None:
        if isinstance(image, dict):
            data = unb64(image["bytesBase64Encoded"]) if image.get("bytesBase64Encoded") else None
            self._add_reference(source, path, image.get("mimeType"), data,
                                image.get("gcsUri"), reference_type)

    # -- generateContent (Gemini image models, "Nano Banana") ---------------------------

    def _content_inputs(self, req: RecordedRequest, body: dict) -> tuple[str, list]:
        """The user's text (joined) and the sizes of the images sent; records the images."""
        texts: list[str] = []
        sizes: list[tuple[int, int]] = []
        for content in body.get("contents") or []:
            if content.get("role") not in (None, "user"):
                continue
            for part in content.get("parts") or []:
                if "text" in part and not part.get("thought"):
                    texts.append(part["text"])
                inline = part.get("inlineData")
                file_data = part.get("fileData")
                if isinstance(inline, dict):
                    data = unb64(inline.get("data") or "")
                    self._add_reference("inlineData", req.path, inline.get("mimeType"), data)
                    size = image_size_of(data)
                    if size:
                        sizes.append(size)
                if isinstance(file_data, dict):
                    self._add_reference("fileData", req.path, file_data.get("mimeType"),
                                        gcs_uri=file_data.get("fileUri"))
        return "\n".join(texts), sizes

    def _add_reference(self, source: str, path: str, mime_type: str | None,
                       data: bytes | None = None, gcs_uri: str | None = None,
                       reference_type: str | None = None) -> None:
        with self._lock:
            self.reference_images.append({
                "source": source, "path": path, "mime_type": mime_type, "data": data,
                "gcs_uri": gcs_uri, "reference_type": reference_type})

    def _generate_content(self, req: RecordedRequest, model_id: str, verb: str,
                          ctx: dict) -> tuple[int, Any, str]:
        self._require_kind(model_id, "gemini", ctx, "generateContent")
        body = camelize(req.json or {})
        if not body.get("contents"):
            raise Reply(400, google_error(
                400, "* GenerateContentRequest.contents: contents is not specified\n",
                vertex=ctx["vertex"]))
        prompt, reference_sizes = self._content_inputs(req, body)
        config = body.get("generationConfig") or {}
        image_config = config.get("imageConfig") or {}
        aspect = image_config.get("aspectRatio")
        if aspect is not None and aspect not in GEMINI_ASPECT_RATIOS:
            raise Reply(400, google_error(
                400, f"Unsupported aspect ratio: {aspect}. Supported values are "
                     + ", ".join(sorted(GEMINI_ASPECT_RATIOS)) + ".",
                vertex=ctx["vertex"]))
        if aspect is None and reference_sizes:  # the model follows the input image's shape
            aspect = "{}:{}".format(*reference_sizes[-1])
        prompt_tokens = max(1, len(prompt.split())) + 258 * len(reference_sizes)
        payload: dict[str, Any] = {"usageMetadata": {
            "promptTokenCount": prompt_tokens, "totalTokenCount": prompt_tokens,
            "promptTokensDetails": [{"modality": "TEXT", "tokenCount": prompt_tokens}]}}
        if "BLOCKED" in prompt and "IMAGE_SAFETY" not in prompt and self.block_style == "prompt":
            payload["promptFeedback"] = {"blockReason": "PROHIBITED_CONTENT"}
        elif "IMAGE_SAFETY" in prompt or "BLOCKED" in prompt:
            payload["candidates"] = [{"finishReason": "IMAGE_SAFETY", "index": 0}]
        else:
            mime = (image_config.get("imageOutputOptions") or {}).get("mimeType") or "image/png"
            parts, tokens, modality = self._answer_parts(model_id, prompt, config, aspect, mime)
            payload["candidates"] = [{"content": {"parts": parts, "role": "model"},
                                      "finishReason": "STOP", "index": 0}]
            payload["usageMetadata"].update({
                "candidatesTokenCount": tokens, "totalTokenCount": prompt_tokens + tokens,
                "candidatesTokensDetails": [{"modality": modality, "tokenCount": tokens}]})
        payload["modelVersion"] = model_id
        payload["responseId"] = uuid.uuid4().hex[:22]
        if ctx["vertex"]:
            payload["createTime"] = time.strftime("%Y-%m-%dT%H:%M:%S.000000Z", time.gmtime())
        return self._content_reply(payload, verb)

    def _answer_parts(self, model_id: str, prompt: str, config: dict, aspect: str | None,
                      mime: str) -> tuple[list[dict], int, str]:
        """The model's parts: [thought] [text] image, or text alone for TEXTONLY."""
        parts: list[dict] = []
        gemini3 = model_id.startswith("gemini-3") or "nano-banana" in model_id
        if gemini3 and (config.get("thinkingConfig") or {}).get("includeThoughts"):
            parts.append({"text": "**Composing the scene**\n\nPlanning the layout.",
                          "thought": True})
        if "TEXTONLY" in prompt:
            parts.append({"text": "I can describe that, but I did not make an image this time: "
                                  + prompt[:200]})
            return parts, 40, "TEXT"
        tokens = 0
        modalities = [str(m).upper() for m in (config.get("responseModalities") or [])]
        if not modalities or "TEXT" in modalities:
            parts.append({"text": "Here is the image you asked for."})
            tokens += 8
        width, height = size_for_aspect(aspect)
        image = make_image(width, height, f"{model_id}|{prompt}|0", mime)
        image_part: dict[str, Any] = {"inlineData": {"mimeType": mime, "data": b64(image)}}
        if gemini3:
            image_part["thoughtSignature"] = b64(hashlib.sha256(image).digest())
        parts.append(image_part)
        size = str((config.get("imageConfig") or {}).get("imageSize") or "1K").upper()
        image_tokens = ({"512": 747, "1K": 1120, "2K": 1680, "4K": 2520}.get(size, 1120)
                        if gemini3 else 1290)
        return parts, tokens + image_tokens, "IMAGE"

    def _content_reply(self, payload: dict, verb: str) -> tuple[int, Any, str]:
        if verb != "streamGenerateContent":
            return 200, payload, "application/json"
        # Server-sent events, one chunk per part, the last one with the finish reason.
        chunks: list[dict] = []
        candidates = payload.get("candidates") or []
        parts = ((candidates[0].get("content") or {}).get("parts") or []) if candidates else []
        for index, part in enumerate(parts):
            chunk = {k: v for k, v in payload.items() if k not in ("candidates", "usageMetadata")}
            candidate = {"content": {"parts": [part], "role": "model"}, "index": 0}
            if index == len(parts) - 1:
                candidate["finishReason"] = candidates[0].get("finishReason", "STOP")
                chunk["usageMetadata"] = payload.get("usageMetadata")
            chunk["candidates"] = [candidate]
            chunks.append(chunk)
        if not chunks:
            chunks.append(payload)
        text = "".join(f"data: {json.dumps(c)}\r\n\r\n" for c in chunks)
        return 200, text, "text/event-stream"

    # -- Imagen (:predict) --------------------------------------------------------------

    def _imagen_predict(self, req: RecordedRequest, model_id: str, ctx: dict) -> dict:
        self._require_kind(model_id, "imagen", ctx, "predict")
        vertex = ctx["vertex"]
        body = camelize(req.json or {})
        instances = body.get("instances") or []
        if not instances or not isinstance(instances[0], dict) or not instances[0].get("prompt"):
            raise Reply(400, google_error(
                400, "Image generation failed with the following error: The prompt is empty.",
                vertex=vertex))
        instance = instances[0]
        prompt = instance["prompt"]
        params = body.get("parameters") or {}
        count = params.get("sampleCount", 4)
        if not isinstance(count, int) or not 1 <= count <= 4:
            raise Reply(400, google_error(
                400, "Image generation failed with the following error: sampleCount must be"
                     f" between 1 and 4, got {count}.", vertex=vertex))
        aspect = params.get("aspectRatio") or "1:1"
        if aspect not in IMAGEN_ASPECT_RATIOS:
            raise Reply(400, google_error(
                400, "Image generation failed with the following error: Unsupported aspect"
                     f" ratio {aspect}. Supported aspect ratios are: 1:1, 9:16, 16:9, 3:4,"
                     " 4:3.", vertex=vertex))
        for key in ("image", "referenceImages"):
            if key in instance:
                value = instance[key]
                for item in value if isinstance(value, list) else [value]:
                    self._record_image(key, req.path, item.get("referenceImage", item)
                                       if isinstance(item, dict) else None)
        mime = (params.get("outputOptions") or {}).get("mimeType") or "image/png"
        if "BLOCKED" in prompt:
            if params.get("includeRaiReason"):
                return {"predictions": [{"raiFilteredReason": (
                    f"Your current safety filter threshold filtered out {count} generated"
                    f" image{'s' if count != 1 else ''}. You will not be charged for blocked"
                    " images. Try rephrasing the prompt. If you think this was an error,"
                    " send feedback. Support codes: 56562880")}]}
            return {}
        width, height = size_for_aspect(aspect)
        predictions: list[dict] = []
        for index in range(count):
            prediction: dict[str, Any] = {
                "mimeType": mime,
                "bytesBase64Encoded": b64(make_image(width, height,
                                                     f"{model_id}|{prompt}|{index}", mime)),
            }
            if params.get("includeSafetyAttributes"):
                prediction["safetyAttributes"] = {"categories": ["Porn", "Violence"],
                                                  "scores": [0.1, 0.1]}
            if params.get("enhancePrompt"):
                prediction["prompt"] = f"{prompt}, highly detailed, natural lighting"
            predictions.append(prediction)
        if params.get("includeSafetyAttributes"):
            predictions.append({"contentType": "Positive Prompt",
                                "safetyAttributes": {"categories": [], "scores": []}})
        return {"predictions": predictions}

    # -- Veo (:predictLongRunning and polling) ------------------------------------------

    def _veo_start(self, req: RecordedRequest, model_id: str, ctx: dict) -> dict:
        self._require_kind(model_id, "veo", ctx, "predictLongRunning")
        vertex = ctx["vertex"]
        body = camelize(req.json or {})
        instances = body.get("instances") or [{}]
        instance = instances[0] if isinstance(instances[0], dict) else {}
        params = body.get("parameters") or {}
        prompt = instance.get("prompt") or ""
        if not prompt and not instance.get("image") and not instance.get("video"):
            raise Reply(400, google_error(
                400, "The prompt, image or video must be provided.", vertex=vertex))
        aspect = params.get("aspectRatio") or "16:9"
        if aspect not in VEO_ASPECT_RATIOS:
            raise Reply(400, google_error(
                400, f"Unsupported aspect ratio: {aspect}. Supported values are 16:9, 9:16.",
                vertex=vertex))
        count = params.get("sampleCount", 1)
        if not isinstance(count, int) or not 1 <= count <= 4:
            raise Reply(400, google_error(
                400, f"sampleCount must be between 1 and 4, got {count}.", vertex=vertex))
        for key in ("image", "lastFrame"):
            self._record_image(key, req.path, instance.get(key))
        for ref in instance.get("referenceImages") or []:
            if isinstance(ref, dict):
                self._record_image("referenceImages", req.path, ref.get("image"),
                                   ref.get("referenceType"))
        op_id = str(uuid.uuid4()) if vertex else uuid.uuid4().hex[:12]
        if vertex:
            name = (f"projects/{FAKE_PROJECT_NUMBER}/locations/{FAKE_LOCATION}/publishers/"
                    f"google/models/{model_id}/operations/{op_id}")
        else:
            name = f"models/{model_id}/operations/{op_id}"
        op = {"name": name, "model": model_id, "vertex": vertex, "polls": 0, "prompt": prompt,
              "aspect_ratio": aspect, "count": count,
              "storage_uri": params.get("storageUri"), "parameters": params,
              "instance": instance, "version": ctx["version"] or "v1beta"}
        with self._lock:
            self.operations[name] = op
        if self.video_polls <= 0:
            return self._operation_json(op)
        return {"name": name}

    def _find_operation(self, name: str) -> dict:
        op = self.operations.get(name)
        if op is None:
            # Accept the name with or without the projects/.../locations/... prefix.
            short = PROJECT_PREFIX_RE.sub("", name)
            for key, value in self.operations.items():
                if PROJECT_PREFIX_RE.sub("", key) == short:
                    return value
            raise Reply(404, google_error(404, f"Operation {name} not found.",
                                           vertex=name.startswith(("projects/", "publishers/"))))
        return op

    def _poll(self, name: str) -> dict:
        """``client.operations.get``: Vertex POSTs ``{operationName}`` to
        ``<model>:fetchPredictOperation``; the Gemini API GETs the operation's name."""
        with self._lock:
            op = self._find_operation(name)
            op["polls"] += 1
            self.poll_count += 1
            if op["polls"] < self.video_polls:
                return {"name": op["name"]}
            return self._operation_json(op)

    def _operation_json(self, op: dict) -> dict:
        if self.video_op_error is not None:
            return {"name": op["name"], "done": True, "error": dict(self.video_op_error)}
        blocked = "BLOCKED" in op["prompt"]
        reasons = [("Veo could not generate videos because the input prompt or image violates"
                    " Google's Responsible AI practices. Try rephrasing the prompt. If you think"
                    " this was an error, send feedback. Support codes: 58061214")]
        width, height = (64, 36) if op["aspect_ratio"] == "16:9" else (36, 64)
        if op["vertex"]:
            response: dict[str, Any] = {
                "@type": "type.googleapis.com/cloud.ai.large_models.vision.GenerateVideoResponse",
                "raiMediaFilteredCount": 1 if blocked else 0,
            }
            if blocked:
                response["raiMediaFilteredReasons"] = reasons
            else:
                videos = []
                for index in range(op["count"]):
                    if op["storage_uri"]:
                        prefix = op["storage_uri"].rstrip("/")
                        videos.append({"gcsUri": f"{prefix}/{op['name'].rsplit('/', 1)[-1]}/"
                                                 f"sample_{index}.mp4",
                                       "mimeType": "video/mp4"})
                    else:
                        videos.append({"bytesBase64Encoded": b64(make_mp4(width, height)),
                                       "mimeType": "video/mp4"})
                response["videos"] = videos
            return {"name": op["name"], "done": True, "response": response}
        inner: dict[str, Any] = {}
        if blocked:
            inner = {"raiMediaFilteredCount": 1, "raiMediaFilteredReasons": reasons}
        else:
            samples = []
            for _ in range(op["count"]):
                file_id = uuid.uuid4().hex[:12]
                self.files[file_id] = make_mp4(width, height)
                samples.append({"video": {"uri": (
                    f"https://generativelanguage.googleapis.com/{op['version']}/files/"
                    f"{file_id}:download?alt=media")}})
            inner = {"generatedSamples": samples}
        return {"name": op["name"], "done": True, "response": {
            "@type": "type.googleapis.com/google.ai.generativelanguage.v1beta."
                     "PredictLongRunningResponse",
            "generateVideoResponse": inner}}
