"""Error shapes for every kind of bad request, body limits, and per-plan rate limits."""

from __future__ import annotations

import base64
import io

from PIL import Image

from genova import create_app
from tests.helpers import get_user, job_body, register


def _is_error(response, status):
    assert response.status_code == status, response.get_data(as_text=True)[:300]
    body = response.get_json()
    assert isinstance(body, dict) and set(body) >= {"error", "details"}, body
    assert body["error"] and body["details"]
    return body


def test_unknown_routes_and_methods(client):
    user = register(client)
    _is_error(client.get("/api/nope", headers=user["headers"]), 404)
    _is_error(client.get("/nothing-here"), 404)
    response = client.put("/api/jobs", headers=user["headers"])
    _is_error(response, 405)
    assert "POST" in response.headers["Allow"]
    _is_error(client.delete("/api/user/me", headers=user["headers"]), 405)


def test_malformed_json_is_400(client):
    user = register(client)
    for data in [b"{nope", b"[1, 2]", b'"text"', b"\xff\xfe"]:
        response = client.post("/api/jobs", data=data, headers={
            **user["headers"], "Content-Type": "application/json"})
        body = _is_error(response, 400)
        assert body["error"] == "Malformed JSON", data
    assert _is_error(client.post("/api/auth/login", data=b"{"), 400)["error"] == "Malformed JSON"


def test_oversized_body_is_413_before_decoding(tmp_path, database_url, redis_url, client):
    from tests.conftest import make_settings

    small = create_app(make_settings(tmp_path, database_url, redis_url, max_request_bytes=4096))
    user = register(client)
    c = small.test_client()
    huge = job_body(referenceImages={"images": ["A" * 8000], "mode": "ingredients"})
    body = _is_error(c.post("/api/jobs", json=huge, headers=user["headers"]), 413)
    assert "4096" in body["details"]
    assert get_user(small, user["user"]["id"]).credits_remaining == 50


def test_reference_images_are_stored_reencoded(app, client, settings):
    user = register(client)
    img = Image.new("RGB", (1600, 800), (200, 30, 30))
    buf = io.BytesIO()
    img.save(buf, "JPEG")
    data_url = "data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode()
    response = client.post("/api/jobs", json=job_body(
        referenceImages={"images": [data_url, base64.b64encode(buf.getvalue()).decode()]}),
        headers=user["headers"])
    assert response.status_code == 201, response.get_json()
    job_id = response.get_json()["jobId"]
    folder = settings.storage_root / "references" / user["user"]["id"] / job_id
    files = sorted(folder.iterdir())
    assert [f.name for f in files] == ["0.jpg", "1.jpg"]  # JPEG sources stay JPEG
    with Image.open(files[0]) as stored:
        assert stored.format == "JPEG" and stored.size == (512, 256)
        assert not stored.getexif() and "icc_profile" not in stored.info
    job = client.get(f"/api/jobs/{job_id}", headers=user["headers"]).get_json()
    assert job["settings"]["referenceImages"] == {"mode": "ingredients", "count": 2}


def test_rejected_reference_images_leave_no_files_and_cost_nothing(app, client, settings):
    user = register(client)
    bomb_header = base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\x00" * 40).decode()
    for bad in ["not base64!!", base64.b64encode(b"hello world").decode(), bomb_header]:
        response = client.post("/api/jobs", json=job_body(
            referenceImages={"images": [bad]}), headers=user["headers"])
        body = _is_error(response, 400)
        assert body["field"] == "referenceImages.images[0]"
    assert not (settings.storage_root / "references").exists()
    assert get_user(app, user["user"]["id"]).credits_remaining == 50


def test_free_plan_rate_limit_is_429_with_headers(client):
    user = register(client)  # free: 10 requests per minute
    statuses = []
    for _ in range(10):
        response = client.get("/api/user/me", headers=user["headers"])
        statuses.append(response.status_code)
        assert response.headers["X-RateLimit-Limit"] == "10"
        assert "Retry-After" not in response.headers  # only on 429 and 503
    assert statuses == [200] * 10
    limited = client.get("/api/jobs", headers=user["headers"])
    body = _is_error(limited, 429)
    assert "10 per 1 minute" in body["details"]
    retry_after = limited.headers["Retry-After"]
    assert retry_after.isdigit() and 1 <= int(retry_after) <= 60
    assert limited.headers["X-RateLimit-Remaining"] == "0"
    assert limited.headers["X-RateLimit-Reset"].isdigit()
    # other users are unaffected
    other = register(client)
    assert client.get("/api/user/me", headers=other["headers"]).status_code == 200


