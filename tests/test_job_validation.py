"""POST /api/jobs validation matrix: every model, ratio, count, quality, reference mode,
prompt, priority and malformed-body case, against the catalog and the documented API.

Each rejection must be a 400 ``{"error", "details", "field"}`` naming the offending field in
the API's own spelling, and must neither spend a credit nor create a job.
"""

from __future__ import annotations

import base64
import io

import pytest
from PIL import Image

from genova import create_app, runtime
from genova.catalog import ASPECT_RATIOS, FREEPIK_REFERENCE_MODES, MODELS
from genova.extensions import db
from tests.conftest import clean, make_settings
from tests.helpers import CREATED_KEYS, get_user, job_body, register

IMAGE_MODELS = [m.id for m in MODELS.values() if m.media_type == "image"]
VIDEO_MODELS = [m.id for m in MODELS.values() if m.media_type == "video"]
FLOW_MODELS = [m.id for m in MODELS.values() if m.platform == "flow"]


def png_url(color=(200, 30, 30), size=(16, 12)) -> str:
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def body_for(model_id: str, **overrides) -> dict:
    """A valid body for ``model_id``; pass ``key=None`` to omit a key."""
    m = MODELS[model_id]
    base = {"type": m.media_type, "model": model_id, "aspectRatio": m.spec.default_aspect_ratio}
    base.update(overrides)
    return job_body(**base)


def refs(n=1, mode=None, **extra) -> dict:
    out = {"images": [png_url((40 * i % 255, 90, 160)) for i in range(n)], **extra}
    if mode is not None:
        out["mode"] = mode
    return out


@pytest.fixture(scope="module")
def app(tmp_path_factory, database_url, redis_url):
    """One app for the whole matrix: each test registers its own user and checks only that
    user's credits and jobs, so nothing needs wiping in between (and the fast loop stays
    fast)."""
    app = create_app(make_settings(tmp_path_factory.mktemp("validation"), database_url,
                                   redis_url))
    clean(app)
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def user(client, app):
    u = register(client, plan="business")
    u["credits"] = get_user(app, u["user"]["id"]).credits_remaining
    assert u["credits"] > 0
    return u


def post(client, user, body=None, *, data=None):
    if data is not None:
        return client.post("/api/jobs", data=data, headers={
            **user["headers"], "Content-Type": "application/json"})
    return client.post("/api/jobs", json=body, headers=user["headers"])


def assert_nothing_spent(client, app, user):
    assert get_user(app, user["user"]["id"]).credits_remaining == user["credits"]
    listed = client.get("/api/jobs", headers=user["headers"])
    assert listed.status_code == 200, listed.get_json()
    assert listed.get_json()["total"] == 0 and listed.get_json()["jobs"] == []


def check_rejection(response, field) -> dict:
    data = response.get_json()
    assert response.status_code == 400, data
    assert isinstance(data.get("error"), str) and data["error"], data
    assert isinstance(data.get("details"), str) and data["details"], data
    if field is not None:
        assert data.get("field") == field, data
    return data


def reject(client, app, user, body, field, **kw) -> dict:
    data = check_rejection(post(client, user, body, **kw), field)
    assert_nothing_spent(client, app, user)
    return data


def accept(client, app, user, body) -> dict:
    """Create a job, check the documented 201 body, and return the job from GET."""
    before = get_user(app, user["user"]["id"]).credits_remaining
    response = post(client, user, body)
    data = response.get_json()
    assert response.status_code == 201, data
    assert set(data) == CREATED_KEYS, data
    assert data["success"] is True and data["status"] == "queued"
    assert isinstance(data["jobId"], str) and data["jobId"]
    assert type(data["queuePosition"]) is int and data["queuePosition"] >= 1
    assert type(data["estimatedTime"]) is int and data["estimatedTime"] > 0
    assert get_user(app, user["user"]["id"]).credits_remaining == before - 1
    shown = client.get(f"/api/jobs/{data['jobId']}", headers=user["headers"])
    assert shown.status_code == 200, shown.get_json()
    job = shown.get_json()
    assert job["id"] == data["jobId"] and job["status"] == "queued"
    assert job["type"] == body["type"]
    assert job["settings"]["model"] == body.get("model", "imagen4")
    return job


# --- models x aspect ratios -----------------------------------------------------------


@pytest.mark.parametrize("ratio", list(ASPECT_RATIOS))
@pytest.mark.parametrize("model", list(MODELS))
def test_aspect_ratio_matrix(client, app, user, model, ratio):
    body = body_for(model, aspectRatio=ratio)
    if ratio in MODELS[model].aspect_ratios:
        job = accept(client, app, user, body)
        assert job["settings"]["aspectRatio"] == ratio
        assert job["settings"]["model"] == model
    else:
        reject(client, app, user, body, "aspectRatio")


