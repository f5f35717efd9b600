"""API keys, the user profile, statistics, and per-user isolation (BOLA)."""

from __future__ import annotations

from genova.extensions import db
from genova.models import ApiKey
from tests.helpers import job_body, register


def _key(client, user, name="ci"):
    response = client.post("/api/keys", json={"name": name}, headers=user["headers"])
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def test_api_key_lifecycle(app, client):
    user = register(client)
    created = _key(client, user, "laptop")
    assert created["key"].startswith("af_") and len(created["key"]) >= 35
    assert created["prefix"] == created["key"][:11]
    assert created["name"] == "laptop" and created["last_used_at"] is None

    # the key authenticates, and only a hash is stored
    headers = {"X-API-Key": created["key"]}
    assert client.get("/api/user/me", headers=headers).get_json()["id"] == user["user"]["id"]
    with app.app_context():
        row = db.session.get(ApiKey, created["id"])
        assert created["key"] not in (row.key_hash, row.prefix, row.name)
        assert row.last_used_at is not None

    listed = client.get("/api/keys", headers=headers).get_json()["keys"]
    assert [k["id"] for k in listed] == [created["id"]]
    assert "key" not in listed[0] and listed[0]["last_used_at"] is not None

    revoked = client.delete(f"/api/keys/{created['id']}", headers=user["headers"])
    assert revoked.status_code == 200 and revoked.get_json() == {"success": True}
    after = client.get("/api/user/me", headers=headers)
    assert after.status_code == 401
    assert after.get_json()["error"] == "Invalid API key"
    assert client.get("/api/keys", headers=user["headers"]).get_json()["keys"] == []
    assert client.delete(f"/api/keys/{created['id']}",
                         headers=user["headers"]).status_code == 404


def test_key_name_defaults_and_validation(client):
    user = register(client)
    assert client.post("/api/keys", headers=user["headers"]).get_json()["name"] == "API key"
    too_long = client.post("/api/keys", json={"name": "x" * 101}, headers=user["headers"])
    assert too_long.status_code == 400 and too_long.get_json()["field"] == "name"
    unknown = client.post("/api/keys", json={"name": "a", "scope": "all"},
                          headers=user["headers"])
    assert unknown.status_code == 400 and unknown.get_json()["field"] == "scope"


def test_unknown_and_malformed_keys_are_401(client):
    for key in ["af_doesnotexist0000000000000000000000000000", "sk_live_123", ""]:
        response = client.get("/api/user/me", headers={"X-API-Key": key})
        assert response.status_code == 401, key


def test_profile_update_changes_only_the_name(client):
    user = register(client, name="Before")
    for method in (client.patch, client.put):
        response = method("/api/user/me", json={"name": "After"}, headers=user["headers"])
        assert response.status_code == 200
        assert response.get_json()["name"] == "After"
    for field, value in [("plan", "business"), ("credits_remaining", 99999), ("email", "x@y.z"),
                         ("id", "other")]:
        response = client.patch("/api/user/me", json={"name": "Evil", field: value},
                                headers=user["headers"])
        assert response.status_code == 400 and response.get_json()["field"] == field
    me = client.get("/api/user/me", headers=user["headers"]).get_json()
    assert (me["name"], me["plan"], me["credits_remaining"]) == ("After", "free", 50)
    assert client.patch("/api/user/me", json={"name": ""},
                        headers=user["headers"]).status_code == 400


def test_me_shape(client):
    user = register(client)
    me = client.get("/api/user/me", headers=user["headers"]).get_json()
    assert {"id", "email", "name", "plan", "subscription_status", "credits_remaining",
            "credits_used"} <= set(me)
    assert me["subscription_status"] == "active" and me["credits_used"] == 0
    assert "password_hash" not in me


def test_stats_count_jobs_and_credits(client):
    user = register(client, plan="business")
    for body in [job_body(), job_body(count=3), job_body(type="video", model="veo3_fast",
                                                         count=None)]:
        assert client.post("/api/jobs", json=body, headers=user["headers"]).status_code == 201
    job_id = client.get("/api/jobs", headers=user["headers"]).get_json()["jobs"][0]["id"]
    client.delete(f"/api/jobs/{job_id}", headers=user["headers"])
    stats = client.get("/api/user/stats", headers=user["headers"]).get_json()
    assert stats["total_jobs"] == 3
    assert stats["active_jobs"] == 2 and stats["cancelled_jobs"] == 1
    assert stats["completed_jobs"] == 0 and stats["failed_jobs"] == 0
    assert stats["image_jobs"] == 2 and stats["video_jobs"] == 1
    assert stats["credits_remaining"] == 10000 - 2


def test_other_users_resources_are_404_on_every_id_route(client):
    alice, mallory = register(client, plan="business"), register(client, plan="business")
    job_id = client.post("/api/jobs", json=job_body(),
                         headers=alice["headers"]).get_json()["jobId"]
    key_id = _key(client, alice)["id"]
    for method, path in [("get", f"/api/jobs/{job_id}"), ("delete", f"/api/jobs/{job_id}"),
                         ("delete", f"/api/keys/{key_id}")]:
        response = getattr(client, method)(path, headers=mallory["headers"])
        assert response.status_code == 404, path
        missing = getattr(client, method)(path.rsplit("/", 1)[0] + "/does-not-exist",
                                          headers=mallory["headers"])
        assert response.get_json()["error"] == missing.get_json()["error"]
    assert client.get("/api/jobs", headers=mallory["headers"]).get_json()["total"] == 0
    # Alice's job and key are untouched.
    assert client.get(f"/api/jobs/{job_id}", headers=alice["headers"]).get_json()[
        "status"] == "queued"
    assert len(client.get("/api/keys", headers=alice["headers"]).get_json()["keys"]) == 1
