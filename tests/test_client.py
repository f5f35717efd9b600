"""The sync client against a real running app (web, sockets, workers): every method,
every error class, the socket-less fallback and reconnects."""

from __future__ import annotations

import base64
import builtins
import io
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta

import jwt
import pytest
from PIL import Image
from websockets.exceptions import ConnectionClosed

import genova_client as gc
from genova_client import sockets
from tests.conftest import TEST_SECRET
from tests.httpfakes import NoSocketProxy
from tests.live import live_app

pytestmark = pytest.mark.e2e  # starts processes (app, workers, Redis, browser...)


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    with live_app(tmp_path_factory.mktemp("client"), workers=2,
                  GENOVA_MAX_REQUEST_BYTES=1024 * 1024) as app:
        yield app


@pytest.fixture(scope="module")
def idle(tmp_path_factory):
    """No generator workers: jobs stay queued."""
    with live_app(tmp_path_factory.mktemp("client-idle"), workers=0) as app:
        yield app


def client_for(app, plan="pro", **kwargs) -> tuple[gc.Client, object]:
    user = app.user(plan=plan, **kwargs)
    return gc.Client(app.url, api_key=user.key), user


def png(size=(64, 48), color=(200, 40, 40)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, format="PNG")
    return buffer.getvalue()


def test_generate_returns_images_that_open_and_save(live, tmp_path):
    client, _ = client_for(live)
    results = client.generate("A lighthouse in a storm", aspect_ratio="portrait", count=2,
                              progress=False, save_to=tmp_path / "out")
    assert results.job.status == "completed" and len(results) == 2
    for result in results:
        width, height = result.image.size
        assert height > width  # portrait
        assert result.placeholder is True  # the built-in renderer says it is not AI
        assert result.path.is_file() and Image.open(result.path).size == (width, height)
    assert "data:image/png;base64," in results._repr_html_()
    bundle = results[0]._repr_mimebundle_()
    assert base64.b64decode(bundle["image/png"]) == results[0].content
    assert "placeholder" in bundle["text/plain"]


def test_video_result_is_an_mp4_with_a_player(live, tmp_path):
    client, _ = client_for(live)
    (video,) = client.generate("A drone over a coral reef", model="veo2_fast", progress=False)
    assert video.type == "video" and video.content_type == "video/mp4"
    assert video.content[4:8] == b"ftyp"
    assert "<video" in video._repr_mimebundle_()["text/html"]
    assert video.save(tmp_path).suffix == ".mp4"
    with pytest.raises(TypeError):
        video.image  # noqa: B018


def test_jobs_create_get_list_iter_download(live, tmp_path):
    client, _ = client_for(live)
    created = client.jobs.create("A red bicycle", model="freepik", aspect_ratio="3:2",
                                 quality="2K", count=1)
    assert isinstance(created, gc.JobCreated) and created.status == "queued"
    assert created.credits_remaining == client.user.me().credits_remaining
    job = client.wait(created.job_id, progress=False)
    assert isinstance(job, gc.Job) and job.status == "completed"
    assert job.settings == {"model": "freepik", "aspectRatio": "3:2", "count": 1,
                            "quality": "2K"}
    assert client.jobs.get(job.id).completed_at == job.completed_at
    for _ in range(2):
        client.jobs.create("More")
    page = client.jobs.list(limit=2)
    assert isinstance(page, gc.JobPage) and len(page) == 2 and page.total == 3
    assert [j.id for j in client.jobs.iter(page_size=2)] == \
        [j.id for j in client.jobs.list(limit=100).jobs]
    data = client.jobs.download(job.id)
    width, height = Image.open(io.BytesIO(data)).size
    assert abs(width / height - 3 / 2) < 0.01
    saved = client.jobs.download(job.id, index=0, path=tmp_path)
    assert saved.parent == tmp_path and saved.read_bytes() == data


def test_cancel_refunds_and_a_second_cancel_conflicts(idle):
    client, _ = client_for(idle, plan=None)
    before = client.user.me().credits_remaining
    job = client.jobs.create("Queued forever")
    assert client.user.me().credits_remaining == before - 1
    assert client.jobs.cancel(job.job_id) is True
    assert client.user.me().credits_remaining == before
    with pytest.raises(gc.Conflict) as caught:
        client.jobs.cancel(job.job_id)
    assert caught.value.status == 409 and "cancelled" in caught.value.details
    assert client.jobs.list(status="cancelled").jobs[0].id == job.job_id


def test_keys_create_list_revoke(live):
    client, _ = client_for(live)
    key = client.keys.create("laptop")
    assert key.key.startswith("af_") and key.name == "laptop"
    listed = {k.id: k for k in client.keys.list()}
    assert key.id in listed and listed[key.id].key is None
    assert listed[key.id].prefix == key.key[:len(listed[key.id].prefix)]
    assert gc.Client(live.url, api_key=key.key).user.me().id == client.user.me().id
    assert client.keys.revoke(key.id) is True
    with pytest.raises(gc.AuthenticationError):
        gc.Client(live.url, api_key=key.key).user.me()
    with pytest.raises(gc.NotFound):
        client.keys.revoke(key.id)


