"""The studio as ``python app.py`` runs it: a supervised child on loopback behind the one
public port, announced when ready, restarted when it dies, stopped with the app."""

from __future__ import annotations

import signal

import psutil
import pytest
import requests

from tests.procs import running_app, wait_until

pytestmark = pytest.mark.e2e  # starts processes (app, workers, Redis, browser...)


def _studio_processes(app) -> list[psutil.Process]:
    return [p for p in psutil.Process(app.proc.pid).children(recursive=True)
            if p.status() != "zombie" and p.cmdline()[1:3] == ["-m", "ui"]]


def _studio_answers(app) -> bool:
    try:
        return app.get("/studio/config").status_code == 200
    except requests.RequestException:
        return False


def test_the_studio_is_served_supervised_and_stopped_with_the_app(tmp_path):
    with running_app(tmp_path / "var", GENOVA_STUDIO="1") as app:
        wait_until(lambda: _studio_answers(app), 90, lambda: app.log.read_text()[-3000:],
                   interval=0.5)
        home = app.get("/", allow_redirects=False)
        assert home.status_code == 302 and home.headers["Location"].endswith("/studio/")
        page = app.get("/studio/")
        assert page.status_code == 200 and "gradio" in page.text.lower()
        # Gradio builds its URLs from the public host our proxy passes on
        assert app.get("/studio/config").json()["root"] == app.url + "/studio"
        slash = app.get("/studio", allow_redirects=False)
        assert slash.status_code == 308 and slash.headers["Location"] == "/studio/"
        wait_until(lambda: "Genova is ready: studio " in app.log.read_text(), 30,
                   lambda: app.log.read_text()[-2000:])
        line = next(x for x in app.log.read_text().splitlines() if "Genova is ready" in x)
        assert f"{app.url}/studio/" in line and f"{app.url}/api/docs" in line
        (studio,) = _studio_processes(app)
        studio.kill()  # the supervisor brings it back
        wait_until(lambda: [p.pid for p in _studio_processes(app)] not in ([], [studio.pid])
                   and _studio_answers(app), 90, lambda: app.log.read_text()[-3000:],
                   interval=0.5)
        (restarted,) = _studio_processes(app)
        assert app.stop(signal.SIGTERM) == 0
    wait_until(lambda: not restarted.is_running() or restarted.status() == "zombie", 15,
               lambda: "the studio outlived the app")


def test_without_the_studio_home_is_the_api_reference(tmp_path):
    with running_app(tmp_path / "var") as app:  # tests run with GENOVA_STUDIO=0
        home = app.get("/", allow_redirects=False)
        assert home.status_code == 302 and home.headers["Location"].endswith("/api/docs")
        missing = app.get("/studio/")
        assert missing.status_code == 503 and missing.json()["error"] == "Studio unavailable"
        assert not _studio_processes(app)
        wait_until(lambda: "Genova is ready: API docs" in app.log.read_text(), 30,
                   lambda: app.log.read_text()[-2000:])
