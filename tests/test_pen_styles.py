"""`mnist_core.sources.pen_styles`: pen-drawn digits rewritten in the styles MNIST lacks."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from mnist_core.sources import pen_styles
from mnist_core.sources.pendigits import drawn_training_set, load_pendigits

SAMPLE = Path(__file__).parent / "data" / "pendigits-sample.tra"

STEM = [np.array([[250.0, 50.0], [250.0, 450.0]])]  # a plain 1, top to bottom
SEVEN = [np.array([[150.0, 50.0], [350.0, 50.0], [250.0, 250.0], [200.0, 450.0]])]
NINE = [np.array([  # loop drawn anticlockwise from its right side, then a curved tail
    [300, 150], [250, 80], [180, 120], [200, 200], [300, 180], [310, 250],
    [300, 350], [250, 430], [180, 450],
], dtype=float)]


def extent(strokes) -> np.ndarray:
    every = np.concatenate(strokes)
    return every.max(axis=0) - every.min(axis=0)


def test_a_plain_one_gets_a_flag_down_to_the_left_of_its_top():
    rng = np.random.default_rng(0)
    flagged = pen_styles.flag_one([s.copy() for s in STEM], rng)
    every = np.concatenate(flagged)
    assert every[:, 0].min() < 250 - 0.2 * 400 * np.cos(np.radians(55))  # reaches left
    top = every[np.argmin(every[:, 1])]
    assert top.tolist() == [250.0, 50.0]  # the flag ends at the stem's top


def test_a_seven_gets_a_bar_across_its_stem():
    crossed = pen_styles.cross_seven([s.copy() for s in SEVEN], np.random.default_rng(1))
    assert len(crossed) == 2
    bar = crossed[1]
    y = bar[:, 1].mean()
    assert 50 + 0.4 * 400 < y < 50 + 0.65 * 400  # across the middle of the stem
    stem_x = np.interp(y, SEVEN[0][2:, 1], SEVEN[0][2:, 0])
    assert bar[:, 0].min() < stem_x < bar[:, 0].max()


def test_a_nine_gets_a_straight_tail():
    straight = pen_styles.straighten_nine([s.copy() for s in NINE], np.random.default_rng(2))
    tail = straight[0][straight[0][:, 1] > 250]
    assert np.ptp(tail[:, 0]) < np.ptp(NINE[0][NINE[0][:, 1] > 250][:, 0])
    assert straight[0][:, 1].max() == NINE[0][:, 1].max()  # it still reaches the bottom


def test_restyle_keeps_the_digit_in_shape_and_is_seeded():
    digits = load_pendigits(SAMPLE)
    for digit in digits:
        a = pen_styles.restyle(digit.label, digit.strokes, np.random.default_rng(3))
        b = pen_styles.restyle(digit.label, digit.strokes, np.random.default_rng(3))
        assert all(np.array_equal(x, y) for x, y in zip(a, b))
        height = extent(digit.strokes)[1]
        assert 0.8 * height < extent(a)[1] < 1.5 * height


def test_styled_training_renders_differ_from_plain_ones_but_the_first():
    digits = load_pendigits(SAMPLE)[:5]
    plain, labels = drawn_training_set(digits, renders=3, seed=4)
    styled, styled_labels = drawn_training_set(digits, renders=3, seed=4, styles=True)
    assert labels.tolist() == styled_labels.tolist()
    np.testing.assert_array_equal(plain[0], styled[0])  # first render: as written
    assert not np.allclose(plain[1:3], styled[1:3])
