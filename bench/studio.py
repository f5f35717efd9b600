"""The studio's cost: its process's memory at rest and after 50 jobs streamed through an
open page, and the time from opening ``/studio/`` to an interactive form in Chromium.

    python bench/studio.py [--jobs 50] [--loads 5]

Starts its own app (with the studio and two workers), prints one JSON document.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import psutil
import requests
from playwright.sync_api import sync_playwright
from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import free_port, percentiles, start_app, wait_until_answers

CHROMIUM = {"executable_path": "/usr/bin/chromium",
            "args": ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                     "--disable-component-update", "--disable-sync", "--no-first-run"]}


def studio_process(pid: int) -> psutil.Process:
    for child in psutil.Process(pid).children(recursive=True):
        if child.cmdline()[1:3] == ["-m", "ui"]:
            return child
    raise RuntimeError("no studio process")


def time_to_interactive(browser, url: str) -> float:
    """Seconds from navigation to a sign-in form that takes input."""
    context = browser.new_context(viewport={"width": 1366, "height": 768})
    page = context.new_page()
    started = time.perf_counter()
    page.goto(url + "/studio/")
    page.locator("#login-email textarea").wait_for(state="visible")
    page.locator("#login-email textarea").click()
    elapsed = time.perf_counter() - started
    context.close()
    return elapsed


def stream_jobs(browser, app, jobs: int) -> int:
    """Sign in with the key, keep the Create tab open, run ``jobs`` jobs through it."""
    page = browser.new_page(viewport={"width": 1366, "height": 768})
    page.goto(app.url + "/studio/")
    page.get_by_role("tab", name="Use an API key").click()
    page.fill("#apikey-input input", app.api_key)
    page.click("#apikey-go")
    page.locator("#main").wait_for(state="visible")
    headers = {"X-API-Key": app.api_key}
    ids = [requests.post(app.url + "/api/jobs", headers=headers, timeout=10,
                         json={"type": "image", "prompt": f"bench {i}"}).json()["jobId"]
           for i in tqdm(range(jobs), desc="submit", file=sys.stderr)]
    for job_id in tqdm(ids, desc="complete", file=sys.stderr):
        while requests.get(f"{app.url}/api/jobs/{job_id}", headers=headers,
                           timeout=10).json()["status"] not in ("completed", "failed"):
            time.sleep(0.2)
    page.wait_for_timeout(2000)  # the last events reach the page
    shown = page.locator(".gv-completed").count()
    page.close()
    return shown


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=50)
    parser.add_argument("--loads", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, \
            start_app(Path(tmp), port=free_port(), workers=2, credits=args.jobs + 10,
                      GENOVA_STUDIO="1") as app, sync_playwright() as playwright:
        wait_until_answers(app.url + "/studio/config")
        studio = studio_process(app.pid)
        time.sleep(3)
        at_rest = studio.memory_info().rss
        browser = playwright.chromium.launch(**CHROMIUM)
        loads = [time_to_interactive(browser, app.url) for _ in range(args.loads)]
        shown = stream_jobs(browser, app, args.jobs)
        after = studio.memory_info().rss
        browser.close()
    print(json.dumps({
        "studio_rss_mib": {"at_rest": round(at_rest / 2**20, 1),
                           f"after_{args.jobs}_jobs": round(after / 2**20, 1)},
        "time_to_interactive_s": percentiles(loads),
        "jobs": args.jobs, "completed_cards_on_page": shown,
    }, indent=2))


if __name__ == "__main__":
    main()
