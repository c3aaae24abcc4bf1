"""The Train, Evaluate and Models pages in a desktop browser, used as a person would."""

from __future__ import annotations

import re
import uuid

import pytest
from playwright.sync_api import expect

from mnist_core.store import registry

from .helpers import (
    APP_RUN_TIMEOUT,
    ONE,
    PREDICTION_TIMEOUT,
    app_idle,
    choose,
    draw_with_mouse,
    open_page,
    pad,
    queue_quick_run,
    reading,
    screenshot,
    slide_to_start,
)

pytestmark = pytest.mark.e2e

TRAINING_TIMEOUT = 180_000  # ms: one epoch of a small MLP on 450 images, on a busy CPU
SHIPPED = [
    "cnn", "fast-cnn", "mlp-16-16-relu", "mlp-16-16-sigmoid", "mlp-64-64-relu", "mlp-64-64-sigmoid",
    "mlp-784-784-256-128-relu", "seed-cnn",
]


def test_train_a_model_then_draw_with_it(page, app_url, screenshots):
    name = f"e2e-mlp-{uuid.uuid4().hex[:8]}"
    start = page.get_by_role("button", name="Start training")
    open_page(page, f"{app_url}/Train", start)

    choose(page, "Architecture", "mlp-16-16-relu")
    name_box = page.get_by_role("textbox", name="New model name")
    expect(name_box).to_have_value("my-mlp-16-16-relu")  # the architecture's defaults
    app_idle(page)
    slide_to_start(page, "Epochs", "1")
    slide_to_start(page, "Training images", "500")
    name_box.fill(name)
    name_box.press("Enter")
    expect(start).to_be_enabled()
    app_idle(page)
    start.click()

    expect(page.get_by_role("heading", name=name)).to_be_visible()
    progress = page.get_by_test_id("stProgress")
    queued = page.get_by_text(re.compile(r"Queued · position \d"))
    saved = page.get_by_test_id("stAlertContentSuccess").filter(has_text="Saved model")
    # the run may end before a slow screenshot; either way its state was shown
    expect(progress.or_(queued).or_(saved).first).to_be_visible()
    if progress.count():
        expect(progress).to_contain_text(re.compile(r"Starting|Epoch 1 of 1"))
        screenshot(page, screenshots / "train-desktop-running.png")

    expect(saved).to_contain_text(f"Saved model '{name}'", timeout=TRAINING_TIMEOUT)
    expect(page.get_by_text("After epoch 1:")).to_be_visible()
    expect(page.get_by_test_id("stPlotlyChart")).to_have_count(2)  # accuracy and loss
    app_idle(page)
    screenshot(page, screenshots / "train-desktop-finished.png")

    # the new model is offered on the Draw page
    page.get_by_test_id("stSidebar").get_by_role("link", name="Draw", exact=True).click()
    expect(pad(page)).to_be_visible(timeout=APP_RUN_TIMEOUT)
    app_idle(page)
    models = page.get_by_role("combobox", name="Model")
    models.click()
    expect(page.get_by_role("option", name="cnn", exact=True)).to_be_visible()
    models.press_sequentially(name[:8])  # the list scrolls; typing filters it
    page.get_by_role("option", name=f"{name} (yours)", exact=True).click()
    expect(page.get_by_text("Parameters: 13,002")).to_be_visible(
        timeout=PREDICTION_TIMEOUT
    )
    app_idle(page)

    # a model trained for one epoch reads a drawing, whatever it makes of it
    draw_with_mouse(page, ONE)
    verdict = page.get_by_test_id("stMetric").or_(page.get_by_test_id("stAlertContentWarning"))
    expect(verdict.first).to_be_visible(timeout=PREDICTION_TIMEOUT)
    assert reading(page)


def test_evaluate_shows_curves_and_a_confusion_matrix(page, app_url, screenshots):
    confusion = page.locator('[data-testid="stPlotlyChart"]:has(.heatmaplayer)')
    open_page(page, f"{app_url}/Evaluate", confusion)

    charts = page.get_by_test_id("stPlotlyChart")
    # the accuracy and loss curves and the confusion matrix, each drawn when it arrives
    expect(charts.nth(2)).to_be_visible(timeout=APP_RUN_TIMEOUT)
    for curve, title in zip(charts.all()[:2], ["Accuracy", "Loss"]):
        expect(curve.locator(".xtitle")).to_have_text("Epoch")
        expect(curve.locator(".ytitle")).to_have_text(title)
        assert curve.locator(".scatterlayer .trace").count() >= 1
    expect(confusion.locator(".heatmaplayer .hm")).to_have_count(1)
    expect(confusion.locator(".xtitle")).to_have_text("Predicted digit")
    expect(confusion.locator(".ytitle")).to_have_text("True digit")
    expect(confusion.locator(".xtick text")).to_have_text([str(d) for d in range(10)])
    # the shipped default's readings of the full test set, stored beside it: the server
    # has only the committed subset, and scores nothing
    expect(page.get_by_test_id("stMetric").filter(has_text="Misclassified")).to_contain_text(
        "of 10,000"
    )
    screenshot(page, screenshots / "evaluate-desktop.png")


