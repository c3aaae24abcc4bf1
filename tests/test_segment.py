"""`mnist_core.reading.segment` and `inference.read_number`: a whole number cut into its digits."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mnist_core.errors import EmptyDrawingError
from mnist_core.model.verdict import NOT_NAMED
from mnist_core.reading import inference
from mnist_core.reading.inference import UNREAD, read_number
from mnist_core.reading.segment import segment_number
from mnist_core.sources.pendigits import compose_number, load_pendigits
from mnist_core.store import registry

from .drawing import draw_strokes

SAMPLE = Path(__file__).parent / "data" / "pendigits-sample.tra"
WIDE = (240, 720)


def image_with(strokes, width=18) -> np.ndarray:
    """Strokes drawn on the Number mode's 240x720 pad."""
    return draw_strokes(strokes, size=720, width=width)[:240]


ONE = [[(0, -60), (0, 60)]]  # a vertical bar, 120 px tall
SEVEN = [[(-40, -60), (40, -60), (-10, 60)]]
FIVE_BODY = [[(-30, -60), (-35, 0), (20, -5), (35, 25), (20, 55), (-35, 55)]]
FIVE_FLAG = [[(-10, -72), (40, -72)]]  # lifted off the body: a separate piece


def at(strokes, x, y=140):
    return [[(px + x, py + y) for px, py in stroke] for stroke in strokes]


def only_ways(pieces):
    return [piece.ways[0] for piece in pieces]


def test_separate_digits_come_out_left_to_right():
    ink = image_with(at(SEVEN, 500) + at(ONE, 150) + at(ONE, 320)) / 255.0
    pieces = segment_number(ink)
    lefts = [way[0].box[2] for way in only_ways(pieces)]
    assert len(pieces) == 3 and lefts == sorted(lefts)
    assert all(len(way) == 1 for way in only_ways(pieces))
    assert lefts[0] < 150 < lefts[1] < 320 < lefts[2] < 500


def test_a_five_whose_flag_was_lifted_is_one_digit_with_its_parts_offered_apart():
    ink = image_with(at(FIVE_BODY, 200) + at(FIVE_FLAG, 200) + at(ONE, 420)) / 255.0
    pieces = segment_number(ink)
    assert len(pieces) == 2
    five = pieces[0]
    (whole,) = five.ways[0]
    top, bottom, left, right = whole.box
    assert top < 140 - 72 and bottom > 140 + 55  # flag and body in one box
    assert any(len(way) == 2 for way in five.ways[1:])  # the parts, offered apart too


def test_specks_of_the_pen_are_dropped():
    speck = [[(600, 200), (601, 200)]]  # a tap of the pen
    ink = image_with(at(ONE, 200) + speck, width=18) / 255.0
    assert len(segment_number(ink)) == 1


def test_a_decimal_point_between_small_digits_is_dropped():
    small_one = [[(0, -30), (0, 30)]]  # 60 px tall: an 18 px dot is more than a speck
    ink = image_with(at(small_one, 200) + [[(260, 165), (260, 165)]] + at(small_one, 320)) / 255.0
    assert [piece.whole.box[2] < 250 for piece in segment_number(ink)] == [True, False]


def test_a_tap_alone_is_no_number():
    with pytest.raises(EmptyDrawingError, match="only dots"):
        segment_number(image_with([[(300, 120), (300, 120)]], width=30) / 255.0)


def test_touching_digits_are_offered_cut_where_they_meet():
    # a 1 and a 7 whose strokes touch: one connected piece, too wide for one digit
    ink = image_with(at(ONE, 300) + at(SEVEN, 345)) / 255.0
    (piece,) = segment_number(ink)
    cuts = [way for way in piece.ways if len(way) == 2]
    assert cuts, "a two-digit-wide piece must be offered cut in two"
    meeting = [way[0].box[3] for way in cuts]
    assert any(300 < column < 345 for column in meeting)


def test_a_blank_canvas_is_an_empty_drawing():
    with pytest.raises(EmptyDrawingError):
        segment_number(np.zeros(WIDE, np.float32))
    with pytest.raises(EmptyDrawingError):
        segment_number(image_with([[(100, 100), (104, 100)]], width=4) / 255.0)  # a dot


@pytest.fixture(scope="module")
def default_model():
    return registry.load_model()


@pytest.fixture(scope="module")
def written_numbers():
    """Twenty numbers of 1-5 digits written with the committed pendigits sample."""
    digits = load_pendigits(SAMPLE)
    rng = np.random.default_rng(7)
    return [
        compose_number([digits[i] for i in rng.choice(len(digits), n, replace=False)], rng)
        for n in rng.integers(1, 6, size=20)
    ]


def test_read_number_reads_numbers_written_with_real_pen_digits(default_model,
                                                                written_numbers):
    readings = [read_number(default_model, number.image) for number in written_numbers]
    right = sum(r.text == n.text for r, n in zip(readings, written_numbers))
    assert right >= 18, [(n.text, r.text) for r, n in zip(readings, written_numbers)]
    for reading in readings:
        assert len(reading.text) == len(reading.digits)
        for digit in reading.digits:
            assert digit.image.shape == (28, 28)
            assert digit.probabilities.shape == (10,)
            np.testing.assert_allclose(digit.probabilities.sum(), 1.0, atol=1e-4)
            top, bottom, left, right_edge = digit.box
            assert 0 <= top < bottom <= 240 and 0 <= left < right_edge <= 720


def test_read_number_takes_the_pads_rgba_and_spells_what_it_names(default_model):
    gray = image_with(at(ONE, 150) + [[(400, 100), (480, 200), (400, 200), (480, 100),
                                       (440, 60), (400, 100)]])
    rgba = np.zeros((*gray.shape, 4), np.uint8)
    rgba[..., :3] = gray[..., None]
    rgba[..., 3] = 255
    reading = read_number(default_model, rgba)
    assert reading.text[0] == "1"
    assert reading.text == "".join(
        UNREAD if d.digit == NOT_NAMED else str(d.digit) for d in reading.digits
    )


def test_read_number_of_a_blank_canvas_says_so(default_model):
    with pytest.raises(EmptyDrawingError):
        read_number(default_model, np.zeros(WIDE, np.uint8))


def test_read_number_cuts_a_narrow_piece_only_when_it_reads_it_unsurely(default_model,
                                                                         monkeypatch):
    # a 0 about as wide as 0.8 of its height: wide enough that it could be two touching
    # digits, narrow enough that it is most likely one; cutting it costs time
    zero = [[(round(40 * np.sin(t)), round(-55 * np.cos(t)))
             for t in np.linspace(0, 2 * np.pi, 40)]]
    pieces = []

    def keep_pieces(ink):
        pieces.extend(segment_number(ink))
        return pieces

    monkeypatch.setattr(inference, "segment_number", keep_pieces)
    reading = read_number(default_model, image_with(at(zero, 200) + at(ONE, 400)))
    assert reading.text == "01"
    (zero_piece, _) = pieces
    assert zero_piece.divisible and zero_piece.wideness == 0
    assert reading.digits[0].probabilities.max() >= inference.RECHECK_BELOW
    assert "ways" not in vars(zero_piece)  # read surely whole: never cut
