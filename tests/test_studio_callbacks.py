"""The studio without a browser: its pure pieces (``ui.render``, ``ui.session``,
``ui.handlers.explain``, ``ui.live.Board``, ``ui.create_views.aspect_choices``) and a few of
its callbacks called directly against a real running Genova (``tests.live``)."""

from __future__ import annotations

import base64
import json
import time
from types import SimpleNamespace

import pytest

pytest.importorskip("gradio")

from genova_client import (
    Client,
    Event,
    InsufficientCredits,
    RateLimited,
    ValidationError,
)
from tests.live import live_app
from ui import render, session
from ui.create_views import aspect_choices
from ui.handlers import explain
from ui.live import Board

pytestmark = pytest.mark.e2e  # starts processes (app, workers, Redis, browser...)

ORIGIN = "https://studio.example.org"
INTERNAL = "http://127.0.0.1:8123"
NASTY = '<script>alert("x")</script> & <b>bold</b>'


def job(status: str, **extra) -> dict:
    base = {"id": f"job-{status}", "type": "image", "status": status, "prompt": NASTY,
            "settings": {"model": "imagen4", "aspectRatio": "landscape", "count": 1},
            "created_at": "2026-01-02T03:04:05Z"}
    return {**base, **extra}


def jwt(payload: dict) -> str:
    def part(value: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")
    return f"{part({'alg': 'HS256', 'typ': 'JWT'})}.{part(payload)}.signature"


# ---------------------------------------------------------------- ui.render


@pytest.mark.parametrize("status", ["pending", "queued", "processing", "completed", "failed",
                                    "cancelled"])
def test_every_card_escapes_the_prompt(status):
    card = render.job_card(job(status, error_message="<i>boom</i>",
                               message="<u>step</u>"), ORIGIN)
    assert "<script>" not in card and "<b>bold</b>" not in card
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &lt;b&gt;bold&lt;/b&gt;" in card
    assert "<i>boom</i>" not in card and "<u>step</u>" not in card
    assert f'class="gv-card gv-{status}"' in card and 'data-job="job-' in card


@pytest.mark.parametrize("status,cancellable", [("pending", True), ("queued", True),
                                                ("processing", False), ("completed", False),
                                                ("failed", False), ("cancelled", False)])
def test_only_waiting_jobs_have_a_cancel_button(status, cancellable):
    card = render.job_card(job(status), ORIGIN)
    assert ("data-cancel=" in card) is cancellable
    if cancellable:
        assert f'data-cancel="job-{status}"' in card


def test_cards_say_where_a_job_stands():
    queued = render.job_card(job("queued", queue_position=3, estimated_time=40), ORIGIN)
    assert "Queued #3" in queued and "about 40 s" in queued
    running = render.job_card(job("processing", progress=42, message="Rendering"), ORIGIN)
    assert 'value="42"' in running and "42% Rendering" in running
    failed = render.job_card(job("failed", error_message="no GPU"), ORIGIN)
    assert "Failed: no GPU" in failed and "refunded" in failed and 'role="alert"' in failed
    assert "Cancelled · credit refunded" in render.job_card(job("cancelled"), ORIGIN)


def test_results_are_on_the_public_origin_with_the_placeholder_note():
    done = job("completed", download_urls=[f"{INTERNAL}/files/a/b/result.png?expires=1&sig=ab",
                                           f"{INTERNAL}/files/a/b/result_1.png?expires=1&sig=cd"],
               generator={"name": "genova-procedural", "ai_model": False})
    card = render.job_card(done, ORIGIN)
    assert f'src="{ORIGIN}/files/a/b/result.png?expires=1&amp;sig=ab"' in card
    assert f'{ORIGIN}/files/a/b/result_1.png' in card and INTERNAL not in card
    assert card.count("<img") == 2 and render.PLACEHOLDER_NOTE in card
    real = render.job_card({**done, "generator": {"name": "imagen", "ai_model": True}}, ORIGIN)
    assert render.PLACEHOLDER_NOTE not in real
    video = render.media({**done, "type": "video", "download_urls": done["download_urls"][:1]},
                         ORIGIN)
    assert "<video" in video and "<img" not in video and ORIGIN in video


def test_queue_empty_and_full():
    assert "No jobs yet" in render.queue([], ORIGIN)
    full = render.queue([job("queued"), job("completed", download_urls=[])], ORIGIN)
    assert full.count("<article") == 2 and 'aria-live="polite"' in full


def test_detail_shows_facts_and_downloads_on_the_public_origin():
    assert "Pick a result" in render.detail(None, ORIGIN)
    done = job("completed", download_urls=[f"{INTERNAL}/files/x/y/result.png?expires=9&sig=ff"],
               generator={"ai_model": False}, started_at="2026-01-02T03:04:06Z",
               completed_at="2026-01-02T03:04:08Z", processing_time=1.25,
               file_size=3 * 1024 * 1024,
               settings={"model": "freepik", "aspectRatio": "4:3", "count": 1,
                         "quality": "2K", "priority": 5, "referenceImages": {"count": 2}})
    html = render.detail(done, ORIGIN)
    link = session.public_link(done["download_urls"][0], ORIGIN)
    assert link == f"{ORIGIN}/files/x/y/result.png?expires=9&sig=ff"
    assert 'class="gv-download" href="' + link.replace("&", "&amp;") + '" download' in html
    assert "Download result 1" in html and INTERNAL not in html
    for fact in ("<th>Model</th><td>freepik</td>", "<th>Aspect ratio</th><td>4:3</td>",
                 "<th>Quality</th><td>2K</td>", "<th>Priority</th><td>5</td>",
                 "<th>References</th><td>2</td>", "<th>Processing</th><td>1.2 s</td>",
                 "<th>Size</th><td>3.0 MB</td>", "<th>Created</th><td>2026-01-02 03:04:05 UTC"):
        assert fact in html
    assert "<script>" not in html and render.PLACEHOLDER_NOTE in html


def test_public_link_keeps_path_and_query_only():
    assert session.public_link(None, ORIGIN) is None
    assert session.public_link("http://10.0.0.1:9/files/a.png", ORIGIN) == f"{ORIGIN}/files/a.png"


def test_header_lines_escape_names():
    line = render.account_line({"name": "<b>Eve</b>", "email": "eve@example.com",
                                "plan": "pro"})
    assert "&lt;b&gt;Eve&lt;/b&gt;" in line and "Pro plan" in line
    assert render.account_line({}) == "" and render.credits_line(None) == ""
    assert render.credits_line(7) == "**7** credits left"


# ---------------------------------------------------------------- ui.session


def test_expires_at_reads_the_exp_of_a_jwt():
    assert session.expires_at(jwt({"sub": "u", "exp": 1893456000})) == 1893456000.0
    for bad in (None, "", "not-a-jwt", "a.!!!.c", jwt({"sub": "no exp"})):
        assert session.expires_at(bad) is None


def test_public_origin_follows_the_proxy_headers():
    proxied = SimpleNamespace(headers={"x-forwarded-host": "genova.example.org",
                                       "x-forwarded-proto": "https", "host": "127.0.0.1:7860"})
    assert session.public_origin(proxied) == "https://genova.example.org"
    direct = SimpleNamespace(headers={"host": "localhost:8000"})
    assert session.public_origin(direct) == "http://localhost:8000"
    assert session.public_origin(None) == "http://127.0.0.1:8000"


def test_updated_returns_refreshed_credentials_only():
    creds = {"access": "old", "refresh": "r", "email": "a@b.co"}
    assert session.updated(creds, SimpleNamespace(token="new")) == {**creds, "access": "new"}
    assert session.updated(creds, SimpleNamespace(token="old")) is None
    assert session.updated({}, SimpleNamespace(token="new")) is None
    assert session.updated({"api_key": "af_x"}, SimpleNamespace(token=None)) is None


def test_signed_in_and_credential_shapes():
    assert not session.signed_in({}) and not session.signed_in(None)
    assert session.signed_in(session.from_key("af_x", "a@b.co"))
    assert session.signed_in({"access": "t"})


# ---------------------------------------------------------------- ui.handlers.explain


def test_explain_402_names_the_plan():
    text = explain(InsufficientCredits("Insufficient credits", "0 left"),
                   {"plan": "free", "monthly_credits": 50})
    assert "No credits left" in text and "free plan gives 50 credits a month" in text
    assert "monthly allowance" in explain(InsufficientCredits("Insufficient credits"))


def test_explain_429_says_how_long_to_wait():
    text = explain(RateLimited("Rate limit exceeded", retry_after=12.4),
                   {"requests_per_minute": 10})
    assert "Too many requests" in text and "10 requests a minute" in text
    assert "12 seconds" in text
    assert "a minute" in explain(RateLimited("Rate limit exceeded"))


@pytest.mark.parametrize("field,words", [("aspectRatio", "Aspect ratio"),
                                         ("referenceImages[1]", "Reference images"),
                                         ("prompt", "Prompt"), ("weird", "weird")])
def test_explain_400_names_the_field_in_plain_words(field, words):
    text = explain(ValidationError("Validation error", "is not allowed", field=field))
    assert text == f"**{words}:** is not allowed"


def test_explain_other_errors():
    assert explain(ValidationError("Bad request", "nope")) == "**Bad request.** nope"
    assert explain(ValidationError("Bad request")) == "**Bad request.**"


# ---------------------------------------------------------------- ui.live.Board


def test_the_board_follows_a_job_from_creation_to_each_end():
    board = Board()
    board.apply(Event("job_created", {"jobId": "a", "jobType": "image", "prompt": "cat",
                                      "settings": {"model": "imagen4"},
                                      "createdAt": "2026-01-01T00:00:01Z",
                                      "queuePosition": 2, "estimatedTime": 30}))
    a = board.jobs["a"]
    assert a["status"] == "queued" and a["queue_position"] == 2 and a["prompt"] == "cat"
    board.apply(Event("job_queued", {"jobId": "a", "queuePosition": 1, "estimatedTime": 10}))
    assert (a["queue_position"], a["estimated_time"]) == (1, 10)
    board.apply(Event("job_started", {"jobId": "a"}))
    assert a["status"] == "processing" and a["progress"] == 0 and a["queue_position"] is None
    board.apply(Event("job_progress", {"jobId": "a", "progress": 55, "message": "Rendering"}))
    assert (a["progress"], a["message"]) == (55, "Rendering")
    board.apply(Event("job_completed", {"jobId": "a", "downloadUrls": ["u1"],
                                        "generator": {"ai_model": False}}))
    assert a["status"] == "completed" and a["download_urls"] == ["u1"]
    assert render.PLACEHOLDER_NOTE in render.job_card(a, ORIGIN)

    board.put({"id": "b", "status": "processing", "created_at": "2026-01-01T00:00:02Z"})
    board.apply(Event("job_failed", {"jobId": "b", "error": "out of paint"}))
    assert board.jobs["b"]["status"] == "failed"
    assert board.jobs["b"]["error_message"] == "out of paint"
    board.put({"id": "c", "status": "queued", "created_at": "2026-01-01T00:00:03Z"})
    board.apply(Event("job_cancelled", {"jobId": "c"}))
    assert board.jobs["c"]["status"] == "cancelled"
    assert [j["id"] for j in board.shown()] == ["c", "b", "a"]  # newest first


def test_the_board_ignores_unknown_jobs_and_events():
    board = Board([{"id": "a", "status": "queued", "created_at": "x"}])
    board.apply(Event("job_progress", {"jobId": "elsewhere", "progress": 10}))
    board.apply(Event("something_new", {"jobId": "a"}))
    assert list(board.jobs) == ["a"] and board.jobs["a"]["status"] == "queued"
    board.reset([])
    assert board.shown() == []


def test_the_board_shows_at_most_twenty_in_the_listing_order():
    """The API lists newest first; the board keeps that order (timestamps have only
    one-second precision, so they cannot order jobs made in the same second)."""
    board = Board([{"id": f"j{i:02}", "status": "completed",
                    "created_at": "2026-01-01T00:00:00Z"} for i in reversed(range(25))])
    shown = board.shown()
    assert len(shown) == 20 and shown[0]["id"] == "j24" and shown[-1]["id"] == "j05"


# ---------------------------------------------------------------- a real app


@pytest.fixture(scope="module")
def genova(tmp_path_factory):
    """A real Genova with no workers: jobs stay queued (so they can be cancelled)."""
    with live_app(tmp_path_factory.mktemp("studio-callbacks"), workers=0) as app:
        yield app


@pytest.fixture(scope="module")
def models(genova):
    return Client(genova.url, api_key="", max_retries=0).models()


@pytest.fixture(scope="module")
def studio(genova, models):
    from ui.app import build

    demo, studio = build(genova.url, models, "key")
    yield studio
    demo.close()


@pytest.fixture(scope="module")
def user(genova):
    return genova.user(plan="pro")


def test_aspect_choices_follow_each_model(models):
    assert {m.id for m in models} >= {"imagen4", "veo3_fast", "freepik"}
    for model in models:
        choices = aspect_choices(model)
        assert [value for _, value in choices] == [r["value"] for r in model.aspect_ratios]
        assert model.default_aspect_ratio in [value for _, value in choices]
        for (label, value), ratio in zip(choices, model.aspect_ratios, strict=True):
            assert f"{ratio['width']}×{ratio['height']}" in label and value in label
            assert ratio["ratio"] in label
    imagen = next(m for m in models if m.id == "imagen4")
    assert aspect_choices(imagen)[0] == ("▭ landscape 16:9 · 1344×756", "landscape")
    freepik = next(m for m in models if m.id == "freepik")
    assert ("□ 1:1 · 1024×1024", "1:1") in aspect_choices(freepik)  # no repeated "1:1 1:1"


def test_log_in_with_a_wrong_password_says_so(studio, user):
    c = studio.c
    out = studio.log_in(user.email, "not the password")
    assert set(out) == {c.signin_msg}
    assert out[c.signin_msg].startswith("**") and c.creds not in out
    assert studio.log_in("", "")[c.signin_msg] == "**Enter your email and password.**"


def test_log_in_stores_tokens_and_shows_the_studio(studio, user):
    c = studio.c
    out = studio.log_in(user.email, user.password)
    creds = out[c.creds]
    assert creds["access"] and creds["refresh"] and creds["email"] == user.email
    assert session.expires_at(creds["access"]) > time.time()
    assert out[c.main]["visible"] is True and out[c.signin]["visible"] is False
    assert user.email in out[c.account] and "credits left" in out[c.credits]
    assert out[c.me]["plan"] == "pro"


def test_generate_needs_a_prompt(studio, user):
    c = studio.c
    out = studio.generate({"api_key": user.key}, {}, "   ", "imagen4", "landscape", 1, None,
                          None, "ingredients", 0)
    assert out == {c.create_msg: "**Prompt:** write what you want to see."}


def test_generate_queues_a_job_and_shows_the_credits(studio, user, genova):
    c = studio.c
    api = Client(genova.url, api_key=user.key, max_retries=0)
    before = api.user.me().credits_remaining
    out = studio.generate({"api_key": user.key}, {"plan": "pro"}, "A cat playing piano",
                          "freepik", "4:3", 1, "2K", None, "ingredients", 3)
    assert out[c.create_msg].startswith("Job ") and "queue" in out[c.create_msg]
    assert out[c.credits] == f"**{before - 1}** credits left"
    newest = api.jobs.list(limit=1).jobs[0].raw
    assert newest["prompt"] == "A cat playing piano" and newest["status"] == "queued"
    assert newest["settings"]["model"] == "freepik"
    assert newest["settings"]["aspectRatio"] == "4:3"
    assert newest["settings"]["quality"] == "2K"


def test_generate_explains_a_bad_option(studio, user):
    out = studio.generate({"api_key": user.key}, {}, "A dog", "imagen4", "4:3", 1, None, None,
                          "ingredients", 0)
    assert out[studio.c.create_msg].startswith("**Aspect ratio:**")


def test_model_changed_shows_only_that_models_options(studio):
    c = studio.c
    out = studio.model_changed("freepik")
    assert out[c.quality]["visible"] is True
    assert list(out[c.quality]["choices"]) == ["1K", "2K"]
    assert [v for _, v in out[c.aspect]["choices"]][:2] == ["1:1", "4:3"]
    assert "Freepik" in out[c.model_info]
    video = studio.model_changed("veo3_fast")
    assert video[c.quality]["visible"] is False
    assert video[c.count]["interactive"] is False and video[c.count]["maximum"] == 1


def test_cancel_on_an_idle_app_refunds_the_credit(studio, user, genova):
    c = studio.c
    api = Client(genova.url, api_key=user.key, max_retries=0)
    created = api.jobs.create("A queued lighthouse", model="imagen4")
    assert created.status == "queued"  # no workers: it waits
    out = studio.cancel({"api_key": user.key}, created.job_id)
    assert out[c.create_msg] == f"Job {created.job_id[:8]} cancelled; its credit is back."
    assert api.jobs.get(created.job_id).status == "cancelled"
    assert api.user.me().credits_remaining == created.credits_remaining + 1
    assert studio.cancel({"api_key": user.key}, "  ") == {}
