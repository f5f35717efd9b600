"""The Google provider through the real ``google-genai`` SDK against a local fake of the
Gemini API and Vertex AI (express mode): every Google model from POST to ``job_completed``,
what each setting becomes on the wire, and every fault class (safety refusals, rate limits,
outages, timeouts, a bad key, the deadline, a lost lease)."""

from __future__ import annotations

import base64
import io
import json
import time

import pytest
from PIL import Image

from genova import runtime
from genova.catalog import ASPECT_RATIOS, MODELS, PLANS
from genova.generators.config import DEFAULT_PROVIDER_MODELS
from genova.services import lifecycle
from tests.fakes.google_api import GoogleFake
from tests.helpers import job_body
from tests.providers import download, run_job

KEY = "AIzaSy-test-google-key-0123456789"
GOOGLE_MODELS = [m for m in MODELS if m in DEFAULT_PROVIDER_MODELS["google"]]
FULL = PLANS["business"].monthly_credits


@pytest.fixture
def fake():
    with GoogleFake(api_key=KEY, video_polls=3) as server:
        yield server


@pytest.fixture
def app(provider_app, fake):
    return provider_app(generators={"*": "google", "freepik": "procedural"},
                        google_api_key=KEY, google_base_url=fake.url)


def body_for(model: str, **overrides) -> dict:
    kind = MODELS[model].media_type
    return job_body(**{"type": kind, "model": model, "prompt": "a lighthouse at dawn",
                       "aspectRatio": "landscape", **overrides})


def png(color=(10, 120, 200)) -> str:
    out = io.BytesIO()
    Image.new("RGB", (48, 32), color).save(out, "PNG")
    return base64.b64encode(out.getvalue()).decode()


@pytest.mark.parametrize("model", GOOGLE_MODELS)
def test_every_google_model_makes_its_result(app, fake, model):
    run = run_job(app, body_for(model))
    assert run.job["status"] == "completed", run.job
    assert run.types[:2] == ["job_created", "job_queued"] and run.types[-1] == "job_completed"
    provider_model = DEFAULT_PROVIDER_MODELS["google"][model]
    assert run.job["generator"]["provider_model"] == provider_model
    assert run.job["generator"]["ai_model"] is True
    data = download(app, run.job)
    calls = fake.calls(provider_model)
    assert calls and all(c.headers["x-goog-api-key"] == KEY for c in calls)
    if MODELS[model].media_type == "video":
        assert data[4:8] == b"ftyp"  # an MP4
        assert fake.calls(":predictLongRunning") and fake.poll_count == 3
        assert "job_progress" in run.types  # polled with progress reported
        sent = fake.calls(":predictLongRunning")[0].json
        assert sent["parameters"]["aspectRatio"] == "16:9"
    else:
        image = Image.open(io.BytesIO(data))
        assert image.size[0] * 9 == image.size[1] * 16
        verb = ":generateContent" if provider_model.startswith("gemini") else ":predict"
        assert calls[0].path.endswith(verb)
        # Nano Banana on the Gemini API; Imagen on Vertex AI (express mode, the same key)
        prefix = "/v1beta/models/" if verb == ":generateContent" else "/v1beta1/publishers/"
        assert calls[0].path.startswith(prefix)


def test_imagen_makes_count_images_in_one_call(app, fake):
    run = run_job(app, body_for("imagen4", count=3, aspectRatio="portrait"))
    assert run.job["status"] == "completed" and len(run.job["download_urls"]) == 3
    (call,) = fake.calls(":predict")
    assert call.json["parameters"]["sampleCount"] == 3
    assert call.json["parameters"]["aspectRatio"] == "9:16"


