"""`app_ui.charts`: figures and table rows from known arrays."""

from __future__ import annotations

import numpy as np
import pytest

from app_ui import charts
from mnist_core.model.card import ModelCard
from mnist_core.reading.evaluate import evaluation_from_probabilities
from mnist_core.store.registry import ModelInfo


def history(n, start=0.5):
    acc = [start + 0.1 * i for i in range(n)]
    return {
        "accuracy": acc, "val_accuracy": acc, "test_accuracy": acc,
        "loss": [1.0 / (i + 1) for i in range(n)], "val_loss": [None] * n,
        "test_loss": [0.5] * n,
    }


def test_history_overlays_models_one_colour_each_and_skips_missing_values():
    figure = charts.history_figure({"a": history(3), "b": history(2)}, "loss")
    curves = [trace for trace in figure.data if trace.meta]
    # no validation split recorded: its loss line is left out, not drawn as zeros
    assert [(t.name, t.meta) for t in curves] == [
        ("a", "train"), ("a", "test"), ("b", "train"), ("b", "test")
    ]
    assert [t.showlegend for t in curves] == [True, False, True, False]  # a model once
    assert list(curves[0].x) == [1, 2, 3] and list(curves[2].x) == [1, 2]
    assert curves[0].line.color == curves[1].line.color != curves[2].line.color
    assert (curves[0].line.dash, curves[1].line.dash) == ("solid", "dot")
    keys = [trace.name for trace in figure.data if not trace.meta]
    assert keys == ["train", "validation", "test"]  # the line-style legend
    assert figure.layout.xaxis.title.text == "Epoch"
    assert figure.layout.xaxis.dtick == 1  # whole epochs
    assert tuple(figure.layout.xaxis.range) == (0.5, 3.5)  # half an epoch either side
    assert figure.layout.legend.y < 0 and figure.layout.legend.yanchor == "top"  # below
    assert charts.history_figure({"a": history(45)}).layout.xaxis.dtick == 5


def test_history_accuracy_chooses_splits_and_rejects_unknown_ones():
    figure = charts.history_figure({"a": history(2)}, "accuracy", splits=["test"])
    assert [(trace.name, trace.meta) for trace in figure.data] == [("a", "test")]
    assert figure.data[0].line.dash == "dot"
    with pytest.raises(ValueError):
        charts.history_figure({"a": history(2)}, "accuracy", splits=["holdout"])
    with pytest.raises(ValueError):
        charts.history_figure({"a": history(2)}, "f1")


def test_confusion_heatmap_counts_and_row_shares():
    confusion = np.diag(np.full(10, 9))
    confusion[4, 9] = 3  # three of the twelve 4s read as 9
    counts = charts.confusion_figure(confusion).data[0]
    assert np.asarray(counts.z)[4, 9] == 3
    assert counts.text[4][9] == "3" and counts.text[4][8] == ""
    shares = charts.confusion_figure(confusion, normalise=True).data[0]
    assert np.asarray(shares.z)[4, 9] == pytest.approx(3 / 12)
    assert np.asarray(shares.z).sum(axis=1) == pytest.approx(np.ones(10))
    with pytest.raises(ValueError):
        charts.confusion_figure(np.zeros((9, 9)))


def test_confusion_heatmap_survives_an_empty_row():
    confusion = np.diag(np.full(10, 5))
    confusion[2, 2] = 0
    z = np.asarray(charts.confusion_figure(confusion, normalise=True).data[0].z)
    assert z[2].sum() == 0 and np.isfinite(z).all()


def test_comparison_rows_come_from_the_cards_and_flag_broken_models(tmp_path):
    card = ModelCard(
        architecture="seed-cnn", activation="relu", params=1000,
        train_accuracy=0.9, val_accuracy=0.8, test_accuracy=0.85,
        epochs_run=3, training_seconds=4.2, hyperparameters={"batch_size": 32},
    )
    infos = [
        ModelInfo("good", tmp_path / "good.keras", card),
        ModelInfo("bad", tmp_path / "bad.keras", ModelCard(), card_error="card is not JSON"),
        ModelInfo("zip", tmp_path / "zip.keras", card),
    ]
    rows = charts.comparison_rows(infos, {"zip": "not a zip file"})
    assert rows[0]["Status"] == "ok" and rows[0]["Test acc. %"] == 85.0
    assert rows[0]["Batch size"] == 32
    assert rows[0]["Problem"] is None and rows[0]["Size (MB)"] is None  # no file here
    assert rows[1]["Status"] == "broken" and rows[1]["Params"] is None
    assert rows[1]["Problem"] == "card is not JSON"
    assert (rows[2]["Status"], rows[2]["Problem"]) == ("broken", "not a zip file")


def test_class_report_rows_give_precision_recall_and_counts():
    labels = np.array([0, 0, 1, 1, 2])
    probabilities = np.eye(10)[[0, 1, 1, 1, 2]]
    rows = charts.class_report_rows(evaluation_from_probabilities(probabilities, labels))
    assert rows[0] == {"Digit": 0, "Precision": 100.0, "Recall": 50.0, "Images": 2, "Missed": 1}
    assert rows[1]["Precision"] == 66.67 and rows[1]["Recall"] == 100.0
    assert rows[5]["Precision"] is None and rows[5]["Images"] == 0


