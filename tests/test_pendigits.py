"""Tests for `mnist_core.sources.pendigits`: UNIPEN parsing and drawing-pad rendering.

They use the small committed excerpt `tests/data/pendigits-sample.tra` (the first three
samples of each digit from the real file); only the last test reads the full file, and
it is skipped when the file is absent.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from mnist_core.sources import pendigits
from mnist_core.sources import pendigits_source as source
from mnist_core.sources.pendigits import (
    PenDigit,
    load_pendigits,
    render_dataset,
    render_digit,
    writer_split,
)

SAMPLE = Path(__file__).parent / "data" / "pendigits-sample.tra"
# Labels and writers of the 30 samples, in file order (from the .SEGMENT/.COMMENT lines).
SAMPLE_LABELS = [8, 2, 1, 4, 1, 6, 4, 0, 5, 0, 9, 8, 5, 9, 7, 3, 3, 9, 2, 2, 5, 1, 8, 6, 4, 0, 7,
                 3, 7, 6]  # fmt: skip
SAMPLE_WRITERS = [12, 26, 11, 14, 10, 27, 1, 18, 5, 12, 21, 2, 27, 5, 5, 16, 19, 18, 9, 12, 9,
                  23, 3, 13, 26, 29, 24, 10, 10, 11]  # fmt: skip
INK = 128  # a pixel at least half covered by the pen


@pytest.fixture(scope="module")
def sample() -> list[PenDigit]:
    return load_pendigits(SAMPLE)


def ink_box(image: np.ndarray, level: int = INK) -> tuple[int, int, int, int]:
    """(top, bottom, left, right), inclusive, of the pixels at or above `level`."""
    rows = np.flatnonzero((image >= level).any(axis=1))
    cols = np.flatnonzero((image >= level).any(axis=0))
    assert rows.size and cols.size, "nothing was drawn"
    return int(rows[0]), int(rows[-1]), int(cols[0]), int(cols[-1])


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "bad.tra"
    path.write_text(text)
    return path


# --- loading -------------------------------------------------------------------------


def test_sample_labels_writers_and_strokes(sample: list[PenDigit]) -> None:
    assert [d.label for d in sample] == SAMPLE_LABELS
    assert Counter(d.label for d in sample) == {k: 3 for k in range(10)}
    assert [d.writer for d in sample] == SAMPLE_WRITERS
    # ".SEGMENT DIGIT 6-7" (the 7th sample, a "4") has two strokes, "0" (the 1st) has one
    assert len(sample[6].strokes) == 2 and len(sample[0].strokes) == 1
    assert sum(len(d.strokes) for d in sample) == 38
    for digit in sample:
        for stroke in digit.strokes:
            assert stroke.ndim == 2 and stroke.shape[1] == 2 and stroke.dtype == np.float64
            assert not stroke.flags.writeable


def test_y_is_flipped_to_grow_downwards(sample: list[PenDigit]) -> None:
    # The file's first sample starts " 267  333", then " 267  336" (pen moving up).
    first = sample[0].strokes[0]
    assert first[0].tolist() == [267.0, 500.0 - 333.0]
    assert first[1].tolist() == [267.0, 500.0 - 336.0]
    assert len(first) == 78  # the points between its .PEN_DOWN and .PEN_UP


def band_widths(image: np.ndarray) -> tuple[int, int, int]:
    """Inked columns in the top and bottom tenth of the ink box, and the box width."""
    top, bottom, left, right = ink_box(image)
    band = max(1, (bottom - top + 1) // 10)
    upper = image[top : top + band, left : right + 1] >= INK
    lower = image[bottom + 1 - band : bottom + 1, left : right + 1] >= INK
    return int(upper.any(axis=0).sum()), int(lower.any(axis=0).sum()), right - left + 1


def test_seven_has_its_bar_at_the_top(sample: list[PenDigit]) -> None:
    sevens = [d for d in sample if d.label == 7]
    assert len(sevens) == 3
    for seven in sevens:
        image = render_digit(seven)
        upper, lower, width = band_widths(image)
        # the horizontal bar spans most of the top; only the stem's foot is at the bottom
        assert upper > 0.6 * width and lower < 0.25 * width, (upper, lower, width)
        upside_down = band_widths(image[::-1])  # what a missing y flip would give
        assert not upside_down[0] > 0.6 * upside_down[2]


def test_default_path_comes_from_the_environment(
    sample: list[PenDigit], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PENDIGITS_PATH", str(SAMPLE))
    assert pendigits.default_pendigits_path() == SAMPLE
    assert [d.label for d in load_pendigits()] == SAMPLE_LABELS
    monkeypatch.delenv("PENDIGITS_PATH")
    assert source.SHARED_COPY.parts[-3:] == ("shared", "pendigits", "pendigits-orig.tra")
    monkeypatch.setattr(source, "SHARED_COPY", SAMPLE)  # the shared copy beside the checkout
    assert pendigits.default_pendigits_path() == SAMPLE


def test_missing_file_is_named(tmp_path: Path) -> None:
    missing = tmp_path / "nope.tra"
    with pytest.raises(FileNotFoundError, match="nope.tra"):
        load_pendigits(missing)


GOOD = (
    '.HIERARCHY DIGIT\n.SEGMENT DIGIT 0 ? "1"\n.COMMENT 1 4 7\n'
    ".PEN_DOWN\n 10 20\n 10 30\n.PEN_UP\n"
)


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        (GOOD.replace(" 10 30", " 10 abc"), 6, "expected an 'x y' point"),
        (GOOD.replace(".PEN_DOWN\n", ""), 4, "outside a .PEN_DOWN"),
        (GOOD.replace(".PEN_UP\n", ""), 6, "missing .PEN_UP"),
        (GOOD.replace('"1"', '"x"'), 2, ".SEGMENT DIGIT"),
        (GOOD.replace("DIGIT 0", "DIGIT 0-1"), 2, "announces 2 stroke"),
        (GOOD.replace(" 10 20\n 10 30\n", ""), 5, "stroke with no points"),
        (GOOD + ".PEN_UP\n", 8, ".PEN_UP without"),
        (GOOD + '.SEGMENT DIGIT 1 ? "2"\n', 8, "has no strokes"),
    ],
)
def test_malformed_file_names_file_and_line(
    tmp_path: Path, text: str, line: int, message: str
) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ValueError, match=f"bad.tra, line {line}: .*{message}"):
        load_pendigits(path)


def test_minimal_file_and_comment_without_writer(tmp_path: Path) -> None:
    (digit,) = load_pendigits(write(tmp_path, GOOD))
    assert (digit.label, digit.writer) == (1, 4)
    assert digit.strokes[0].tolist() == [[10.0, 480.0], [10.0, 470.0]]
    (digit,) = load_pendigits(write(tmp_path, GOOD.replace(".COMMENT 1 4 7", ".COMMENT hi")))
    assert digit.writer is None
    with pytest.raises(ValueError, match="no .SEGMENT"):
        load_pendigits(write(tmp_path, ".HIERARCHY DIGIT\n"))


def test_writer_split_keeps_writers_apart(sample: list[PenDigit]) -> None:
    train, test = writer_split(sample, test_fraction=0.25, seed=3)
    assert len(train) + len(test) == len(sample)
    assert train and test
    assert not {d.writer for d in train} & {d.writer for d in test}
    assert writer_split(sample, test_fraction=0.25, seed=3)[1] == test  # identity, same order
    train, test = writer_split(sample, test_writers=[5, 10])
    assert {d.writer for d in test} == {5, 10} and len(test) == 6
    with pytest.raises(ValueError, match="do not occur"):
        writer_split(sample, test_writers=[99])
    with pytest.raises(ValueError, match="writer ids"):
        writer_split([PenDigit(1, (np.zeros((1, 2)),))])


# --- rendering -----------------------------------------------------------------------


def test_random_renders_stay_inside_the_canvas(sample: list[PenDigit]) -> None:
    for seed in range(4):
        images, labels = render_dataset(sample, seed=seed)
        assert images.shape == (30, 280, 280) and images.dtype == np.uint8
        assert labels.dtype == np.uint8 and labels.tolist() == SAMPLE_LABELS
        border = np.concatenate(
            [images[:, 0], images[:, -1], images[:, :, 0], images[:, :, -1]], axis=1
        )
        assert border.max() == 0
        assert (images.reshape(30, -1) >= INK).any(axis=1).all()
        assert images.max() == 255


@pytest.mark.parametrize(("size", "centre"), [(150.0, (120.0, 160.0)), (200.0, (139.5, 139.5))])
def test_size_and_centre_are_as_asked(
    sample: list[PenDigit], size: float, centre: tuple[float, float]
) -> None:
    for digit in sample:
        image = render_digit(digit, digit_height=size, centre=centre)
        top, bottom, left, right = ink_box(image)
        height, width = bottom - top + 1, right - left + 1
        # the longer side of the trajectory is `size`; the round pen adds its width
        assert abs(max(height, width) - (size + 18)) <= 3, (digit.label, height, width)
        assert abs((left + right) / 2 - centre[0]) <= 1.5
        assert abs((top + bottom) / 2 - centre[1]) <= 1.5


def test_tall_digit_height_is_digit_height_plus_pen(sample: list[PenDigit]) -> None:
    one = sample[2]  # a "1": much taller than wide
    for size in (90, 180, 230):
        top, bottom, _, _ = ink_box(render_digit(one, digit_height=size))
        assert abs((bottom - top + 1) - (size + 18)) <= 2


@pytest.mark.parametrize("pen", [6, 18, 30])
def test_pen_width_of_a_straight_stroke(pen: int) -> None:
    vertical = [np.array([[50.0, 0.0], [50.0, 40.0], [50.0, 100.0]])]
    image = render_digit(vertical, pen_width=pen, digit_height=120, centre=(140.3, 140))
    row = image[140].astype(np.float64)
    assert abs(row.sum() / 255 - pen) <= 0.5  # covered area across the line
    assert abs(np.count_nonzero(row >= INK) - pen) <= 1
    top, bottom, left, right = ink_box(image)
    assert abs((bottom - top + 1) - (120 + pen)) <= 1  # round caps: +pen/2 at each end
    assert np.ptp(image[100:180, left + 2 : right - 1]) == 0  # solid inside, no gaps


def test_single_point_stroke_is_a_round_dot() -> None:
    image = render_digit([np.array([[3.0, 4.0]])], pen_width=20, centre=(100.0, 60.0))
    area = image.sum() / 255
    assert abs(area - np.pi * 10**2) < 0.05 * np.pi * 10**2
    top, bottom, left, right = ink_box(image)
    assert abs((top + bottom) / 2 - 60) <= 0.5 and abs((left + right) / 2 - 100) <= 0.5
    assert abs((bottom - top + 1) - 20) <= 1 and abs((right - left + 1) - 20) <= 1


def test_rendering_is_deterministic_per_seed(sample: list[PenDigit]) -> None:
    first, _ = render_dataset(sample[:8], seed=7)
    again, _ = render_dataset(sample[:8], seed=7)
    other, _ = render_dataset(sample[:8], seed=8)
    assert np.array_equal(first, again)
    assert not np.array_equal(first, other)
    one = render_digit(sample[0], rng=np.random.default_rng(1))
    assert np.array_equal(one, render_digit(sample[0], rng=np.random.default_rng(1)))
    assert not np.array_equal(one, render_digit(sample[0], rng=np.random.default_rng(2)))


def test_fixed_rendering_is_centred_and_seed_free(sample: list[PenDigit]) -> None:
    fixed, _ = render_dataset(sample, seed=1, varied=False)
    assert np.array_equal(fixed, render_dataset(sample, seed=2, varied=False)[0])
    for image in fixed:
        top, bottom, left, right = ink_box(image)
        assert abs(max(bottom - top, right - left) + 1 - (180 + 18)) <= 3
        assert abs((top + bottom) / 2 - 139.5) <= 1.5 and abs((left + right) / 2 - 139.5) <= 1.5


def test_random_sizes_span_the_pad_range(sample: list[PenDigit]) -> None:
    images, _ = render_dataset(sample * 4, seed=0)
    sides = []
    for image in images:
        top, bottom, left, right = ink_box(image)
        sides.append(max(bottom - top, right - left) + 1 - 18)
    assert 85 <= min(sides) < 130 and 190 < max(sides) <= 235


def test_other_canvas_sizes(sample: list[PenDigit]) -> None:
    images, _ = render_dataset(sample[:5], canvas_size=64, pen_width=4)
    assert images.shape == (5, 64, 64)
    assert images[:, 0].max() == 0 and images[:, :, -1].max() == 0


# --- the full file -------------------------------------------------------------------


def test_full_file_has_the_readme_counts() -> None:
    path = pendigits.default_pendigits_path()
    if not path.is_file():
        pytest.skip(f"full pendigits file not present at {path}")
    digits = load_pendigits(path)
    assert len(digits) == 7494
    counts = Counter(d.label for d in digits)
    assert [counts[k] for k in range(10)] == [780, 779, 780, 719, 780, 720, 720, 778, 719, 719]
    writers = Counter(d.writer for d in digits)
    assert sorted(writers) == list(range(1, 31))
    assert all(247 <= n <= 250 for n in writers.values())


def test_drawn_training_set_is_prepared_like_pad_drawings():
    from mnist_core.reading.preprocess import centre_of_mass
    from mnist_core.sources.pendigits import drawn_training_set

    digits = load_pendigits(SAMPLE)[:6]
    images, labels = drawn_training_set(digits, renders=2, seed=3)
    assert images.shape == (12, 28, 28) and images.dtype == np.float32
    assert labels.tolist() == [d.label for d in digits for _ in range(2)]
    for image in images:
        row, col = centre_of_mass(image)
        assert abs(row - 14) <= 0.5 and abs(col - 14) <= 0.5
    assert not np.allclose(images[0], images[1])  # two different renders of one digit


def test_compose_number_writes_digits_left_to_right_inside_the_pad():
    from mnist_core.reading.segment import NUMBER_PAD
    from mnist_core.sources.pendigits import compose_number

    digits = load_pendigits(SAMPLE)[:5]
    for seed in range(5):
        number = compose_number(digits, np.random.default_rng(seed))
        assert number.image.shape == NUMBER_PAD and number.image.dtype == np.uint8
        assert number.text == "".join(str(d.label) for d in digits)
        lefts = [box[2] for box in number.boxes]
        assert lefts == sorted(lefts)
        for top, bottom, left, right in number.boxes:
            assert 0 <= top < bottom <= NUMBER_PAD[0] and 0 <= left < right <= NUMBER_PAD[1]
            assert number.image[top:bottom, left:right].max() == 255  # ink in every box
        outside = number.image.copy()
        for top, bottom, left, right in number.boxes:
            outside[top:bottom, left:right] = 0
        assert outside.max() == 0  # and none outside them
