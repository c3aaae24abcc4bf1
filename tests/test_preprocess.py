"""`mnist_core.reading.preprocess`: the MNIST-style path every image takes to the model."""

from __future__ import annotations

import numpy as np
import pytest

from mnist_core.errors import EmptyDrawingError
from mnist_core.reading.preprocess import (
    PreprocessSteps,
    canvas_to_mnist,
    centre_of_mass,
    is_dot,
    naive_resize,
    photo_to_mnist,
    prepare_mnist,
)

from .drawing import draw_strokes, enlarge_mnist

SEVEN = [[(80, 60), (200, 60), (130, 230)]]
ONE = [[(140, 40), (140, 240)]]


def _ink_box(image, level=0.1):
    rows = np.flatnonzero((image > level).any(axis=1))
    cols = np.flatnonzero((image > level).any(axis=0))
    return rows[0], rows[-1] + 1, cols[0], cols[-1] + 1


@pytest.mark.parametrize("image", [
    np.zeros((280, 280, 4), np.uint8),
    np.zeros((280, 280), np.uint8),
    np.full((280, 280), 10, np.uint8),  # faint noise, below the ink level
])
def test_blank_raises(image):
    with pytest.raises(EmptyDrawingError):
        canvas_to_mnist(image)


def test_speck_raises():
    image = np.zeros((280, 280), np.uint8)
    image[100:102, 100:102] = 255
    with pytest.raises(EmptyDrawingError):
        canvas_to_mnist(image)


@pytest.mark.parametrize("pen", [6, 18, 40])
@pytest.mark.parametrize("drag", [0.0, 0.25])
def test_a_tap_is_a_dot(pen, drag):
    # a tap of any pen, or one that slid a quarter of the pen's width
    assert is_dot(draw_strokes([[(140, 140), (140 + drag * pen, 140)]], width=pen) / 255)


@pytest.mark.parametrize("pen", [6, 18, 40])
def test_a_stroke_as_long_as_the_pen_is_wide_is_no_dot(pen):
    dash = [[(140, 140 - pen / 2), (140, 140 + pen / 2)]]  # a stub of a 1
    assert not is_dot(draw_strokes(dash, width=pen) / 255)


def test_a_hatched_in_blot_is_a_dot_too():
    hatch = [[(60 + 160 * (i % 2), 60 + 10 * i) for i in range(17)]]
    assert is_dot(draw_strokes(hatch, width=18) / 255)
    assert not is_dot(np.zeros((280, 280)))


def test_no_mnist_digit_of_the_subset_is_a_dot(mnist_subset):
    (x_train, _), (x_test, _) = mnist_subset
    digits = np.concatenate([x_train, x_test]).astype(np.float32) / 255
    assert not any(is_dot(digit) for digit in digits)


def test_a_small_bold_zero_with_its_hole_is_no_dot():
    ring = draw_strokes([[(140 + 22 * np.cos(a), 140 + 22 * np.sin(a))
                          for a in np.linspace(0, 2 * np.pi, 40)]], width=18)
    assert not is_dot(ring / 255)


@pytest.mark.parametrize("strokes", [SEVEN, ONE, [[(20, 20), (60, 35)], [(40, 10), (40, 60)]]])
def test_output_format_and_centre_of_mass(strokes):
    out = canvas_to_mnist(draw_strokes(strokes, rgba=True))
    assert out.shape == (28, 28) and out.dtype == np.float32
    assert out.min() >= 0.0 and out.max() <= 1.0 and out.max() > 0.9
    row, col = centre_of_mass(out)
    assert abs(row - 14) <= 0.5 and abs(col - 14) <= 0.5


def test_longer_side_is_twenty_pixels_keeping_aspect():
    out = canvas_to_mnist(draw_strokes(SEVEN))
    top, bottom, left, right = _ink_box(out, 0.3)
    assert bottom - top in (19, 20, 21)
    # The 7 is 120+18 wide and 170+18 tall on the canvas: aspect ~0.73 is kept.
    assert 12 <= right - left <= 16


def test_thin_vertical_one_stays_thin_and_upright():
    out = canvas_to_mnist(draw_strokes(ONE, width=10))
    top, bottom, left, right = _ink_box(out, 0.3)
    assert bottom - top >= 19
    assert right - left <= 3  # not stretched into a block
    assert abs(centre_of_mass(out)[1] - 14) <= 0.5


def test_stroke_touching_the_edge():
    image = draw_strokes([[(0, 0), (0, 279)], [(0, 0), (120, 0)]])
    out = canvas_to_mnist(image)
    row, col = centre_of_mass(out)
    assert abs(row - 14) <= 0.5 and abs(col - 14) <= 0.5


def test_tiny_drawing_is_enlarged_to_the_box():
    image = draw_strokes([[(100, 100), (115, 100), (106, 125)]], width=3)
    out = canvas_to_mnist(image)
    top, bottom, _, _ = _ink_box(out, 0.2)
    assert bottom - top >= 18


