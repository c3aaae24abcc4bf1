"""Every page on a phone (390x844, touch): nothing wider than the screen; draw with a finger."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from .helpers import (
    BARS,
    PAD,
    SEVEN,
    draw_with_finger,
    expect_prediction,
    horizontal_overflow,
    open_page,
    pad,
    screenshot,
)

pytestmark = pytest.mark.e2e

PAGES = {
    "draw": ("", '[data-testid="stBidiComponentIsolated"]'),
    "train": ("/Train", '[data-testid="stButton"]:has-text("Start training")'),
    "evaluate": ("/Evaluate", '[data-testid="stPlotlyChart"]:has(.heatmaplayer)'),
    "models": ("/Models", '[data-testid="stDataFrame"]'),
}


@pytest.mark.parametrize("name", list(PAGES))
def test_page_fits_a_phone_screen(phone_page, app_url, name, screenshots):
    path, ready = PAGES[name]
    open_page(phone_page, app_url + path, phone_page.locator(ready).first)

    assert horizontal_overflow(phone_page) == 0, (
        f"the {name} page is {horizontal_overflow(phone_page)} px wider than a 390 px phone"
    )
    screenshot(phone_page, screenshots / f"{name}-phone.png")


def test_draw_with_a_finger(phone_page, app_url, screenshots):
    canvas = pad(phone_page)
    open_page(phone_page, app_url, canvas)
    box = canvas.bounding_box()
    width = phone_page.viewport_size["width"]
    assert box["width"] == pytest.approx(PAD, abs=1), "the pad should keep its 280 px"
    assert box["x"] >= 0 and box["x"] + box["width"] <= width, "the pad sticks out of the screen"

    draw_with_finger(phone_page, SEVEN)

    expect_prediction(phone_page, 7)
    # the bars are on the first screen, under the pad, while drawing: no scrolling
    bars = phone_page.locator(BARS).first.bounding_box()
    height = phone_page.viewport_size["height"]
    assert bars["y"] > box["y"] + box["height"], "the bars should follow the pad"
    assert bars["y"] + bars["height"] <= height, (
        f"the bars end {bars['y'] + bars['height']:.0f} px down a {height} px screen"
    )
    expect(phone_page.get_by_test_id("stImage").first).to_be_visible()
    assert horizontal_overflow(phone_page) == 0
    screenshot(phone_page, screenshots / "draw-phone-7.png")
