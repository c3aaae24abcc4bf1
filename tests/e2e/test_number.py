"""Number mode in a desktop browser: write a three-digit number with the mouse."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from mnist_core.reading.segment import NARROW_NUMBER_PAD, NUMBER_PAD

from .helpers import (
    BAR,
    BARS,
    ONE,
    PREDICTION_TIMEOUT,
    SEVEN,
    ZERO,
    app_idle,
    draw_with_finger,
    draw_with_mouse,
    horizontal_overflow,
    open_page,
    pad,
    reading,
    scaled,
    screenshot,
)

pytestmark = pytest.mark.e2e


def expect_number(page, number: str):
    """The page reads `number`; returns its metric."""
    metric = page.get_by_test_id("stMetric")
    try:
        expect(metric.get_by_test_id("stMetricLabel")).to_contain_text(
            "Number", timeout=PREDICTION_TIMEOUT
        )
        expect(metric.get_by_test_id("stMetricValue")).to_have_text(
            number, timeout=PREDICTION_TIMEOUT
        )
    except AssertionError as err:
        raise AssertionError(f"expected {number}; the page says: {reading(page)}") from err
    return metric


def test_write_a_three_digit_number_with_the_mouse(page, app_url, screenshots):
    open_page(page, app_url, pad(page))
    page.get_by_text("Write a number").click()
    expect(page.get_by_text("Write a number, digit after digit, in the black box.")
           ).to_be_visible()
    height, width = NUMBER_PAD
    box = pad(page).bounding_box()
    assert box["width"] == pytest.approx(width, abs=1) and box["height"] == pytest.approx(
        height, abs=1
    ), "the number pad should be 720x240 px"

    # 1, 7, 0 about 170 px tall with a gap between digits, as a person writes 170
    for stroke, left in ((ONE, 110), (SEVEN, 250), (ZERO, 440)):
        draw_with_mouse(page, scaled(stroke, 170, (left, 35)), NUMBER_PAD)
        app_idle(page)

    metric = expect_number(page, "170")
    strips = page.locator(BARS)
    expect(strips).to_have_count(3)  # one strip of ten bars per digit, titled as read
    expect(strips.locator(BAR)).to_have_count(30)
    expect(strips).to_have_text([re.compile(rf"^{d}") for d in "170"])
    expect(page.get_by_test_id("stImage").first).to_be_visible()
    screenshot(page, screenshots / "number-desktop-170.png")

    page.get_by_role("button", name="Clear").click()
    expect(metric).to_have_count(0, timeout=PREDICTION_TIMEOUT)


def test_the_number_and_its_bars_are_in_view_right_after_writing(browser, app_url):
    """In a 1280x900 window the number read and its bars show under the pad, where the
    eyes are while writing: no scrolling down to them."""
    from .conftest import DESKTOP, _new_page

    context, page = _new_page(browser, DESKTOP | {"viewport": {"width": 1280, "height": 900}})
    try:
        open_page(page, app_url, pad(page))
        page.get_by_text("Write a number").click()
        expect(page.get_by_text("Write a number, digit after digit, in the black box.")
               ).to_be_visible()
        app_idle(page)
        for stroke, left in ((ONE, 110), (SEVEN, 250), (ZERO, 440)):
            draw_with_mouse(page, scaled(stroke, 170, (left, 35)), NUMBER_PAD)
            app_idle(page)

        metric = expect_number(page, "170")
        expect(page.locator(BARS)).to_have_count(3)
        app_idle(page)
        number, bars = metric.bounding_box(), page.locator(BARS).first.bounding_box()
        assert number["y"] >= 0 and number["y"] + number["height"] <= 900, (
            f"the number read is at {number['y']:.0f}-{number['y'] + number['height']:.0f} px"
        )
        assert 0 <= bars["y"] < 900, f"the bars start {bars['y']:.0f} px down a 900 px window"
        assert bars["y"] + bars["height"] <= 900, (
            f"the first row of bars ends {bars['y'] + bars['height']:.0f} px down a 900 px window"
        )
    finally:
        context.close()


def test_the_number_pad_fits_a_phone_turned_sideways(browser, app_url, screenshots):
    from .conftest import PHONE, _new_page

    landscape = PHONE | {"viewport": {"width": 844, "height": 390}}
    context, phone = _new_page(browser, landscape)
    try:
        open_page(phone, app_url, pad(phone))
        phone.get_by_text("Write a number").click()
        expect(phone.get_by_text("Write a number, digit after digit, in the black box.")
               ).to_be_visible()
        app_idle(phone)
        # a phone starts on the narrow pad: turned sideways, a person switches to the wide
        narrow = phone.get_by_role("switch", name="Narrow pad")
        expect(narrow).to_be_checked()
        phone.get_by_text("Narrow pad").click()
        expect(narrow).not_to_be_checked()
        app_idle(phone)
        # the sidebar stays open at this width: a person closes it to write
        phone.get_by_test_id("stSidebar").hover()
        phone.get_by_test_id("stSidebarCollapseButton").get_by_role("button").click()
        for _ in range(100):  # while the wide pad replaces the narrow and the sidebar goes
            box = pad(phone).bounding_box()
            if box is not None and box["x"] < 100 and box["width"] > NUMBER_PAD[1] - 2:
                break
            phone.wait_for_timeout(100)
        assert box["width"] == pytest.approx(NUMBER_PAD[1], abs=1)
        assert box["x"] >= 0 and box["x"] + box["width"] <= 844, "the pad sticks out"
        assert horizontal_overflow(phone) == 0
        screenshot(phone, screenshots / "number-phone-landscape.png")
    finally:
        context.close()


def test_write_a_number_with_a_finger_on_a_phone_held_upright(phone_page, screenshots, app_url):
    phone = phone_page
    open_page(phone, app_url, pad(phone))
    phone.get_by_text("Write a number").click()
    expect(phone.get_by_text("Write a number, digit after digit, in the black box.")
           ).to_be_visible()
    app_idle(phone)
    height, width = NARROW_NUMBER_PAD
    box = pad(phone).bounding_box()
    assert box["width"] == pytest.approx(width, abs=1), "a phone starts on the narrow pad"
    assert box["x"] >= 0 and box["x"] + box["width"] <= 390, "the pad sticks out"
    assert horizontal_overflow(phone) == 0

    for stroke, left in ((ONE, 80), (SEVEN, 190)):
        draw_with_finger(phone, scaled(stroke, 140, (left, 30)), NARROW_NUMBER_PAD)
        app_idle(phone)
    expect_number(phone, "17")
    expect(phone.locator(BARS)).to_have_count(2)
    assert horizontal_overflow(phone) == 0
    # the bars are on the first screen, under the pad, while writing
    bars = phone.locator(BARS).first.bounding_box()
    assert bars["y"] + bars["height"] <= 844, (
        f"the bars end {bars['y'] + bars['height']:.0f} px down an 844 px screen"
    )
    screenshot(phone, screenshots / "number-phone-17.png")


# A 2 and a 5 as a person draws them on the 280 px pad, one stroke each.
TWO = [(88, 92), (104, 64), (140, 52), (178, 64), (192, 100), (176, 140), (136, 184),
       (92, 230), (200, 228)]
FIVE = [(190, 56), (110, 56), (102, 130), (136, 116), (174, 126), (194, 164), (184, 206),
        (148, 232), (100, 222)]


def test_a_number_written_with_touching_digits_is_read_whole(page, app_url, screenshots):
    """2025 written as people write it, each digit touching the next: the whole-number
    reader (the number pad's first choice) reads it."""
    open_page(page, app_url, pad(page))
    page.get_by_text("Write a number").click()
    expect(page.get_by_text("Write a number, digit after digit, in the black box.")
           ).to_be_visible()
    # about 110 px wide each, 170 px tall, every left edge where the last digit ends
    for stroke, left in ((TWO, 60), (ZERO, 164), (TWO, 280), (FIVE, 384)):
        draw_with_mouse(page, scaled(stroke, 170, (left, 35)), NUMBER_PAD)
        app_idle(page)

    expect_number(page, "2025")
    expect(page.locator(BARS)).to_have_count(4)
    screenshot(page, screenshots / "number-desktop-2025-touching.png")