def test_models_page_lists_the_store(page, app_url, models_store, screenshots):
    table = page.get_by_test_id("stDataFrame")
    open_page(page, f"{app_url}/Models", table)

    # the grid is drawn on a canvas; its accessible copy holds the cells
    names = table.locator('td[aria-colindex="1"]')
    expect(names.first).to_be_attached()
    listed = names.all_text_contents()
    assert set(SHIPPED) <= set(listed), listed
    assert {path.stem for path in models_store.glob("*.keras")} <= set(listed)
    expect(page.get_by_role("combobox", name="Model")).to_be_visible()
    default = registry.default_model_name(registry.DEFAULT_SHIPPED_DIR)
    expect(page.get_by_role("button", name="Keras model (.keras)")).to_be_visible()
    # at 1280 px every column shows without scrolling the table, and no label is cut
    scroller = table.locator(".dvn-scroller")
    assert scroller.evaluate("e => e.scrollWidth <= e.clientWidth"), "the table scrolls"
    cut = "e => [...e.querySelectorAll('*')].filter(x => x.scrollWidth > x.clientWidth + 1)"
    for button in page.get_by_test_id("stDownloadButton").all():
        assert not button.evaluate(f"{cut}.length"), f"{button.inner_text()!r} is cut"
    # the shipped default cannot be deleted by anyone
    expect(page.get_by_text(f"'{default}' ships with the app and cannot be deleted")
           ).to_be_visible()
    expect(page.get_by_role("button", name="Delete")).to_have_count(0)
    screenshot(page, screenshots / "models-desktop.png")


def test_two_visitors_train_at_once_each_with_their_own_runs(browser, app_url, screenshots):
    from .conftest import DESKTOP, _new_page

    first_context, first = _new_page(browser, DESKTOP)
    second_context, second = _new_page(browser, DESKTOP)
    try:
        tag = uuid.uuid4().hex[:6]
        names = (f"e2e-first-{tag}", f"e2e-second-{tag}")
        queue_quick_run(first, app_url, names[0], longest=True)
        queue_quick_run(second, app_url, names[1])
        first.get_by_role("button", name="Start training").click()
        expect(first.get_by_role("heading", name=names[0])).to_be_visible()
        second.get_by_role("button", name="Start training").click()  # never disabled by others

        # the one worker trains the first run; the second waits its turn
        expect(second.get_by_role("heading", name=names[1])).to_be_visible()
        expect(second.get_by_text(re.compile(r"Queued · position 1"))).to_be_visible()
        screenshot(second, screenshots / "train-desktop-queued.png")
        for page, mine, theirs in ((first, names[0], names[1]), (second, names[1], names[0])):
            expect(page.get_by_role("heading", name=theirs)).to_have_count(0)
            expect(page.get_by_role("button", name="Stop")).to_have_count(1)
            assert page.get_by_role("heading", name=mine).count() == 1

        for page, name in ((first, names[0]), (second, names[1])):
            saved = page.get_by_test_id("stAlertContentSuccess").filter(has_text="Saved model")
            expect(saved).to_contain_text(f"Saved model '{name}'", timeout=TRAINING_TIMEOUT)
            expect(page.get_by_role("button", name="Stop")).to_have_count(0)

        # both models are offered on the Draw page, to either visitor
        second.get_by_test_id("stSidebar").get_by_role("link", name="Draw", exact=True).click()
        expect(pad(second)).to_be_visible(timeout=APP_RUN_TIMEOUT)
        app_idle(second)
        models = second.get_by_role("combobox", name="Model")
        for name in names:
            models.click()
            models.press_sequentially(name[:9])
            listed = re.compile(rf"^{re.escape(name)} \((yours|trained here)\)$")  # whose it is
            expect(second.get_by_role("option", name=listed)).to_be_visible()
            second.keyboard.press("Escape")
    finally:
        first_context.close()
        second_context.close()
