"""The abuse pass, replayed against a real running app: each test performs one attack
(bounded, loopback only) and asserts the fixed behaviour."""

from __future__ import annotations

import base64
import datetime as dt
import http.client
import io
import json
import os
import signal
import uuid

import jwt as pyjwt
import pytest
import requests
import websocket
from PIL import Image

from genova.embedded_redis import EmbeddedRedis
from tests.conftest import TEST_SECRET
from tests.procs import admin, running_app, wait_until
from tests.realtime import Socket, close_info, ws_url

pytestmark = pytest.mark.e2e  # starts processes (app, workers, Redis, browser...)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    data = tmp_path_factory.mktemp("abuse") / "var"
    with running_app(data, GENOVA_SECRET_KEY=TEST_SECRET, GENOVA_EMBEDDED_WORKERS=2,
                     GENOVA_ANON_RATE_LIMIT="10000 per minute",
                     GENOVA_ALLOWED_ORIGINS="https://studio.example") as app:
        yield app


@pytest.fixture(scope="module")
def user(server):
    email = f"{uuid.uuid4().hex[:8]}@example.com"
    tokens = server.post("/api/auth/register", json={"email": email,
                                                     "password": "long-password"}).json()
    key = requests.post(server.url + "/api/keys", json={"name": "abuse"}, timeout=10,
                        headers={"Authorization": f"Bearer {tokens['accessToken']}"}).json()
    moved = admin(server, "user", "plan", email, "business", GENOVA_SECRET_KEY=TEST_SECRET)
    assert moved.returncode == 0, moved.stderr  # 300 requests a minute
    return {"id": tokens["user"]["id"], "key": key["key"], "key_id": key["id"],
            "headers": {"X-API-Key": key["key"]}, "jwt": tokens["accessToken"]}


def _is_json_error(response, status: int) -> dict:
    assert response.status_code == status, (response.status_code, response.text[:300])
    body = response.json()
    assert set(body) >= {"error", "details"}, body
    return body


def test_a_token_that_never_expires_is_socket_close(server, user):
    now = dt.datetime.now(dt.UTC)
    forever = pyjwt.encode({"sub": user["id"], "type": "access", "fresh": False,
                            "jti": str(uuid.uuid4()), "iat": now, "nbf": now},
                           TEST_SECRET, algorithm="HS256")
    body = _is_json_error(server.get("/api/user/me", headers={
        "Authorization": f"Bearer {forever}"}), 401)
    assert "expiry" in body["details"]


def test_an_over_long_url_is_a_json_414_not_gunicorn_html(server):
    for length in (5_000, 20_000):
        _is_json_error(server.get("/api/" + "a" * length), 404 if length < 8192 else 414)


def test_a_chunked_body_over_the_limit_is_413(server, user):
    """30 MB sent chunked (no Content-Length) used to be cut at 25 MiB and called bad JSON."""
    def chunks():
        yield b'{"type": "image", "prompt": "'
        for _ in range(30):
            yield b"a" * (1024 * 1024)
        yield b'"}'

    response = requests.post(server.url + "/api/jobs", data=chunks(), timeout=60,
                             headers={**user["headers"], "Content-Type": "application/json"})
    _is_json_error(response, 413)


def test_every_201_says_what_the_request_created(server, user):
    """With two workers claiming at once, a re-read row could already say processing."""
    for _ in range(30):
        created = server.post("/api/jobs", headers=user["headers"],
                              json={"type": "image", "prompt": "a kite"})
        assert created.status_code == 201, created.text[:300]
        body = created.json()
        assert body["status"] == "queued" and body["queuePosition"] >= 1, body


def test_offsets_beyond_any_page_are_a_400(server, user):
    for offset in ("9223372036854775808", "1e20", "1.0"):
        body = _is_json_error(server.get(f"/api/jobs?offset={offset}",
                                         headers=user["headers"]), 400)
        assert body["field"] == "offset"


def _socket_close(url: str, **options) -> tuple[int, str]:
    ws = websocket.create_connection(url, timeout=10, **options)
    try:
        while True:
            opcode, data = ws.recv_data(control_frame=True)
            if opcode == websocket.ABNF.OPCODE_CLOSE:
                return close_info(data)
    finally:
        ws.close()


def test_a_page_from_another_site_cannot_open_a_socket(server, user):
    url = ws_url(server, "/ws/user", apiKey=user["key"])
    code, reason = _socket_close(url, origin="http://evil.example")
    assert code == 4403 and "origin" in reason
    for origin in ("https://studio.example", server.url):  # allowed, and same origin
        ws = websocket.create_connection(url, timeout=10, origin=origin)
        assert json.loads(ws.recv())["type"] == "welcome"
        ws.close()
    scripted = websocket.create_connection(url, timeout=10, suppress_origin=True)
    assert json.loads(scripted.recv())["type"] == "welcome"  # no Origin: not a browser
    scripted.close()


