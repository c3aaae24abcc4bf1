"""Teach it your handwriting, in a browser as a person would: add drawings from a drawings
file, draw and correct a reading, teach a model of your own, read with it; another
browser never sees any of it."""

from __future__ import annotations

import uuid

import numpy as np
import pytest
from playwright.sync_api import expect

from mnist_core.sources.data import load_mnist
from mnist_core.sources.drawings_file import drawings_to_bytes, make_drawings
from tests.conftest import SUBSET_DIR

from .conftest import DESKTOP
from .helpers import (
    APP_RUN_TIMEOUT,
    ONE,
    PREDICTION_TIMEOUT,
    app_idle,
    draw_with_mouse,
    expect_probability_bars,
    open_page,
    pad,
)

pytestmark = pytest.mark.e2e

TEACH_TIMEOUT = 240_000  # ms: a job's process imports TensorFlow, fits, calibrates, exports
ZIGZAG = [(70, 80), (120, 200), (160, 80), (200, 200), (230, 90)]  # no digit at all


def two_of_each_digit() -> bytes:
    """A drawings file: two MNIST training digits of each digit, at the pad's size."""
    (x_train, y_train), _ = load_mnist(SUBSET_DIR)
    chosen = [i for d in range(10) for i in np.flatnonzero(y_train == d)[:2]]
    pads = [np.kron(x_train[i], np.ones((10, 10), np.uint8)) for i in chosen]
    return drawings_to_bytes(make_drawings(pads, [int(y_train[i]) for i in chosen]))


def new_visitor(browser):
    """A browser of its own (its own cookies: its own visitor) and a tab in it."""
    context = browser.new_context(**DESKTOP)
    context.set_default_timeout(30_000)
    return context, context.new_page()


def test_keep_correct_teach_and_read_again(browser, app_url, screenshots):
    context, page = new_visitor(browser)
    name = f"mine-{uuid.uuid4().hex[:6]}"

    # 1. My drawings: none yet; add twenty from a drawings file
    open_page(page, f"{app_url}/Drawings", page.get_by_role("heading", name="My drawings"))
    expect(page.get_by_text("You have no kept drawings yet")).to_be_visible()
    page.get_by_test_id("stFileUploaderDropzoneInput").set_input_files(files=[{
        "name": "digits.npz", "mimeType": "application/octet-stream",
        "buffer": two_of_each_digit()}])
    expect(page.get_by_text("Kept 20 drawings from digits.npz")).to_be_visible(
        timeout=APP_RUN_TIMEOUT)
    app_idle(page)

    # 2. Draw: a zigzag, corrected to "not a digit"; a 1, kept as read
    open_page(page, app_url, pad(page))
    draw_with_mouse(page, ZIGZAG)
    wrong = page.get_by_text("Wrong? It was a …")
    expect(wrong).to_be_visible(timeout=PREDICTION_TIMEOUT)
    app_idle(page)
    page.get_by_role("radio", name="not a digit", exact=True).click()
    expect(page.get_by_text("Kept as not a digit")).to_be_visible(timeout=PREDICTION_TIMEOUT)
    app_idle(page)
    page.get_by_role("button", name="Clear").click()
    expect(page.get_by_text("Draw a digit in the black box")).to_be_visible(
        timeout=PREDICTION_TIMEOUT)
    app_idle(page)
    draw_with_mouse(page, ONE)
    keep = page.get_by_role("button", name="Right — keep it as 1")
    expect(keep).to_be_visible(timeout=PREDICTION_TIMEOUT)
    expect(page.get_by_text("Read with your 21 kept drawings in mind")).to_be_visible()
    app_idle(page)
    keep.click()
    expect(page.get_by_text("Kept as 1")).to_be_visible(timeout=PREDICTION_TIMEOUT)
    app_idle(page)

    # 3. Train: teach it those 22 drawings
    open_page(page, f"{app_url}/Train", page.get_by_role("tab", name="Teach it my drawings"))
    page.get_by_role("tab", name="Teach it my drawings").click()
    expect(page.get_by_text("Your drawings (22)")).to_be_visible()
    name_box = page.get_by_role("textbox", name="New model name").last
    name_box.fill(name)
    name_box.press("Enter")
    app_idle(page)
    page.get_by_role("button", name="Teach it my drawings").click()
    expect(page.get_by_role("heading", name=name)).to_be_visible(timeout=APP_RUN_TIMEOUT)
    saved = page.get_by_test_id("stAlertContentSuccess").filter(has_text="Saved model")
    expect(saved).to_be_visible(timeout=TEACH_TIMEOUT)
    table = page.get_by_test_id("stTable")
    expect(table).to_contain_text("Your drawings it did not fit")
    expect(table).to_contain_text(name)
    page.screenshot(path=str(screenshots / "teach-finished.png"), full_page=True)

    # 4. Try it: the Draw page with the taught model reads a 1
    page.get_by_role("link", name=f"Try {name} on the Draw page").click()
    expect(pad(page)).to_be_visible(timeout=APP_RUN_TIMEOUT)
    expect(page.get_by_role("combobox", name="Model")).to_have_value(f"{name} (yours)")
    app_idle(page)
    draw_with_mouse(page, ONE)
    expect(page.get_by_text("Read with your 22 kept drawings in mind")).to_be_visible(
        timeout=PREDICTION_TIMEOUT)
    expect_probability_bars(page)
    context.close()

    # 5. Another browser: none of it
    other, stranger = new_visitor(browser)
    open_page(stranger, f"{app_url}/Drawings",
              stranger.get_by_role("heading", name="My drawings"))
    expect(stranger.get_by_text("You have no kept drawings yet")).to_be_visible()
    open_page(stranger, app_url, pad(stranger))
    draw_with_mouse(stranger, ONE)
    expect(stranger.get_by_text("Right — keep it as 1")).to_be_visible(
        timeout=PREDICTION_TIMEOUT)
    expect(stranger.get_by_text("kept drawings in mind")).to_have_count(0)
    other.close()
