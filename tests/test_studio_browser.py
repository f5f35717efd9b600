"""The studio in a real browser: Playwright drives Debian's Chromium (headless) against a
real ``python app.py`` with the studio, its own Redis, SQLite and generator workers.

What is asserted is what a visitor sees on the page (and, for downloads, the bytes the
links give). Apps, the browser and a signed-in page are shared per module to keep it quick.
"""

from __future__ import annotations

import contextlib
import os
import re
import time
import uuid

import psutil
import pytest
import requests

from tests.live import live_app
from tests.procs import wait_until

pytestmark = pytest.mark.e2e  # starts processes (app, workers, Redis, browser...)

sync_api = pytest.importorskip("playwright.sync_api")
expect = sync_api.expect

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
WAIT = 30_000  # ms: the longest any single thing on the page may take
PNG = b"\x89PNG\r\n\x1a\n"
PAGES: list = []  # open pages, screenshotted when a test fails

expect.set_options(timeout=WAIT)


# --- apps, browser, pages ---------------------------------------------------------------

def wait_for_studio(url: str, timeout: float = 90) -> None:
    """The studio (a child process started after the API) answers through the proxy."""
    def up() -> bool:
        try:
            return requests.get(f"{url}/studio/config", timeout=5).status_code == 200
        except requests.RequestException:
            return False
    wait_until(up, timeout, lambda: f"the studio at {url}/studio/ did not come up", 0.25)


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    with live_app(tmp_path_factory.mktemp("studio"), workers=2, GENOVA_STUDIO="1") as live:
        wait_for_studio(live.url)
        yield live


@pytest.fixture(scope="module")
def idle_app(tmp_path_factory):
    """No generator workers: a job stays queued until it is cancelled."""
    with live_app(tmp_path_factory.mktemp("idle"), workers=0, GENOVA_STUDIO="1") as live:
        wait_for_studio(live.url)
        yield live


@pytest.fixture(scope="module")
def browser():
    if not os.path.exists(CHROMIUM):  # a missing browser fails loudly, never skips
        pytest.fail("the studio's browser tests need Debian's Chromium at /usr/bin/chromium "
                    "(apt-get install chromium; ./scripts/test installs it when it can)")
    with sync_api.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(autouse=True)
def _screenshot_on_failure(request):
    failed = request.session.testsfailed
    yield
    if request.session.testsfailed > failed:
        name = re.sub(r"\W+", "-", request.node.name)
        for i, page in enumerate(PAGES):
            with contextlib.suppress(sync_api.Error):  # a closed page has nothing to show
                page.screenshot(path=f"/tmp/studio-test-{name}-{i}.png", full_page=True)


def new_page(browser, width: int = 1280):
    context = browser.new_context(viewport={"width": width, "height": 900})
    page = context.new_page()
    PAGES.append(page)
    return page


def close(page) -> None:
    PAGES.remove(page)
    page.context.close()


def open_studio(page, app) -> None:
    page.goto(f"{app.url}/studio/")
    expect(page.locator("#signin, #main").locator("visible=true").first).to_be_visible()


def box(page, elem_id: str):
    """The text field inside a Gradio Textbox (a textarea, or an input for passwords)."""
    return page.locator(f"#{elem_id}").locator("textarea, input").first


def log_in(page, user) -> None:
    page.get_by_role("tab", name="Log in").click()
    box(page, "login-email").fill(user.email)
    box(page, "login-password").fill(user.password)
    page.locator("#login-go").click()
    expect(page.locator("#main")).to_be_visible()
    expect(page.locator("#account-line")).to_contain_text(user.email)


def signed_in_page(browser, app, user, width: int = 1280):
    page = new_page(browser, width)
    open_studio(page, app)
    log_in(page, user)
    expect(page.locator("#queue")).to_contain_text(re.compile(r"\S"))  # the live queue is on
    return page


def tab(page, name: str):
    return page.get_by_role("tab", name=name, exact=True)


