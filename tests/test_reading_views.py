"""`app_ui.reading_views`: the Draw page's HTML bars, enlargements and number preview."""

from __future__ import annotations

import numpy as np
import pytest

from app_ui import reading_views
from tests.bars import read_strips


def one_hot_ish(top: int, p: float) -> np.ndarray:
    probabilities = np.full(10, (1 - p) / 9)
    probabilities[top] = p
    return probabilities


def test_bars_are_ten_columns_filled_to_their_probability_the_named_one_highlighted():
    (strip,) = read_strips(reading_views.probability_bars_html(one_hot_ish(7, 0.9), named=7))
    assert strip.digits == list(range(10))
    assert strip.probabilities[7] == pytest.approx(0.9, abs=1e-6)
    assert strip.fill_percent[7] == pytest.approx(90.0)
    assert strip.fill_percent[0] == pytest.approx(100 * 0.1 / 9, abs=0.01)
    assert strip.highlighted == [7]
    assert strip.labels[7] == "90%" and strip.labels[0] == "1%"
    # where the app names no digit, no bar looks like its pick
    (unsure,) = read_strips(reading_views.probability_bars_html(one_hot_ish(7, 0.5), None))
    assert unsure.highlighted == []


def test_bar_columns_do_not_depend_on_the_values():
    first, = read_strips(reading_views.probability_bars_html(one_hot_ish(1, 0.99), named=1))
    second, = read_strips(reading_views.probability_bars_html(one_hot_ish(8, 0.2), None))
    assert first.column_px == second.column_px == [first.column_px[0]] * 10


def test_bars_say_their_values_to_a_screen_reader():
    html = reading_views.probability_bars_html(one_hot_ish(3, 0.8), named=3)
    assert 'role="img"' in html and "3: 80%" in html and "0: 2%" in html


@pytest.mark.parametrize("bad", [np.ones(9) / 9, np.full(10, np.nan), np.ones((2, 10))])
def test_bars_refuse_anything_but_ten_finite_values(bad):
    with pytest.raises(ValueError):
        reading_views.probability_bars_html(bad, named=None)


def test_a_number_has_one_strip_per_digit_titled_with_what_is_read():
    html = reading_views.number_bars_html([one_hot_ish(1, 0.95), one_hot_ish(7, 0.5)], [1, "?"])
    strips = read_strips(html)
    assert [s.title for s in strips] == ["1", "?"]
    assert [s.highlighted for s in strips] == [[1], []]  # "?" names no digit
    assert strips[1].probabilities[7] == pytest.approx(0.5)
    with pytest.raises(ValueError):
        reading_views.number_bars_html([], [])


def test_enlarge_repeats_pixels_into_crisp_squares():
    image = np.zeros((28, 28), dtype=np.float32)
    image[3, 5] = 1.0
    big = reading_views.enlarge(image, 140)
    assert big.shape == (140, 140) and big.dtype == np.uint8
    assert (big[15:20, 25:30] == 255).all() and big.sum() == 255 * 25
    assert reading_views.enlarge(np.zeros((400, 100)), 140).shape == (134, 34)
    with pytest.raises(ValueError):
        reading_views.enlarge(np.zeros((3, 3, 3)))


def test_number_preview_boxes_each_digit_on_the_drawing():
    drawing = np.zeros((60, 120, 4), np.uint8)
    drawing[10:50, 20:30, :3] = 255
    drawing[..., 3] = 255
    preview = reading_views.number_preview(drawing, [(8, 52, 18, 32)], [1])
    assert preview.shape == (60, 120, 3) and preview.dtype == np.uint8
    red = tuple(int(reading_views.HIGHLIGHT[i : i + 2], 16) for i in (1, 3, 5))
    assert tuple(preview[30, 18]) == red  # the box's left edge
    assert preview[30, 25].tolist() == [153, 153, 153]  # the ink, dimmed under the box
    assert preview[30, 100].tolist() == [0, 0, 0]


def test_the_preload_loads_the_installed_streamlits_code_for_a_reading_s_elements():
    # a Streamlit that renamed these modules would leave a tab's first reading waiting
    modules = reading_views.element_modules()
    assert sorted(m.split(".")[0] for m in modules) == [
        "ButtonGroup", "Checkbox", "ImageList", "Metric", "checkboxIndicatorStyles"]
    html = reading_views.preload_html()
    assert all(f'"{module}"' in html for module in modules)
    assert f"<script {reading_views.PRELOAD_MARK}>" in html and "import(" in html
    # the element hides itself: it must not push the pad down
    assert "{display:none}" in html


def test_nothing_to_preload_gives_no_html():
    assert reading_views.element_modules(("NoSuchElement",)) == ()
    assert reading_views.preload_html([]) is None
