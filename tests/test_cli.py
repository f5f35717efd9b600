"""The ``genova`` command line, run as a real process (``python -m genova_client``) against
a real app: what a user sees, its output, files and exit codes."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import uuid
from pathlib import Path

import jwt
import pytest
from PIL import Image

from tests.conftest import TEST_SECRET
from tests.live import live_app

pytestmark = pytest.mark.e2e  # starts processes (app, workers, Redis, browser...)


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    with live_app(tmp_path_factory.mktemp("cli")) as app:
        yield app


@pytest.fixture(scope="module")
def idle(tmp_path_factory):
    """No generator workers: jobs stay queued."""
    with live_app(tmp_path_factory.mktemp("cli-idle"), workers=0) as app:
        yield app


class Cli:
    """``genova`` in ``cwd``, with its own config dir and (optionally) an API key in the
    environment."""

    def __init__(self, app, cwd: Path, key: str | None = None):
        self.app, self.cwd, self.key = app, cwd, key
        self.config_dir = cwd / "config"

    def __call__(self, *args: str, input: str | None = None) -> subprocess.CompletedProcess:
        env = {k: v for k, v in os.environ.items()
               if not k.startswith("GENOVA_") and k != "XDG_CONFIG_HOME"}
        env.update(GENOVA_URL=self.app.url, GENOVA_CONFIG_DIR=str(self.config_dir))
        if self.key:
            env["GENOVA_API_KEY"] = self.key
        return subprocess.run([sys.executable, "-m", "genova_client", *args], cwd=self.cwd,
                              env=env, input=input, capture_output=True, text=True,
                              timeout=120, check=False)

    def ok(self, *args: str, **kw) -> subprocess.CompletedProcess:
        result = self(*args, **kw)
        assert result.returncode == 0, result.stderr
        assert "Traceback" not in result.stderr
        return result

    def json(self, *args: str):
        return json.loads(self.ok(*args, "--json").stdout)

    @property
    def credentials(self) -> Path:
        return self.config_dir / "credentials.json"


def error_line(result: subprocess.CompletedProcess, code: int) -> str:
    """The one error line a failed command prints, last on stderr (``generate`` notes the
    job's id first)."""
    assert result.returncode == code, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert [line for line in lines if "error" in line] == lines[-1:], result.stderr
    assert lines[-1].startswith("genova: error: "), result.stderr
    return lines[-1]


@pytest.fixture(scope="module")
def user(live):
    return live.user(plan="business")


@pytest.fixture
def cli(live, user, tmp_path):
    return Cli(live, tmp_path, key=user.key)


@pytest.fixture(scope="module")
def completed(live, user, tmp_path_factory):
    """``generate --json`` once: the job and the files it saved."""
    cwd = tmp_path_factory.mktemp("generated")
    out = Cli(live, cwd, key=user.key).json("generate", "A lighthouse at dawn", "--count", "2",
                                            "--aspect", "square", "-o", "out")
    return out["job"], [cwd / path for path in out["files"]]


def assert_png(path: Path) -> Image.Image:
    with Image.open(path) as image:
        image.load()
        assert image.format == "PNG"
        return image


def test_generate_saves_the_files_and_prints_their_paths(cli):
    ref = cli.cwd / "ref.png"
    Image.new("RGB", (64, 48), "orange").save(ref)
    result = cli.ok("generate", "A cat playing piano", "--model", "imagen4", "--aspect",
                    "landscape", "--count", "2", "--ref", "ref.png", "--mode", "ingredients",
                    "-o", "out/")
    paths = result.stdout.splitlines()  # only the paths: no progress bar on stdout
    assert len(paths) == 2
    for path in paths:
        image = assert_png(cli.cwd / path)
        assert image.width > image.height  # landscape
        assert Path(path).parent == Path("out")


def test_generate_json_prints_the_job_and_the_saved_files(completed):
    job, files = completed
    assert job["status"] == "completed"
    assert job["prompt"] == "A lighthouse at dawn"
    assert job["settings"]["count"] == 2
    assert len(files) == 2
    for path in files:
        image = assert_png(path)
        assert image.width == image.height  # square


def test_download(cli, completed):
    job, _ = completed
    result = cli.ok("download", job["id"], "--index", "1", "-o", "second.png")
    assert result.stdout.strip() == "second.png"
    assert_png(cli.cwd / "second.png")
    out = cli.json("download", job["id"], "-o", "all/")
    assert out["job"]["id"] == job["id"]
    assert len(out["files"]) == 2
    for path in out["files"]:
        assert Path(path).parent == Path("all")
        assert_png(cli.cwd / path)


def test_jobs_list_and_get(cli, completed):
    job, _ = completed
    page = cli.json("jobs", "list", "--status", "completed", "--limit", "50")
    assert job["id"] in [j["id"] for j in page["jobs"]]
    assert all(j["status"] == "completed" for j in page["jobs"])
    assert page["total"] >= 1
    assert len(cli.json("jobs", "list", "--limit", "1")["jobs"]) == 1
    text = cli.ok("jobs", "list").stdout
    assert text.splitlines()[0].split() == ["ID", "STATUS", "TYPE", "MODEL", "CREATED", "PROMPT"]
    assert job["id"] in text and "A lighthouse at dawn" in text
    assert cli.json("jobs", "get", job["id"])["id"] == job["id"]
    lines = cli.ok("jobs", "get", job["id"]).stdout.splitlines()
    assert f"id:              {job['id']}" in lines
    assert "status:          completed" in lines


def test_timeout_leaves_the_job_queued_and_cancel_refunds_it(idle, tmp_path):
    cli = Cli(idle, tmp_path, key=idle.user(plan="pro").key)
    credits = cli.json("me")["credits_remaining"]
    line = error_line(cli("generate", "Never rendered", "--timeout", "1"), 10)
    assert "did not finish" in line
    queued = cli.json("jobs", "list", "--status", "queued")["jobs"]
    assert [j["prompt"] for j in queued] == ["Never rendered"]
    job_id = queued[0]["id"]
    assert cli.json("me")["credits_remaining"] == credits - 1
    assert job_id in cli.ok("jobs", "list", "--status", "queued").stdout
    assert "cancelled" in cli.ok("jobs", "cancel", job_id).stdout
    assert cli.json("me")["credits_remaining"] == credits
    assert cli.json("jobs", "get", job_id)["status"] == "cancelled"
    assert "(HTTP 409)" in error_line(cli("jobs", "cancel", job_id), 1)
    assert "not completed" in error_line(cli("download", job_id), 1)


def test_keys_create_list_revoke(cli):
    created = cli.json("keys", "create", "laptop")
    assert created["key"].startswith("af_") and created["name"] == "laptop"
    listed = cli.json("keys", "list")["keys"]
    assert created["id"] in [k["id"] for k in listed]
    assert all("key" not in k for k in listed)
    text = cli.ok("keys", "list").stdout
    assert "laptop" in text and created["prefix"] in text
    assert cli.ok("me", "--api-key", created["key"]).returncode == 0
    result = cli.ok("keys", "revoke", created["id"])
    assert created["id"] in result.stdout
    assert created["id"] not in [k["id"] for k in cli.json("keys", "list")["keys"]]
    assert "Invalid API key" in error_line(cli("me", "--api-key", created["key"]), 3)


def test_me_and_stats(cli, user):
    me = cli.json("me")
    assert me["email"] == user.email and me["plan"] == "business"
    text = cli.ok("me").stdout
    assert "email:" in text and user.email in text and "business" in text
    stats = json.loads(cli.ok("--json", "stats").stdout)  # global options go either side
    assert {"total_jobs", "completed_jobs", "credits_remaining"} <= stats.keys()
    assert f"credits remaining: {stats['credits_remaining']}" in cli.ok("stats").stdout


def test_login_stores_tokens_0600_and_logout_forgets_them(live, tmp_path):
    account = live.user(plan="business")
    cli = Cli(live, tmp_path)  # no API key anywhere
    result = cli.ok("login", "--email", account.email, "--password", account.password)
    assert account.email in result.stdout
    assert stat.S_IMODE(cli.credentials.stat().st_mode) == 0o600
    stored = json.loads(cli.credentials.read_text())
    assert stored["url"] == live.url and stored["access_token"] and stored["refresh_token"]
    assert account.password not in cli.credentials.read_text()
    assert cli.json("me")["email"] == account.email
    assert "logged out" in cli.ok("logout").stdout
    assert not cli.credentials.exists()
    assert "genova login" in error_line(cli("me"), 3)


def test_login_prompts_on_stderr_and_keeps_stdout_clean(live, tmp_path):
    account = live.user()
    cli = Cli(live, tmp_path)
    result = cli.ok("login", "--password", account.password, "--json",
                    input=account.email + "\n")
    assert "Email:" in result.stderr
    assert json.loads(result.stdout)["user"]["email"] == account.email
    wrong = cli("login", "--email", account.email, "--password", "not the password")
    assert "genova login" not in error_line(wrong, 3)
    assert "no email" in error_line(cli("login", input=""), 2)


def test_login_with_an_api_key_stores_the_key(live, tmp_path):
    account = live.user()
    cli = Cli(live, tmp_path)
    assert error_line(cli("login", "--api-key", "af_not_a_key"), 3)
    assert not cli.credentials.exists()
    cli.ok("login", "--api-key", account.key)
    assert json.loads(cli.credentials.read_text())["api_key"] == account.key
    assert stat.S_IMODE(cli.credentials.stat().st_mode) == 0o600
    assert cli.json("me")["email"] == account.email


def test_an_expired_access_token_is_refreshed_and_written_back(live, tmp_path):
    account = live.user()
    claims = jwt.decode(account.access_token, options={"verify_signature": False})
    claims["exp"] = claims["iat"] - 1
    expired = jwt.encode(claims, TEST_SECRET, algorithm="HS256")
    cli = Cli(live, tmp_path)
    cli.config_dir.mkdir()
    cli.credentials.write_text(json.dumps({"url": live.url, "access_token": expired,
                                           "refresh_token": account.refresh_token}))
    assert cli.json("me")["email"] == account.email
    stored = json.loads(cli.credentials.read_text())
    assert stored["access_token"] != expired
    assert stored["refresh_token"] == account.refresh_token
    assert stat.S_IMODE(cli.credentials.stat().st_mode) == 0o600


def test_a_stored_login_is_not_sent_to_another_server(live, idle, tmp_path):
    account = live.user()
    cli = Cli(live, tmp_path)
    cli.ok("login", "--email", account.email, "--password", account.password)
    line = error_line(cli("me", "--url", idle.url), 3)
    assert "stored login is for" in line and live.url in line


def test_no_credentials_is_exit_3_with_a_hint(live, tmp_path):
    line = error_line(Cli(live, tmp_path)("me"), 3)
    assert "genova login" in line and "GENOVA_API_KEY" in line


def test_insufficient_credits_is_exit_5(live, tmp_path):
    cli = Cli(live, tmp_path, key=live.user(credits=0).key)
    assert "(HTTP 402)" in error_line(cli("generate", "A cat"), 5)


def test_not_found_is_exit_4(cli):
    assert "(HTTP 404)" in error_line(cli("jobs", "get", str(uuid.uuid4())), 4)
    assert "(HTTP 404)" in error_line(cli("keys", "revoke", str(uuid.uuid4())), 4)


def test_invalid_request_is_exit_9_and_names_the_field(cli):
    line = error_line(cli("generate", "A cat", "--model", "freepik", "--aspect", "landscape"), 9)
    assert "aspectRatio" in line and "(HTTP 400)" in line


def test_unreachable_server_is_exit_7(cli):
    line = error_line(cli("me", "--url", "http://127.0.0.1:1"), 7)
    assert "127.0.0.1:1" in line


def test_usage_errors_are_exit_2(cli):
    assert cli("generate").returncode == 2
    assert cli("jobs", "list", "--limit", "many").returncode == 2
    assert "missing.png" in error_line(cli("generate", "A cat", "--ref", "missing.png"), 2)


def test_help_documents_the_exit_codes(cli):
    text = cli.ok("--help").stdout
    assert "exit codes" in text
    for code in ("0", "2", "3", "4", "5", "6", "7", "8", "9", "130"):
        assert f"\n  {code} " in text
    assert "generate" in cli.ok("generate", "--help").stdout


def test_ctrl_c_is_exit_130_and_names_the_job_that_goes_on(idle, tmp_path):
    cli = Cli(idle, tmp_path, key=idle.user(plan="pro").key)
    env = {k: v for k, v in os.environ.items() if not k.startswith("GENOVA_")}
    env.update(GENOVA_URL=idle.url, GENOVA_API_KEY=cli.key, GENOVA_CONFIG_DIR=str(tmp_path))
    proc = subprocess.Popen([sys.executable, "-m", "genova_client", "generate", "A slow cat"],
                            cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    first = proc.stderr.readline()  # "genova: job ID queued ...": it is waiting now
    job_id = first.split()[2]
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130
    assert out == "" and "Traceback" not in err
    assert f"genova jobs cancel {job_id}" in err and "genova: interrupted" in err
    assert cli.json("jobs", "get", job_id)["status"] == "queued"