def pick_model(page, label: str) -> None:
    page.locator("#model input").click()
    page.get_by_role("option", name=label).click()
    expect(page.locator("#model input")).to_have_value(label)


def type_prompt(page, prompt: str) -> None:
    field = box(page, "prompt")
    field.click()
    field.press("Control+a")
    field.press("Delete")
    page.keyboard.type(prompt)
    expect(field).to_have_value(prompt)


def card(page, prompt: str):
    return page.locator("#queue article.gv-card").filter(has_text=prompt)


def credits(page) -> int:
    expect(page.locator("#credits")).to_contain_text("credits left")
    return int(re.search(r"(\d+) credits left", page.locator("#credits").inner_text()).group(1))


WATCH_CARDS = """(prompt) => {
  window.seenStatuses = [];
  const note = () => document.querySelectorAll('#queue article.gv-card').forEach((card) => {
    if (!card.textContent.includes(prompt)) return;
    const status = [...card.classList].find((c) => c.startsWith('gv-') && c !== 'gv-card');
    if (window.seenStatuses.at(-1) !== status) window.seenStatuses.push(status);
  });
  new MutationObserver(note).observe(document.body, {subtree: true, childList: true,
                                                     attributes: true, characterData: true});
}"""


def no_traceback(page) -> None:
    assert "Traceback" not in page.content()


@pytest.fixture(scope="module")
def pro(app):
    return app.user(plan="pro")


@pytest.fixture(scope="module")
def page(browser, app, pro):
    """One signed-in page for the create / gallery / reuse / video tests."""
    page = signed_in_page(browser, app, pro)
    yield page
    close(page)


@pytest.fixture(scope="module")
def image_run(page):
    """An image made through the form (model Nano Banana 2), watched as it runs."""
    prompt = f"a lighthouse in fog {uuid.uuid4().hex[:6]}"
    tab(page, "Create").click()
    pick_model(page, "Nano Banana 2 · Flow image")
    type_prompt(page, prompt)
    page.evaluate(WATCH_CARDS, prompt)
    page.locator("#run").click()
    done = card(page, prompt)
    expect(done).to_have_class(re.compile(r"\bgv-completed\b"))
    return {"prompt": prompt, "card": done, "seen": page.evaluate("window.seenStatuses")}


# --- signing in and out -----------------------------------------------------------------

def test_register_lands_on_create(browser, app):
    page = new_page(browser)
    try:
        open_studio(page, app)
        email = f"new-{uuid.uuid4().hex[:8]}@example.com"
        tab(page, "Create an account").click()
        box(page, "register-name").fill("Ada")
        box(page, "register-email").fill(email)
        box(page, "register-password").fill("a long password")
        page.locator("#register-go").click()
        expect(page.locator("#main")).to_be_visible()
        expect(page.locator("#signin")).to_be_hidden()
        expect(page.locator("#account-line")).to_contain_text(email)
        expect(tab(page, "Create")).to_have_attribute("aria-selected", "true")
        expect(box(page, "prompt")).to_be_visible()
        no_traceback(page)
    finally:
        close(page)


def test_log_in_and_sign_out(browser, app):
    user = app.user()
    page = new_page(browser)
    try:
        open_studio(page, app)
        log_in(page, user)
        page.locator("#signout").click()
        expect(page.locator("#signin")).to_be_visible()
        expect(page.locator("#main")).to_be_hidden()
        page.reload()
        expect(page.locator("#signin")).to_be_visible()
        page.wait_for_timeout(2000)  # the page's load event has had time to sign back in
        expect(page.locator("#signin")).to_be_visible()
        expect(page.locator("#main")).to_be_hidden()
        assert user.email not in page.locator("body").inner_text()
    finally:
        close(page)


