"""``python -m genova.extension --url URL --token T --type flow|freepik [--concurrency N]``"""

from __future__ import annotations

import argparse
import logging
import signal

from genova.extension.client import Extension


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m genova.extension",
                                     description="A headless Genova worker (extension).")
    parser.add_argument("--url", required=True, help="the server, e.g. http://host:8000")
    parser.add_argument("--token", required=True,
                        help="a pool-worker token (gwt_...) or a user's access JWT")
    parser.add_argument("--type", required=True, choices=["flow", "freepik"], dest="platform")
    parser.add_argument("--concurrency", type=int, default=1)
    parser.add_argument("--user-id", default=None, help="for a JWT; read from it by default")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    extension = Extension(url=args.url, token=args.token, platform=args.platform,
                          concurrency=max(1, args.concurrency), user_id=args.user_id)
    signal.signal(signal.SIGTERM, lambda *_: extension.stop())
    signal.signal(signal.SIGINT, lambda *_: extension.stop())
    extension.run_forever()


if __name__ == "__main__":
    main()
