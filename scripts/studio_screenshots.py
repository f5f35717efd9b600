"""Screenshots of the studio for docs/studio.md (run by ``scripts/studio-screenshots``).

Starts a throwaway Genova (its own Redis, database and workers, in a temporary directory)
with the studio, makes a Pro demo account, runs a few jobs (images of several models and
aspect ratios, a video, one with a reference image, one cancelled while queued), then takes
a screenshot of each screen at 1366x768 and at 390x844 (a phone) with Debian's Chromium.
The PNGs go to docs/images/ as palette PNGs (small enough to keep in the repository).
"""

from __future__ import annotations

import argparse
import io
import sys
import tempfile
import time
from pathlib import Path

import requests
from PIL import Image, ImageDraw
from playwright.sync_api import Page, sync_playwright

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from genova_client import Client
from tests.live import live_app

ROOT = Path(__file__).resolve().parent.parent

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
DESKTOP = {"width": 1366, "height": 768}
PHONE = {"width": 390, "height": 844}
EMAIL, PASSWORD, NAME = "ada@example.com", "correct horse battery", "Ada Lovelace"
MAX_BYTES = 400 * 1024


def wait_for(predicate, timeout: float, what: str, interval: float = 0.5):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            value = predicate()
        except (requests.RequestException, OSError):
            value = None
        if value:
            return value
        time.sleep(interval)
    raise SystemExit(f"timed out waiting for {what}")


def reference_image(path: Path) -> Path:
    """A simple drawing to use as a reference image."""
    picture = Image.new("RGB", (512, 512), (236, 228, 210))
    draw = ImageDraw.Draw(picture)
    draw.ellipse((96, 96, 416, 416), fill=(214, 120, 48))
    draw.rectangle((200, 40, 312, 120), fill=(60, 120, 70))
    draw.text((256, 470), "reference", fill=(40, 40, 40), anchor="mm", font_size=32)
    picture.save(path)
    return path


def save(page: Page, out: Path, name: str, *, full_page: bool = True) -> Path:
    """A screenshot as a palette PNG (fewer colours if it is still too large)."""
    shot = Image.open(io.BytesIO(page.screenshot(full_page=full_page))).convert("RGB")
    path = out / name
    for colours in (256, 128, 64):
        shot.quantize(colors=colours, method=Image.Quantize.MEDIANCUT,
                      dither=Image.Dither.NONE).save(path, optimize=True)
        if path.stat().st_size <= MAX_BYTES:
            break
    print(f"{path}  {shot.width}x{shot.height}  "
          f"{path.stat().st_size // 1024} KB")
    return path


def type_into(page: Page, selector: str, text: str) -> None:
    page.click(selector)
    page.keyboard.press("Control+A")
    page.keyboard.type(text)


def open_tab(page: Page, name: str) -> None:
    page.get_by_role("tab", name=name, exact=True).click()


def settle(page: Page, seconds: float = 1.0) -> None:
    """Let Gradio finish its transitions (and lazy images load)."""
    page.wait_for_timeout(seconds * 1000)


def wait_images(page: Page, selector: str, timeout: float = 20000) -> None:
    """Wait until every image (and video frame) under ``selector`` has loaded; lazy ones
    are scrolled to first."""
    media = f"{selector} img, {selector} video"
    for element in page.locator(media).all():
        element.scroll_into_view_if_needed()
    page.wait_for_function(
        """(sel) => { const all = [...document.querySelectorAll(sel)];
                     return all.length > 0 && all.every(m => m.tagName === 'VIDEO'
                         ? m.readyState >= 2 : m.complete && m.naturalWidth > 0); }""",
        arg=media, timeout=timeout)
    page.evaluate("window.scrollTo(0, 0)")


def sign_in_shots(page: Page, out: Path, suffix: str) -> None:
    page.wait_for_selector("#signin", state="visible", timeout=60000)
    type_into(page, "#login-email textarea", EMAIL)
    type_into(page, "#login-password input", PASSWORD)
    settle(page, 0.5)
    save(page, out, f"studio-signin{suffix}.png")


def log_in(page: Page) -> None:
    page.click("#login-go")
    page.wait_for_selector("#main", state="visible", timeout=30000)
    page.wait_for_selector("#queue .gv-queue", timeout=30000)


def generate_in_page(page: Page, prompt: str, refs: list[Path] = ()) -> None:
    """Type a prompt (and attach references), then Ctrl+Enter, as a visitor does."""
    if refs:
        page.set_input_files("#refs input[type=file]", [str(p) for p in refs])
        page.wait_for_selector("#ref-preview img", timeout=20000)
    type_into(page, "#prompt textarea", prompt)
    page.keyboard.press("Control+Enter")
    page.wait_for_function(
        "() => (document.querySelector('#create-message')?.innerText || '').includes('Job ')",
        timeout=30000)


