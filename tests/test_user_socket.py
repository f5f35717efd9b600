"""``/ws/user`` against real server processes: auth, events, live positions, fan-out."""

from __future__ import annotations

import json

import pytest
import requests

from tests.helpers import register as register_in_process
from tests.helpers import set_user
from tests.realtime import Socket, create_job, get_job, register, start_server, ws_url
from tests.workers import claim_then_die

pytestmark = pytest.mark.e2e  # starts processes (app, workers, Redis, browser...)


@pytest.fixture(scope="module")
def server(tmp_path_factory, database_url, redis_url):
    with start_server(tmp_path_factory.mktemp("server") / "var", database_url, redis_url) as s:
        yield s


@pytest.fixture
def user(app, server):
    data = register(server, f"sock-{id(app)}@example.com")
    set_user(app, data["user"]["id"], plan="business", credits_remaining=10000)
    return data


def test_welcome_and_ping(server, user):
    sock = Socket(ws_url(server, "/ws/user", token=user["accessToken"]))
    assert sock.recv() == {"type": "welcome", "userId": user["user"]["id"]}
    sock.send({"type": "ping"})
    assert sock.recv() == {"type": "pong"}
    sock.send({"type": "dance"})
    assert sock.recv()["type"] == "error"


def test_api_key_and_matching_user_id_are_accepted(server, user):
    key = requests.post(server.url + "/api/keys", json={"name": "ws"}, headers=user["headers"],
                        timeout=10).json()["key"]
    sock = Socket(ws_url(server, "/ws/user", apiKey=key, userId=user["user"]["id"]))
    assert sock.recv()["userId"] == user["user"]["id"]


def test_auth_matrix(app, server, user):
    from datetime import timedelta

    from flask_jwt_extended import create_access_token

    other = register(server, f"other-{id(app)}@example.com")
    key = requests.post(server.url + "/api/keys", json={"name": "k"}, headers=user["headers"],
                        timeout=10).json()
    requests.delete(f"{server.url}/api/keys/{key['id']}", headers=user["headers"], timeout=10)
    with app.app_context():
        expired = create_access_token(identity=user["user"]["id"],
                                      expires_delta=timedelta(seconds=-1))
    uid = user["user"]["id"]
    cases = [
        ({}, 4401, "token"),
        ({"userId": uid}, 4401, "token"),  # the documented userId alone is not proof
        ({"token": "garbage"}, 4401, "not valid"),
        ({"token": expired}, 4401, "expired"),
        ({"token": user["refreshToken"]}, 4401, "refresh"),
        ({"apiKey": key["key"]}, 4401, "revoked"),
        ({"token": other["accessToken"], "userId": uid}, 4403, "userId"),
    ]
    for query, code, words in cases:
        sock = Socket(ws_url(server, "/ws/user", **query))
        got_code, reason = sock.close_reason()
        assert (got_code, words in reason) == (code, True), (query, got_code, reason)


def test_events_arrive_in_order_and_never_cross_users(app, server, user, settings):
    other = register(server, f"spy-{id(app)}@example.com")
    mine = Socket(ws_url(server, "/ws/user", token=user["accessToken"]))
    spy = Socket(ws_url(server, "/ws/user", token=other["accessToken"]))
    mine.recv(), spy.recv()
    job_id = create_job(server, user)
    queued = mine.recv()
    assert queued["type"] == "job_queued" and queued["jobId"] == job_id
    assert queued["queuePosition"] == 1 and queued["estimatedTime"] > 0
    claim_then_die(settings)  # a worker takes it (and dies: fine for this test)
    assert mine.until("job_started", job_id)[-1] == {"type": "job_started", "jobId": job_id}
    spy.send({"type": "ping"})
    assert spy.recv() == {"type": "pong"}  # nothing of the other user's came first


def test_live_queue_positions(server, user, settings):
    sock = Socket(ws_url(server, "/ws/user", token=user["accessToken"]))
    sock.recv()
    first, second = create_job(server, user), create_job(server, user)
    assert sock.recv()["queuePosition"] == 1
    assert sock.recv() == {"type": "job_queued", "jobId": second, "queuePosition": 2,
                           "estimatedTime": sock_eta(server, user, second), "model": "imagen4"}
    claim_then_die(settings)  # the first job leaves the queue
    update = sock.until("job_queued", second)[-1]
    assert update["queuePosition"] == 1
    assert get_job(server, user, first)["status"] in ("processing", "queued")