def test_same_drawing_shifted_or_scaled_gives_nearly_the_same_input():
    base = canvas_to_mnist(draw_strokes(SEVEN))
    shifted = canvas_to_mnist(draw_strokes([[(x - 60, y + 40) for x, y in SEVEN[0]]]))
    small = canvas_to_mnist(
        draw_strokes([[(x / 2 + 10, y / 2 + 5) for x, y in SEVEN[0]]], width=9)
    )
    assert np.abs(base - shifted).mean() < 0.01
    assert np.abs(base - small).mean() < 0.04
    assert np.corrcoef(base.ravel(), small.ravel())[0, 1] > 0.95


def test_thick_and_thin_pens_give_the_same_shape():
    thin = canvas_to_mnist(draw_strokes(SEVEN, width=12))
    thick = canvas_to_mnist(draw_strokes(SEVEN, width=26))
    assert thick.sum() > thin.sum()  # a bolder pen stays bolder
    assert np.corrcoef(thin.ravel(), thick.ravel())[0, 1] > 0.75


def test_rgba_alpha_and_grayscale_agree():
    gray = draw_strokes(SEVEN)
    transparent = np.zeros((280, 280, 4), np.uint8)
    transparent[:, :, :3] = 255
    transparent[:, :, 3] = gray  # white ink whose coverage is in alpha
    np.testing.assert_allclose(canvas_to_mnist(gray), canvas_to_mnist(transparent), atol=0.02)
    np.testing.assert_allclose(
        canvas_to_mnist(gray), canvas_to_mnist(gray.astype(np.float32) / 255), atol=1e-5
    )


def test_mnist_digits_scaled_up_come_back_close(mnist_subset):
    _, (x_test, _) = mnist_subset
    originals = x_test[:200].astype(np.float32) / 255
    diffs, correlations = [], []
    for original in originals:
        out = canvas_to_mnist(enlarge_mnist(x_test[len(diffs)]))
        diffs.append(np.abs(out - original).mean())
        correlations.append(np.corrcoef(out.ravel(), original.ravel())[0, 1])
    assert np.median(diffs) < 0.04
    assert np.median(correlations) > 0.93
    # Thin 1s can land a pixel to the side (whole-pixel centring): allow a few.
    assert np.percentile(correlations, 5) > 0.8


def test_prepare_mnist_barely_changes_mnist(mnist_subset):
    _, (x_test, _) = mnist_subset
    prepared = prepare_mnist(x_test)
    original = x_test.astype(np.float32) / 255
    per_image = np.abs(prepared - original).mean(axis=(1, 2))
    assert (per_image < 1e-6).mean() > 0.7  # already MNIST-centred: mostly untouched
    assert per_image.max() < 0.2


def test_steps_are_recorded():
    steps = PreprocessSteps()
    out = canvas_to_mnist(draw_strokes(SEVEN), steps)
    top, bottom, left, right = steps.bbox
    assert (bottom - top, right - left) == steps.crop.shape
    assert max(steps.boxed.shape) == 20
    np.testing.assert_array_equal(steps.centred, out)


def test_photo_dark_on_light_is_inverted():
    drawing = draw_strokes(SEVEN)
    paper = (235 - drawing.astype(np.int32) * 0.8).astype(np.uint8)  # grey ink, off-white
    photo = np.stack([paper] * 3, axis=-1)
    np.testing.assert_array_less(-1e-6, photo_to_mnist(photo))
    assert np.corrcoef(photo_to_mnist(photo).ravel(), canvas_to_mnist(drawing).ravel())[0, 1] > 0.9


def _photographed(drawing, *, light, ink_reflects=0.35):
    """`drawing` (white on black, uint8) as dark ink on paper lit by `light` (H, W)."""
    ink = drawing.astype(np.float32) / 255
    return np.round(255 * light * (1 - ink * (1 - ink_reflects))).astype(np.uint8)


def _similarity(a, b):
    return np.corrcoef(a.ravel(), b.ravel())[0, 1]


def test_photo_in_a_shadow_reads_like_the_drawing():
    """Dim paper (mostly darker than mid-grey) with the light falling across it: the
    shadow is not ink, and the dark ink is still found to be the ink."""
    drawing = draw_strokes(SEVEN)
    light = np.linspace(0.7, 0.25, 280, dtype=np.float32)[np.newaxis, :].repeat(280, 0)
    photo = _photographed(drawing, light=light)
    assert np.median(photo) < 128
    assert _similarity(photo_to_mnist(photo), canvas_to_mnist(drawing)) > 0.9


def test_a_dim_photo_whose_bright_corner_strays_as_far_as_the_ink():
    """Dark ink on paper in dim light falling steeply across the corner: from the
    edge alone the bright corner looks like light ink; the ink that stands out is dark."""
    drawing = draw_strokes(SEVEN)
    rows, cols = np.mgrid[0:280, 0:280] / 280
    light = (0.26 + 0.5 * (np.cos(0.8) * cols + np.sin(0.8) * rows - 0.5)).astype(np.float32)
    photo = _photographed(drawing, light=light)
    edge = np.concatenate([photo[0], photo[-1], photo[:, 0], photo[:, -1]])
    darkest, brightest = np.percentile(photo, (0.1, 99.9))
    assert brightest - np.median(edge) >= np.median(edge) - darkest  # the edge is fooled
    assert _similarity(photo_to_mnist(photo), canvas_to_mnist(drawing)) > 0.9