def test_a_table_is_as_tall_as_its_rows_up_to_a_limit():
    assert charts.table_height(3) == 4 * charts.TABLE_ROW_PX + 3
    assert charts.table_height(12) > charts.table_height(11)  # a 12th model is not hidden
    assert charts.table_height(500) == charts.table_height(25)


def test_the_reliability_diagram_weighs_each_bin_by_its_digits(rng):
    from mnist_core.model.verdict import ReadingPolicy
    from mnist_core.training import calibration

    labels = rng.integers(0, 10, 2000)
    probabilities = np.full((2000, 10), 0.001)
    probabilities[np.arange(2000), labels] = 0.991  # nearly all sure and right
    probabilities[:20] = 0.1  # twenty unsure digits
    report = calibration.report(probabilities, labels, ReadingPolicy())
    figure = charts.reliability_figure(report)
    calibrated = figure.data[2]
    counts = list(calibrated.customdata)
    assert sum(counts) == 2000 and list(calibrated.text) == [f"{n:,}" for n in counts]
    sizes = list(calibrated.marker.size)
    assert sizes[counts.index(max(counts))] == max(sizes) > 3 * min(sizes)


def test_every_column_is_wide_enough_for_its_name_and_longest_cell():
    rows = [{"Model": "mlp-784-784-256-128-relu", "Batch size": 128, "Train acc. %": None},
            {"Model": "cnn", "Batch size": 32, "Train acc. %": 99.5}]
    widths = charts.column_widths(rows, ["Model", "Batch size", "Train acc. %"])
    assert widths["Model"] > charts.column_widths(rows[1:], ["Model"])["Model"]
    assert widths["Model"] >= 7 * len("mlp-784-784-256-128-relu")  # the name whole
    assert widths["Batch size"] >= 7 * len("Batch size") + 24  # the heading and its arrow
    assert charts.table_text("Train acc. %", None) == charts.MISSING
    assert charts.table_text("Params", 1156264) == "1,156,264"


def shipped_rows(problems=None) -> list[dict]:
    from mnist_core.store.registry import DEFAULT_SHIPPED_DIR, list_models

    return charts.comparison_rows(list_models(DEFAULT_SHIPPED_DIR), problems)


def test_the_models_page_table_shows_every_column_whole_at_1280_px():
    rows = shipped_rows()
    columns = charts.store_columns(rows)
    assert columns == ["Model", "Test acc. %", "Source", "Params", "Size (MB)", "Created"]
    assert sum(charts.column_widths(rows, columns).values()) <= charts.PAGE_PX
    assert rows[0]["Created"] == read_created(rows[0]["Model"])[:10]  # the day, no time
    # a broken model adds its Status, and the table still fits
    broken = shipped_rows({rows[0]["Model"]: "ONNX file missing"})
    columns = charts.store_columns(broken)
    assert columns[columns.index("Source") + 1] == "Status"
    assert sum(charts.column_widths(broken, columns).values()) <= charts.PAGE_PX


def read_created(name: str) -> str:
    from mnist_core.store.registry import DEFAULT_SHIPPED_DIR, read_card

    return read_card(name, DEFAULT_SHIPPED_DIR).created


def test_the_comparison_table_shows_every_score_without_scrolling():
    rows = shipped_rows()
    columns = list(rows[0])
    scores = ["Test acc. %", "Val. acc. %", "Train acc. %"]
    assert columns[:4] == ["Model", *scores]
    assert sum(charts.column_widths(rows, columns[:4]).values()) <= charts.PAGE_PX


def test_the_fullest_bubble_of_the_reliability_diagram_lies_inside_the_plot(rng):
    from mnist_core.model.verdict import ReadingPolicy
    from mnist_core.training import calibration

    labels = rng.integers(0, 10, 2000)
    probabilities = np.full((2000, 10), 0.0001)
    probabilities[np.arange(2000), labels] = 0.9991  # nearly all at (100%, 100%)
    figure = charts.reliability_figure(calibration.report(probabilities, labels,
                                                          ReadingPolicy()))
    points = [trace for trace in figure.data if trace.customdata is not None]
    assert points and all(trace.cliponaxis is False for trace in points)
    radius = max(max(trace.marker.size) for trace in points) / 2
    label_px = 14  # the count above-left of the bubble, 11 px type
    # the smallest plot it is drawn on: a phone's, or a column beside the ECE
    width_px, height_px = 300, 220
    (x0, x1), (y0, y1) = figure.layout.xaxis.range, figure.layout.yaxis.range
    assert (x1 - 1) * width_px / (x1 - x0) >= radius
    assert (y1 - 1) * height_px / (y1 - y0) >= radius + label_px
    assert x0 < 0 and y0 < 0  # a bin at 0% is not cut either