def sock_eta(server, user, job_id):
    return get_job(server, user, job_id)["estimated_time"]


def test_reconnect_gets_current_positions(server, user):
    job_id = create_job(server, user)
    sock = Socket(ws_url(server, "/ws/user", token=user["accessToken"]))
    sock.recv()
    snapshot = sock.recv()
    assert snapshot["type"] == "job_queued" and snapshot["jobId"] == job_id
    assert snapshot["queuePosition"] == get_job(server, user, job_id)["queue_position"]


def test_events_cross_server_processes(tmp_path, server, user, database_url, redis_url):
    with start_server(tmp_path / "second", database_url, redis_url) as second:
        far = Socket(ws_url(second, "/ws/user", token=user["accessToken"]))
        near = Socket(ws_url(server, "/ws/user", token=user["accessToken"]))
        far.recv(), near.recv()
        job_id = create_job(server, user)  # created through the first process
        assert far.recv()["jobId"] == job_id
        assert near.recv()["jobId"] == job_id


def test_a_cancel_event_carries_the_refunded_balance(server, user):
    sock = Socket(ws_url(server, "/ws/user", token=user["accessToken"]))
    sock.recv()
    job_id = create_job(server, user)
    before = requests.get(f"{server.url}/api/user/me", timeout=10,
                          headers={"Authorization": f"Bearer {user['accessToken']}"}).json()
    assert requests.delete(f"{server.url}/api/jobs/{job_id}", timeout=10, headers={
        "Authorization": f"Bearer {user['accessToken']}"}).status_code == 200
    event = sock.until("job_cancelled", job_id)[-1]
    assert event["creditsRemaining"] == before["credits_remaining"] + 1


def test_a_new_job_is_announced_with_what_a_screen_needs(server, user):
    sock = Socket(ws_url(server, "/ws/user", token=user["accessToken"]), skip=())
    sock.recv()
    job_id = create_job(server, user, prompt="A kite over dunes")
    created = sock.until("job_created", job_id)[-1]
    job = get_job(server, user, job_id)
    assert created["type"] == "job_created" and created["jobId"] == job_id
    assert (created["prompt"], created["settings"], created["jobType"]) == \
        ("A kite over dunes", job["settings"], "image")
    assert created["createdAt"] == job["created_at"] and created["queuePosition"] >= 1
    assert created["creditsRemaining"] == requests.get(
        f"{server.url}/api/user/me", timeout=10,
        headers={"Authorization": f"Bearer {user['accessToken']}"}).json()["credits_remaining"]


def test_one_failing_socket_does_not_stop_the_position_refresh_of_the_others(app, client):
    """The refresher used to wrap every socket in one ``try``: a job deleted under one socket
    skipped every socket after it that round."""
    from genova.realtime.hub import Hub
    from genova.realtime.user import UserSession

    owner = register_in_process(client)
    job_id = client.post("/api/jobs", json={"type": "image", "prompt": "watched"},
                         headers=owner["headers"]).get_json()["jobId"]

    class Broken:
        user_id = "broken"

        def watched(self, platforms):
            raise RuntimeError("this socket's state is bad")

    gone, watching = (UserSession(None, owner["user"]["id"]) for _ in range(2))
    gone.queued = {"0" * 32: [None, None]}  # a job that no longer exists
    watching.queued = {job_id: [None, None]}  # never sent a position yet
    hub = Hub(app)
    hub.users = {"broken": {Broken()}, owner["user"]["id"]: {gone, watching}}
    hub.moved = {"flow"}  # what the queue's pub/sub messages record
    hub.refresh_round()
    assert gone.queued == {} and gone.outbox.empty()
    sent = json.loads(watching.outbox.get_nowait())
    assert sent["type"] == "job_queued" and sent["jobId"] == job_id
    assert sent["queuePosition"] >= 1