def test_models_come_from_the_server(live):
    models = {m.id: m for m in gc.Client(live.url, api_key="").models()}
    assert models["freepik"].qualities == ["1K", "2K"]
    assert models["veo2_fast"].type == "video" and models["veo2_fast"].max_count == 1
    assert models["imagen4"].aspect_values == ["landscape", "portrait", "square"]
    assert models["imagen4"].ai_model is False  # this server runs the procedural renderer
    assert models["imagen4"].generator["provider"] == "procedural"


def test_profile_update_and_stats(live):
    client, user = client_for(live)
    me = client.user.update(name="Ada Lovelace")
    assert isinstance(me, gc.User) and me.name == "Ada Lovelace" and me.email == user.email
    client.generate("Two kittens", count=2, progress=False)
    stats = client.user.stats()
    assert isinstance(stats, gc.Stats)
    assert (stats.completed_jobs, stats.images_generated, stats.credits_used) == (1, 2, 1)


def test_register_login_refresh_with_tokens(live):
    client = gc.Client(live.url, api_key="")
    email = f"tokens-{uuid.uuid4().hex[:8]}@example.com"
    tokens = client.auth.register(email, "correct horse battery", name="Tok")
    assert isinstance(tokens, gc.Tokens) and tokens.user.email == email
    assert client.token == tokens.access_token and client.user.me().name == "Tok"
    other = gc.Client(live.url, api_key="")
    assert other.auth.login(email, "correct horse battery").user.id == tokens.user.id
    fresh = other.auth.refresh()
    assert fresh == other.token and other.user.me().id == tokens.user.id
    with pytest.raises(gc.AuthenticationError) as caught:
        gc.Client(live.url, api_key="").auth.login(email, "wrong password")
    assert caught.value.status == 401


def expired_access_token(user_id: str) -> str:
    past = datetime.now(UTC) - timedelta(hours=2)
    claims = {"sub": user_id, "type": "access", "fresh": False, "jti": uuid.uuid4().hex,
              "iat": past, "nbf": past, "exp": past + timedelta(hours=1)}
    return jwt.encode(claims, TEST_SECRET, algorithm="HS256")


def test_an_expired_access_token_is_refreshed_once(live):
    _, user = client_for(live)
    stale = expired_access_token(user.id)
    client = gc.Client(live.url, api_key="", token=stale, refresh_token=user.refresh_token)
    assert client.user.me().id == user.id
    assert client.token != stale
    with pytest.raises(gc.AuthenticationError) as caught:
        gc.Client(live.url, api_key="", token=stale).user.me()
    assert caught.value.error == "Token expired"


def test_reference_images_from_paths_bytes_pil_and_data_urls(live, tmp_path):
    client, _ = client_for(live)
    path = tmp_path / "ref.png"
    path.write_bytes(png())
    from genova_client.references import data_url

    refs = [str(path), png(color=(0, 90, 200)), Image.new("RGB", (32, 32), "green"),
            data_url(png(color=(255, 255, 0)))]
    results = client.generate("In this style", model="freepik", aspect_ratio="1:1",
                              reference_images=refs, reference_mode="color", progress=False)
    assert results.job.settings["referenceImages"] == {"mode": "color", "count": 4}
    with pytest.raises(FileNotFoundError):
        client.jobs.create("x", reference_images=[str(tmp_path / "missing.png")])


def test_each_api_error_is_its_own_exception(live):
    client, _ = client_for(live)
    with pytest.raises(gc.ValidationError) as bad:
        client.jobs.create("A cat", model="freepik", aspect_ratio="landscape")
    assert bad.value.status == 400 and bad.value.field == "aspectRatio"
    assert "aspectRatio" in str(bad.value)
    with pytest.raises(gc.NotFound) as missing:
        client.jobs.get(str(uuid.uuid4()))
    assert missing.value.status == 404
    broke, _ = client_for(live, plan=None, credits=0)
    with pytest.raises(gc.InsufficientCredits) as poor:
        broke.jobs.create("A cat")
    assert poor.value.status == 402
    with pytest.raises(gc.PayloadTooLarge):
        client.jobs.create("Big", reference_images=[b"\x89PNG\r\n\x1a\n" + b"\0" * 900_000])
    with pytest.raises(gc.AuthenticationError):
        gc.Client(live.url, api_key="").user.me()


def test_rate_limit_raises_with_retry_after(live):
    client, _ = client_for(live, plan=None)  # free: 10 requests a minute
    client.max_retries = 0
    with pytest.raises(gc.RateLimited) as limited:
        for _ in range(12):
            client.user.me()
    assert limited.value.status == 429 and limited.value.retry_after >= 1
    assert client.rate_limit == 10


