"""Draw test digits the way the drawing pad does: white round-capped strokes on black."""

from __future__ import annotations

import cv2
import numpy as np


def draw_strokes(strokes, size=280, width=18, rgba=False) -> np.ndarray:
    """Render polylines (lists of (x, y) points) as the canvas would."""
    image = np.zeros((size, size), dtype=np.uint8)
    for points in strokes:
        pts = np.round(np.asarray(points, dtype=np.float64) * 16).astype(np.int32)
        cv2.polylines(image, [pts], False, 255, width, cv2.LINE_AA, shift=4)
    if not rgba:
        return image
    rgba_image = np.zeros((size, size, 4), dtype=np.uint8)
    rgba_image[:, :, :3] = image[:, :, None]
    rgba_image[:, :, 3] = 255
    return rgba_image


def enlarge_mnist(digit: np.ndarray, size=280) -> np.ndarray:
    """An MNIST digit scaled up to canvas size, as if drawn on the pad."""
    return cv2.resize(digit, (size, size), interpolation=cv2.INTER_CUBIC)
