"""Plotly figures and table rows that the Evaluate, Models and Train pages show.

Builders take plain arrays and cards and return a `plotly.graph_objects.Figure` or a
list of row dicts; the pages only hand them to `st.plotly_chart` and `st.dataframe`.
Nothing here imports Streamlit or Keras; the Draw page's views are in `reading_views`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np
import plotly.graph_objects as go

from app_ui.reading_views import DIGITS, MUTED
from mnist_core.model.card import History

# Tableau 10: distinguishable lines for up to ten overlaid models.
PALETTE = (
    "#4E79A7", "#F28E2B", "#E15759", "#76B7B2", "#59A14F",
    "#EDC948", "#B07AA1", "#FF9DA7", "#9C755F", "#BAB0AC",
)
# split -> (accuracy key, loss key, line dash) in a card's history
SPLITS = {
    "train": ("accuracy", "loss", "solid"),
    "validation": ("val_accuracy", "val_loss", "dash"),
    "test": ("test_accuracy", "test_loss", "dot"),
}
_FONT = dict(size=13)
# Curve charts: the legend sits under the plot, below the epoch ticks and title, in rows
# of about this height; widths are guesses for a 13 px font under a ~300 px wide plot.
_AXIS_PX, _LEGEND_ROW_PX = 56, 22
_LEGEND_WIDTH_PX, _LEGEND_ITEM_PX, _CHAR_PX = 300, 44, 6


def history_figure(
    histories: Mapping[str, History | Mapping[str, list]],
    metric: str = "accuracy",
    splits: Iterable[str] = ("train", "validation", "test"),
    height: int = 360,
) -> go.Figure:
    """Per-epoch curves of `metric` ("accuracy" or "loss") for one or more models.

    `histories` maps a model name to its card's `History` (or a run's history as its
    job record keeps it, a dict of the same lists); each model gets a colour,
    each split a line style (train solid, validation dashed, test dotted). Epochs
    without a value (no validation split) are left out.
    """
    if metric not in ("accuracy", "loss"):
        raise ValueError(f"metric must be 'accuracy' or 'loss', got {metric!r}")
    splits = list(splits)
    unknown = [s for s in splits if s not in SPLITS]
    if unknown:
        raise ValueError(f"unknown splits {unknown}; known: {list(SPLITS)}")
    value_format = ".2%" if metric == "accuracy" else ".4f"
    histories = {name: History.of(history) for name, history in histories.items()}
    longest = max((history.epochs for history in histories.values()), default=1)
    figure = go.Figure()
    for i, (name, history) in enumerate(histories.items()):
        colour = PALETTE[i % len(PALETTE)]
        first = True
        for split in splits:
            accuracy_key, loss_key, dash = SPLITS[split]
            values = history.series(accuracy_key if metric == "accuracy" else loss_key)
            points = [(e, v) for e, v in enumerate(values, start=1) if v is not None]
            if not points:
                continue
            epochs, ys = zip(*points)
            figure.add_trace(
                go.Scatter(
                    x=epochs, y=ys, name=name, legendgroup=name, showlegend=first,
                    mode="lines+markers", line=dict(color=colour, dash=dash, width=2),
                    marker=dict(size=5), meta=split,
                    hovertemplate=(
                        f"{name} {split}<br>epoch %{{x}}: %{{y:{value_format}}}<extra></extra>"
                    ),
                )
            )
            first = False
    # The legend names each model once (its colour); these keys explain the line styles.
    if len(splits) > 1:
        for split in splits:
            figure.add_trace(
                go.Scatter(
                    x=[None], y=[None], name=split, mode="lines",
                    line=dict(color=MUTED, dash=SPLITS[split][2], width=2),
                    hoverinfo="skip",
                )
            )
    # Each legend row below the plot makes the figure taller, so the plot keeps its height.
    rows = _legend_rows([trace.name for trace in figure.data if trace.showlegend is not False])
    bottom = _AXIS_PX + _LEGEND_ROW_PX * rows + 8
    plot_px = height - _LEGEND_ROW_PX - _AXIS_PX - 16  # the y axis length, whatever `rows`
    figure.update_layout(
        height=height + _LEGEND_ROW_PX * (rows - 1),
        margin=dict(l=8, r=8, t=8, b=bottom),
        font=_FONT,
        # whole epochs only: at most about ten ticks, never a repeated "2" at 2.5
        xaxis=dict(
            title="Epoch", tickmode="linear", tick0=1, dtick=max(1, -(-longest // 10)),
            range=[0.5, longest + 0.5],
        ),
        yaxis=dict(
            title="Accuracy" if metric == "accuracy" else "Loss",
            # as many decimals as the ticks need, never "95%, 95%, 94%" on a narrow range
            tickformat=".2~%" if metric == "accuracy" else None,
        ),
        legend=dict(
            orientation="h", yanchor="top", y=-_AXIS_PX / plot_px, x=0, xanchor="left",
            tracegroupgap=0,
        ),
        hovermode="closest",
    )
    return figure


def confusion_figure(confusion, normalise: bool = False, height: int = 460) -> go.Figure:
    """Heatmap of `confusion[true, predicted]`: counts, or each row as shares of 100%."""
    counts = np.asarray(confusion)
    if counts.shape != (10, 10):
        raise ValueError(f"expected a (10, 10) confusion matrix, got shape {counts.shape}")
    if normalise:
        totals = counts.sum(axis=1, keepdims=True)
        values = np.divide(counts, totals, out=np.zeros(counts.shape), where=totals > 0)
        text = [[f"{v:.1%}" if v > 0 else "" for v in row] for row in values]
        hover = "true %{y}, predicted %{x}: %{z:.2%}<extra></extra>"
    else:
        values = counts
        text = [[str(int(v)) if v else "" for v in row] for row in counts]
        hover = "true %{y}, predicted %{x}: %{z} images<extra></extra>"
    figure = go.Figure(
        go.Heatmap(
            z=np.asarray(values).tolist(), x=DIGITS, y=DIGITS, text=text, texttemplate="%{text}",
            colorscale="Blues", hovertemplate=hover, xgap=1, ygap=1,
            colorbar=dict(tickformat=".0%" if normalise else None, thickness=12),
        )
    )
    figure.update_layout(
        height=height,
        margin=dict(l=8, r=8, t=8, b=8),
        font=_FONT,
        xaxis=dict(title="Predicted digit", type="category", side="bottom", fixedrange=True),
        yaxis=dict(title="True digit", type="category", autorange="reversed", fixedrange=True),
    )
    return figure


# The reliability diagram's bubbles: diameters in px, for the emptiest and the fullest
# bin; its axes reach past 0-100% by enough that the fullest bin, nearly always at (100%,
# 100%), and its count stay inside the plot on a plot 300 px wide and 220 px tall.
_BUBBLE_PX = (5, 26)
_RELIABILITY_RANGE = {"x": (-0.03, 1.07), "y": (-0.04, 1.15)}


def reliability_figure(report, height: int = 360) -> go.Figure:
    """Accuracy against confidence, per confidence bin, before and after calibration;
    a calibrated model's points lie on the diagonal. `report` is a
    `calibration.CalibrationReport`; bins with no digits are left out.

    Each point's area follows how many digits its bin holds, and the calibrated points
    are labelled with that count: the calibration error weighs bins by their digits, and
    nearly all of them sit in the top bin, so a lone point off the diagonal that holds
    five digits is drawn as small as it counts."""
    figure = go.Figure()
    figure.add_trace(go.Scatter(
        x=[0, 1], y=[0, 1], mode="lines", name="perfectly calibrated",
        line=dict(color=MUTED, dash="dot"), hoverinfo="skip",
    ))
    most = max(int(np.max(report.reliability["count"], initial=1)), 1)
    for label, table, colour, labelled in (
        ("as trained", report.reliability_raw, PALETTE[1], False),
        ("calibrated (what the bars show)", report.reliability, PALETTE[0], True),
    ):
        counts = np.asarray(table["count"])
        used = counts > 0
        figure.add_trace(go.Scatter(
            x=np.asarray(table["confidence"])[used].tolist(),
            y=np.asarray(table["accuracy"])[used].tolist(),
            customdata=counts[used].tolist(),
            mode="lines+markers+text" if labelled else "lines+markers",
            text=[f"{n:,}" for n in counts[used]] if labelled else None,
            textposition="top left", textfont=dict(size=11, color=colour),
            marker=dict(size=(_BUBBLE_PX[0] + (_BUBBLE_PX[1] - _BUBBLE_PX[0])
                              * np.sqrt(counts[used] / most)).tolist(), color=colour),
            cliponaxis=False,  # a bubble at 100% is drawn whole, not cut at the axis
            name=label, line=dict(color=colour, width=1),
            hovertemplate="confidence %{x:.1%}: right %{y:.1%} of %{customdata:,} digits"
            "<extra></extra>",
        ))
    figure.update_layout(
        height=height, margin=dict(l=10, r=10, t=10, b=10), font=_FONT,
        legend=dict(orientation="h", yanchor="top", y=-0.2, x=0),
        # room past 0% and 100% for the largest bubble, and above it for its count
        xaxis=dict(title="Confidence (top probability)", range=list(_RELIABILITY_RANGE["x"]),
                   tickformat=".0%"),
        yaxis=dict(title="Share right", range=list(_RELIABILITY_RANGE["y"]), tickformat=".0%"),
    )
    return figure


TABLE_ROW_PX = 35  # Streamlit's data grid: every row, the header too


def table_height(rows: int, most: int = 25) -> int:
    """Pixels that show `rows` rows of a table and its header without scrolling, up to
    `most` rows (Streamlit's own height shows ten, and hides the rest behind a scroll)."""
    return (min(rows, most) + 1) * TABLE_ROW_PX + 3


# How the comparison table shows its numbers (Streamlit's printf-style formats); a missing
# value shows as MISSING, never as "None".
MISSING = "—"
TABLE_NUMBER_FORMATS = {
    "Train acc. %": "%.2f", "Val. acc. %": "%.2f", "Test acc. %": "%.2f",
    "Params": "localized", "Epochs": "%d", "Batch size": "%d",
    "Training time (s)": "localized", "Size (MB)": "%.2f",
}
_CHAR_PX_TABLE, _CELL_PAD_PX, _HEADER_PAD_PX = 7.5, 22, 34  # 14 px font; sort arrow


def table_text(column: str, value) -> str:
    """About what a cell of the comparison table shows: for measuring its width."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return MISSING
    if isinstance(value, float) and column in TABLE_NUMBER_FORMATS:
        return f"{value:,.2f}"
    return f"{value:,}" if isinstance(value, int) and not isinstance(value, bool) else str(value)


def column_widths(rows: list[dict], columns: Iterable[str]) -> dict[str, int]:
    """Pixels that show each column's name and its longest cell whole, so that no model
    name or heading is cut ("mlp-784-784-256-128-re…", "Bat…")."""
    widths = {}
    for column in columns:
        longest_cell = max((len(table_text(column, row.get(column))) for row in rows), default=0)
        widths[column] = int(max(len(column) * _CHAR_PX_TABLE + _HEADER_PAD_PX,
                                 longest_cell * _CHAR_PX_TABLE + _CELL_PAD_PX))
    return widths


# The Models page's table: what tells the stored models apart at a glance (the card below
# it has the rest), narrow enough to show whole on the page. Status joins it only when a
# model is broken.
STORE_COLUMNS = ("Model", "Test acc. %", "Source", "Params", "Size (MB)", "Created")
# A table's room on a page at a 1280 px window beside the sidebar, or wider: the centred
# layout's column (measured in Chromium)
PAGE_PX = 820


def store_columns(rows: list[dict]) -> list[str]:
    """The Models page's columns for these `comparison_rows`: Status after Source only
    when some model is broken."""
    columns = list(STORE_COLUMNS)
    if any(row["Status"] != "ok" for row in rows):
        columns.insert(columns.index("Source") + 1, "Status")
    return columns


def comparison_rows(
    infos, problems: Mapping[str, str] | None = None, owner: str | None = None
) -> list[dict]:
    """One row per model of the store for the comparison table, from the cards.

    Accuracies are percentages rounded to two decimals, ready to show.
    `infos` are `registry.ModelInfo`s; `problems` maps a model name to why it cannot
    be used (unreadable card or model file): Status says "broken", Problem says why.
    Source says "shipped", "yours" (trained by `owner`) or "trained here".
    """
    problems = dict(problems or {})
    rows = []
    for info in infos:
        card = info.card
        hyper = card.hyperparameters or {}
        problem = info.card_error or problems.get(info.name)
        # the scores first: a table wider than the page shows them without scrolling
        rows.append({
            "Model": info.name,
            "Test acc. %": _percent(card.test_accuracy),
            "Val. acc. %": _percent(card.val_accuracy),
            "Train acc. %": _percent(card.train_accuracy),
            "Source": model_source(info, owner),
            "Status": "broken" if problem else "ok",
            "Architecture": card.architecture,
            "Activation": card.activation,
            "Params": card.params,
            "Epochs": card.epochs_run,
            "Batch size": hyper.get("batch_size"),
            "Augmented": hyper.get("augment"),
            "Training time (s)": card.training_seconds,
            "Size (MB)": (
                round(info.path.stat().st_size / 2**20, 2) if info.path.is_file() else None
            ),
            "Created": card.created[:10] if card.created else None,  # the day, UTC
            "Problem": problem,
        })
    return rows


def model_source(info, owner: str | None = None) -> str:
    """"shipped", "yours" or "trained here": where a `registry.ModelInfo` comes from."""
    if info.shipped:
        return "shipped"
    return "yours" if owner is not None and info.owner == owner else "trained here"


def class_report_rows(evaluation) -> list[dict]:
    """Per-digit precision and recall (percent) and counts from an `evaluate.Evaluation`."""
    confusion = np.asarray(evaluation.confusion)
    rows = []
    for digit in range(10):
        precision, recall = evaluation.precision[digit], evaluation.recall[digit]
        rows.append({
            "Digit": digit,
            "Precision": None if np.isnan(precision) else _percent(precision),
            "Recall": None if np.isnan(recall) else _percent(recall),
            "Images": int(confusion[digit].sum()),
            "Missed": int(confusion[digit].sum() - confusion[digit, digit]),
        })
    return rows


def _percent(fraction) -> float | None:
    return None if fraction is None else round(float(fraction) * 100, 2)


def _legend_rows(labels: list[str]) -> int:
    """About how many rows a horizontal legend of these labels takes (at least one)."""
    rows, used = 1, 0
    for label in labels:
        width = _LEGEND_ITEM_PX + _CHAR_PX * len(label)
        if used and used + width > _LEGEND_WIDTH_PX:
            rows, used = rows + 1, 0
        used += width
    return rows
