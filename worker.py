"""Entry point for generation workers: ``python worker.py [--platform flow|freepik|all]
[--concurrency N]``.

Runs N generator processes (each an RQ worker that claims jobs from the job manager), one
maintenance process (the periodic sweep), and the scheduler that enqueues the sweep. Dead
children are restarted; SIGTERM/SIGINT stop everything. It uses the same ``GENOVA_*``
configuration as the server; without ``GENOVA_REDIS_URL`` it joins the embedded Redis of a
``python app.py`` running on the same data dir.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys

from genova.supervisor import Supervisor


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--platform", choices=["flow", "freepik", "all"], default="all")
    parser.add_argument("--concurrency", type=int, default=1,
                        help="generator processes (0: maintenance only)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    platforms = ["flow", "freepik"] if args.platform == "all" else [args.platform]
    supervisor = Supervisor.from_env(platforms=platforms, concurrency=args.concurrency)
    signal.signal(signal.SIGTERM, lambda *_: supervisor.request_stop())
    signal.signal(signal.SIGINT, lambda *_: supervisor.request_stop())
    return supervisor.run()


if __name__ == "__main__":
    sys.exit(main())