def test_wrong_password_is_explained(browser, app):
    user = app.user()
    page = new_page(browser)
    try:
        open_studio(page, app)
        box(page, "login-email").fill(user.email)
        box(page, "login-password").fill("not the password")
        page.locator("#login-go").click()
        expect(page.locator("#signin-message")).to_contain_text(re.compile(r"\w"))
        expect(page.locator("#main")).to_be_hidden()
        no_traceback(page)
    finally:
        close(page)


# --- account: API keys ------------------------------------------------------------------

def test_new_api_key_is_shown_once(browser, app):
    user = app.user(plan="pro")
    page = signed_in_page(browser, app, user)
    try:
        tab(page, "Account").click()
        expect(page.locator("#profile")).to_contain_text(user.email)
        box(page, "key-name").fill("laptop")
        page.locator("#key-create").click()
        shown = box(page, "new-key")
        # the key is URL-safe base64, which may hold "-" (it failed 1 run in 64 on \w+)
        expect(shown).to_have_value(re.compile(r"^af_[\w-]+$"))
        key = shown.input_value()
        prefix = key[:11]
        expect(page.locator("#keys-table")).to_contain_text("laptop")

        page.reload()
        expect(page.locator("#main")).to_be_visible()
        tab(page, "Account").click()
        expect(page.locator("#keys-table")).to_contain_text(prefix)
        expect(page.locator("#keys-table")).to_contain_text("laptop")
        expect(page.locator("#new-key")).to_be_hidden()
        assert key not in page.content()
        assert all(key not in value for value in
                   page.locator("textarea, input").evaluate_all("els => els.map(e => e.value)"))
        listed = requests.get(f"{app.url}/api/keys", timeout=10,
                              headers={"X-API-Key": user.key}).json()
        assert prefix in [k["prefix"] for k in listed["keys"]]
    finally:
        close(page)


# --- create, live queue, gallery ---------------------------------------------------------

def test_image_goes_from_queue_to_completed(image_run):
    done = image_run["card"]
    seen = image_run["seen"]
    assert seen[-1] == "gv-completed", seen
    assert {"gv-queued", "gv-processing"} & set(seen[:-1]), seen
    expect(done.locator("img.gv-thumb")).to_be_visible()
    expect(done).to_contain_text("Placeholder")
    expect(done).to_contain_text("nano_banana2")


def test_gallery_detail_and_download(page, image_run):
    tab(page, "Gallery").click()
    thumbs = page.locator("#gallery-grid button.thumbnail-item")
    expect(thumbs.first).to_be_visible()
    expect(page.locator("#gallery-grid")).to_contain_text(image_run["prompt"][:40])
    thumbs.first.click()
    detail = page.locator("#detail")
    expect(detail.locator("img.gv-large")).to_be_visible()
    expect(detail).to_contain_text(image_run["prompt"])
    expect(detail.locator("table.gv-facts")).to_contain_text("nano_banana2")
    expect(detail.locator("table.gv-facts")).to_contain_text("completed")
    link = detail.locator("a.gv-download").first
    expect(link).to_be_visible()
    got = requests.get(link.get_attribute("href"), timeout=10)
    assert got.status_code == 200
    assert got.content.startswith(PNG)
    no_traceback(page)


def test_reuse_settings_fills_the_form(page, image_run):
    tab(page, "Create").click()
    pick_model(page, "Imagen 4 · Flow image")
    type_prompt(page, "something else entirely")
    tab(page, "Gallery").click()
    page.locator("#gallery-grid button.thumbnail-item").first.click()
    expect(page.locator("#detail")).to_contain_text(image_run["prompt"])
    expect(page.locator("#reuse")).to_be_enabled()
    page.locator("#reuse").click()
    expect(tab(page, "Create")).to_have_attribute("aria-selected", "true")
    expect(box(page, "prompt")).to_have_value(image_run["prompt"])
    expect(page.locator("#model input")).to_have_value("Nano Banana 2 · Flow image")
    expect(page.locator("#create-message")).to_contain_text("Settings copied")


