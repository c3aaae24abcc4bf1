"""`mnist_core.training.negatives`: synthetic non-digit drawings, seeded, drawn like the pad."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from mnist_core.reading.preprocess import canvas_to_mnist
from mnist_core.sources.pendigits import load_pendigits, render_digit
from mnist_core.training.config import TrainConfig
from mnist_core.training.negatives import KINDS, SYMBOLS, UNTRAINED_KINDS, non_digits

SAMPLE = Path(__file__).parent / "data" / "pendigits-sample.tra"
# Ink pixels of the first five letters seed 7 draws, as the shipped models' training and
# the benchmarks drew them (OpenCV 5.0).
LETTER_INK_SEED_7 = [18589, 21524, 7744, 7352, 7972]


def test_every_kind_is_drawn_on_the_pads_canvas_and_the_same_seed_repeats():
    digits = load_pendigits(SAMPLE)
    images, kinds = non_digits(16, seed=5, digits=digits)
    assert images.shape == (16, 280, 280) and images.dtype == np.uint8
    assert kinds == list(KINDS) * 4
    for image in images:
        ink = image > 40
        assert 0.005 < ink.mean() < 0.5  # a drawing, not a blank or a flood
        ys, xs = np.nonzero(ink)
        assert max(ys.max() - ys.min(), xs.max() - xs.min()) >= 60  # drawn at pad size
        assert canvas_to_mnist(image).shape == (28, 28)
    again, _ = non_digits(16, seed=5, digits=digits)
    assert np.array_equal(images, again)
    assert not np.array_equal(images, non_digits(16, seed=6, digits=digits)[0])


def test_pairs_need_digits_and_unknown_kinds_are_refused():
    _, kinds = non_digits(6, seed=1)  # no pen digits: no pairs
    assert "pair" not in kinds
    with pytest.raises(ValueError, match="kinds must be"):
        non_digits(2, kinds=("letter", "emoji"))


def test_touching_digits_are_one_piece_of_ink_and_pairs_two():
    """`touching` pairs make the ink a number's reader must cut; `pair`s stand apart."""
    digits = load_pendigits(SAMPLE)

    def widest_piece_share(image):
        ink = (image > 40).astype(np.uint8)
        _, _, stats, _ = cv2.connectedComponentsWithStats(ink, connectivity=8)
        columns = np.flatnonzero(ink.any(axis=0))
        return stats[1:, 2].max() / (columns[-1] - columns[0] + 1)

    touching, _ = non_digits(30, seed=2, kinds=("touching",), digits=digits)
    apart, _ = non_digits(30, seed=2, kinds=("pair",), digits=digits)
    assert np.mean([widest_piece_share(i) > 0.9 for i in touching]) >= 0.7
    assert np.mean([widest_piece_share(i) > 0.9 for i in apart]) <= 0.1
    with pytest.raises(ValueError, match="kinds must be"):
        non_digits(2, kinds=("touching", "triple"), digits=digits)


def test_fragments_keep_part_of_a_digit_and_are_never_a_bare_upright_stroke():
    digits = load_pendigits(SAMPLE)
    fragments, kinds = non_digits(30, seed=4, kinds=("fragment",), digits=digits)
    assert kinds == ["fragment"] * 30
    for image in fragments:
        ys, xs = np.nonzero(image > 40)
        assert xs.max() - xs.min() >= 0.35 * (ys.max() - ys.min())
    # a fragment holds less ink than a whole digit drawn the same way
    rng = np.random.default_rng(4)
    whole = [render_digit(digits[i], rng=rng) for i in rng.integers(0, len(digits), 30)]
    ink = [int((image > 40).sum()) for image in whole]
    assert np.median((fragments > 40).sum(axis=(1, 2))) < 0.7 * np.median(ink)
    assert non_digits(4, kinds=("fragment", "letter"))[1] == ["letter"] * 4  # no digits


def test_doodles_are_drawn_each_in_its_own_proportions_and_runs_may_train_on_them():
    images, kinds = non_digits(60, seed=8, kinds=("doodle",))
    assert kinds == ["doodle"] * 60
    assert np.array_equal(images, non_digits(60, seed=8, kinds=("doodle",))[0])
    aspects = []
    for image in images:
        ys, xs = np.nonzero(image > 40)
        assert 90 <= max(ys.max() - ys.min(), xs.max() - xs.min()) <= 280
        aspects.append((xs.max() - xs.min() + 1) / (ys.max() - ys.min() + 1))
        assert canvas_to_mnist(image).max() > 0.5  # no dot or blot among them
    assert len({round(a, 2) for a in aspects}) > 40  # stretched and turned, not stamped
    assert min(aspects) < 0.8 and max(aspects) > 1.6  # moons and trees stand, eyes lie
    assert TrainConfig(non_digits=100, non_digit_kinds=("doodle",),
                       pen_writers=(1,)).resolved().non_digit_kinds == ("doodle",)


def test_symbols_and_words_are_drawn_for_measuring_but_no_run_may_train_on_them():
    images, kinds = non_digits(40, seed=3, kinds=UNTRAINED_KINDS)
    assert kinds == list(UNTRAINED_KINDS) * 20
    assert np.array_equal(images, non_digits(40, seed=3, kinds=UNTRAINED_KINDS)[0])
    shapes = {"symbol": [], "word": []}
    for image, kind in zip(images, kinds):
        ys, xs = np.nonzero(image > 40)
        assert len(xs) > 300 and xs.min() >= 0 and xs.max() < 280
        shapes[kind].append((xs.max() - xs.min() + 1) / (ys.max() - ys.min() + 1))
    # words of two to four letters lie wide; symbols mostly stand
    assert np.median(shapes["word"]) > 1.8 > np.median(shapes["symbol"])
    assert "+" not in SYMBOLS and "/" not in SYMBOLS and "(" not in SYMBOLS
    for kind in UNTRAINED_KINDS:
        with pytest.raises(ValueError, match="non_digit_kinds must be"):
            TrainConfig(non_digits=100, non_digit_kinds=(kind,)).resolved()


def test_adding_symbols_and_words_left_the_training_drawings_as_they_were():
    """Shipped models were trained on drawings of these seeds: the same seed must still
    draw the same letters, stroke for stroke (a fingerprint of seed 7's first letters)."""
    images, kinds = non_digits(40, seed=7, kinds=("letter",))
    ink = (images > 40).sum(axis=(1, 2))
    assert kinds == ["letter"] * 40
    assert ink[:5].tolist() == LETTER_INK_SEED_7
