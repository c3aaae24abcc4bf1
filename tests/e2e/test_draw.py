"""The Draw page in a desktop browser: draw digits with the mouse as a person would."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from .helpers import (
    APP_RUN_TIMEOUT,
    BARS,
    ONE,
    PAD,
    PREDICTION_TIMEOUT,
    SEVEN,
    ZERO,
    app_idle,
    draw_with_mouse,
    expect_prediction,
    open_page,
    pad,
    scaled,
    screenshot,
)

pytestmark = pytest.mark.e2e

PROMPT = "Draw a digit in the black box to see what the model thinks it is."


@pytest.fixture
def draw_page(page, app_url):
    """The Draw page, loaded, with an empty pad and the prompt to draw."""
    open_page(page, app_url, pad(page))
    expect(page.get_by_text(PROMPT)).to_be_visible()
    return page


@pytest.mark.parametrize(
    ("stroke", "digit"), [(ONE, 1), (SEVEN, 7), (ZERO, 0)], ids=["one", "seven", "zero"]
)
def test_a_big_digit_is_read(draw_page, stroke, digit, screenshots):
    draw_with_mouse(draw_page, stroke)

    expect_prediction(draw_page, digit)
    expect(draw_page.get_by_text(PROMPT)).to_have_count(0)
    screenshot(draw_page, screenshots / f"draw-desktop-{digit}.png")


def test_the_first_drawing_in_a_fresh_tab_waits_for_no_code(page, app_url):
    """Drawn the moment the pad shows, the tab's first reading fetches no JavaScript:
    the code of what it shows (the Prediction, what the model sees) came meanwhile."""
    fetched = []
    page.on("request", lambda request: fetched.append(request.url))
    page.goto(app_url)
    expect(pad(page)).to_be_visible(timeout=APP_RUN_TIMEOUT)
    draw_with_mouse(page, SEVEN)
    lifted = len(fetched)

    expect_prediction(page, 7)
    late = [url for url in fetched[lifted:] if url.split("?")[0].endswith(".js")]
    assert not late, f"the tab's first reading waited for {late}"
    expect(page.get_by_test_id("stImage").first).to_be_visible()


def test_clear_empties_the_pad(draw_page):
    draw_with_mouse(draw_page, SEVEN)
    expect_prediction(draw_page, 7)

    draw_page.get_by_role("button", name="Clear").click()

    expect(draw_page.get_by_test_id("stMetric")).to_have_count(0, timeout=PREDICTION_TIMEOUT)
    expect(draw_page.get_by_text(PROMPT)).to_be_visible(timeout=PREDICTION_TIMEOUT)
    expect(draw_page.locator(BARS)).to_have_count(0)
    app_idle(draw_page)

    # the new pad takes a new drawing, read on the same fixed 0-100% axis
    draw_with_mouse(draw_page, ONE)
    expect_prediction(draw_page, 1)


def test_a_tap_on_the_pad_is_a_dot_not_a_zero(draw_page):
    draw_with_mouse(draw_page, [(140, 140), (141, 141)])  # a tap, a pixel of jitter

    expect(draw_page.get_by_text("only a dot")).to_be_visible(timeout=PREDICTION_TIMEOUT)
    expect(draw_page.get_by_test_id("stMetric")).to_have_count(0)
    app_idle(draw_page)
    draw_with_mouse(draw_page, ONE)  # drawn on, the dot is part of the drawing
    expect_prediction(draw_page, 1)


def test_small_digits_off_centre_are_read(draw_page):
    """A 65 px digit in a corner is cropped, scaled and centred like MNIST."""
    corners = [
        (SEVEN, 7, (16, 16)),  # top left
        (ONE, 1, (PAD - 60, PAD - 16 - 65)),  # bottom right
    ]
    for stroke, digit, top_left in corners:
        draw_with_mouse(draw_page, scaled(stroke, 65, top_left))
        expect_prediction(draw_page, digit)
        draw_page.get_by_role("button", name="Clear").click()
        expect(draw_page.get_by_text(PROMPT)).to_be_visible(timeout=PREDICTION_TIMEOUT)
        app_idle(draw_page)



def test_the_trash_icon_empties_the_pad_as_clear_does(draw_page):
    draw_with_mouse(draw_page, SEVEN)
    expect_prediction(draw_page, 7)

    # the pad's own toolbar, shown on hover above it: its last button wipes the pad
    pad(draw_page).hover()
    draw_page.locator('[data-testid="stBidiComponentIsolated"] .dc-toolbar-card button'
                      ).last.click()

    expect(draw_page.get_by_test_id("stMetric")).to_have_count(0, timeout=PREDICTION_TIMEOUT)
    expect(draw_page.get_by_text(PROMPT)).to_be_visible(timeout=PREDICTION_TIMEOUT)
    expect(draw_page.get_by_text("Nothing to read")).to_have_count(0)


def digit_png() -> bytes:
    """A 7 in black ink on a white page, as a photo of one would be after cropping."""
    import cv2
    import numpy as np

    page = np.full((200, 200), 255, np.uint8)
    cv2.polylines(page, [np.array([(50, 40), (150, 40), (90, 170)])], False, 0, 14)
    return cv2.imencode(".png", page)[1].tobytes()


def test_a_file_of_a_type_not_allowed_replaces_the_one_before(page, app_url):
    open_page(page, app_url, pad(page))
    page.get_by_text("Upload a photo").click()
    chooser = page.get_by_test_id("stFileUploaderDropzoneInput")
    expect(chooser).to_have_count(1)
    app_idle(page)
    chooser.set_input_files(files=[{"name": "seven.png", "mimeType": "image/png",
                                    "buffer": digit_png()}])
    expect(page.get_by_text("seven.png").last).to_be_visible(timeout=PREDICTION_TIMEOUT)
    expect(page.locator(BARS)).to_have_count(1, timeout=PREDICTION_TIMEOUT)
    app_idle(page)

    chooser.set_input_files(files=[{"name": "notes.txt", "mimeType": "text/plain",
                                    "buffer": b"seven"}])

    # the text file is refused in words that name it, and nothing of seven.png stays
    expect(page.get_by_test_id("stAlert").filter(has_text="notes.txt")).to_be_visible(
        timeout=PREDICTION_TIMEOUT)
    app_idle(page)
    expect(page.get_by_text("seven.png")).to_have_count(0)
    expect(page.get_by_test_id("stImage")).to_have_count(0)
    expect(page.locator(BARS)).to_have_count(0)
    expect(page.get_by_test_id("stMetric")).to_have_count(0)
