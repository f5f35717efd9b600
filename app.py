"""Entry point: ``python app.py`` serves the API, the WebSockets and the studio on one port
with embedded defaults; ``flask --app app ...`` runs the admin commands."""

from __future__ import annotations

if __name__ == "__main__":
    # The gevent web worker needs the standard library patched before anything imports it.
    from gevent import monkey

    monkey.patch_all()

import hashlib
import hmac
import logging
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

from genova import create_app as _create_app
from genova.config import Settings, load_or_create_secret, settings_or_exit
from genova.embedded_redis import EmbeddedRedis
from genova.workers.childproc import spawn


def create_app():
    """Used by ``flask --app app``: same configuration as the server, no Redis started."""
    return _create_app(settings_or_exit())


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)
    # SIGTERM runs the same clean shutdown as Ctrl-C, so the embedded Redis never outlives us.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    settings = settings_or_exit()
    embedded = None
    if not settings.redis_url:
        embedded = EmbeddedRedis(settings.data_dir)
        settings = settings.with_(redis_url=embedded.start())
        embedded.supervise()  # restarted on the same port if it dies
        logging.getLogger("genova").info("embedded Redis at %s", settings.redis_url)
    if settings.studio:
        port = settings.studio_port or _free_port()
        settings = settings.with_(studio_port=port, studio_url=f"http://127.0.0.1:{port}")
    workers, master = None, os.getpid()
    try:
        migrate(settings)  # before any worker or web process touches the database
        workers = start_workers(settings)
        from genova.server import serve

        serve(settings)
    finally:
        # gunicorn's web workers are forks of this process and unwind through here when
        # they exit: only the master owns the children.
        if os.getpid() == master:
            stop_child(workers)
            if embedded is not None:
                embedded.stop()


def migrate(settings: Settings) -> None:
    """The schema up to date; the engine is closed again before gunicorn forks."""
    from genova.extensions import db
    from genova.migrations import upgrade_app

    app = _create_app(settings)
    upgrade_app(app)
    with app.app_context():
        db.engine.dispose()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def local_url(settings: Settings) -> str:
    """This server as seen from this machine (the studio calls the API through it)."""
    host = settings.host if settings.host not in ("0.0.0.0", "::", "") else "127.0.0.1"
    return f"http://{host}:{settings.port}"


def start_workers(settings: Settings):
    """``worker.py`` as a child: GENOVA_EMBEDDED_WORKERS generator processes plus the
    maintenance sweep (which runs even with 0 generators: stale jobs still need failing),
    and the studio when it is on: all supervised, restarted if they die."""
    env = dict(os.environ, GENOVA_REDIS_URL=settings.redis_url,
               GENOVA_DATA_DIR=str(settings.data_dir))
    api_url = local_url(settings)
    args = ["--platform", "all", "--concurrency", str(settings.embedded_workers),
            "--announce", api_url]
    if settings.studio:
        secret = settings.secret_key or load_or_create_secret(settings.data_dir)
        # The studio keeps each visitor's sign-in in their own browser, sealed with this key
        env["GENOVA_STUDIO_STATE_KEY"] = hmac.new(secret.encode(), b"studio-browser-state",
                                                  hashlib.sha256).hexdigest()
        env["GRADIO_TEMP_DIR"] = str(settings.data_dir / "studio-cache")
        args += ["--studio-port", str(settings.studio_port), "--api-url", api_url]
    script = Path(__file__).resolve().with_name("worker.py")
    return spawn([sys.executable, str(script), *args], env=env)


def stop_child(proc, timeout: float = 70) -> None:
    """SIGTERM, wait (workers finish their current job), then SIGKILL. gunicorn's master may
    have reaped the child already: that counts as stopped."""
    if proc is None or proc.poll() is not None:
        return
    try:
        proc.terminate()
        proc.wait(timeout)
    except (ProcessLookupError, ChildProcessError):
        return
    except subprocess.TimeoutExpired:
        proc.kill()


if __name__ == "__main__":
    main()
