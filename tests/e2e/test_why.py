"""'Why did it say that?' in a browser: a person draws a digit, opens the section and sees
where the model looked, what its layers saw and the training digits most like theirs; on
a phone the pictures fit the screen."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from mnist_core.store import layers

from .helpers import (
    PREDICTION_TIMEOUT,
    SEVEN,
    draw_with_finger,
    draw_with_mouse,
    expect_prediction,
    horizontal_overflow,
    open_page,
    pad,
    screenshot,
)

pytestmark = pytest.mark.e2e


def open_why(page: Page) -> None:
    page.get_by_text("Why did it say that?").click()
    expect(page.get_by_text("Where it looked")).to_be_visible(timeout=PREDICTION_TIMEOUT)


def captions(page: Page) -> list[str]:
    return page.locator('[data-testid="stImageCaption"]').all_inner_texts()


def test_why_shows_the_map_the_layers_and_the_nearest_training_digits(page, app_url,
                                                                       models_store,
                                                                       screenshots):
    open_page(page, app_url, pad(page))
    draw_with_mouse(page, SEVEN)
    expect_prediction(page, 7)
    expect(page.get_by_text("Where it looked")).to_have_count(0)  # closed at first

    open_why(page)
    expect(page.get_by_text("Over what the model saw")).to_be_visible()
    expect(page.get_by_text("Over your drawing")).to_be_visible()
    expect(page.get_by_text("What its layers saw")).to_be_visible()
    graph = layers.open_layers(None, models_store)  # the default's first run
    for layer in graph.layers:
        shape = " × ".join(map(str, layer.shape))
        expect(page.get_by_text(f"{layer.name} · {shape}", exact=True)).to_be_visible()
    expect(page.get_by_text("Training digits most like yours")).to_be_visible()
    expect(page.get_by_text("digits nearest yours")).to_be_visible()
    nearest = [c for c in captions(page) if "MNIST train #" in c or "pen writer" in c]
    assert len(nearest) == 8, captions(page)
    assert sum(c.startswith("7 ·") for c in nearest) >= 5, nearest  # among 7s
    # every picture drawn, none broken
    loaded = page.evaluate("() => [...document.querySelectorAll('[data-testid=stImage] img')]"
                           ".every(img => img.complete && img.naturalWidth > 0)")
    assert loaded
    screenshot(page, screenshots / "why-desktop-7.png")


def test_why_fits_a_phone(phone_page, app_url, screenshots):
    open_page(phone_page, app_url, pad(phone_page))
    draw_with_finger(phone_page, SEVEN)
    expect_prediction(phone_page, 7)
    open_why(phone_page)
    expect(phone_page.get_by_text("digits nearest yours")).to_be_visible()
    assert horizontal_overflow(phone_page) == 0
    width = phone_page.viewport_size["width"]
    for box in (image.bounding_box() for image in
                phone_page.locator('[data-testid="stImage"] img').all()):
        assert box["x"] >= 0 and box["x"] + box["width"] <= width + 1, box
    screenshot(phone_page, screenshots / "why-phone-7.png")
