"""Entry point for generation workers: ``python worker.py [--platform NAME|all]
[--concurrency N]`` (the platforms are the catalog's: flow, freepik).

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
import threading

from genova.catalog import PLATFORMS
from genova.ready import announce
from genova.workers.supervisor import Child, Supervisor


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--platform", choices=[*PLATFORMS, "all"], default="all")
    parser.add_argument("--concurrency", type=int, default=1,
                        help="generator processes (0: maintenance only)")
    parser.add_argument("--studio-port", type=int, default=None,
                        help="also keep the studio (python -m ui) running on this loopback "
                             "port; python app.py uses it")
    parser.add_argument("--api-url", default="http://127.0.0.1:8000",
                        help="where the studio reaches the API")
    parser.add_argument("--announce", metavar="URL", default=None,
                        help="log one line saying where the app is once it answers at URL")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    platforms = list(PLATFORMS) if args.platform == "all" else [args.platform]
    extra = []
    if args.studio_port:
        extra.append(Child([sys.executable, "-m", "ui", "--port", str(args.studio_port),
                            "--api-url", args.api_url], "studio", named=False))
    supervisor = Supervisor.from_env(platforms=platforms, concurrency=args.concurrency,
                                     extra=extra)
    if args.announce:
        studio = f"http://127.0.0.1:{args.studio_port}" if args.studio_port else None
        threading.Thread(target=announce, args=(args.announce, studio), daemon=True,
                         kwargs={"stop": supervisor.stop_event}).start()
    signal.signal(signal.SIGTERM, lambda *_: supervisor.request_stop())
    signal.signal(signal.SIGINT, lambda *_: supervisor.request_stop())
    return supervisor.run()


if __name__ == "__main__":
    sys.exit(main())