def test_an_oversized_socket_message_is_closed_with_1009(server, user):
    ws = websocket.create_connection(ws_url(server, "/ws/user", apiKey=user["key"]),
                                     timeout=10)
    assert json.loads(ws.recv())["type"] == "welcome"
    ws.send("x" * (1024 * 1024))
    frame = ws.recv_frame()  # raw: the server drops the connection right after its close
    while frame.opcode != websocket.ABNF.OPCODE_CLOSE:
        frame = ws.recv_frame()
    assert close_info(frame.data)[0] == 1009


def test_compression_is_not_negotiated(server, user):
    """A 255 KiB deflated frame could inflate to 256 MiB before any size check."""
    conn = http.client.HTTPConnection(server.url.split("//", 1)[1], timeout=10)
    conn.request("GET", f"/ws/user?apiKey={user['key']}", headers={
        "Connection": "Upgrade", "Upgrade": "websocket", "Sec-WebSocket-Version": "13",
        "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
        "Sec-WebSocket-Extensions": "permessage-deflate; client_max_window_bits"})
    response = conn.getresponse()
    assert response.status == 101
    assert "deflate" not in (response.getheader("Sec-WebSocket-Extensions") or "")
    conn.close()


def _new_key(server, user, name: str) -> dict:
    made = requests.post(server.url + "/api/keys", json={"name": name}, timeout=10,
                         headers={"Authorization": f"Bearer {user['jwt']}"})
    assert made.status_code == 201, made.text
    return made.json()


def _welcomed(url: str) -> Socket:
    sock = Socket(url)
    assert sock.recv()["type"] == "welcome"
    return sock


def test_revoking_a_key_closes_every_socket_opened_with_it(server, user):
    doomed = _new_key(server, user, "leaked")
    live = _welcomed(ws_url(server, "/ws/user", apiKey=doomed["key"]))
    worker = _welcomed(ws_url(server, "/ws/extension", extensionType="flow",
                              apiKey=doomed["key"]))
    other = _welcomed(ws_url(server, "/ws/user", apiKey=user["key"]))
    revoked = requests.delete(f"{server.url}/api/keys/{doomed['id']}", headers=user["headers"],
                              timeout=10)
    assert revoked.status_code == 200
    for sock in (live, worker):
        code, reason = sock.close_reason()
        assert code == 4401 and "revoked" in reason
    other.send({"type": "ping"})
    assert other.until("pong", limit=500)[-1] == {"type": "pong"}  # another key: still open


def _token(user_id: str, *, lifetime: float) -> str:
    now = dt.datetime.now(dt.UTC)
    return pyjwt.encode({"sub": user_id, "type": "access", "fresh": False,
                         "jti": str(uuid.uuid4()), "iat": now, "nbf": now,
                         "exp": now + dt.timedelta(seconds=lifetime)},
                        TEST_SECRET, algorithm="HS256")


def test_a_socket_ends_when_its_access_token_expires(server, user):
    token = _token(user["id"], lifetime=3)
    socks = [_welcomed(ws_url(server, "/ws/user", token=token)),
             _welcomed(ws_url(server, "/ws/extension", extensionType="flow", token=token))]
    for sock in socks:
        code, reason = sock.close_reason()
        assert code == 4401 and "expired" in reason, (code, reason)


def test_a_plan_change_asks_sockets_to_reconnect(server, user):
    email = requests.get(server.url + "/api/user/me", headers=user["headers"],
                         timeout=10).json()["email"]
    sock = _welcomed(ws_url(server, "/ws/user", apiKey=user["key"]))
    moved = admin(server, "user", "plan", email, "pro", GENOVA_SECRET_KEY=TEST_SECRET)
    assert moved.returncode == 0, moved.stderr
    code, reason = sock.close_reason()
    assert code == 1012 and "pro plan" in reason
    admin(server, "user", "plan", email, "business", GENOVA_SECRET_KEY=TEST_SECRET)


def test_guessing_credentials_is_rate_limited_per_address(server, user):
    """Bad credentials used to be refused before the limiter ever counted them."""
    guesser = {"X-Forwarded-For": "203.0.113.9"}  # the app trusts it from loopback
    statuses = [server.get("/api/user/me", headers={**guesser, "X-API-Key": f"af_guess{i}"})
                .status_code for i in range(25)]
    assert statuses[:20] == [401] * 20 and set(statuses[20:]) == {429}
    right = server.get("/api/user/me", headers={**guesser, **user["headers"]})
    assert right.status_code == 429  # even a right guess: guessing gains nothing
    assert int(right.headers["Retry-After"]) >= 1
    assert server.get("/api/user/me", headers=user["headers"]).status_code == 200  # others