def test_the_batched_refresh_sends_every_watcher_its_true_position(app, client):
    """Many sockets, one round trip: after jobs ahead leave the queue, each socket gets the
    position the job manager itself gives, and only for jobs on platforms that moved."""
    from genova import runtime
    from genova.realtime.hub import Hub
    from genova.realtime.user import UserSession

    owners = [register_in_process(client, plan="business") for _ in range(3)]
    jobs = {o["user"]["id"]: [client.post("/api/jobs", json={"type": "image", "prompt": f"j{i}"},
                                          headers=o["headers"]).get_json()["jobId"]
                              for i in range(4)] for o in owners}
    freepik = client.post("/api/jobs", headers=owners[0]["headers"], json={
        "type": "image", "prompt": "elsewhere", "model": "freepik"}).get_json()["jobId"]
    hub, sessions = Hub(app), {}
    for user_id, ids in jobs.items():
        session = sessions[user_id] = UserSession(None, user_id)
        session.queued = {job_id: ["imagen4", 999] for job_id in ids}
        hub.users[user_id] = {session}
    sessions[owners[0]["user"]["id"]].queued[freepik] = ["freepik", 999]
    first = jobs[owners[0]["user"]["id"]][0]
    assert client.delete(f"/api/jobs/{first}", headers=owners[0]["headers"]).status_code == 200
    sessions[owners[0]["user"]["id"]].queued.pop(first)
    hub.moved = {"flow"}
    hub.refresh_round()
    rt = runtime.of(app)
    for user_id, session in sessions.items():
        sent = {}
        while not session.outbox.empty():
            message = json.loads(session.outbox.get_nowait())
            sent[message["jobId"]] = message["queuePosition"]
        assert sent == {j: rt.manager.position(j) for j in jobs[user_id] if j != first}
        assert freepik not in sent  # its platform did not move


def test_position_updates_wait_for_a_socket_that_is_behind_instead_of_closing_it(app):
    """A user following thousands of queued jobs: one claim moves all of them, and sending
    every new position at once used to overflow the outbox and close the socket (4429)."""
    from genova.realtime.user import UserSession

    closed = []
    session = UserSession(None, "u")
    session.close = lambda code, reason: closed.append(code)
    session.queued = {f"job{i}": ["imagen4", 10_000] for i in range(3 * session.OUTBOX)}
    for i in range(3 * session.OUTBOX):
        session.placed(f"job{i}", i + 1, 30)
    assert closed == [] and session.outbox.qsize() == session.OUTBOX // 2
    held = [j for j, (_, last) in session.queued.items() if last == 10_000]
    assert len(held) == 3 * session.OUTBOX - session.OUTBOX // 2  # sent in later rounds
    while not session.outbox.empty():
        session.outbox.get_nowait()
    session.placed(held[0], 7, 30)
    assert json.loads(session.outbox.get_nowait())["queuePosition"] == 7


def test_positions_held_back_for_a_busy_socket_arrive_once_it_catches_up(app, client):
    """A quiet queue after the hold-back: the refresher comes back for the held positions
    by itself; nothing else has to move."""
    from genova.realtime.hub import Hub
    from genova.realtime.user import UserSession

    owner = register_in_process(client, plan="business")
    job_id = client.post("/api/jobs", json={"type": "image", "prompt": "held"},
                         headers=owner["headers"]).get_json()["jobId"]
    session = UserSession(None, owner["user"]["id"])
    session.queued = {job_id: ["imagen4", 999]}
    for _ in range(session.OUTBOX // 2):  # the socket is half its outbox behind
        session.outbox.put_nowait("{}")
    hub = Hub(app)
    hub.users = {owner["user"]["id"]: {session}}
    hub.moved = {"flow"}
    hub.refresh_round()
    assert hub.moved == {"flow"} and hub.refresh_needed.is_set()  # to be tried again
    while not session.outbox.empty():  # the client caught up
        session.outbox.get_nowait()
    hub.refresh_round()
    sent = json.loads(session.outbox.get_nowait())
    assert sent["jobId"] == job_id and sent["queuePosition"] == 1
    assert hub.moved == set()