def api_jobs(client: Client, tmp: Path) -> list[str]:
    """Jobs of other models and shapes, made over the API (they show up live in the page)."""
    made = [
        client.jobs.create("A red fox curled up in fresh snow, watercolour",
                           model="nano_banana_pro", aspect_ratio="portrait", count=2),
        client.jobs.create("A bowl of ramen on a wooden table, studio photo", model="freepik",
                           aspect_ratio="4:3", quality="2K"),
        client.jobs.create("Waves rolling onto a quiet beach at dawn", model="veo2_fast",
                           aspect_ratio="landscape"),
        client.jobs.create("An orange in the style of the reference, isometric 3D",
                           model="nano_banana2", aspect_ratio="square",
                           reference_images=[reference_image(tmp / "ref-api.png")]),
    ]
    return [job.job_id for job in made]


def cancelled_job(client: Client) -> None:
    """A job cancelled while still queued (best effort: idle workers may start it first)."""
    job = client.jobs.create("A paper boat on a puddle after rain", model="imagen4",
                             aspect_ratio="square", priority=-10)
    try:
        client.jobs.cancel(job.job_id)
    except Exception as error:  # noqa: BLE001 - it started already: fine for the pictures
        print(f"(could not cancel the demo job: {error})")


def wait_all_done(client: Client, timeout: float = 240) -> None:
    def done():
        page = client.jobs.list(limit=50)
        return all(j.raw["status"] not in ("pending", "queued", "processing") for j in page.jobs)
    wait_for(done, timeout, "the demo jobs to finish", interval=1.0)


def desktop_shots(page: Page, out: Path) -> None:
    page.set_viewport_size(DESKTOP)
    open_tab(page, "Create")
    wait_images(page, "#queue")
    settle(page)
    save(page, out, "studio-create.png")
    gallery(page, out, "")
    account(page, out, "", key_name="laptop")


def gallery(page: Page, out: Path, suffix: str) -> None:
    open_tab(page, "Gallery")
    page.wait_for_selector("#gallery-grid img", timeout=30000)
    wait_images(page, "#gallery-grid")
    page.locator("#gallery-grid img").nth(1).click()  # the second newest, a still image
    page.wait_for_selector("#detail .gv-detail .gv-large", timeout=20000)
    wait_images(page, "#detail")
    settle(page)
    save(page, out, f"studio-gallery{suffix}.png")


def account(page: Page, out: Path, suffix: str, key_name: str) -> None:
    open_tab(page, "Account")
    page.wait_for_function(
        "() => (document.querySelector('#profile')?.innerText || '').includes('Credits')",
        timeout=30000)
    type_into(page, "#key-name textarea", key_name)
    page.click("#key-create")
    page.wait_for_selector("#new-key", state="visible", timeout=20000)
    page.wait_for_function(
        "() => (document.querySelector('#new-key textarea, #new-key input')?.value || '')"
        ".startsWith('af_')", timeout=20000)
    settle(page)
    save(page, out, f"studio-account{suffix}.png")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "images")
    parser.add_argument("--headed", action="store_true", help="show the browser")
    args = parser.parse_args(argv)
    out = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)

    with tempfile.TemporaryDirectory(prefix="genova-shots-") as tmp_name:
        tmp = Path(tmp_name)
        print("starting a temporary Genova with the studio...")
        with live_app(tmp, workers=2, GENOVA_STUDIO="1") as app:
            wait_for(lambda: requests.get(f"{app.url}/studio/config", timeout=5).ok, 120,
                     "the studio")
            tokens = requests.post(f"{app.url}/api/auth/register", timeout=10, json={
                "email": EMAIL, "password": PASSWORD, "name": NAME}).json()
            app.flask("user", "plan", EMAIL, "pro")
            client = Client(app.url, token=tokens["accessToken"],
                            refresh_token=tokens["refreshToken"])
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS,
                                             headless=not args.headed)
                try:
                    desk = browser.new_context(viewport=DESKTOP)
                    page = desk.new_page()
                    page.goto(f"{app.url}/studio/")
                    sign_in_shots(page, out, "")
                    log_in(page)
                    generate_in_page(page, "A lighthouse on a cliff at sunset, oil painting")
                    api_jobs(client, tmp)
                    cancelled_job(client)
                    generate_in_page(page, "A teapot shaped like the reference, glazed "
                                           "ceramic", refs=[reference_image(tmp / "ref.png")])
                    wait_all_done(client)
                    desktop_shots(page, out)

                    phone_opts = {"viewport": PHONE, "device_scale_factor": 1,
                                  "is_mobile": True, "has_touch": True}
                    signed_out = browser.new_context(**phone_opts)
                    phone = signed_out.new_page()
                    phone.goto(f"{app.url}/studio/")
                    sign_in_shots(phone, out, "-phone")
                    log_in(phone)
                    wait_images(phone, "#queue")
                    settle(phone)
                    save(phone, out, "studio-create-phone.png")
                    gallery(phone, out, "-phone")
                    account(phone, out, "-phone", key_name="phone")
                finally:
                    browser.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
