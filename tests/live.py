"""A real Genova for client-side tests: ``python app.py`` with its own embedded Redis, a
SQLite file and built-in generator workers, plus helpers to make users with keys."""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import requests

from genova.embedded_redis import EmbeddedRedis
from tests.conftest import TEST_SECRET
from tests.procs import ROOT, AppProcess, start_app

_ids = itertools.count()


@dataclass
class LiveUser:
    id: str
    email: str
    password: str
    key: str
    access_token: str
    refresh_token: str


@dataclass
class LiveApp:
    process: AppProcess
    env: dict

    @property
    def url(self) -> str:
        return self.process.url

    def restart(self) -> None:
        """Stop the app (SIGTERM: its sockets close) and start it again on the same port,
        database and Redis."""
        self.process.stop()
        port = int(self.url.rsplit(":", 1)[1])
        self.process = start_app(self.process.data_dir, port=port, **self.env)

    def flask(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        """An admin command, ``flask --app app ...``, against this app's database."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("GENOVA_")}
        env.update(self.env)
        return subprocess.run([sys.executable, "-m", "flask", "--app", "app", *args], cwd=ROOT,
                              env=env, capture_output=True, text=True, check=check, timeout=60)

    def user(self, plan: str | None = None, credits: int | None = None) -> LiveUser:
        """A new account with an API key, on ``plan`` (default free)."""
        email = f"live{next(_ids)}-{os.getpid()}@example.com"
        password = "correct horse battery"
        tokens = requests.post(f"{self.url}/api/auth/register", timeout=10,
                               json={"email": email, "password": password}).json()
        key = requests.post(f"{self.url}/api/keys", json={"name": "tests"}, timeout=10,
                            headers={"Authorization": f"Bearer {tokens['accessToken']}"}).json()
        if plan:
            self.flask("user", "plan", email, plan)
        if credits is not None:
            self.flask("user", "credits", email, str(credits))
        return LiveUser(tokens["user"]["id"], email, password, key["key"],
                        tokens["accessToken"], tokens["refreshToken"])


@contextmanager
def live_app(base: Path, *, workers: int = 2, **extra):
    """Start the whole app (web, sockets, ``workers`` generator workers, the sweep)."""
    redis_server = EmbeddedRedis(base / "redis")
    redis_url = redis_server.start()
    env = {"GENOVA_DATABASE_URL": f"sqlite:///{base / 'genova.db'}",
           "GENOVA_REDIS_URL": redis_url, "GENOVA_SECRET_KEY": TEST_SECRET,
           "GENOVA_DATA_DIR": str(base / "data"), "GENOVA_EMBEDDED_WORKERS": str(workers),
           "GENOVA_ANON_RATE_LIMIT": "10000 per minute"}
    env.update({k: str(v) for k, v in extra.items()})
    app = None
    try:
        app = LiveApp(start_app(base / "data", **env), env)
        yield app
    finally:
        if app is not None:
            app.process.kill()
        redis_server.stop()