def test_nano_banana_takes_reference_images_and_one_call_per_image(app, fake):
    refs = [png((250, 0, 0)), png((0, 250, 0))]
    run = run_job(app, body_for("nano_banana_pro", count=2, aspectRatio="square",
                                referenceImages={"images": refs}))
    assert run.job["status"] == "completed" and len(run.job["download_urls"]) == 2
    calls = fake.calls(":generateContent")
    assert len(calls) == 2
    assert calls[0].json["generationConfig"]["imageConfig"]["aspectRatio"] == "1:1"
    assert len(fake.reference_images) == 4  # both references, in each of the two calls


def test_veo_takes_one_reference_as_its_first_frame(app, fake):
    run = run_job(app, body_for("veo2_fast", referenceImages={"images": [png()]}))
    assert run.job["status"] == "completed"
    assert len(fake.reference_images) == 1


@pytest.mark.parametrize("model, refs, says", [
    ("imagen4", 1, "takes no reference images"),
    ("veo3_fast", 2, "takes at most 1 reference image"),
])
def test_what_a_model_cannot_do_is_refused_at_creation(app, fake, model, refs, says):
    run = run_job(app, body_for(model, referenceImages={"images": [png()] * refs}))
    assert run.created["status_code"] == 400
    assert says in run.created["details"]
    assert fake.requests == [] and run.credits == FULL


@pytest.mark.parametrize("model", ["imagen4", "nano_banana2", "veo3_quality"])
def test_a_safety_refusal_fails_the_job_in_plain_words_and_refunds(app, fake, model):
    run = run_job(app, body_for(model, prompt="please draw something BLOCKED"))
    assert run.job["status"] == "failed"
    assert "Google's safety filter declined this" in run.job["error_message"]
    assert "job_failed" in run.types and run.credits == FULL


def test_an_image_withheld_by_the_filter_is_a_refusal_too(app, fake):
    run = run_job(app, body_for("nano_banana2", prompt="IMAGE_SAFETY"))
    assert run.job["status"] == "failed"
    assert "IMAGE_SAFETY" in run.job["error_message"]


def test_a_text_only_answer_fails_with_what_the_model_said(app, fake):
    run = run_job(app, body_for("nano_banana2", prompt="TEXTONLY please"))
    assert run.job["status"] == "failed"
    assert run.job["error_message"].startswith("Google returned no image")


def test_rate_limits_and_server_errors_are_retried(app, fake):
    fake.fail_next(429)
    fake.fail_next(503, path_contains="fetchPredictOperation")
    run = run_job(app, body_for("veo3_fast"))
    assert run.job["status"] == "completed"
    assert len(fake.calls(":predictLongRunning")) == 2


def test_an_outage_past_the_budget_fails_and_refunds(app, fake):
    fake.fail_next(500, times=10)
    run = run_job(app, body_for("imagen4"))
    assert run.job["status"] == "failed"
    assert "Google is not answering (HTTP 500 INTERNAL) after 3 tries" in run.job["error_message"]
    assert run.credits == FULL


def test_a_provider_that_does_not_answer_in_time_is_retried_then_failed(provider_app, fake):
    app = provider_app(generators={"imagen4": "google"}, google_api_key=KEY,
                       google_base_url=fake.url, request_timeout=0.2, retries=2)
    fake.delay = 1.0
    run = run_job(app, body_for("imagen4"))
    assert run.job["status"] == "failed"
    assert "Google is not answering (ReadTimeout talking to Google)" in run.job["error_message"]
    assert len(fake.calls(":predict")) == 2


def test_a_bad_key_fails_with_advice_and_never_shows_the_key(provider_app, fake):
    app = provider_app(generators={"nano_banana2": "google"}, google_api_key="AIzaSy-bad",
                       google_base_url=fake.url)
    run = run_job(app, body_for("nano_banana2"))
    assert run.job["status"] == "failed"
    assert "GENOVA_GOOGLE_API_KEY" in run.job["error_message"]
    assert "AIzaSy-bad" not in str(run.job) and "AIzaSy-bad" not in str(run.events)


