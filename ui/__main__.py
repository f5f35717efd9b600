"""``python -m ui --port P --api-url URL``: serve the studio on loopback (``python app.py``
starts it and streams ``/studio/*`` to it)."""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # before gradio is imported


def fetch_models(api_url: str, timeout: float = 120):
    """The catalogue, once the API answers (both start together)."""
    from genova_client import Client, GenovaError

    client, deadline = Client(api_url, api_key="", max_retries=0), time.monotonic() + timeout
    while True:
        try:
            return client.models()
        except GenovaError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ui", description=__doc__.split("\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=7860)
    parser.add_argument("--api-url", default=os.environ.get("GENOVA_URL",
                                                           "http://127.0.0.1:8000"))
    parser.add_argument("--root-path", default="/studio")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per API call otherwise
    key = os.environ.get("GENOVA_STUDIO_STATE_KEY") or "genova-studio-local"
    from ui.app import build, theme
    from ui.assets import CSS, HEAD

    demo, _ = build(args.api_url, fetch_models(args.api_url), key)
    logging.getLogger("genova.studio").info("studio on %s:%d (served at %s/)", args.host,
                                            args.port, args.root_path)
    demo.launch(server_name=args.host, server_port=args.port, root_path=args.root_path,
                ssr_mode=False, share=False, quiet=True, show_error=False, theme=theme(),
                css=CSS, head=HEAD, footer_links=[], prevent_thread_lock=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