def test_rate_limit_is_per_user_across_credentials_and_processes(app, client, settings):
    user = register(client, plan="free")
    key = client.post("/api/keys", json={"name": "k"}, headers=user["headers"]).get_json()["key"]
    second_process = create_app(settings).test_client()  # same Redis, separate app
    for i in range(9):
        c = client if i % 2 else second_process
        headers = {"X-API-Key": key} if i % 3 else user["headers"]
        assert c.get("/api/user/me", headers=headers).status_code == 200
    assert second_process.get("/api/user/me", headers={"X-API-Key": key}).status_code == 429


def test_business_plan_has_a_higher_limit(client):
    user = register(client, plan="business")
    response = client.get("/api/user/me", headers=user["headers"])
    assert response.headers["X-RateLimit-Limit"] == "300"


def test_anonymous_requests_are_limited_per_address(tmp_path, database_url, redis_url):
    from tests.conftest import make_settings

    app = create_app(make_settings(tmp_path, database_url, redis_url,
                                   anonymous_rate_limit="3 per minute"))
    c = app.test_client()
    codes = [c.post("/api/auth/login", json={"email": "a@b.co", "password": "x" * 8},
                    environ_base={"REMOTE_ADDR": "10.9.8.7"}).status_code for _ in range(4)]
    assert codes == [401, 401, 401, 429]
    assert c.get("/healthz", environ_base={"REMOTE_ADDR": "10.9.8.7"}).status_code == 200


def test_text_no_database_can_store_is_400_not_500(client):
    user = register(client)
    for raw in [b'{"name": "\\ud800"}', b'{"name": "a\\u0000b"}', b'{"na\\u0000me": "x"}']:
        response = client.patch("/api/user/me", data=raw, headers={
            **user["headers"], "Content-Type": "application/json"})
        _is_error(response, 400)
    login = client.post("/api/auth/login", data=b'{"email": "a\\u0000@b.co", "password": "x"}')
    assert _is_error(login, 400)["field"] == "email"
    for path in ["/api/jobs/%00", "/api/jobs/not-a-uuid", "/api/jobs/" + "9" * 300]:
        _is_error(client.get(path, headers=user["headers"]), 404)
        _is_error(client.delete(path, headers=user["headers"]), 404)
    _is_error(client.delete("/api/keys/%00", headers=user["headers"]), 404)


def test_odd_digits_in_links_are_refused_not_500(client):
    user = register(client)
    for query in ["expires=\u00b2&sig=" + "a" * 64, "expires=123&sig=\u00e9",
                  "expires=99999999999999999999&sig=" + "a" * 64]:
        _is_error(client.get(f"/files/generated/x/y/result.png?{query}"), 403)
    _is_error(client.get("/api/jobs/" + "0" * 8 + "-0000-4000-8000-" + "0" * 12
                         + "/download?index=\u00b2", headers=user["headers"]), 404)


def test_the_studio_names_its_visitors_but_remote_callers_cannot(tmp_path, database_url,
                                                                  redis_url):
    """Anonymous calls the studio makes from loopback count against each visitor's address
    (``X-Forwarded-For``); a remote caller sending that header is counted as itself."""
    from tests.conftest import make_settings

    app = create_app(make_settings(tmp_path, database_url, redis_url,
                                   anonymous_rate_limit="2 per minute"))
    c = app.test_client()

    def login(remote, forwarded):
        return c.post("/api/auth/login", json={"email": "a@b.co", "password": "x" * 8},
                      headers={"X-Forwarded-For": forwarded},
                      environ_base={"REMOTE_ADDR": remote}).status_code

    assert [login("127.0.0.1", "203.0.113.1") for _ in range(3)] == [401, 401, 429]
    assert login("127.0.0.1", "203.0.113.2") == 401  # another visitor: their own budget
    spoofed = [login("10.1.1.1", f"198.51.100.{i}") for i in range(3)]
    assert spoofed == [401, 401, 429]  # the header does not buy a remote caller more tries
