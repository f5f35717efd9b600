"""The Freepik provider (Mystic) through its real HTTP code against a local fake of the API:
jobs from POST to ``job_completed``, the parameters each setting becomes, and every fault
class a user can meet (refusal, rate limit, outage, bad key, deadline, a lost lease)."""

from __future__ import annotations

import base64
import io
import time

import pytest
from PIL import Image

from genova.catalog import PLANS
from genova.services import lifecycle
from tests.fakes.freepik_api import FreepikFake
from tests.helpers import job_body
from tests.providers import download, run_job

KEY = "fpk-secret-test-key-0123456789"


@pytest.fixture
def fake():
    with FreepikFake(api_key=KEY) as server:
        yield server


@pytest.fixture
def app(provider_app, fake):
    return provider_app(generators={"freepik": "freepik", "*": "procedural"},
                        freepik_api_key=KEY, freepik_base_url=fake.url)


def freepik(**overrides) -> dict:
    return job_body(**{"model": "freepik", "aspectRatio": "16:9", **overrides})


def png(color=(200, 30, 40), size=(40, 30)) -> str:
    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, "PNG")
    return base64.b64encode(out.getvalue()).decode()


def test_a_job_is_made_by_mystic_and_stored(app, fake):
    run = run_job(app, freepik(quality="2K"))
    assert run.job["status"] == "completed", run.job
    assert run.types[:2] == ["job_created", "job_queued"] and run.types[-1] == "job_completed"
    assert "job_started" in run.types
    sent = fake.calls("/v1/ai/mystic", method="POST")[0]
    assert sent.headers["x-freepik-api-key"] == KEY
    assert sent.json["aspect_ratio"] == "widescreen_16_9" and sent.json["resolution"] == "2k"
    assert sent.json["model"] == "realism" and sent.json["prompt"] == freepik()["prompt"]
    image = Image.open(io.BytesIO(download(app, run.job)))
    assert image.size[0] * 9 == image.size[1] * 16  # the fake's picture, 16:9
    assert run.job["generator"]["provider"] == "freepik"
    assert run.job["generator"]["provider_model"] == "mystic/realism"
    assert run.job["generator"]["ai_model"] is True


def test_count_makes_one_task_per_image(app, fake):
    run = run_job(app, freepik(count=2, aspectRatio="2:3"))
    assert run.job["status"] == "completed" and len(run.job["download_urls"]) == 2
    assert fake.created_count == 2
    assert {c.json["aspect_ratio"] for c in fake.calls("/v1/ai/mystic", "POST")} == {
        "portrait_2_3"}


@pytest.mark.parametrize("mode, field", [("style", "style_reference"),
                                         ("camera", "structure_reference")])
def test_reference_modes_become_mystic_references(app, fake, mode, field):
    run = run_job(app, freepik(referenceImages={"images": [png()], "mode": mode}))
    assert run.job["status"] == "completed", run.job
    sent = fake.calls("/v1/ai/mystic", "POST")[0].json
    Image.open(io.BytesIO(base64.b64decode(sent[field]))).verify()  # a real image


def test_color_mode_sends_the_reference_palette(app, fake):
    run = run_job(app, freepik(referenceImages={"images": [png((200, 30, 40))],
                                                "mode": "color"}))
    assert run.job["status"] == "completed"
    colors = fake.calls("/v1/ai/mystic", "POST")[0].json["styling"]["colors"]
    assert colors[0]["color"] == "#C81E28" and colors[0]["weight"] == 1.0


@pytest.mark.parametrize("mode", ["character", "element", "effects"])
def test_modes_without_an_equivalent_are_refused_at_creation(app, fake, mode):
    run = run_job(app, freepik(referenceImages={"images": [png()], "mode": mode}))
    assert run.created["status_code"] == 400
    assert "referenceImages.mode" in run.created["details"] and mode in run.created["details"]
    assert fake.calls("/v1/ai/mystic") == []  # nothing was sent, nothing charged


def test_a_content_refusal_fails_the_job_and_refunds(app, fake):
    run = run_job(app, freepik(prompt="something BLOCKED here"))
    assert run.job["status"] == "failed"
    assert "Freepik did not make this image" in run.job["error_message"]
    assert "job_failed" in run.types and "job_completed" not in run.types
    assert run.credits == PLANS["business"].monthly_credits  # the credit came back


def test_a_rate_limit_is_retried_after_its_retry_after(app, fake):
    fake.fail_next(429, retry_after=0)
    fake.fail_next(503, path_contains="/v1/ai/mystic/", method="GET")
    run = run_job(app, freepik())
    assert run.job["status"] == "completed"
    assert len(fake.calls("/v1/ai/mystic", "POST")) == 2  # the refused one, then the task


def test_an_outage_past_the_retry_budget_fails_the_job(app, fake):
    fake.fail_next(500, times=10)
    run = run_job(app, freepik())
    assert run.job["status"] == "failed"
    assert "Freepik is not answering (HTTP 500) after 3 tries" in run.job["error_message"]


def test_a_bad_key_fails_with_advice_and_without_the_key(provider_app, fake):
    app = provider_app(generators={"freepik": "freepik"}, freepik_api_key="wrong-key",
                       freepik_base_url=fake.url)
    run = run_job(app, freepik())
    assert run.job["status"] == "failed"
    assert "GENOVA_FREEPIK_API_KEY" in run.job["error_message"]
    assert "wrong-key" not in str(run.job)


def test_the_deadline_stops_polling_and_fails_the_job(provider_app, fake):
    fake.polls_to_finish = 10_000
    app = provider_app(generators={"freepik": "freepik"}, freepik_api_key=KEY,
                       freepik_base_url=fake.url, generation_timeout=0.3)
    run = run_job(app, freepik())
    assert run.job["status"] == "failed"
    assert run.job["error_message"] == "generation took longer than the 0.3 s limit"
    assert run.credits == PLANS["business"].monthly_credits
    polls = fake.task_get_count
    time.sleep(0.2)
    assert fake.task_get_count == polls  # nobody polls any more


def test_a_lost_lease_stops_polling_and_records_nothing(app, fake):
    fake.polls_to_finish = 10_000

    def lose_the_lease(app, claim):
        while fake.task_get_count < 2:
            time.sleep(0.01)
        with app.app_context():  # what the sweep does to a lease that expired
            from genova import runtime
            lifecycle.abandon(runtime.of(app), claim)

    run = run_job(app, freepik(), while_running=lose_the_lease)
    assert run.outcome == {"skipped": "this worker no longer holds the job"}
    assert run.job["status"] == "queued"  # back in line, for another worker
    polls = fake.task_get_count
    time.sleep(0.2)
    assert fake.task_get_count == polls


def test_a_flow_model_served_by_mystic_maps_its_ratios(provider_app, fake):
    app = provider_app(generators={"imagen4": "freepik"}, freepik_api_key=KEY,
                       freepik_base_url=fake.url, provider_models={"imagen4": "fluid"})
    run = run_job(app, job_body(model="imagen4", aspectRatio="portrait"))
    assert run.job["status"] == "completed"
    sent = fake.calls("/v1/ai/mystic", "POST")[0].json
    assert (sent["aspect_ratio"], sent["model"]) == ("social_story_9_16", "fluid")
