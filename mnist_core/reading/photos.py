"""Digits made into image files as a scanner or a phone camera would make them.

Each kind (`KINDS`) turns a 28x28 digit (ink 0-1) into the bytes of a PNG or JPEG file:
on lit paper with a gradient or a shadow, blur, sensor noise and JPEG blocks, with a fine
pen or a marker, or shrunk into a tiny frame as older digit collections stored them.
They measure the upload path (`bench.scans`) and test it, on digits whose labels are
known.
"""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np


def _enlarge(digit: np.ndarray, factor: int) -> np.ndarray:
    return np.clip(cv2.resize(digit, None, fx=factor, fy=factor,
                              interpolation=cv2.INTER_CUBIC), 0.0, 1.0)


def _with_margins(ink: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Paper around the digit: 15-60% of its frame on each side, at random."""
    top, bottom, left, right = (int(rng.uniform(0.15, 0.6) * ink.shape[0]) for _ in range(4))
    return np.pad(ink, ((top, bottom), (left, right)))


def _on_paper(ink: np.ndarray, rng: np.random.Generator, *, ink_reflects: tuple,
              paper: tuple, gradient: float, blur: float, noise: float) -> np.ndarray:
    """Brightness of `ink` (0-1 coverage) on lit paper: the light falls linearly by
    `gradient` across the sheet in a random direction and the ink reflects a share of
    it; then lens blur and sensor noise."""
    height, width = ink.shape
    rows, cols = np.mgrid[0:height, 0:width] / max(height, width)
    angle = rng.uniform(0, 2 * np.pi)
    light = rng.uniform(*paper) + gradient * (
        np.cos(angle) * cols + np.sin(angle) * rows - 0.5
    )
    image = light * (1 - ink * (1 - rng.uniform(*ink_reflects)))
    image = cv2.GaussianBlur(image, (0, 0), blur)
    return np.clip(image + rng.normal(0, noise, image.shape), 0.0, 1.0)


def _fill_frame(digit: np.ndarray, size: int) -> np.ndarray:
    """The digit's ink scaled (aspect kept) to fill a `size` x `size` frame."""
    rows = np.flatnonzero(digit.max(axis=1) > 0.1)
    cols = np.flatnonzero(digit.max(axis=0) > 0.1)
    crop = digit[rows[0]: rows[-1] + 1, cols[0]: cols[-1] + 1]
    scale = size / max(crop.shape)
    height, width = (max(1, round(n * scale)) for n in crop.shape)
    boxed = cv2.resize(crop, (width, height),
                       interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
    frame = np.zeros((size, size), np.float32)
    top, left = (size - height) // 2, (size - width) // 2
    frame[top: top + height, left: left + width] = boxed
    return frame


def stretch_to_frame(digit: np.ndarray, size: int) -> np.ndarray:
    """The digit's ink stretched to fill a `size` x `size` frame both ways."""
    rows = np.flatnonzero(digit.max(axis=1) > 0.1)
    cols = np.flatnonzero(digit.max(axis=0) > 0.1)
    crop = digit[rows[0]: rows[-1] + 1, cols[0]: cols[-1] + 1]
    return cv2.resize(crop, (size, size), interpolation=cv2.INTER_AREA)


def image_file(brightness: np.ndarray, quality: int | None = None) -> bytes:
    """The image as the bytes of a PNG file, or of a JPEG of this quality."""
    pixels = np.round(np.clip(brightness, 0, 1) * 255).astype(np.uint8)
    if quality is None:
        ok, data = cv2.imencode(".png", pixels)
    else:
        ok, data = cv2.imencode(".jpg", pixels, [cv2.IMWRITE_JPEG_QUALITY, quality])
    assert ok
    return data.tobytes()


def _paper_scan(ink, rng):
    return image_file(_on_paper(_with_margins(ink, rng), rng, ink_reflects=(0.05, 0.3),
                           paper=(0.8, 0.97), gradient=0.08, blur=1.0, noise=0.02), 80)


_PEN = np.ones((5, 5), np.uint8)
_MARKER = np.ones((7, 7), np.uint8)

# kind -> (how a digit (28x28, ink 0-1) becomes an image file, what it imitates)
KINDS: dict[str, tuple[Callable[[np.ndarray, np.random.Generator], bytes], str]] = {
    "as uploaded": (lambda d, rng: image_file(d), "the MNIST image itself, white on black, PNG"),
    "paper scan": (lambda d, rng: _paper_scan(_enlarge(d, 4), rng),
                   "dark ink on off-white paper, 4x, slight gradient, JPEG 80"),
    "phone photo": (
        lambda d, rng: image_file(_on_paper(
            _with_margins(_enlarge(d, 6), rng), rng, ink_reflects=(0.25, 0.45),
            paper=(0.6, 0.85), gradient=0.3, blur=2.0, noise=0.03), 50),
        "grey ink on dim paper, 6x, a shadow across it, blur, noise, JPEG 50"),
    "thin pen": (lambda d, rng: _paper_scan(cv2.erode(_enlarge(d, 4), _PEN), rng),
                 "the paper scan with strokes eroded to a fine pen's"),
    "marker": (lambda d, rng: _paper_scan(cv2.dilate(_enlarge(d, 4), _MARKER), rng),
               "the paper scan with strokes dilated to a felt marker's"),
    "16x16 grey": (lambda d, rng: image_file(1 - _fill_frame(d, 16)),
                   "filling a 16x16 frame, grey, dark on white (USPS-like)"),
    "16x16 b/w": (lambda d, rng: image_file(1 - (_fill_frame(d, 16) > 0.5)),
                  "filling a 16x16 frame, black and white"),
    "16x16 b/w stretched": (lambda d, rng: image_file(1 - (stretch_to_frame(d, 16) > 0.5)),
                            "stretched to fill 16x16 both ways, black and white (Semeion-like)"),
    "32x32 b/w": (lambda d, rng: image_file(1 - (_fill_frame(d, 32) > 0.5)),
                  "filling a 32x32 frame, black and white (optdigits-like)"),
}