def test_a_video_failed_by_google_says_why(app, fake):
    fake.video_op_error = {"code": 13, "message": "Video generation failed internally."}
    run = run_job(app, body_for("veo2_fast"))
    assert run.job["status"] == "failed"
    assert "Video generation failed internally." in run.job["error_message"]


def test_the_deadline_stops_polling_a_video(provider_app, fake):
    fake.video_polls = 10_000
    app = provider_app(generators={"veo2_fast": "google"}, google_api_key=KEY,
                       google_base_url=fake.url, generation_timeout=0.4)
    run = run_job(app, body_for("veo2_fast"))
    assert run.job["error_message"] == "generation took longer than the 0.4 s limit"
    assert run.credits == FULL
    polls = fake.poll_count
    time.sleep(0.2)
    assert fake.poll_count == polls


def test_a_lost_lease_stops_polling_a_video(app, fake):
    fake.video_polls = 10_000

    def lose_the_lease(app, claim):
        while fake.poll_count < 2:
            time.sleep(0.01)
        with app.app_context():  # what the sweep does when a lease expired
            lifecycle.abandon(runtime.of(app), claim)

    run = run_job(app, body_for("veo3_fast"), while_running=lose_the_lease)
    assert run.outcome == {"skipped": "this worker no longer holds the job"}
    assert run.job["status"] == "queued"
    polls = fake.poll_count
    time.sleep(0.2)
    assert fake.poll_count == polls


def test_the_catalog_aspect_ratios_map_to_google_ratios():
    from genova.generators.google import aspect

    assert {r: aspect({"aspectRatio": r}) for r in ("landscape", "portrait", "square")} == {
        "landscape": "16:9", "portrait": "9:16", "square": "1:1"}
    assert all(aspect({"aspectRatio": r}) == f"{w}:{h}" for r, (w, h) in ASPECT_RATIOS.items())


def test_vertex_ai_with_application_default_credentials(provider_app, fake, tmp_path,
                                                       monkeypatch):
    """GENOVA_GOOGLE_PROJECT: every Google model on Vertex AI in that project and location,
    authenticated by a service account (its token from the fake's token endpoint)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    pem = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()).decode()
    account = tmp_path / "service-account.json"
    account.write_text(json.dumps({
        "type": "service_account", "project_id": "genova-test", "private_key_id": "k1",
        "private_key": pem, "client_email": "genova@genova-test.iam.gserviceaccount.com",
        "client_id": "1", "token_uri": f"{fake.url}/token"}))
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(account))
    app = provider_app(generators={"imagen4": "google", "nano_banana_pro": "google"},
                       google_project="genova-test", google_location="us-central1",
                       google_base_url=fake.url)
    for model in ("imagen4", "nano_banana_pro"):
        run = run_job(app, body_for(model))
        assert run.job["status"] == "completed", run.job
        assert run.job["generator"]["api"] == "Vertex AI"
    calls = [c for c in fake.requests if "publishers" in c.path]
    assert [c.path.split("/publishers/")[0] for c in calls] == [
        "/v1beta1/projects/genova-test/locations/us-central1"] * 2
    assert all(c.headers["authorization"].startswith("Bearer ya29.fake-") for c in calls)
    assert all("x-goog-api-key" not in c.headers for c in calls)


def test_a_ratio_the_google_model_lacks_is_refused_at_creation(provider_app, fake):
    """The Freepik model mapped to Imagen: 3:2 is not one of Imagen's ratios."""
    app = provider_app(generators={"freepik": "google"}, google_api_key=KEY,
                       google_base_url=fake.url,
                       provider_models={"freepik": "imagen-4.0-generate-001"})
    run = run_job(app, job_body(model="freepik", aspectRatio="3:2"))
    assert run.created["status_code"] == 400
    assert "aspectRatio '3:2' is not available on Google imagen-4.0-generate-001" in (
        run.created["details"])
    assert run_job(app, job_body(model="freepik", aspectRatio="4:3")).job["status"] == (
        "completed")