@pytest.mark.parametrize("model", list(MODELS))
def test_default_aspect_ratio(client, app, user, model):
    job = accept(client, app, user, body_for(model, aspectRatio=None))
    expected = "16:9" if model == "freepik" else "landscape"
    assert job["settings"]["aspectRatio"] == expected


def test_default_model_is_imagen4(client, app, user):
    job = accept(client, app, user, {"type": "image", "prompt": "a lighthouse at dawn"})
    assert job["settings"] == {"model": "imagen4", "aspectRatio": "landscape", "count": 1}


# --- count ---------------------------------------------------------------------------


@pytest.mark.parametrize("count", [1, 2, 3, 4])
@pytest.mark.parametrize("model", IMAGE_MODELS)
def test_image_counts_accepted(client, app, user, model, count):
    job = accept(client, app, user, body_for(model, count=count))
    assert job["settings"]["count"] == count


@pytest.mark.parametrize("model", VIDEO_MODELS)
def test_video_count_one_accepted(client, app, user, model):
    job = accept(client, app, user, body_for(model, count=1))
    assert job["settings"]["count"] == 1 and job["type"] == "video"


# --- quality / resolution / reference images / priority: accepted ---------------------


@pytest.mark.parametrize("key", ["quality", "resolution"])
@pytest.mark.parametrize("value", ["1K", "2K"])
def test_freepik_quality_accepted(client, app, user, key, value):
    job = accept(client, app, user, body_for("freepik", **{key: value}))
    assert job["settings"]["quality"] == value


def test_freepik_quality_defaults_to_1k(client, app, user):
    assert accept(client, app, user, body_for("freepik"))["settings"]["quality"] == "1K"


def test_freepik_quality_and_resolution_agreeing(client, app, user):
    job = accept(client, app, user, body_for("freepik", quality="2K", resolution="2K"))
    assert job["settings"]["quality"] == "2K"


@pytest.mark.parametrize("model", FLOW_MODELS)
def test_flow_models_have_no_quality_in_settings(client, app, user, model):
    assert "quality" not in accept(client, app, user, body_for(model))["settings"]


@pytest.mark.parametrize("model", FLOW_MODELS)
def test_ingredients_accepted_for_flow(client, app, user, model):
    job = accept(client, app, user, body_for(model, referenceImages=refs(1, "ingredients")))
    assert job["settings"]["referenceImages"] == {"mode": "ingredients", "count": 1}


@pytest.mark.parametrize("mode", FREEPIK_REFERENCE_MODES)
def test_freepik_modes_accepted(client, app, user, mode):
    job = accept(client, app, user, body_for("freepik", referenceImages=refs(2, mode)))
    assert job["settings"]["referenceImages"] == {"mode": mode, "count": 2}


@pytest.mark.parametrize(("model", "mode", "n"),
                         [("imagen4", "ingredients", 3), ("veo3_fast", "ingredients", 1),
                          ("freepik", "style", 4)])
def test_default_reference_mode(client, app, user, model, mode, n):
    job = accept(client, app, user, body_for(model, referenceImages=refs(n)))
    assert job["settings"]["referenceImages"] == {"mode": mode, "count": n}


def test_reference_images_plain_base64_accepted(client, app, user):
    plain = png_url().split(",", 1)[1]
    job = accept(client, app, user, body_for("imagen4", referenceImages={"images": [plain]}))
    assert job["settings"]["referenceImages"]["count"] == 1


def test_no_database_connection_is_held_while_images_decode(client, app, user, monkeypatch):
    """Decoding may wait for a thread; a request that kept its pooled connection meanwhile
    let fifty uploads starve every other request of connections (GET p95 2.3 s in
    bench/reference_images.py)."""
    from genova.extensions import db
    from genova.services import job_spec

    held, offload = [], job_spec.offload

    def watching(fn, *args, **kwargs):
        held.append(db.engine.pool.checkedout())
        return offload(fn, *args, **kwargs)

    monkeypatch.setattr(job_spec, "offload", watching)
    accept(client, app, user, body_for("imagen4", referenceImages=refs(2)))
    assert held == [0]


@pytest.mark.parametrize("priority", [0, 5, -5, 100, -100])
def test_priority_accepted(client, app, user, priority):
    job = accept(client, app, user, body_for("imagen4", priority=priority))
    assert job["settings"].get("priority", 0) == priority


