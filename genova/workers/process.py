"""One worker process: ``python -m genova.workers.process --platform flow,freepik`` (started by
``worker.py``; not meant to be run by hand)."""

from __future__ import annotations

import argparse
import logging

from genova import create_app, runtime
from genova.catalog import PLATFORMS
from genova.config import Settings
from genova.workers.rq_worker import GenovaWorker


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--platform", default="", help="comma-separated; empty: maintenance")
    parser.add_argument("--name", default=None)
    parser.add_argument("--maintenance", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("alembic").setLevel(logging.WARNING)
    app = create_app(Settings.from_env(), web=False)  # no HTTP API in a worker
    platforms = [p for p in args.platform.split(",") if p]
    unknown = sorted(set(platforms) - set(PLATFORMS))
    if unknown:
        parser.error(f"unknown platform {', '.join(unknown)}; the catalog has "
                     f"{', '.join(PLATFORMS)}")
    with app.app_context():
        worker = GenovaWorker(runtime.of(app), platforms=platforms,
                              maintenance=args.maintenance, name=args.name)
        # the maintenance worker runs a sweep every few seconds: keep its log to problems
        worker.work(logging_level="WARNING" if args.maintenance else "INFO")


if __name__ == "__main__":
    main()