def test_light_ink_on_an_unevenly_lit_dark_ground():
    drawing = draw_strokes(ONE)
    ground = np.linspace(0.05, 0.35, 280, dtype=np.float32)[:, np.newaxis].repeat(280, 1)
    chalk = np.round(255 * np.maximum(ground, drawing / 255 * 0.8)).astype(np.uint8)
    assert _similarity(photo_to_mnist(chalk), canvas_to_mnist(drawing)) > 0.9


def test_photo_specks_do_not_stretch_the_crop():
    drawing = draw_strokes(SEVEN)
    photo = _photographed(drawing, light=np.full((280, 280), 0.9, np.float32))
    clean = photo_to_mnist(photo)
    for row, col in ((8, 8), (270, 12), (15, 265), (268, 270)):  # dust in the corners
        photo[row : row + 2, col : col + 2] = 20
    steps = PreprocessSteps()
    assert _similarity(photo_to_mnist(photo, steps), clean) > 0.99
    top, bottom, left, right = steps.bbox
    assert top > 20 and left > 20 and bottom < 260 and right < 260


def test_a_large_photo_reads_like_a_small_one_and_is_shrunk_first():
    drawing = draw_strokes(SEVEN)
    light = np.full((280, 280), 0.85, np.float32)
    small = _photographed(drawing, light=light)
    large = np.kron(small, np.ones((12, 12), np.uint8))  # 3,360 px square
    steps = PreprocessSteps()
    out = photo_to_mnist(large, steps)
    assert max(steps.ink.shape) <= 512
    assert _similarity(out, photo_to_mnist(small)) > 0.95


def test_photo_without_contrast_raises():
    with pytest.raises(EmptyDrawingError):
        photo_to_mnist(np.full((100, 100, 3), 200, np.uint8))


@pytest.mark.parametrize("bad", [
    np.zeros((280,), np.uint8), np.zeros((28, 28, 2), np.uint8), np.zeros((1, 1), np.uint8),
    np.full((28, 28), 2.0, np.float32), np.full((28, 28), np.nan, np.float32),
])
def test_bad_arrays_raise_value_error(bad):
    with pytest.raises(ValueError):
        canvas_to_mnist(bad)


def test_naive_resize_squashes_without_centring():
    corner = draw_strokes([[(x / 3, y / 3) for x, y in SEVEN[0]]], width=6)
    naive = naive_resize(corner)
    assert centre_of_mass(naive)[0] < 8  # the digit stays in the corner
    assert abs(centre_of_mass(canvas_to_mnist(corner))[0] - 14) <= 0.5


def test_a_blank_sheet_with_grain_has_too_little_contrast():
    rng = np.random.default_rng(0)
    light = np.linspace(0.9, 0.6, 300, dtype=np.float32)[np.newaxis, :].repeat(200, 0)
    sheet = np.clip(light + rng.normal(0, 0.02, light.shape), 0, 1)
    with pytest.raises(EmptyDrawingError, match="contrast"):
        photo_to_mnist(np.round(sheet * 255).astype(np.uint8))


def test_a_bold_digit_filling_a_tiny_frame_is_still_the_ink():
    """A 16x16 scan where the strokes cover most pixels: the edge, mostly paper, says
    which side is ink (the median would say the opposite)."""
    import cv2

    ring = np.zeros((16, 16), np.uint8)
    cv2.ellipse(ring, (8, 8), (5, 7), 0, 0, 360, 255, 4)  # 66% ink, touching top and bottom
    scan = 255 - ring  # dark ink on white
    assert np.median(scan) < 128  # most pixels are ink
    assert _similarity(photo_to_mnist(scan), canvas_to_mnist(ring)) > 0.9


def test_a_fine_pen_on_a_large_digit_is_widened_to_mnist_strokes():
    """A 170 px tall 7 drawn 3 px wide would be a hairline in the 20 px box; a photo of
    it comes out as the pad's usual 18 px pen would draw it."""
    drawing = draw_strokes(SEVEN, width=3)
    photo = _photographed(drawing, light=np.full((280, 280), 0.9, np.float32), ink_reflects=0.1)
    widened, hairline = photo_to_mnist(photo), canvas_to_mnist(drawing)
    assert widened.sum() > 1.5 * hairline.sum()
    assert _similarity(widened, canvas_to_mnist(draw_strokes(SEVEN, width=18))) > 0.95
    usual = _photographed(draw_strokes(SEVEN, width=18), light=np.full((280, 280), 0.9, np.float32))
    np.testing.assert_allclose(photo_to_mnist(usual).sum(),
                               canvas_to_mnist(draw_strokes(SEVEN, width=18)).sum(), rtol=0.25)
