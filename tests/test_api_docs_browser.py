"""``/api/docs`` in a real browser (Debian's Chromium): every operation renders from the
OpenAPI 3.1 document, and "Try it out" works with an API key."""

from __future__ import annotations

import os

import pytest
import requests
from playwright import sync_api

from tests.procs import running_app

pytestmark = pytest.mark.e2e  # starts processes (app, workers, Redis, browser...)

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]


def test_the_reference_renders_every_operation_and_calls_the_api(tmp_path):
    if not os.path.exists(CHROMIUM):
        pytest.fail("needs Debian's Chromium at /usr/bin/chromium (apt-get install chromium)")
    with running_app(tmp_path / "var") as app, sync_api.sync_playwright() as p:
        spec = app.get("/api/openapi.json").json()
        operations = sum(len(methods) for methods in spec["paths"].values())
        tokens = app.post("/api/auth/register", json={"email": "docs@example.com",
                                                       "password": "long-password"}).json()
        key = requests.post(app.url + "/api/keys", json={"name": "docs"}, timeout=10, headers={
            "Authorization": f"Bearer {tokens['accessToken']}"}).json()["key"]
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page(viewport={"width": 1366, "height": 900})
        page.goto(app.url + "/api/docs")
        page.locator(".opblock").first.wait_for()
        assert page.locator(".opblock").count() == operations
        assert page.locator(".errors-wrapper").count() == 0  # "Unable to render" before
        page.get_by_role("button", name="Authorize").first.click()
        page.locator(".modal-ux input").first.fill(key)  # the first scheme: X-API-Key
        page.locator(".modal-ux .auth-btn-wrapper button.authorize").first.click()
        page.locator(".modal-ux button.btn-done").first.click()
        me = page.locator("#operations-user-users_me")
        me.locator(".opblock-summary").click()
        me.get_by_role("button", name="Try it out").click()
        me.get_by_role("button", name="Execute").click()
        status = me.locator(".live-responses-table tbody .response-col_status").first
        sync_api.expect(status).to_have_text("200", timeout=15_000)
        sync_api.expect(me.locator(".live-responses-table")).to_contain_text("docs@example.com")
        browser.close()
