"""Who owns what, in real browsers: a visitor's runs and models belong to their
browser (a cookie the server sets), not to whoever holds the address, and a personal
code moves them to another browser on purpose.

Visitor A starts a long run on the Train page and has a model of their own (a shipped
model's file with a card naming A, written into the trained store as training would).
Each browser context is a separate browser: its own cookies.
"""

from __future__ import annotations

import json
import re
import shutil
import uuid

import pytest
from playwright.sync_api import BrowserContext, Page, expect

from app_ui.owner_cookie import COOKIE

from .helpers import app_idle, open_page, queue_quick_run, screenshot

pytestmark = pytest.mark.e2e


def owner_cookie(context: BrowserContext) -> str:
    """The owner id the server gave this browser, as the browser keeps it."""
    (cookie,) = [c for c in context.cookies() if c["name"] == COOKIE]
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax" and cookie["expires"] > 0
    return cookie["value"]


def urls_made(page: Page) -> list[str]:
    """The page's address and every link of its sidebar."""
    links = page.get_by_test_id("stSidebar").get_by_role("link")
    return [page.url] + [links.nth(i).get_attribute("href") for i in range(links.count())]


def models_page(page: Page, url: str, model: str) -> None:
    """Open the Models page at `url` and pick `model`."""
    picker = page.get_by_role("combobox", name="Model")
    open_page(page, url, picker)
    picker.click()
    picker.press_sequentially(model)  # the list is long: narrow it down as a person would
    page.get_by_role("option", name=model, exact=True).click()
    app_idle(page)


def test_runs_and_models_belong_to_the_browser_and_move_only_with_the_code(
    browser, app_url, models_store, trained_store, screenshots
):
    from .conftest import DESKTOP, _new_page

    tag = uuid.uuid4().hex[:6]
    run, model = f"e2e-owned-run-{tag}", f"e2e-owned-{tag}"
    a_context, a = _new_page(browser, DESKTOP)
    friend_context, friend = _new_page(browser, DESKTOP)
    seen: list[str] = []
    try:
        # A starts a long run; the server gave A's browser an owner id
        queue_quick_run(a, app_url, run, longest=True)
        a.get_by_role("button", name="Start training").click()
        expect(a.get_by_role("heading", name=run)).to_be_visible()
        expect(a.get_by_role("button", name="Stop")).to_have_count(1)
        owner = owner_cookie(a_context)
        shutil.copy(models_store / "mlp-16-16-relu.keras", trained_store / f"{model}.keras")
        (trained_store / f"{model}.json").write_text(json.dumps({"owner": owner}))
        seen += urls_made(a)
        a_address = a.url

        # A's address, opened in another browser, gives nothing of A's
        open_page(friend, a_address, friend.get_by_role("button", name="Start training"))
        seen += urls_made(friend)
        expect(friend.get_by_role("heading", name=run)).to_have_count(0)
        expect(friend.get_by_role("button", name="Stop")).to_have_count(0)
        models_page(friend, f"{app_url}/Models", model)
        expect(friend.get_by_text(f"'{model}' was trained by someone else")).to_be_visible()
        expect(friend.get_by_role("button", name="Delete")).to_have_count(0)
        # nor does an old address with the owner id in it: it is dropped from the address
        open_page(friend, f"{app_url}/Train?owner={owner}",
                  friend.get_by_role("button", name="Start training"))
        expect(friend).not_to_have_url(re.compile("owner="))
        seen += urls_made(friend)
        expect(friend.get_by_role("button", name="Stop")).to_have_count(0)
        assert owner_cookie(friend_context) != owner

        # A opens the plain address again, in a new tab of the same browser: all still A's
        a.close()
        a = a_context.new_page()
        open_page(a, app_url, a.get_by_test_id("stSidebar"))
        a.get_by_test_id("stSidebar").get_by_role("link", name="Train").click()
        expect(a.get_by_role("heading", name=run)).to_be_visible(timeout=60_000)
        expect(a.get_by_role("button", name="Stop")).to_have_count(1)
        seen += urls_made(a)
        models_page(a, f"{app_url}/Models", model)
        expect(a.get_by_role("button", name="Delete")).to_have_count(1)
        seen += urls_made(a)

        # A's personal code, shown to A on the Models page
        a.get_by_text("Your identity").click()
        code = a.get_by_test_id("stCode").inner_text().strip()
        assert len(code) == 19, code
        screenshot(a, screenshots / "models-identity.png")

        # in the other browser, a wrong code is refused and A's code takes A's identity
        models_page(friend, f"{app_url}/Models", model)
        friend.get_by_text("Your identity").click()
        box = friend.get_by_role("textbox", name="A personal code from your other browser")
        box.fill("0000-0000-0000-0000")
        box.press("Enter")
        app_idle(friend)
        friend.get_by_role("button", name="Take this identity").click()
        expect(friend.get_by_text("That code was refused: no identity has the code")
               ).to_be_visible()
        box.fill(code)
        box.press("Enter")
        app_idle(friend)
        friend.get_by_role("button", name="Take this identity").click()
        expect(friend.get_by_text("now has the runs and models of that identity")
               ).to_be_visible()
        expect(friend.get_by_role("button", name="Delete")).to_have_count(1)
        seen += urls_made(friend)
        # ... and keeps it on a fresh page load, on every page
        open_page(friend, f"{app_url}/Train", friend.get_by_role("heading", name=run))
        expect(friend.get_by_role("button", name="Stop")).to_have_count(1)
        seen += urls_made(friend)

        # no address or link the app made carries the owner id
        assert seen and all(owner not in url and "owner=" not in url for url in seen), seen

        # the other browser, now A, may stop A's run (and frees the worker for other tests)
        friend.get_by_role("button", name="Stop").click()
        expect(friend.get_by_role("button", name="Stop")).to_have_count(0, timeout=60_000)
    finally:
        a_context.close()
        friend_context.close()


def test_a_browser_that_refuses_cookies_works_for_the_tab_and_says_so(
    browser, app_url, tmp_path
):
    from .conftest import CHROMIUM, CHROMIUM_ARGS

    # Chromium's own setting "Don't allow sites to save data", in a fresh profile
    profile = tmp_path / "profile"
    (profile / "Default").mkdir(parents=True)
    (profile / "Default" / "Preferences").write_text(json.dumps(
        {"profile": {"default_content_setting_values": {"cookies": 2}}}))
    context = browser.browser_type.launch_persistent_context(
        str(profile), executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
    try:
        page = context.new_page()
        open_page(page, f"{app_url}/Train", page.get_by_role("button", name="Start training"))
        assert not [c for c in context.cookies() if c["name"] == COOKIE]
        expect(page.get_by_test_id("stSidebar").get_by_text(
            "your runs and models are yours only while this tab is open")).to_be_visible()
        assert "refused the app's cookie" in page.get_by_test_id("stSidebar").inner_text()
    finally:
        context.close()