@pytest.mark.parametrize("prompt", ["a" * 500, "x", "  a cat  ", "café ☕ " * 50])
def test_prompt_lengths_accepted(client, app, user, prompt):
    job = accept(client, app, user, body_for("imagen4", prompt=prompt))
    assert job["prompt"] == prompt.strip()


def test_documented_examples_accepted(client, app, user):
    accept(client, app, user, {"type": "image", "prompt": "A futuristic cityscape at sunset",
                               "model": "imagen4", "aspectRatio": "landscape", "count": 2})
    accept(client, app, user, {"type": "video", "prompt": "A drone flyover of a coral reef",
                               "model": "veo3_fast", "aspectRatio": "landscape"})
    job = accept(client, app, user, {
        "type": "image", "prompt": "A portrait in this style", "model": "freepik",
        "aspectRatio": "1:1", "count": 4, "quality": "2K",
        "referenceImages": {"images": [png_url()], "mode": "style"}})
    assert job["settings"] == {"model": "freepik", "aspectRatio": "1:1", "count": 4,
                               "quality": "2K",
                               "referenceImages": {"mode": "style", "count": 1}}


# --- rejections ----------------------------------------------------------------------

BAD_COUNTS = [0, 5, -1, 2.5, "2", True]
BAD_B64 = ["data:image/png;base64,!!!not base64!!!",
           base64.b64encode(b"definitely not an image").decode()]


def _rejections():
    cases = []

    def add(id_, body, field):
        cases.append(pytest.param(body, field, id=id_))

    for model in IMAGE_MODELS:
        for bad in BAD_COUNTS:
            add(f"count-{model}-{bad!r}", body_for(model, count=bad), "count")
    for model in VIDEO_MODELS:
        for bad in (2, 4, 0):
            add(f"count-{model}-{bad}", body_for(model, count=bad), "count")
    add("type-video-imagen4", body_for("imagen4", type="video"), "type")
    add("type-video-freepik", body_for("freepik", type="video"), "type")
    for model in VIDEO_MODELS:
        add(f"type-image-{model}", body_for(model, type="image"), "type")
    add("type-audio", body_for("imagen4", type="audio"), "type")
    add("type-int", body_for("imagen4", type=1), "type")
    add("model-dalle", body_for("imagen4", model="dalle"), "model")
    add("model-case", body_for("imagen4", model="Imagen4"), "model")
    add("aspect-unknown", body_for("imagen4", aspectRatio="21:9"), "aspectRatio")
    add("aspect-int", body_for("imagen4", aspectRatio=1), "aspectRatio")
    for model in FLOW_MODELS:
        for key, value in (("quality", "1K"), ("quality", "2K"), ("resolution", "2K")):
            add(f"{key}-{value}-{model}", body_for(model, **{key: value}), key)
    add("quality-4K-freepik", body_for("freepik", quality="4K"), "quality")
    add("quality-4K-flow", body_for("imagen4", quality="4K"), "quality")
    add("quality-lower", body_for("freepik", quality="2k"), "quality")
    add("resolution-4K", body_for("freepik", resolution="4K"), "resolution")
    add("quality-resolution-disagree",
        body_for("freepik", quality="1K", resolution="2K"), "quality")
    add("ingredients-freepik",
        body_for("freepik", referenceImages=refs(1, "ingredients")), "referenceImages.mode")
    for model in ("imagen4", "veo3_fast"):
        for mode in FREEPIK_REFERENCE_MODES:
            add(f"mode-{mode}-{model}", body_for(model, referenceImages=refs(1, mode)),
                "referenceImages.mode")
    add("mode-bogus", body_for("freepik", referenceImages=refs(1, "bogus")),
        "referenceImages.mode")
    add("mode-int", body_for("imagen4", referenceImages=refs(1, 3)), "referenceImages.mode")
    add("refs-0-images", body_for("imagen4", referenceImages={"images": []}),
        "referenceImages.images")
    add("refs-5-images", body_for("freepik", referenceImages=refs(5, "style")),
        "referenceImages.images")
    add("refs-images-string", body_for("imagen4", referenceImages={"images": png_url()}),
        "referenceImages.images")
    add("refs-images-missing", body_for("imagen4", referenceImages={"mode": "ingredients"}),
        "referenceImages.images")
    add("refs-not-object", body_for("imagen4", referenceImages="x"), "referenceImages")
    for i, bad in enumerate(BAD_B64):
        add(f"refs-bad-second-{i}",
            body_for("imagen4", referenceImages={"images": [png_url(), bad]}),
            "referenceImages.images[1]")
    add("refs-int-third", body_for("imagen4", referenceImages={"images": [png_url()] * 2 + [7]}),
        "referenceImages.images[2]")
    add("refs-unknown-key", body_for("imagen4", referenceImages=refs(1, weight=0.5)),
        "referenceImages.weight")
    add("prompt-empty", body_for("imagen4", prompt=""), "prompt")
    add("prompt-blank", body_for("imagen4", prompt="   "), "prompt")
    add("prompt-whitespace", body_for("imagen4", prompt="\n\t "), "prompt")
    add("prompt-501", body_for("imagen4", prompt="a" * 501), "prompt")
    add("prompt-int", body_for("imagen4", prompt=123), "prompt")
    add("prompt-list", body_for("imagen4", prompt=["a cat"]), "prompt")
    add("prompt-null", {**body_for("imagen4"), "prompt": None}, "prompt")
    for bad in (101, -101, "high", 1.5, True):
        add(f"priority-{bad!r}", body_for("imagen4", priority=bad), "priority")
    for name in ("seed", "userId", "status", "credits", "id", "settings"):
        add(f"unknown-{name}", {**body_for("imagen4"), name: "x"}, name)
    return cases


