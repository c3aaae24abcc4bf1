"""Turn a drawing (or any digit image) into the 28x28 input the models take, the MNIST way.

MNIST digits were prepared like this: crop to the ink, scale the longer side to 20 px
keeping the aspect ratio (anti-aliased), paste into 28x28 and shift so the centre of
mass sits at the centre. `center_ink` does exactly that and is the one shared tail:
the drawing pad (`canvas_to_mnist`), uploads (`photo_to_mnist`), training and
evaluation (`prepare_mnist`) all end in it, so a model never sees an image prepared
differently from the ones it learnt from.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from mnist_core.errors import EmptyDrawingError

PREPROCESS_VERSION = "mnist-centre-1"

SIZE = 28
BOX = 20
# A pixel counts as ink above this level (0-1); fainter anti-aliasing is cropped away.
INK_LEVEL = 0.1
# Fewer ink pixels than this share of the image (or a bounding box shorter than
# MIN_EXTENT_PX) is treated as an empty canvas: a speck must not get a confident guess.
MIN_INK_SHARE = 0.0005
MIN_EXTENT_PX = 3


@dataclass
class PreprocessSteps:
    """Intermediate images of one `center_ink` call, for showing what the model sees."""

    ink: np.ndarray | None = None
    crop: np.ndarray | None = None
    boxed: np.ndarray | None = None
    centred: np.ndarray | None = None
    bbox: tuple[int, int, int, int] | None = None  # top, bottom, left, right (exclusive)
    shift: tuple[int, int] = field(default=(0, 0))  # rows, cols


def canvas_to_mnist(image: np.ndarray, steps: PreprocessSteps | None = None) -> np.ndarray:
    """Return the `(28, 28)` float32 image in [0, 1] that a model sees for a drawing.

    `image` is what the drawing pad gives, RGBA `(H, W, 4)` uint8 (ink = brightness
    times alpha), or a white-on-black grayscale `(H, W)` array (uint8, or float in
    [0, 1]). Raises `EmptyDrawingError` when there is (almost) no ink.
    """
    return center_ink(ink_from_image(image), steps)


def ink_from_image(image: np.ndarray) -> np.ndarray:
    """Return ink intensity `(H, W)` float32 in [0, 1] from a white-on-black image."""
    image = np.asarray(image)
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    if image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[2] not in (3, 4)):
        raise ValueError(
            f"expected an (H, W) grayscale, (H, W, 3) RGB or (H, W, 4) RGBA image, "
            f"got shape {image.shape}"
        )
    if image.shape[0] < 2 or image.shape[1] < 2:
        raise ValueError(f"image of shape {image.shape} is too small to hold a digit")
    if image.dtype == np.uint8 and image.ndim == 3:
        # The drawing pad's hot path: OpenCV's integer conversion, same weights as below.
        code = cv2.COLOR_RGBA2GRAY if image.shape[2] == 4 else cv2.COLOR_RGB2GRAY
        gray = cv2.cvtColor(np.ascontiguousarray(image), code)
        if image.shape[2] == 4 and image[:, :, 3].min() < 255:
            gray = cv2.multiply(gray, np.ascontiguousarray(image[:, :, 3]), scale=1 / 255)
        return gray.astype(np.float32) / 255.0
    if image.dtype == np.uint8:
        pixels = image.astype(np.float32) / 255.0
    elif np.issubdtype(image.dtype, np.floating) or np.issubdtype(image.dtype, np.integer):
        pixels = image.astype(np.float32)
        if np.issubdtype(image.dtype, np.integer):
            if pixels.max(initial=0) > 255 or pixels.min(initial=0) < 0:
                raise ValueError("integer image values must lie in 0-255")
            pixels /= 255.0
        elif not np.isfinite(pixels).all() or pixels.min() < 0 or pixels.max() > 1:
            raise ValueError("float image values must be finite and lie in [0, 1]")
    else:
        raise ValueError(f"unsupported image dtype {image.dtype}")
    if pixels.ndim == 2:
        return pixels
    gray = pixels[:, :, :3] @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
    if pixels.shape[2] == 4:
        gray = gray * pixels[:, :, 3]
    return gray


def center_ink(ink: np.ndarray, steps: PreprocessSteps | None = None) -> np.ndarray:
    """Crop to the ink, fit the longer side into 20 px, centre the mass in 28x28.

    `ink` is `(H, W)` float in [0, 1], white ink on black. This is the shared tail of
    every preprocessing path. Raises `EmptyDrawingError` for a blank or near-blank image.
    """
    ink = np.asarray(ink, dtype=np.float32)
    mask = ink > INK_LEVEL
    ink_pixels = int(mask.sum())
    if ink_pixels == 0 or ink_pixels < MIN_INK_SHARE * ink.size:
        raise EmptyDrawingError("the drawing is empty: draw a digit first")
    rows = np.flatnonzero(mask.any(axis=1))
    cols = np.flatnonzero(mask.any(axis=0))
    top, bottom, left, right = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
    height, width = bottom - top, right - left
    if max(height, width) < MIN_EXTENT_PX:
        raise EmptyDrawingError("the drawing is only a speck: draw a larger digit")
    crop = ink[top:bottom, left:right]

    scale = BOX / max(height, width)
    new_h = max(1, int(round(height * scale)))
    new_w = max(1, int(round(width * scale)))
    if (new_h, new_w) == (height, width):
        boxed = crop
    else:
        # INTER_AREA averages the pixels a target pixel covers: the anti-aliased
        # reduction NIST used; enlarging a tiny drawing interpolates instead.
        interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
        boxed = cv2.resize(crop, (new_w, new_h), interpolation=interpolation)
    boxed = np.clip(boxed, 0.0, 1.0)

    canvas = np.zeros((SIZE, SIZE), dtype=np.float32)
    y0, x0 = (SIZE - new_h) // 2, (SIZE - new_w) // 2
    canvas[y0 : y0 + new_h, x0 : x0 + new_w] = boxed
    dy, dx = _centre_of_mass_shift(canvas, (y0, y0 + new_h), (x0, x0 + new_w))
    centred = np.zeros_like(canvas)
    centred[y0 + dy : y0 + dy + new_h, x0 + dx : x0 + dx + new_w] = boxed

    if steps is not None:
        steps.ink, steps.crop, steps.boxed, steps.centred = ink, crop, boxed, centred
        steps.bbox = (int(top), int(bottom), int(left), int(right))
        steps.shift = (dy, dx)
    return centred


def _centre_of_mass_shift(
    canvas: np.ndarray, row_span: tuple[int, int], col_span: tuple[int, int]
) -> tuple[int, int]:
    """Whole-pixel shift that brings the centre of mass to the middle of the frame.

    The shift is limited so the 20 px box never leaves the 28x28 frame (ink is never cut).
    """
    total = canvas.sum()
    if total <= 0:
        return 0, 0
    idx = np.arange(SIZE, dtype=np.float32)
    com_y = float((canvas.sum(axis=1) * idx).sum() / total)
    com_x = float((canvas.sum(axis=0) * idx).sum() / total)
    centre = SIZE / 2  # where MNIST puts it: the mean centre of mass is (14.0, 14.0)
    dy = int(np.clip(round(centre - com_y), -row_span[0], SIZE - row_span[1]))
    dx = int(np.clip(round(centre - com_x), -col_span[0], SIZE - col_span[1]))
    return dy, dx


def centre_of_mass(image: np.ndarray) -> tuple[float, float]:
    """Return the (row, col) centre of mass of a 2-D image, in pixel-index units."""
    image = np.asarray(image, dtype=np.float64)
    total = image.sum()
    rows, cols = np.indices(image.shape)
    return float((rows * image).sum() / total), float((cols * image).sum() / total)


def prepare_mnist(images: np.ndarray) -> np.ndarray:
    """Run MNIST-format uint8 digits `(N, 28, 28)` through `center_ink`.

    Training and evaluation use this, so the data a model learns from and is scored on
    passes through the same tail as a drawing. Blank images stay blank.
    """
    images = np.asarray(images)
    if images.ndim != 3 or images.shape[1:] != (SIZE, SIZE):
        raise ValueError(f"expected images shaped (N, 28, 28), got {images.shape}")
    scaled = images.astype(np.float32) / 255.0 if images.dtype == np.uint8 else images
    out = np.zeros((len(scaled), SIZE, SIZE), dtype=np.float32)
    for i, image in enumerate(scaled):
        try:
            out[i] = center_ink(image)
        except EmptyDrawingError:
            out[i] = image
    return out


def photo_to_mnist(image: np.ndarray, steps: PreprocessSteps | None = None) -> np.ndarray:
    """Prepare an uploaded photo or scan of a digit, either polarity, for the models.

    Dark ink on a light background is inverted, the paper's uneven brightness is
    levelled with Otsu's threshold, then the image takes the same path as a drawing.
    """
    image = np.asarray(image)
    if image.ndim == 3 and image.shape[2] == 4 and image[:, :, 3].min() < 250:
        # A transparent background: whatever is opaque is the digit, in any colour.
        ink = image[:, :, 3].astype(np.float32) / 255.0
    else:
        ink = ink_from_image(image)
    # Ink is the minority of pixels: if the image is mostly bright, the ink is dark.
    if float(np.median(ink)) > 0.5:
        ink = 1.0 - ink
    ink8 = np.round(ink * 255).astype(np.uint8)
    if int(ink8.max()) - int(ink8.min()) < 32:
        raise EmptyDrawingError("the image has too little contrast to show a digit")
    level, _ = cv2.threshold(ink8, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    # Keep the ink's own gradation above the background level, spread over 0-1.
    ink = np.clip((ink8.astype(np.float32) - level) / max(255.0 - level, 1.0), 0.0, 1.0)
    ink = np.clip(ink * 2.0, 0.0, 1.0)
    return center_ink(ink, steps)


def naive_resize(image: np.ndarray) -> np.ndarray:
    """Squash the whole canvas to 28x28 without cropping or centring.

    What many drawing demos do; kept only so benchmarks can show what `canvas_to_mnist`
    gains over it.
    """
    ink = ink_from_image(image)
    return np.clip(cv2.resize(ink, (SIZE, SIZE), interpolation=cv2.INTER_AREA), 0.0, 1.0)
