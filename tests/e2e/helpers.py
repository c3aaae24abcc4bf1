"""What the browser tests do as a person would: open pages, draw digits, take screenshots.

Strokes are polylines in the drawing pad's own coordinates (0-280 px, origin top left),
drawn with many intermediate pointer events so the pad sees a hand-drawn path.
"""

from __future__ import annotations

import math
from pathlib import Path

from playwright.sync_api import Locator, Page, expect

PAD = 280  # px, the drawing pad's size (app.CANVAS_PX)
APP_RUN_TIMEOUT = 60_000  # ms; a page's first run loads TensorFlow and models
PREDICTION_TIMEOUT = 30_000  # ms from lifting the pen to the prediction on screen
STEP_PX = 6  # distance between the pointer events of a stroke


# Digits as a person draws them on the 280 px pad: about 180 px tall, one stroke each.
ONE = [(146, 50), (134, 232)]
SEVEN = [(80, 58), (200, 56), (166, 118), (136, 178), (112, 236)]
ZERO = [
    (140 + 62 * math.sin(2 * math.pi * i / 40), 140 - 92 * math.cos(2 * math.pi * i / 40))
    for i in range(42)  # a little past the start, as a pen closes a loop
]


def scaled(stroke, height: float, top_left: tuple[float, float]):
    """`stroke` shrunk to `height` px tall with its bounding box at `top_left`."""
    xs, ys = zip(*stroke)
    scale = height / (max(ys) - min(ys))
    return [
        (top_left[0] + (x - min(xs)) * scale, top_left[1] + (y - min(ys)) * scale)
        for x, y in stroke
    ]


def app_idle(page: Page, timeout: float = APP_RUN_TIMEOUT) -> None:
    """Wait until the app is connected and its script is not running."""
    app = page.locator('[data-testid="stApp"]')
    expect(app).to_have_attribute("data-test-connection-state", "CONNECTED", timeout=timeout)
    expect(app).to_have_attribute("data-test-script-state", "notRunning", timeout=timeout)


def open_page(page: Page, url: str, ready: Locator | None = None) -> None:
    """Go to `url` and wait for its first run to end (and for `ready`, if given)."""
    page.goto(url)
    if ready is not None:
        # a traceback on the page fails the test at once, with its text
        error = page.get_by_test_id("stException")
        expect(ready.or_(error).first).to_be_visible(timeout=APP_RUN_TIMEOUT)
        if error.count():
            raise AssertionError(f"{url} shows an exception:\n{error.first.inner_text()}")
    app_idle(page)
    assert not page.get_by_test_id("stException").count(), (
        f"{url} shows an exception:\n{page.get_by_test_id('stException').first.inner_text()}"
    )


def pad(page: Page) -> Locator:
    """The drawing pad's top canvas (fabric.js), inside the component's shadow root."""
    return page.locator('[data-testid="stBidiComponentIsolated"] canvas.upper-canvas')


def _page_points(page: Page, stroke, size=(PAD, PAD)) -> list[tuple[float, float]]:
    canvas = pad(page)
    expect(canvas).to_be_visible(timeout=APP_RUN_TIMEOUT)
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()
    assert box is not None, "the drawing pad has no box on screen"
    height, width = size
    scale_x, scale_y = box["width"] / width, box["height"] / height
    points = [(box["x"] + x * scale_x, box["y"] + y * scale_y) for x, y in stroke]
    # every intermediate point, STEP_PX apart, as a moving hand reports them
    path = [points[0]]
    for start, end in zip(points, points[1:]):
        steps = max(1, math.ceil(math.dist(start, end) / STEP_PX))
        path += [
            (start[0] + (end[0] - start[0]) * k / steps, start[1] + (end[1] - start[1]) * k / steps)
            for k in range(1, steps + 1)
        ]
    return path


def draw_with_mouse(page: Page, stroke, pad_size=(PAD, PAD)) -> None:
    """One stroke with the mouse: press, move through every point, release. `stroke` is
    in the coordinates of a pad of `pad_size` (height, width) px."""
    path = _page_points(page, stroke, pad_size)
    page.mouse.move(*path[0])
    page.mouse.down()
    for x, y in path[1:]:
        page.mouse.move(x, y)
    page.mouse.up()


def draw_with_finger(page: Page, stroke, pad_size=(PAD, PAD)) -> None:
    """One stroke with a finger, as raw touch events (`touchscreen.tap` cannot drag), in
    the coordinates of a pad of `pad_size` (height, width) px."""
    path = _page_points(page, stroke, pad_size)
    cdp = page.context.new_cdp_session(page)
    try:
        for kind, (x, y) in zip(["touchStart"] + ["touchMove"] * (len(path) - 1), path):
            cdp.send("Input.dispatchTouchEvent", {"type": kind, "touchPoints": [{"x": x, "y": y}]})
        cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
    finally:
        cdp.detach()