def test_socket_caps_per_account_and_per_process(tmp_path):
    caps = {"GENOVA_MAX_USER_SOCKETS": 3, "GENOVA_MAX_EXTENSION_SOCKETS": 2,
            "GENOVA_MAX_SOCKETS": 8, "GENOVA_ANON_RATE_LIMIT": "10000 per minute"}
    with running_app(tmp_path / "var", **caps) as app:
        keys = []
        for name in ("a", "b", "c"):
            tokens = app.post("/api/auth/register", json={
                "email": f"{name}@example.com", "password": "long-password"}).json()
            keys.append(requests.post(app.url + "/api/keys", timeout=10, headers={
                "Authorization": f"Bearer {tokens['accessToken']}"}).json()["key"])
        a, b, c = (ws_url(app, "/ws/user", apiKey=k) for k in keys)
        held = [_welcomed(a) for _ in range(3)]
        code, reason = _socket_close(a)
        assert code == 4429 and "at most 3" in reason
        worker = ws_url(app, "/ws/extension", extensionType="flow", apiKey=keys[0])
        held += [_welcomed(worker) for _ in range(2)]
        assert _socket_close(worker)[0] == 4429
        held += [_welcomed(b) for _ in range(3)]  # 8 sockets: the process is full
        code, reason = _socket_close(c)
        assert code == 1013 and "retry later" in reason
        assert app.get("/healthz").status_code == 200  # HTTP still has room
        held.pop(0).close()
        wait_until(lambda: _opens(c), 10, lambda: "a freed place was not reused")


def _opens(url: str) -> bool:
    ws = websocket.create_connection(url, timeout=10)
    try:
        return json.loads(ws.recv()).get("type") == "welcome"
    except websocket.WebSocketConnectionClosedException:
        return False
    finally:
        ws.close()


def _png(width: int, height: int) -> str:
    buf = io.BytesIO()
    Image.new("L", (width, height)).save(buf, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def test_a_request_cannot_make_the_server_decode_a_pixel_bomb(server, user):
    """Four all-zero 6300×6300 PNGs (under 1 MB on the wire, each under the per-image
    limit) used to keep the web process decoding for seconds."""
    bomb = _png(6300, 6300)
    body = _is_json_error(server.post("/api/jobs", headers=user["headers"], json={
        "type": "image", "prompt": "a bomb", "referenceImages": {"images": [bomb] * 4}}), 400)
    assert body["field"] == "referenceImages.images" and "megapixels in total" in body["details"]
    one = server.post("/api/jobs", headers=user["headers"], json={
        "type": "image", "prompt": "one big reference", "referenceImages": {"images": [bomb]}})
    assert one.status_code == 201, one.text  # a single big image is still fine


def test_the_embedded_redis_comes_back_after_it_is_killed(tmp_path):
    with running_app(tmp_path / "var") as app:
        pid_file = app.data_dir / "redis" / "redis.pid"
        url_before, pid_before = (app.data_dir / "redis" / "redis.url").read_text(), \
            pid_file.read_text()
        os.kill(int(pid_before), signal.SIGKILL)
        wait_until(lambda: pid_file.read_text() != pid_before and _ready(app), 30,
                   lambda: "redis-server was not restarted")
        assert (app.data_dir / "redis" / "redis.url").read_text() == url_before  # same port
        tokens = app.post("/api/auth/register", json={"email": "back@example.com",
                                                      "password": "long-password"}).json()
        created = app.post("/api/jobs", json={"type": "image", "prompt": "after the crash"},
                           headers={"Authorization": f"Bearer {tokens['accessToken']}"})
        assert created.status_code == 201, created.text


def _ready(app) -> bool:
    try:
        return app.get("/readyz").status_code == 200
    except requests.ConnectionError:
        return False


def test_a_socket_without_redis_is_refused_cleanly(tmp_path):
    """It used to answer 101, then write an HTTP 500 into the upgraded socket."""
    redis_server = EmbeddedRedis(tmp_path / "own-redis")
    url = redis_server.start()
    try:
        with running_app(tmp_path / "var", GENOVA_REDIS_URL=url) as app:
            tokens = app.post("/api/auth/register", json={"email": "dark@example.com",
                                                          "password": "long-password"}).json()
            redis_server.stop()
            code, reason = _socket_close(ws_url(app, "/ws/user", token=tokens["accessToken"]))
            assert code == 1011 and "reconnect" in reason
    finally:
        redis_server.stop()


def test_guessing_credentials_on_sockets_spends_the_same_budget(server):
    guesser = ["X-Forwarded-For: 203.0.113.77"]
    codes = []
    for i in range(22):
        ws = websocket.create_connection(ws_url(server, "/ws/user", apiKey=f"af_guess{i}"),
                                         timeout=10, header=guesser)
        frame = ws.recv_frame()
        codes.append(close_info(frame.data)[0])
        ws.close()
    assert codes[:20] == [4401] * 20 and set(codes[20:]) == {4429}


def test_a_peer_that_stops_answering_pings_is_dropped(tmp_path):
    """Idle sockets of dead peers used to stay open until a write failed."""
    with running_app(tmp_path / "var", GENOVA_WS_PING_INTERVAL=1) as app:
        tokens = app.post("/api/auth/register", json={"email": "gone@example.com",
                                                      "password": "long-password"}).json()
        ws = websocket.create_connection(ws_url(app, "/ws/user", token=tokens["accessToken"]),
                                         timeout=15)
        pings = 0
        while True:  # read raw frames and never answer a ping, as a vanished peer would
            frame = ws.recv_frame()
            if frame.opcode == websocket.ABNF.OPCODE_PING:
                pings += 1
            elif frame.opcode == websocket.ABNF.OPCODE_CLOSE:
                break
        code, reason = close_info(frame.data)
        assert pings >= 1 and code == 1008 and "Ping/Pong" in reason
