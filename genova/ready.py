"""The start-up log's last word: once the API answers (its migrations done) and the studio
answers, one line says where everything is. ``python app.py`` asks ``worker.py`` to say it
(``--announce``), from a plain thread outside the gevent web server."""

from __future__ import annotations

import logging
import time
import urllib.request

log = logging.getLogger("genova")


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status < 500
    except OSError:
        return False


def announce(base: str, studio_url: str | None, *, stop, timeout: float = 180) -> bool:
    """Wait for the studio (polled directly: no access-log lines) and ``/readyz``, then log
    the line. Gives up after ``timeout`` seconds or when ``stop`` (an Event) is set."""
    wanted = ([studio_url + "/config"] if studio_url else []) + [base + "/readyz"]
    deadline = time.monotonic() + timeout
    while not all(_answers(url) for url in wanted):
        if time.monotonic() > deadline:
            log.warning("Genova did not become ready in %.0f s; see the log above", timeout)
            return False
        if stop.wait(0.5):
            return False
    studio = f"studio {base}/studio/, " if studio_url else ""
    log.info("Genova is ready: %sAPI docs %s/api/docs, metrics %s/metrics", studio, base, base)
    return True
