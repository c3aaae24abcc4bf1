"""A written number as a whole-number reader sees it: the one preparation of a wide
drawing's ink for training, evaluation and reading.

The ink is cropped to its bounding box and scaled, keeping its proportions, so that it
stands `INK_HEIGHT` px tall in a `NUMBER_HEIGHT` x `NUMBER_WIDTH` image (a number too
long for that width is scaled down further to fit it), then placed `MARGIN` px from
the left, centred vertically. `NumberInput` keeps the crop and the scale, so that a
column the reader points to maps back to the drawing (`to_drawing_x`).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from mnist_core.errors import EmptyDrawingError
from mnist_core.model.number_network import NUMBER_HEIGHT, NUMBER_WIDTH
from mnist_core.reading.preprocess import INK_LEVEL, MIN_EXTENT_PX, is_dot

INK_HEIGHT = 28  # 2 px of background above and below the tallest ink
MARGIN = 4  # px of background left of the ink, and at least right of it
NUMBER_PREPROCESS_VERSION = "number-height-28-in-32x128"


@dataclass(frozen=True)
class NumberInput:
    """A drawing's ink as the reader sees it: `image` `(NUMBER_HEIGHT, NUMBER_WIDTH)`
    float32 in [0, 1]; `crop` = (top, bottom, left, right), exclusive ends, the ink's box
    in the drawing; `scale`, the reader's px per drawing px; `ink`, the drawing's ink
    `(H, W)` in [0, 1] it came from."""

    image: np.ndarray
    crop: tuple[int, int, int, int]
    scale: float
    ink: np.ndarray

    def to_drawing_x(self, column: float) -> float:
        """A column of `image` (an edge, in px from its left) as a drawing's column."""
        return self.crop[2] + (column - MARGIN) / self.scale


def prepare_number(ink: np.ndarray) -> NumberInput:
    """Crop a number's ink (`(H, W)` float in [0, 1], white on black) to its box, scale
    it to `INK_HEIGHT` px tall (narrower where it would not fit `NUMBER_WIDTH`) and place
    it in the reader's image. Raises `EmptyDrawingError` for no ink, too little to be a
    digit, or a dot (a tap of the pen)."""
    ink = np.ascontiguousarray(ink, dtype=np.float32)
    if ink.ndim != 2:
        raise ValueError(f"expected ink shaped (H, W), got {ink.shape}")
    mask = cv2.compare(ink, INK_LEVEL, cv2.CMP_GT)
    left, top, width, height = cv2.boundingRect(mask)
    if max(width, height) < MIN_EXTENT_PX:
        raise EmptyDrawingError("the pad is empty: write a number first")
    if is_dot(ink):
        raise EmptyDrawingError("the drawing is only a dot or a blot: write a number")
    scale = min(INK_HEIGHT / height, (NUMBER_WIDTH - 2 * MARGIN) / width)
    new_w = max(1, min(NUMBER_WIDTH - 2 * MARGIN, round(width * scale)))
    new_h = max(1, min(INK_HEIGHT, round(height * scale)))
    crop = ink[top:top + height, left:left + width]
    shrinking = scale < 1
    small = cv2.resize(crop, (new_w, new_h),
                       interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR)
    image = np.zeros((NUMBER_HEIGHT, NUMBER_WIDTH), dtype=np.float32)
    y = (NUMBER_HEIGHT - new_h) // 2
    image[y:y + new_h, MARGIN:MARGIN + new_w] = np.clip(small, 0.0, 1.0)
    return NumberInput(image, (top, top + height, left, left + width),
                       new_w / width, ink)