def test_a_refused_socket_is_an_error_not_a_retry(live):
    _, user = client_for(live)
    url = sockets.socket_url(live.url, "/ws/user", {"apiKey": user.key, "userId": "other"})
    with sockets.connect(url) as ws, pytest.raises(ConnectionClosed) as closed:
        ws.recv(timeout=10)
    error = sockets.refusal(closed.value)
    assert isinstance(error, gc.PermissionDenied) and error.close_code == 4403
    bad = gc.Client(live.url, api_key="af_" + "x" * 43)
    with pytest.raises(gc.AuthenticationError):
        next(bad.events())


def test_unreachable_server_is_a_connection_error():
    client = gc.Client("http://127.0.0.1:1", api_key="af_x", max_retries=1)
    with pytest.raises(gc.ConnectionError) as caught:
        client.user.me()
    assert isinstance(caught.value, builtins.ConnectionError)
    assert "127.0.0.1:1" in caught.value.details


def test_wait_falls_back_to_polling_when_the_socket_is_refused(live):
    _, user = client_for(live)
    with NoSocketProxy(live.url) as proxy:
        client = gc.Client(proxy.url, api_key=user.key)
        results = client.generate("Through a proxy", progress=False)
        assert results.job.status == "completed" and results[0].image
        assert proxy.upgrades == 1
        assert ("GET", f"/api/jobs/{results.job.id}") in proxy.paths
        # the results came straight from the job's signed links: no download API call
        assert any(path.startswith("/files/") for _, path in proxy.paths)
        assert not any(path.endswith("/download") for _, path in proxy.paths)


def test_wait_shows_the_queue_position_and_times_out(idle, capsys):
    client, _ = client_for(idle)
    job = client.jobs.create("Waiting in line", model="freepik")
    with pytest.raises(gc.WaitTimeout) as caught:
        client.wait(job.job_id, timeout=2, progress=True)
    assert caught.value.job_id == job.job_id
    assert "queued #" in capsys.readouterr().err
    assert client.jobs.get(job.job_id).status == "queued"  # the job goes on
    client.jobs.cancel(job.job_id)


def test_progress_bar_reaches_completed(live, capsys):
    client, _ = client_for(live)
    client.generate("With a bar", progress=True)
    err = capsys.readouterr().err
    assert "100%" in err and "completed" in err


def test_events_survive_a_server_restart(idle):
    client, _ = client_for(idle)
    jobs = [client.jobs.create(f"Queued {i}", model="veo3_fast").job_id for i in range(2)]
    seen: list = []
    restarted = threading.Event()

    def listen():
        welcomes = 0
        for event in client.events():
            seen.append(event)
            welcomes += event.type == "welcome"
            after = [e.job_id for e in seen[_last_welcome(seen):] if e.type == "job_queued"]
            if welcomes == 1 and set(after) == set(jobs):
                restarted.wait(60)
            if welcomes == 2 and set(after) == set(jobs):
                return

    listener = threading.Thread(target=listen, daemon=True)
    listener.start()
    _wait_for(lambda: sum(e.type == "job_queued" for e in seen) >= 2)
    idle.restart()
    restarted.set()
    listener.join(90)
    assert not listener.is_alive(), [e.type for e in seen]
    assert [e.type for e in seen].count("welcome") == 2
    positions = {e.job_id: e.queuePosition for e in seen[_last_welcome(seen):]
                 if e.type == "job_queued"}
    assert set(positions) == set(jobs) and all(p >= 1 for p in positions.values())
    for job_id in jobs:
        client.jobs.cancel(job_id)


def _last_welcome(events) -> int:
    return max(i for i, e in enumerate(events) if e.type == "welcome")


def _wait_for(predicate, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not met"
        time.sleep(0.05)


def test_an_expired_token_is_refreshed_for_the_socket_too(live):
    """``wait`` opens the socket before any REST call: the socket's 4401 for an expired
    token makes the client refresh and reconnect, not fail."""
    owner, user = client_for(live)
    job = owner.jobs.create("Refreshed on the socket")
    stale = expired_access_token(user.id)
    client = gc.Client(live.url, api_key="", token=stale, refresh_token=user.refresh_token)
    assert client.wait(job.job_id, progress=False).status == "completed"
    assert client.token != stale
    with pytest.raises(gc.AuthenticationError) as caught:
        next(gc.Client(live.url, api_key="", token=stale).events())
    assert caught.value.close_code == 4401
    assert caught.value.error == "unauthorized" and "expired" in caught.value.details


def test_events_can_end_after_a_quiet_spell(idle):
    client, _ = client_for(idle)
    kinds = [event.type for event in client.events(idle_timeout=1.5)]
    assert kinds == ["welcome"]


def test_events_with_a_heartbeat_yield_none_in_quiet_spells(idle):
    client, _ = client_for(idle)
    stream = client.events(heartbeat=1)
    assert next(stream).type == "welcome"
    assert next(stream) is None  # a quiet second: the caller gets control back
    stream.close()
