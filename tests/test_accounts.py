"""Registration, login, token refresh and the auth matrix of the REST API."""

from __future__ import annotations

from datetime import timedelta

from flask_jwt_extended import create_access_token

from tests.helpers import register


def test_register_returns_user_and_tokens(client):
    response = client.post("/api/auth/register", json={
        "email": "Ada@Example.com", "password": "analytical-engine", "name": "Ada"})
    assert response.status_code == 201
    data = response.get_json()
    assert data["user"]["email"] == "ada@example.com"
    assert data["user"]["name"] == "Ada"
    assert data["user"]["plan"] == "free"
    assert data["user"]["credits_remaining"] == 50
    assert data["accessToken"] and data["refreshToken"]
    me = client.get("/api/user/me", headers={"Authorization": f"Bearer {data['accessToken']}"})
    assert me.status_code == 200
    assert me.get_json()["id"] == data["user"]["id"]


def test_register_rejects_duplicates_and_bad_input(client):
    register(client, email="dup@example.com")
    again = client.post("/api/auth/register", json={"email": "DUP@example.com",
                                                     "password": "something-long"})
    assert again.status_code == 409
    assert again.get_json()["field"] == "email"
    for body, field in [({"email": "not-an-email", "password": "long-enough"}, "email"),
                        ({"email": "a@b.co", "password": "short"}, "password"),
                        ({"password": "long-enough"}, "email"),
                        ({"email": "a@b.co", "password": "long-enough", "plan": "pro"}, "plan")]:
        response = client.post("/api/auth/register", json=body)
        assert response.status_code == 400, body
        assert response.get_json()["field"] == field
        assert field in response.get_json()["details"]


def test_login_and_refresh(client):
    user = register(client)
    bad = client.post("/api/auth/login", json={"email": user["email"], "password": "wrong-pass"})
    assert bad.status_code == 401
    assert set(bad.get_json()) >= {"error", "details"}
    good = client.post("/api/auth/login", json={"email": user["email"],
                                                "password": user["password"]})
    assert good.status_code == 200
    tokens = good.get_json()
    refreshed = client.post("/api/auth/refresh",
                            headers={"Authorization": f"Bearer {tokens['refreshToken']}"})
    assert refreshed.status_code == 200
    access = refreshed.get_json()["accessToken"]
    assert client.get("/api/user/me",
                      headers={"Authorization": f"Bearer {access}"}).status_code == 200


def test_refresh_token_is_not_an_access_token(client):
    user = register(client)
    response = client.get("/api/user/me",
                          headers={"Authorization": f"Bearer {user['refreshToken']}"})
    assert response.status_code == 401
    assert "refresh" in response.get_json()["details"]
    # and an access token cannot refresh
    response = client.post("/api/auth/refresh",
                           headers={"Authorization": f"Bearer {user['accessToken']}"})
    assert response.status_code == 401


def test_expired_and_garbage_tokens_are_401(app, client):
    user = register(client)
    with app.app_context():
        expired = create_access_token(identity=user["user"]["id"],
                                      expires_delta=timedelta(seconds=-5))
    response = client.get("/api/user/me", headers={"Authorization": f"Bearer {expired}"})
    assert response.status_code == 401
    assert response.get_json()["error"] == "Token expired"
    for header in ["Bearer garbage", "Bearer ", "Basic dXNlcjpwYXNz",
                   "Bearer " + user["accessToken"][:-3] + "abc"]:
        response = client.get("/api/user/me", headers={"Authorization": header})
        assert response.status_code == 401, header
        assert set(response.get_json()) >= {"error", "details"}


def test_token_signed_with_another_secret_is_rejected(app, client, settings):
    from genova import create_app

    user = register(client)
    other = create_app(settings.with_(secret_key="another-secret-key-of-sufficient-length!"))
    with other.app_context():
        forged = create_access_token(identity=user["user"]["id"])
    response = client.get("/api/user/me", headers={"Authorization": f"Bearer {forged}"})
    assert response.status_code == 401


def test_no_credentials_is_401_on_every_private_route(client):
    routes = [("get", "/api/user/me"), ("patch", "/api/user/me"), ("get", "/api/user/stats"),
              ("get", "/api/keys"), ("post", "/api/keys"), ("delete", "/api/keys/x"),
              ("get", "/api/jobs"), ("post", "/api/jobs"), ("get", "/api/jobs/x"),
              ("delete", "/api/jobs/x")]
    for method, path in routes:
        response = getattr(client, method)(path, json={})
        assert response.status_code == 401, (method, path)
        assert response.get_json()["error"] == "Authentication required"


def test_an_unknown_email_costs_the_same_password_check(client, monkeypatch):
    """Otherwise a wrong email answers ~20 times faster than a wrong password, and answer
    times tell an attacker which accounts exist."""
    from genova.services import accounts

    hashes = []
    real = accounts.check_password_hash
    monkeypatch.setattr(accounts, "check_password_hash",
                        lambda stored, given: hashes.append(stored) or real(stored, given))
    register(client, email="known@example.com")
    for email in ("known@example.com", "nobody@example.com"):
        refused = client.post("/api/auth/login", json={"email": email,
                                                       "password": "wrong-password"})
        assert refused.status_code == 401
        assert refused.get_json()["details"] == "email or password is incorrect"
    assert len(hashes) == 2 and hashes[1].startswith(hashes[0].split("$", 1)[0])
