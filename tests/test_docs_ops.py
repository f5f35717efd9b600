"""OpenAPI and Swagger UI, operator endpoints, and the admin CLI."""

from __future__ import annotations

from tests.helpers import get_user, job_body, register


def test_documented_responses_match_real_ones(client):
    """Every key the API returns for these calls is declared in the spec, and back."""
    spec = client.get("/api/openapi.json").get_json()
    schemas = spec["components"]["schemas"]
    user = register(client, plan="business")
    created = client.post("/api/jobs", json=job_body(), headers=user["headers"]).get_json()
    job = client.get(f"/api/jobs/{created['jobId']}", headers=user["headers"]).get_json()
    me = client.get("/api/user/me", headers=user["headers"]).get_json()
    stats = client.get("/api/user/stats", headers=user["headers"]).get_json()
    for body, name in [(created, "JobCreated"), (job, "JobOut"), (me, "UserOut"),
                       (stats, "Stats")]:
        declared = set(schemas[name]["properties"])
        assert set(body) <= declared, (name, set(body) - declared)
        assert set(schemas[name].get("required", [])) <= set(body), name


def test_swagger_ui_is_served_from_bundled_assets(client):
    page = client.get("/api/docs")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "/api/openapi.json" in html and "http" not in html.replace("http-equiv", "")
    js = client.get("/api/docs/assets/swagger-ui-bundle.js")
    assert js.status_code == 200 and len(js.get_data()) > 100_000
    css = client.get("/api/docs/assets/swagger-ui.css")
    assert css.status_code == 200
    assert client.get("/api/docs/assets/../../secret").status_code == 404


def test_health_readiness_and_metrics(client):
    assert client.get("/healthz").get_json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.get_json()["checks"] == {"database": "ok", "redis": "ok"}
    user = register(client)
    client.post("/api/jobs", json=job_body(), headers=user["headers"])
    text = client.get("/metrics").get_data(as_text=True)
    assert 'genova_queue_ready{platform="flow"} 1.0' in text
    assert 'genova_jobs{platform="flow",status="queued"} 1.0' in text
    assert 'genova_http_requests_total{endpoint="jobs.create",method="POST",status="201"}' in text


def test_readiness_reports_redis_down(settings):
    from genova import create_app

    broken = create_app(settings.with_(redis_url="redis://127.0.0.1:1/0")).test_client()
    ready = broken.get("/readyz")
    assert ready.status_code == 503
    assert ready.get_json()["checks"]["redis"].startswith("error")


def test_cli_user_commands(app):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["user", "create", "ops@example.com", "--password",
                                 "hunter2hunter2", "--name", "Ops", "--plan", "starter"])
    assert result.exit_code == 0, result.output
    assert "ops@example.com" in result.output and "plan=starter" in result.output
    assert "credits_remaining=500" in result.output

    duplicate = runner.invoke(args=["user", "create", "ops@example.com", "--password",
                                    "hunter2hunter2"])
    assert duplicate.exit_code != 0 and "already exists" in duplicate.output

    result = runner.invoke(args=["user", "plan", "ops@example.com", "pro"])
    assert result.exit_code == 0 and "credits_remaining=2000" in result.output
    result = runner.invoke(args=["user", "credits", "ops@example.com", "7"])
    assert result.exit_code == 0 and "credits_remaining=7" in result.output
    bad = runner.invoke(args=["user", "plan", "ops@example.com", "platinum"])
    assert bad.exit_code != 0
    missing = runner.invoke(args=["user", "credits", "nobody@example.com", "3"])
    assert missing.exit_code != 0 and "no user" in missing.output

    client = app.test_client()
    login = client.post("/api/auth/login", json={"email": "ops@example.com",
                                                 "password": "hunter2hunter2"}).get_json()
    me = get_user(app, login["user"]["id"])
    assert (me.plan, me.credits_remaining, me.name) == ("pro", 7, "Ops")
