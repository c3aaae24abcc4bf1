"""`mnist_core.negatives`: synthetic non-digit drawings, seeded, drawn like the pad."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mnist_core.negatives import KINDS, non_digits
from mnist_core.pendigits import load_pendigits
from mnist_core.preprocess import canvas_to_mnist

SAMPLE = Path(__file__).parent / "data" / "pendigits-sample.tra"


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