def expect_prediction(page: Page, digit: int) -> None:
    """The Draw page names `digit` and shows its ten probability bars."""
    metric = page.get_by_test_id("stMetric")
    try:
        expect(metric.get_by_test_id("stMetricLabel")).to_contain_text(
            "Prediction", timeout=PREDICTION_TIMEOUT
        )
        expect(metric.get_by_test_id("stMetricValue")).to_have_text(
            str(digit), timeout=PREDICTION_TIMEOUT
        )
    except AssertionError as err:
        raise AssertionError(f"expected a {digit}; the page says: {reading(page)}") from err
    app_idle(page)
    expect_probability_bars(page)


BARS = ".digit-bars"  # app_ui.reading_views.BARS_CLASS: one strip of ten bars
BAR = ".digit-bar"


def expect_probability_bars(page: Page) -> None:
    """Ten bars labelled 0 to 9, in columns of a fixed height that stand for 0-100%, so
    they never jump between draws; each bar's height is its probability."""
    strip = page.locator(BARS).first
    bars = strip.locator(BAR)
    expect(bars).to_have_count(10, timeout=PREDICTION_TIMEOUT)
    expect(bars.locator("> span:last-child")).to_have_text([str(d) for d in range(10)])
    shares = bars.evaluate_all(
        """bars => bars.map(bar => {
            const fill = bar.querySelector(':scope > div > div'), track = fill.parentElement;
            return [Number(bar.dataset.probability),
                    fill.getBoundingClientRect().height / track.getBoundingClientRect().height,
                    track.getBoundingClientRect().height];
        })"""
    )
    assert len({round(track) for _, _, track in shares}) == 1, "the columns differ in height"
    for probability, share, _ in shares:
        assert abs(probability - share) < 0.02, f"a bar of {share:.0%} shows {probability:.0%}"


def bar_probabilities(page: Page) -> list[float]:
    """The ten probabilities the first strip of bars shows, digit 0 first."""
    return page.locator(BARS).first.locator(BAR).evaluate_all(
        "bars => bars.map(bar => Number(bar.dataset.probability))"
    )


def reading(page: Page) -> str:
    """What the Draw page says about the drawing: the metric, or its warning."""
    metric = page.get_by_test_id("stMetric")
    if metric.count():
        return f"Prediction {metric.get_by_test_id('stMetricValue').inner_text()}"
    return " / ".join(page.get_by_test_id("stAlert").all_inner_texts())


def horizontal_overflow(page: Page) -> int:
    """How many CSS px the page is wider than the window (0 if it fits)."""
    return page.evaluate(
        "() => Math.max(0, document.documentElement.scrollWidth - window.innerWidth)"
    )


def screenshot(page: Page, path: Path) -> None:
    """The whole page, scrolled content included, as a PNG at `path`.

    Streamlit scrolls inside its main element, not the document, so `full_page` alone
    would stop at the window: the window is stretched to the content for the shot.
    """
    size = page.viewport_size
    height = page.evaluate(
        """() => {
            const main = document.querySelector('[data-testid="stMain"]');
            return Math.ceil(Math.max(
                document.documentElement.scrollHeight,
                main ? main.scrollHeight : 0,
            ));
        }"""
    )
    try:
        if height > size["height"]:
            page.set_viewport_size({"width": size["width"], "height": min(height, 8000)})
            app_idle(page)
            page.wait_for_timeout(500)  # charts re-lay out on resize
        page.screenshot(path=str(path), full_page=True, animations="disabled")
    finally:
        page.set_viewport_size(size)


def choose(page: Page, label: str, option: str) -> None:
    """Pick `option` in the selectbox labelled `label`."""
    page.get_by_role("combobox", name=label).click()
    page.get_by_role("option", name=option, exact=True).click()


def slide_to_start(page: Page, label: str, expected: str) -> None:
    """Move a slider to its lowest value with the keyboard, as a person could."""
    slider = page.get_by_role("slider", name=label)
    slider.focus()
    page.keyboard.press("Home")
    expect(slider).to_have_attribute("aria-valuetext", expected)
    app_idle(page)


def queue_quick_run(page: Page, app_url: str, name: str, longest: bool = False) -> None:
    """Open Train and fill in a small MLP run named `name` (1 epoch, or the most:
    50), ready to start."""
    open_page(page, f"{app_url}/Train", page.get_by_role("button", name="Start training"))
    choose(page, "Architecture", "mlp-16-16-relu")
    app_idle(page)
    # the images first: the Epochs slider ends where a run of them reaches the size limit
    slide_to_start(page, "Training images", "500")
    slider = page.get_by_role("slider", name="Epochs")
    expect(slider).to_have_attribute("max", "50")  # drawn anew for 500 images
    slider.focus()
    page.keyboard.press("End" if longest else "Home")
    expect(slider).to_have_attribute("aria-valuetext", "50" if longest else "1")
    app_idle(page)
    name_box = page.get_by_role("textbox", name="New model name")
    name_box.fill(name)
    name_box.press("Enter")
    app_idle(page)
    expect(page.get_by_role("button", name="Start training")).to_be_enabled()