REJECTIONS = _rejections()


@pytest.mark.parametrize(("body", "field"), REJECTIONS)
def test_rejected(client, app, user, body, field):
    data = reject(client, app, user, body, field)
    if field in body:  # a top-level field that is present is invalid, not missing
        assert data["error"] != "Missing required fields", data


def test_all_rejections_in_a_row_spend_nothing(client, app, user):
    for param in REJECTIONS:
        body, field = param.values
        check_rejection(post(client, user, body), field)
    assert_nothing_spent(client, app, user)
    # and the account still works afterwards
    accept(client, app, user, body_for("imagen4"))


def test_rejection_leaves_no_reference_files(client, app, user):
    body = body_for("imagen4", referenceImages={"images": [png_url(), BAD_B64[0]]})
    reject(client, app, user, body, "referenceImages.images[1]")
    mine = runtime.of(app).settings.storage_root / "references" / user["user"]["id"]
    assert not mine.exists() or [p for p in mine.rglob("*") if p.is_file()] == []


# --- missing fields and malformed bodies ----------------------------------------------


def test_missing_prompt(client, app, user):
    body = body_for("imagen4", prompt=None)
    data = reject(client, app, user, body, "prompt")
    assert data["error"] == "Missing required fields"
    assert data["details"] == "prompt is required"


def test_missing_type(client, app, user):
    data = reject(client, app, user, body_for("imagen4", type=None), "type")
    assert data["error"] == "Missing required fields"
    assert data["details"] == "type is required"


def test_missing_type_and_prompt(client, app, user):
    data = reject(client, app, user, {"model": "imagen4"}, None)
    assert data["error"] == "Missing required fields"
    assert "type" in data["details"] and "prompt" in data["details"]
    assert data.get("field") in ("type", "prompt")


def test_missing_wins_over_unknown_field(client, app, user):
    data = reject(client, app, user, {"type": "image", "seed": 4}, "prompt")
    assert data["error"] == "Missing required fields"


@pytest.mark.parametrize("raw", ["{nope", "[1, 2]", '"a cat"', "42", "null",
                                 '{"type": "image",', b"\xff\xfe{}"])
def test_malformed_json(client, app, user, raw):
    data = check_rejection(post(client, user, data=raw), None)
    assert data["error"] == "Malformed JSON"
    assert_nothing_spent(client, app, user)


def test_deeply_nested_json_is_malformed_not_500(client, app, user):
    # json.loads raises RecursionError (not ValueError), which get_json(silent=True) lets out
    data = check_rejection(post(client, user, data="[" * 100_000), None)
    assert data["error"] == "Malformed JSON"
    assert_nothing_spent(client, app, user)


def test_prompt_with_nul_is_rejected_on_every_backend(client, app, user):
    # SQLite stores it; PostgreSQL text cannot hold NUL, which surfaced as a 500
    data = reject(client, app, user, body_for("imagen4", prompt="a cat\x00 at night"), "prompt")
    assert data["error"] == "Invalid request"


@pytest.mark.parametrize("raw", ["", "   ", "{}"])
def test_empty_body(client, app, user, raw):
    data = check_rejection(post(client, user, data=raw), None)
    assert data["error"] == "Missing required fields"
    assert "type" in data["details"] and "prompt" in data["details"]
    assert_nothing_spent(client, app, user)


def test_no_body_at_all(client, app, user):
    response = client.post("/api/jobs", headers=user["headers"])
    data = check_rejection(response, None)
    assert data["error"] == "Missing required fields"
    assert_nothing_spent(client, app, user)


def test_unauthenticated_request_is_401_not_validation(client):
    response = client.post("/api/jobs", json={"prompt": ""})
    assert response.status_code == 401
