"""Job creation, lookup, listing, cancellation and credits."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

from sqlalchemy import func, select

from genova import runtime
from genova.extensions import db
from genova.models import CreditEntry, Job
from tests.helpers import CREATED_KEYS, get_user, job_body, register, set_user


def test_create_returns_documented_body_and_debits_one_credit(app, client):
    user = register(client)
    response = client.post("/api/jobs", json=job_body(count=2), headers=user["headers"])
    assert response.status_code == 201
    body = response.get_json()
    assert set(body) == CREATED_KEYS
    assert body["success"] is True and body["status"] == "queued"
    assert body["queuePosition"] == 1 and body["estimatedTime"] > 0
    assert get_user(app, user["user"]["id"]).credits_remaining == 49
    assert body["creditsRemaining"] == 49

    job = client.get(f"/api/jobs/{body['jobId']}", headers=user["headers"]).get_json()
    assert job["id"] == body["jobId"] and job["type"] == "image"
    assert job["status"] == "queued" and job["prompt"] == job_body()["prompt"]
    assert job["settings"] == {"model": "imagen4", "aspectRatio": "landscape", "count": 2}
    for key in ("result_url", "result_urls", "started_at", "completed_at", "processing_time",
                "file_size"):
        assert job[key] is None
    assert datetime.strptime(job["created_at"], "%Y-%m-%dT%H:%M:%SZ")
    assert job["queue_position"] == 1 and job["estimated_time"] == body["estimatedTime"]


def test_queue_positions_follow_priority_then_creation_order(client):
    user = register(client, plan="business")

    def post(**kw):
        return client.post("/api/jobs", json=job_body(**kw), headers=user["headers"]).get_json()

    first, second = post(), post()
    urgent = post(priority=5)
    freepik = post(model="freepik", aspectRatio="1:1")
    assert (first["queuePosition"], second["queuePosition"]) == (1, 2)
    assert urgent["queuePosition"] == 1
    assert freepik["queuePosition"] == 1  # its own platform queue
    positions = {j["id"]: j.get("queue_position") for j in
                 client.get("/api/jobs", headers=user["headers"]).get_json()["jobs"]}
    assert positions[urgent["jobId"]] == 1
    assert positions[first["jobId"]] == 2 and positions[second["jobId"]] == 3
    assert first["estimatedTime"] < second["estimatedTime"]


def test_list_filters_and_paginates(client):
    user = register(client, plan="business")
    ids = [client.post("/api/jobs", json=job_body(prompt=f"p{i}"),
                       headers=user["headers"]).get_json()["jobId"] for i in range(5)]
    client.delete(f"/api/jobs/{ids[0]}", headers=user["headers"])
    page = client.get("/api/jobs?limit=2&offset=1", headers=user["headers"]).get_json()
    assert page["total"] == 5 and [j["id"] for j in page["jobs"]] == ids[::-1][1:3]
    queued = client.get("/api/jobs?status=queued", headers=user["headers"]).get_json()
    assert queued["total"] == 4 and all(j["status"] == "queued" for j in queued["jobs"])
    cancelled = client.get("/api/jobs?status=cancelled", headers=user["headers"]).get_json()
    assert [j["id"] for j in cancelled["jobs"]] == [ids[0]]
    assert client.get("/api/jobs", headers=user["headers"]).get_json()["total"] == 5
    for query, field in [("status=done", "status"), ("limit=0", "limit"), ("limit=101", "limit"),
                         ("offset=-1", "offset"), ("limit=abc", "limit"), ("color=red", "color")]:
        response = client.get(f"/api/jobs?{query}", headers=user["headers"])
        assert response.status_code == 400, query
        assert response.get_json()["field"] == field


def test_cancel_refunds_exactly_once(app, client, raw_redis):
    user = register(client)
    job_id = client.post("/api/jobs", json=job_body(),
                         headers=user["headers"]).get_json()["jobId"]
    assert get_user(app, user["user"]["id"]).credits_remaining == 49
    assert raw_redis.zcard("genova:ready:flow") == 1
    response = client.delete(f"/api/jobs/{job_id}", headers=user["headers"])
    assert response.status_code == 200 and response.get_json() == {"success": True}
    assert raw_redis.zcard("genova:ready:flow") == 0
    again = client.delete(f"/api/jobs/{job_id}", headers=user["headers"])
    assert again.status_code == 409 and "cancelled" in again.get_json()["details"]
    me = get_user(app, user["user"]["id"])
    assert (me.credits_remaining, me.credits_used) == (50, 0)
    job = client.get(f"/api/jobs/{job_id}", headers=user["headers"]).get_json()
    assert job["status"] == "cancelled" and "queue_position" not in job


def test_cancel_is_409_for_jobs_that_started(app, client):
    user = register(client)
    job_id = client.post("/api/jobs", json=job_body(),
                         headers=user["headers"]).get_json()["jobId"]
    for status in ("processing", "completed", "failed"):
        with app.app_context():
            db.session.get(Job, job_id).status = status
            db.session.commit()
        response = client.delete(f"/api/jobs/{job_id}", headers=user["headers"])
        assert response.status_code == 409 and status in response.get_json()["details"]
    assert get_user(app, user["user"]["id"]).credits_remaining == 49


def test_concurrent_cancels_refund_once(app, client):
    user = register(client)
    job_id = client.post("/api/jobs", json=job_body(),
                         headers=user["headers"]).get_json()["jobId"]
    results = _in_threads(app, 8, lambda c: c.delete(f"/api/jobs/{job_id}",
                                                     headers=user["headers"]).status_code)
    assert sorted(results) == [200] + [409] * 7
    assert get_user(app, user["user"]["id"]).credits_remaining == 50
    with app.app_context():
        refunds = db.session.scalar(select(func.count()).select_from(CreditEntry).where(
            CreditEntry.job_id == job_id, CreditEntry.reason == "refund"))
    assert refunds == 1


def test_no_credits_is_402_and_creates_nothing(app, client, raw_redis):
    user = register(client)
    set_user(app, user["user"]["id"], credits_remaining=0)
    response = client.post("/api/jobs", json=job_body(), headers=user["headers"])
    assert response.status_code == 402
    assert set(response.get_json()) >= {"error", "details"}
    assert client.get("/api/jobs", headers=user["headers"]).get_json()["total"] == 0
    assert raw_redis.zcard("genova:ready:flow") == 0


def test_concurrent_creations_never_overdraw(app, client, raw_redis):
    user = register(client, plan="business")
    set_user(app, user["user"]["id"], credits_remaining=3)
    results = _in_threads(app, 16, lambda c: c.post("/api/jobs", json=job_body(),
                                                    headers=user["headers"]).status_code)
    assert sorted(results) == [201] * 3 + [402] * 13
    me = get_user(app, user["user"]["id"])
    assert me.credits_remaining == 0 and me.credits_used == 3
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Job)) == 3
        debits = db.session.scalar(select(func.count()).select_from(CreditEntry).where(
            CreditEntry.reason == "job"))
    assert debits == 3 and raw_redis.zcard("genova:ready:flow") == 3


def test_credits_reset_at_a_new_month(app, client):
    user = register(client)
    set_user(app, user["user"]["id"], credits_remaining=3, credits_used=47,
             credits_period="2020-01")
    me = client.get("/api/user/me", headers=user["headers"]).get_json()
    assert (me["credits_remaining"], me["credits_used"]) == (50, 0)
    assert get_user(app, user["user"]["id"]).credits_period == datetime.now(UTC).strftime("%Y-%m")


def test_queue_outage_is_503_and_charges_nothing(app, client, settings):
    from genova import create_app

    user = register(client)
    broken = create_app(settings.with_(redis_url="redis://127.0.0.1:1/0"))
    response = broken.test_client().post("/api/jobs", json=job_body(), headers=user["headers"])
    assert response.status_code == 503
    assert int(response.headers["Retry-After"]) >= 1  # the client knows when to retry
    assert "nothing was charged" in response.get_json()["details"]
    assert get_user(app, user["user"]["id"]).credits_remaining == 50
    assert client.get("/api/jobs", headers=user["headers"]).get_json()["total"] == 0


def _in_threads(app, n, action):
    barrier = threading.Barrier(n)
    results = []

    def run():
        c = app.test_client()
        barrier.wait()
        results.append(action(c))

    threads = [threading.Thread(target=run) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def test_plan_concurrency_cap_holds_extra_jobs_without_blocking_others(app, client):
    from genova.services import lifecycle

    free, other = register(client, plan="free"), register(client, plan="business")
    mine = [client.post("/api/jobs", json=job_body(prompt=f"f{i}"),
                        headers=free["headers"]).get_json() for i in range(3)]
    theirs = client.post("/api/jobs", json=job_body(), headers=other["headers"]).get_json()
    assert [m["queuePosition"] for m in mine] == [1, 2, 3]
    assert theirs["queuePosition"] == 3  # ahead of the free user's third job
    third = client.get(f"/api/jobs/{mine[2]['jobId']}", headers=free["headers"]).get_json()
    assert third["queue_position"] == 4
    with app.app_context():
        rt = runtime.of(app)
        claimed = [lifecycle.claim_next(rt, platform="flow", worker_id="w") for _ in range(4)]
    ids = [c[0].job_id if c else None for c in claimed]
    assert ids == [mine[0]["jobId"], mine[1]["jobId"], theirs["jobId"], None]
    statuses = [client.get(f"/api/jobs/{m['jobId']}", headers=free["headers"]).get_json()
                ["status"] for m in mine]
    assert statuses == ["processing", "processing", "queued"]


def test_a_running_job_survives_redis_losing_its_state(app, client, raw_redis):
    from genova.services import lifecycle

    user = register(client, plan="business")
    job_id = client.post("/api/jobs", json=job_body(), headers=user["headers"]).get_json()[
        "jobId"]
    with app.app_context():
        rt = runtime.of(app)
        claim, _ = lifecycle.claim_next(rt, platform="flow", worker_id="w")
        raw_redis.flushdb()
        assert lifecycle.heartbeat(rt, claim) is True  # re-adopted from SQL
        assert rt.manager.heartbeat(job_id=job_id, lease=claim.lease, lease_ttl=30) == 1
        assert lifecycle.complete(rt, claim, files=[]) is True


def test_a_plan_change_reaches_queued_jobs(app, client):
    from genova.services import lifecycle

    user = register(client)  # free: two at a time
    ids = [client.post("/api/jobs", json=job_body(), headers=user["headers"]).get_json()[
        "jobId"] for _ in range(3)]
    result = app.test_cli_runner().invoke(args=["user", "plan", user["email"], "starter"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        rt = runtime.of(app)
        claimed = [lifecycle.claim_next(rt, platform="flow", worker_id="w") for _ in range(3)]
    assert [c[0].job_id for c in claimed] == ids  # the third no longer waits for a slot


def test_list_filters_by_type_and_model(client):
    user = register(client, plan="business")
    for body in (job_body(), job_body(model="freepik", aspectRatio="1:1"),
                 job_body(type="video", model="veo2_fast", count=None)):
        assert client.post("/api/jobs", json=body, headers=user["headers"]).status_code == 201

    def listed(query):
        data = client.get(f"/api/jobs?{query}", headers=user["headers"]).get_json()
        return data["total"], sorted(j["settings"]["model"] for j in data["jobs"])

    assert listed("type=video") == (1, ["veo2_fast"])
    assert listed("type=image") == (2, ["freepik", "imagen4"])
    assert listed("model=freepik&status=queued") == (1, ["freepik"])
    bad = client.get("/api/jobs?model=dalle", headers=user["headers"])
    assert bad.status_code == 400 and bad.get_json()["field"] == "model"
