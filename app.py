"""Entry point: ``python app.py`` serves the API (and, later, the studio) on one port with
embedded defaults; ``flask --app app ...`` runs the admin commands."""

from __future__ import annotations

if __name__ == "__main__":
    # The gevent web worker needs the standard library patched before anything imports it.
    from gevent import monkey

    monkey.patch_all()

import logging
import signal
import sys

from genova import create_app as _create_app
from genova.config import Settings
from genova.embedded_redis import EmbeddedRedis


def create_app():
    """Used by ``flask --app app``: same configuration as the server, no Redis started."""
    return _create_app(Settings.from_env())


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)
    # SIGTERM runs the same clean shutdown as Ctrl-C, so the embedded Redis never outlives us.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    settings = Settings.from_env()
    embedded = None
    if not settings.redis_url:
        embedded = EmbeddedRedis(settings.data_dir)
        settings = settings.with_(redis_url=embedded.start())
        logging.getLogger("genova").info("embedded Redis at %s", settings.redis_url)
    try:
        from genova.server import serve

        serve(settings)
    finally:
        if embedded is not None:
            embedded.stop()


if __name__ == "__main__":
    main()