def test_video_completes_with_a_player(page):
    prompt = f"waves at dusk {uuid.uuid4().hex[:6]}"
    tab(page, "Create").click()
    pick_model(page, "VEO 2 Fast · Flow video")
    type_prompt(page, prompt)
    page.wait_for_timeout(500)
    box(page, "prompt").press("Control+Enter")  # the keyboard shortcut for Generate
    done = card(page, prompt)
    expect(done).to_have_class(re.compile(r"\bgv-completed\b"), timeout=60_000)
    expect(done.locator("video")).to_be_attached()
    assert "veo2_fast" in done.inner_text()


def test_gallery_switches_between_results(page, image_run):
    tab(page, "Gallery").click()
    expect(page.locator("#gallery-page")).to_contain_text("2 jobs")
    thumbs = page.locator("#gallery-grid button.thumbnail-item")
    detail = page.locator("#detail")
    thumbs.nth(1).click()  # older: the image
    expect(detail.locator("img.gv-large")).to_be_visible()
    expect(detail).to_contain_text(image_run["prompt"])
    thumbs.nth(0).click()  # newest: the video
    expect(detail.locator("video.gv-large")).to_be_attached()
    expect(detail).not_to_contain_text(image_run["prompt"])
    expect(detail.locator("table.gv-facts")).to_contain_text("veo2_fast")
    href = detail.locator("a.gv-download").first.get_attribute("href")
    assert requests.get(href, timeout=10).status_code == 200


def test_validation_errors_in_plain_words(page, tmp_path):
    tab(page, "Create").click()
    pick_model(page, "Imagen 4 · Flow image")
    type_prompt(page, "   ")
    page.locator("#run").click()
    message = page.locator("#create-message")
    expect(message).to_contain_text("Prompt:")

    fake = tmp_path / "holiday.png"
    fake.write_text("this is a text file, not a picture")
    page.locator("#refs input[type=file]").set_input_files(str(fake))
    expect(page.locator("#refs")).to_contain_text("holiday.png")
    type_prompt(page, "a cat wearing a hat")
    page.locator("#run").click()
    expect(message).to_contain_text("Reference images:")
    no_traceback(page)
    assert not any("rror" in text for text in page.locator(".toast-body").all_inner_texts())


# --- cancelling, expiry, isolation --------------------------------------------------------

def test_cancel_a_queued_job_refunds(browser, idle_app):
    user = idle_app.user(plan="pro")
    page = signed_in_page(browser, idle_app, user)
    try:
        before = credits(page)
        prompt = f"a queued teapot {uuid.uuid4().hex[:6]}"
        type_prompt(page, prompt)
        page.locator("#run").click()
        queued = card(page, prompt)
        expect(queued).to_have_class(re.compile(r"\bgv-queued\b"))
        expect(page.locator("#credits")).to_contain_text(f"{before - 1} credits left")
        queued.locator("button.gv-cancel").click()
        expect(queued).to_have_class(re.compile(r"\bgv-cancelled\b"))
        expect(queued).to_contain_text("Cancelled")
        expect(page.locator("#credits")).to_contain_text(f"{before} credits left")
        expect(page.locator("#create-message")).to_contain_text("cancelled")
    finally:
        close(page)


def test_revoked_key_sends_back_to_sign_in(browser, app):
    user = app.user(plan="pro")
    auth = {"Authorization": f"Bearer {user.access_token}"}
    made = requests.post(f"{app.url}/api/keys", json={"name": "studio"}, headers=auth,
                         timeout=10).json()
    page = new_page(browser)
    try:
        open_studio(page, app)
        tab(page, "Use an API key").click()
        box(page, "apikey-input").fill(made["key"])
        page.locator("#apikey-go").click()
        expect(page.locator("#account-line")).to_contain_text(user.email)
        gone = requests.delete(f"{app.url}/api/keys/{made['id']}", headers=auth, timeout=10)
        assert gone.status_code in (200, 204)
        page.reload()
        expect(page.locator("#signin")).to_be_visible()
        expect(page.locator("#signin-message")).to_contain_text("Sign in again")
        expect(page.locator("#main")).to_be_hidden()
        no_traceback(page)
    finally:
        close(page)


