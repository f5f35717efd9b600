"""``flask --app app ...`` admin commands, run as an operator would: subprocesses against
the same configuration as the server."""

from __future__ import annotations

import pytest
import requests

from tests.procs import admin, running_app
from tests.realtime import Socket, ws_url

pytestmark = pytest.mark.e2e  # starts processes (app, workers, Redis, browser...)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    data = tmp_path_factory.mktemp("admin") / "var"
    with running_app(data) as app:
        yield app


flask = admin


def test_every_command_names_its_database(server):
    result = flask(server, "user", "create", "ops@example.com", "--password", "long-password",
                   "--plan", "pro")
    assert result.returncode == 0, result.stderr
    assert f"database: sqlite:///{server.data_dir / 'genova.db'}" in result.stderr
    listed = flask(server, "user", "list")
    assert "database: sqlite:///" in listed.stderr
    header, *rows = listed.stdout.splitlines()
    assert header.split() == ["EMAIL", "NAME", "PLAN", "CREDITS", "USED", "STATUS", "CREATED"]
    row = next(r for r in rows if r.startswith("ops@example.com"))
    assert row.split()[2:4] == ["pro", "2000"]
    assert header.index("PLAN") == row.index("pro")  # aligned columns


def test_show_password_and_operator_issued_keys(server):
    flask(server, "user", "create", "ada@example.com", "--password", "first-password")
    shown = flask(server, "user", "show", "ada@example.com").stdout
    assert "email:     ada@example.com" in shown and "api keys:  none" in shown
    changed = flask(server, "user", "password", "ada@example.com", stdin="second-password\n"
                    "second-password\n")
    assert changed.returncode == 0, changed.stderr
    login = server.post("/api/auth/login", json={"email": "ada@example.com",
                                                  "password": "second-password"})
    assert login.status_code == 200
    issued = flask(server, "keys", "create", "ada@example.com", "laptop")
    key = issued.stdout.strip()
    assert issued.returncode == 0 and key.startswith("af_")
    me = requests.get(server.url + "/api/user/me", headers={"X-API-Key": key}, timeout=10)
    assert me.json()["email"] == "ada@example.com"
    assert key[:11] in flask(server, "user", "show", "ada@example.com").stdout
    unknown = flask(server, "keys", "create", "nobody@example.com", "x")
    assert unknown.returncode != 0 and "nobody@example.com" in unknown.stderr
    short = flask(server, "user", "password", "ada@example.com", "--password", "short")
    assert short.returncode != 0 and "at least 8 characters" in short.stderr


def test_worker_tokens_list_in_columns(server):
    for name, platform in (("gpu-box-1", "flow"), ("freepik-browser", "freepik")):
        assert flask(server, "worker-token", "create", name, "--platform", platform)\
            .returncode == 0
    header, *rows = flask(server, "worker-token", "list").stdout.splitlines()
    assert header.split() == ["ID", "PLATFORM", "NAME", "LAST", "USED"]
    assert {r.split()[2] for r in rows} >= {"gpu-box-1", "freepik-browser"}
    assert all(r.index(r.split()[1]) == header.index("PLATFORM") for r in rows)


def test_disable_refuses_every_credential_and_closes_open_sockets(server):
    email, password = "mallory@example.com", "mallory-password"
    flask(server, "user", "create", email, "--password", password)
    key = flask(server, "keys", "create", email, "script").stdout.strip()
    tokens = server.post("/api/auth/login", json={"email": email, "password": password}).json()
    jwt = tokens["accessToken"]
    live = Socket(ws_url(server, "/ws/user", apiKey=key))
    by_token = Socket(ws_url(server, "/ws/user", token=jwt))
    worker = Socket(ws_url(server, "/ws/extension", extensionType="flow", apiKey=key))
    for socket in (live, by_token, worker):
        assert socket.recv()["type"] == "welcome"

    disabled = flask(server, "user", "disable", email)
    assert disabled.returncode == 0, disabled.stderr
    assert "revoked 1 API key" in disabled.stdout
    for socket in (live, by_token, worker):
        code, reason = socket.close_reason()
        assert code == 4401 and "disabled" in reason
    for headers in ({"X-API-Key": key}, {"Authorization": f"Bearer {jwt}"}):
        assert requests.get(server.url + "/api/user/me", headers=headers,
                            timeout=10).status_code == 401
    refused = server.post("/api/auth/login", json={"email": email, "password": password})
    assert refused.status_code == 401 and refused.json()["error"] == "Account disabled"
    assert requests.post(server.url + "/api/auth/refresh", timeout=10, headers={
        "Authorization": f"Bearer {tokens['refreshToken']}"}).status_code == 401
    row = next(r for r in flask(server, "user", "list").stdout.splitlines()
               if r.startswith(email))
    assert "disabled" in row.split()

    assert flask(server, "user", "enable", email).returncode == 0
    assert server.post("/api/auth/login", json={"email": email,
                                                "password": password}).status_code == 200
    assert requests.get(server.url + "/api/user/me", headers={"X-API-Key": key},
                        timeout=10).status_code == 401  # revoked keys stay revoked


def test_a_fresh_install_is_migrated_by_db_upgrade_or_by_its_first_command(tmp_path):
    """Building the app never touches the database; ``db upgrade`` (and any admin command,
    a fresh install's first may well be ``user create``) brings the schema up to date."""
    from types import SimpleNamespace

    from genova import create_app
    from tests.conftest import make_settings

    untouched = tmp_path / "untouched.db"
    create_app(make_settings(tmp_path, f"sqlite:///{untouched}", None))
    assert not untouched.exists()

    fresh, first = SimpleNamespace(data_dir=tmp_path / "fresh"), \
        SimpleNamespace(data_dir=tmp_path / "first")
    upgraded = flask(fresh, "db", "upgrade")
    assert upgraded.returncode == 0, upgraded.stderr
    assert "schema up to date" in upgraded.stdout
    assert flask(fresh, "user", "list").returncode == 0
    created = flask(first, "user", "create", "first@example.com", "--password", "long-password")
    assert created.returncode == 0, created.stderr
    assert "created first@example.com" in created.stdout
