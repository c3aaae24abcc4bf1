"""The Train, Evaluate and Models pages in a desktop browser, used as a person would."""

from __future__ import annotations

import re
import uuid

import pytest
from playwright.sync_api import Page, expect

from .helpers import (
    APP_RUN_TIMEOUT,
    ONE,
    PREDICTION_TIMEOUT,
    app_idle,
    draw_with_mouse,
    open_page,
    pad,
    reading,
    screenshot,
)

pytestmark = pytest.mark.e2e

TRAINING_TIMEOUT = 180_000  # ms: one epoch of a small MLP on 450 images, on a busy CPU
SHIPPED = [
    "cnn", "mlp-16-16-relu", "mlp-16-16-sigmoid", "mlp-64-64-relu", "mlp-64-64-sigmoid",
    "mlp-784-784-256-128-relu", "seed-cnn",
]


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

    expect(page.get_by_role("heading", name=re.compile(rf"Run \d+: {name}"))).to_be_visible()
    progress = page.get_by_test_id("stProgress")
    success = page.get_by_test_id("stAlertContentSuccess")
    # the run may end before a slow screenshot; either way the progress was shown
    expect(progress.or_(success).first).to_be_visible()
    if progress.count():
        expect(progress).to_contain_text(re.compile(r"Preparing the data|Epoch 1 of 1"))
        screenshot(page, screenshots / "train-desktop-running.png")

    expect(success).to_contain_text(f"Saved model '{name}'", timeout=TRAINING_TIMEOUT)
    expect(page.get_by_text("After epoch 1:")).to_be_visible()
    expect(page.get_by_test_id("stPlotlyChart")).to_have_count(2)  # accuracy and loss
    app_idle(page)
    screenshot(page, screenshots / "train-desktop-finished.png")

    # the new model is offered on the Draw page
    page.get_by_test_id("stSidebar").get_by_role("link", name="Draw").click()
    expect(pad(page)).to_be_visible(timeout=APP_RUN_TIMEOUT)
    app_idle(page)
    models = page.get_by_role("combobox", name="Model")
    models.click()
    expect(page.get_by_role("option", name="cnn", exact=True)).to_be_visible()
    models.press_sequentially(name[:8])  # the list scrolls; typing filters it
    page.get_by_role("option", name=name, exact=True).click()
    expect(page.get_by_text("mlp-16-16-relu · 13,002 parameters")).to_be_visible(
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
    assert charts.count() >= 3, "expected the accuracy and loss curves and the confusion matrix"
    for curve, title in zip(charts.all()[:2], ["Accuracy", "Loss"]):
        expect(curve.locator(".xtitle")).to_have_text("Epoch")
        expect(curve.locator(".ytitle")).to_have_text(title)
        assert curve.locator(".scatterlayer .trace").count() >= 1
    expect(confusion.locator(".heatmaplayer .hm")).to_have_count(1)
    expect(confusion.locator(".xtitle")).to_have_text("Predicted digit")
    expect(confusion.locator(".ytitle")).to_have_text("True digit")
    expect(confusion.locator(".xtick text")).to_have_text([str(d) for d in range(10)])
    # scored on the 500 test digits of the committed subset
    expect(page.get_by_test_id("stMetric").filter(has_text="Misclassified")).to_contain_text(
        "of 500"
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
    assert sorted(listed) == sorted(path.stem for path in models_store.glob("*.keras"))
    expect(page.get_by_role("combobox", name="Model")).to_be_visible()
    expect(page.get_by_role("button", name="Download cnn.keras")).to_be_visible()
    screenshot(page, screenshots / "models-desktop.png")