def test_two_users_see_only_their_own_jobs(browser, app):
    first, second = app.user(plan="pro"), app.user(plan="pro")
    pages = [signed_in_page(browser, app, first), signed_in_page(browser, app, second)]
    prompts = [f"only mine alpha {uuid.uuid4().hex[:6]}", f"only mine beta {uuid.uuid4().hex[:6]}"]
    try:
        for page, prompt in zip(pages, prompts, strict=True):
            type_prompt(page, prompt)
            page.locator("#run").click()
        for page, prompt in zip(pages, prompts, strict=True):
            expect(card(page, prompt)).to_have_class(re.compile(r"\bgv-completed\b"))
        for page, mine, theirs in ((pages[0], *prompts), (pages[1], *reversed(prompts))):
            assert theirs not in page.locator("#queue").inner_text()
            tab(page, "Gallery").click()
            expect(page.locator("#gallery-grid")).to_contain_text(mine[:40])
            expect(page.locator("#gallery-page")).to_contain_text("1 jobs")
            assert theirs[:40] not in page.locator("#gallery-grid").inner_text()
    finally:
        for page in pages:
            close(page)


# --- layout ----------------------------------------------------------------------------------

def test_narrow_screen_fits(browser, app, pro, image_run):
    page = signed_in_page(browser, app, pro, width=390)

    def fits(where: str, *elem_ids: str) -> None:
        page.screenshot(path=f"/tmp/studio-test-narrow-{where}.png", full_page=True)
        wide = page.evaluate("document.documentElement.scrollWidth")
        assert wide <= 390, f"{where}: the page scrolls sideways ({wide} px wide)"
        for elem_id in elem_ids:
            shape = page.locator(f"#{elem_id}").bounding_box()
            assert shape["x"] >= 0 and shape["x"] + shape["width"] <= 390, elem_id

    try:
        expect(card(page, image_run["prompt"]).locator("img.gv-thumb")).to_be_visible()
        line = page.locator("#account-line")
        assert line.bounding_box()["width"] > 300, "the account line is squeezed"
        fits("create", "prompt", "run", "queue", "signout", "account-line")
        tab(page, "Gallery").click()
        page.locator("#gallery-grid button.thumbnail-item").first.click()
        expect(page.locator("#detail img.gv-large, #detail video").first).to_be_visible()
        fits("gallery", "gallery-grid", "detail", "reuse")
        tab(page, "Account").click()
        expect(page.locator("#profile")).to_contain_text(pro.email)
        fits("account", "profile", "key-create")
    finally:
        close(page)


# --- without the studio --------------------------------------------------------------------

def _studio_children(pid: int) -> list[psutil.Process]:
    found = []
    for child in psutil.Process(pid).children(recursive=True):
        try:
            cmdline = child.cmdline()
        except psutil.NoSuchProcess:
            continue
        if "-m" in cmdline and "ui" in cmdline:
            found.append(child)
    return found


def test_studio_process_runs_with_the_app(app):
    assert _studio_children(app.process.proc.pid)


def test_without_the_studio(tmp_path):
    with live_app(tmp_path, workers=0) as bare:  # GENOVA_STUDIO=0 is the tests' default
        home = requests.get(f"{bare.url}/", allow_redirects=False, timeout=10)
        assert home.status_code in (301, 302, 303, 307, 308)
        assert home.headers["Location"].endswith("/api/docs")
        studio = requests.get(f"{bare.url}/studio/", timeout=10)
        assert studio.status_code == 503
        assert studio.headers["Content-Type"].startswith("application/json")
        assert studio.json()
        time.sleep(1)  # long enough for a studio that was going to start to show up
        assert not _studio_children(bare.process.proc.pid)
