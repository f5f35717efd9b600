"""``python -m genova.remote_worker --url URL (--token T | --api-key K) --type flow|freepik
[--concurrency N]``

Exit status: 0 once stopped by SIGTERM or SIGINT; 2 for bad arguments or a 4400 refusal;
3 when the server refuses the credential (4401, 4403, or a 401 on an upload). A refusal is
reported on stderr as ``genova.remote_worker: refused by the server (CODE): REASON``.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
from urllib.parse import urlsplit

from genova.catalog import PLATFORMS
from genova.generators.config import ProviderSettings
from genova.generators.registry import Registry
from genova.remote_worker.client import Extension
from genova_client import errors

PROG = "genova.remote_worker"


def server_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise argparse.ArgumentTypeError(f"expected http(s)://host[:port], got {value!r}")
    return value


def positive(value: str) -> int:
    if not value.isdigit() or int(value) < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value!r}")
    return int(value)


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog=f"python -m {PROG}",
                                     description="A headless Genova worker (extension).")
    parser.add_argument("--url", required=True, type=server_url,
                        help="the server, e.g. http://host:8000")
    credential = parser.add_mutually_exclusive_group(required=True)
    credential.add_argument("--token", help="a pool-worker token (gwt_...), or a user's "
                                            "access JWT to serve only that user's jobs")
    credential.add_argument("--api-key", help="a user's API key (af_...), to serve only "
                                              "that user's jobs")
    parser.add_argument("--type", required=True, choices=list(PLATFORMS),
                        dest="platform")
    parser.add_argument("--concurrency", type=positive, default=1)
    parser.add_argument("--user-id", default=None,
                        help="optional: the credential's user, checked by the server")
    args = parser.parse_args(argv)
    if not (args.token or args.api_key):
        parser.error("the credential is empty")
    if (args.token or "").startswith("af_"):
        parser.error("an API key (af_...) goes in --api-key")
    return args


def _reason(error: errors.GenovaError) -> str:
    """The server's own words: a socket's close reason, else the HTTP error's details."""
    return getattr(error, "close_reason", None) or error.details or error.error


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    try:
        generators = Registry(ProviderSettings.from_env(dict(os.environ)))
    except ValueError as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        return 2
    extension = Extension(url=args.url, token=args.token, api_key=args.api_key,
                          platform=args.platform, concurrency=args.concurrency,
                          user_id=args.user_id, generator_for=generators.for_model)
    signal.signal(signal.SIGTERM, lambda *_: extension.stop())
    signal.signal(signal.SIGINT, lambda *_: extension.stop())
    try:
        extension.run_forever()
    except errors.GenovaError as error:
        code = getattr(error, "close_code", None) or f"HTTP {error.status}"
        print(f"{PROG}: refused by the server ({code}): {_reason(error)}", file=sys.stderr)
        return 2 if code == 4400 else 3
    return 0


if __name__ == "__main__":
    sys.exit(main())
