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
# Ink no longer than this many times its thickest stroke is wide is a dot: a tap on the
# pad, whatever the pen's width (`is_dot`; the pad's reader refuses it). Crop and fit
# would blow it up into a filled disk that reads as a confident 0. (Short strokes and
# digits, even bold ones, are longer: of MNIST's 70,000 digits only two 0s inked into
# blobs are as short, at 1.06 and 1.19.)
DOT_EXTENT = 1.3


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


def is_dot(ink: np.ndarray) -> bool:
    """Whether the ink (`(H, W)`, white on black, in [0, 1]) is a dot (or a blot, filled
    in): no longer, either way, than `DOT_EXTENT` times the width of its thickest stroke."""
    mask = (np.asarray(ink) > INK_LEVEL).astype(np.uint8)
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    if len(rows) == 0:
        return False
    extent = max(rows[-1] - rows[0], cols[-1] - cols[0]) + 1
    if extent >= DOT_EXTENT * min(len(rows), len(cols)):
        return False  # longer than it is wide: no stroke is that thick
    crop = np.pad(mask[rows[0]: rows[-1] + 1, cols[0]: cols[-1] + 1], 1)
    if crop.sum() < np.pi / 4 * (extent / DOT_EXTENT) ** 2:
        return False  # too little ink to hold a disk that thick: strokes, not a blot
    thickest = 2 * float(cv2.distanceTransform(crop, cv2.DIST_L2, 5).max())
    return extent < DOT_EXTENT * thickest


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
        image = np.ascontiguousarray(image)
        gray = cv2.cvtColor(image, code)
        if image.shape[2] == 4 and not _opaque(image):
            gray = cv2.multiply(gray, cv2.extractChannel(image, 3), scale=1 / 255)
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


def _opaque(rgba: np.ndarray) -> bool:
    """Whether every pixel of a contiguous RGBA uint8 image has alpha 255: each pixel
    read as one 32-bit word, whose top byte (little-endian) or bottom byte is alpha."""
    words = rgba.view(np.uint32).ravel()
    if np.little_endian:
        return bool(words.min() >= 0xFF000000)
    return bool(((words & 0xFF) == 0xFF).all())


def center_ink(ink: np.ndarray, steps: PreprocessSteps | None = None) -> np.ndarray:
    """Crop to the ink, fit the longer side into 20 px, centre the mass in 28x28.

    `ink` is `(H, W)` float in [0, 1], white ink on black. This is the shared tail of
    every preprocessing path. Raises `EmptyDrawingError` for a blank or near-blank image.
    """
    ink = np.ascontiguousarray(ink, dtype=np.float32)
    mask = cv2.compare(ink, INK_LEVEL, cv2.CMP_GT)  # OpenCV: a pass, not numpy's several
    ink_pixels = cv2.countNonZero(mask)
    if ink_pixels == 0 or ink_pixels < MIN_INK_SHARE * ink.size:
        raise EmptyDrawingError("the drawing is empty: draw a digit first")
    left, top, width, height = cv2.boundingRect(mask)
    bottom, right = top + height, left + width
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
    moments = cv2.moments(canvas)  # one pass, in float64
    total = moments["m00"]
    if total <= 0:
        return 0, 0
    com_y, com_x = moments["m01"] / total, moments["m10"] / total
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

    Large photos are shrunk first. The ink is measured against the paper's own,
    possibly uneven, lighting (`level_background`: a shadow across a phone photo is not
    ink), fine noise is smoothed away, Otsu's threshold separates ink from paper, and
    specks of dust far smaller than the digit's strokes are dropped so they cannot
    stretch the crop. Then the image takes the same path as a drawing.
    """
    image = np.asarray(image)
    if image.ndim == 3 and image.shape[2] == 4 and image[:, :, 3].min() < 250:
        # A transparent background: whatever is opaque is the digit, in any colour.
        brightness = image[:, :, 3].astype(np.float32) / 255.0
    else:
        brightness = ink_from_image(image)
    brightness = _shrink_to(brightness, PHOTO_WORK_PX)
    ink = level_background(brightness)
    blur = max(ink.shape) / 200  # noise and JPEG blocks are finer than any stroke
    if blur >= 0.5:
        ink = cv2.GaussianBlur(ink, (0, 0), blur)
    if float(ink.max()) < MIN_PHOTO_CONTRAST:
        raise EmptyDrawingError("the image has too little contrast to show a digit")
    ink8 = np.round(ink / float(ink.max()) * 255).astype(np.uint8)
    level, mask = cv2.threshold(ink8, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    # Keep the ink's own gradation from half Otsu's level up, spread over 0-1: the
    # anti-aliased rims of strokes stay, as they are in MNIST's digits.
    floor = level / 2
    ink = np.clip((ink8.astype(np.float32) - floor) / max(255.0 - floor, 1.0) * 1.5, 0.0, 1.0)
    ink = ink * _without_specks(mask)
    return center_ink(_thicken_fine_strokes(ink), steps)


# Photos are read at most this large (longer side): the digit ends up 20 px tall, and
# levelling a 12-megapixel photo at full size would take seconds.
PHOTO_WORK_PX = 512
# Ink must take away at least this share of the paper's light (or stand this far above
# a dark ground) somewhere: a blank sheet's noise and grain stay below it.
MIN_PHOTO_CONTRAST = 0.125
# Strokes of a photo thinner than this in the 20 px box (MNIST's 5th percentile) are
# widened to about the target (its 25th).
MIN_STROKE_PX, TARGET_STROKE_PX = 1.6, 2.0
# Ink blobs smaller than this share of the largest one are dust or noise, not strokes.
SPECK_SHARE = 0.02


def level_background(image: np.ndarray) -> np.ndarray:
    """Ink `(H, W)` in [0, 1] of a photo, measured against its own background.

    `image` is `(H, W)` brightness in [0, 1], dark ink on paper or light ink on a dark
    ground, the background possibly lit unevenly (a shadow across a phone photo, a lamp
    to one side). The image's edge is mostly background, even where a bold digit fills
    the frame, so the ink is first taken to lie on the side where the brightness strays
    further from the edge's. A strong shadow can stray as far as the ink, so the other
    side is measured too and wins when its ink stands out clearly more
    (`_ink_against_background`).
    """
    ground = float(np.median(np.concatenate([image[0], image[-1], image[:, 0], image[:, -1]])))
    darkest, brightest = np.percentile(image, (0.1, 99.9))
    edge_says_dark = ground - darkest > brightest - ground
    first = _ink_against_background(image, edge_says_dark, ground)
    other = _ink_against_background(image, not edge_says_dark, ground)
    if np.percentile(other, 99.9) > 1.5 * np.percentile(first, 99.9):
        return other
    return first


def _ink_against_background(image: np.ndarray, dark_ink: bool, ground: float) -> np.ndarray:
    """The ink of `image` if it is `dark_ink` (else light), against a background fitted
    as a smooth surface (quadratic in x and y) to the pixels that lie close to it, a few
    rounds over, so the strokes never pull it up. Dark ink is measured as the share of
    the paper's light it takes away (`1 - image / paper`), the same in the shadow as in
    the light; light ink as its brightness above the ground. `ground` is the edge's
    median brightness: pixels nearer to it than to the ink's extreme start the fit."""
    sign = -1.0 if dark_ink else 1.0  # ink lies on this side of the background
    extreme = np.percentile(image, 0.1 if dark_ink else 99.9)
    depth = sign * (extreme - ground)
    if depth <= 0:  # nothing on this side of the ground: no ink
        return np.zeros_like(image, dtype=np.float32)
    height, width = image.shape
    y = np.arange(height, dtype=np.float32) / height - 0.5
    x = np.arange(width, dtype=np.float32) / width - 0.5
    step = max(1, int(np.sqrt(height * width / 5_000)))  # fit on about 5,000 pixels
    rows, cols = np.meshgrid(y[::step], x[::step], indexing="ij")
    sample = image[::step, ::step].ravel().astype(np.float64)
    terms = np.stack([np.ones_like(sample), cols.ravel(), rows.ravel(), cols.ravel() ** 2,
                      (cols * rows).ravel(), rows.ravel() ** 2], axis=1)
    near = sign * (sample - ground) < depth / 2
    for _ in range(5):
        fit = terms[near]  # least squares through the normal equations: 6 unknowns
        coef = np.linalg.solve(fit.T @ fit + 1e-6 * np.eye(6), fit.T @ sample[near])
        residual = sign * (sample - terms @ coef)
        spread = 1.4826 * float(np.median(np.abs(residual[near]))) + 1e-3
        near = residual < 3 * spread
    c0, cx, cy, cxx, cxy, cyy = coef
    background = ((c0 + cx * x + cxx * x * x)[np.newaxis, :]
                  + (cy * y + cyy * y * y)[:, np.newaxis] + cxy * np.outer(y, x))
    ink = 1.0 - image / np.maximum(background, 1e-3) if dark_ink else image - background
    return np.clip(ink, 0.0, 1.0).astype(np.float32)


def _thicken_fine_strokes(ink: np.ndarray) -> np.ndarray:
    """Widen strokes that would come out thinner than nearly all of MNIST's.

    A photo of a large digit written with a fine pen has strokes a fortieth of its
    height; fitted into the 20 px box they would be under a pixel wide, where MNIST's
    are 1.6-3.3 px (5th-90th percentile, training set). The width is estimated as twice
    the ink's area over its outline's length.
    """
    mask = (ink > 0.5).astype(np.uint8)
    contours, _ = cv2.findContours(mask, cv2.RETR_LIST, cv2.CHAIN_APPROX_NONE)
    outline = sum(cv2.arcLength(contour, True) for contour in contours)
    rows = np.flatnonzero(mask.any(axis=1))
    cols = np.flatnonzero(mask.any(axis=0))
    if outline == 0 or len(rows) == 0:
        return ink
    px_per_box_px = max(rows[-1] - rows[0] + 1, cols[-1] - cols[0] + 1) / BOX
    width = 2 * float(mask.sum()) / outline / px_per_box_px  # in the 20 px box's pixels
    if width >= MIN_STROKE_PX:
        return ink
    radius = round((TARGET_STROKE_PX - width) / 2 * px_per_box_px)
    if radius < 1:
        return ink
    disk = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
    return cv2.dilate(ink, disk)


def _shrink_to(image: np.ndarray, longest: int) -> np.ndarray:
    """`image` scaled down (area-averaged) so its longer side is at most `longest`."""
    scale = longest / max(image.shape)
    if scale >= 1:
        return image
    size = (max(1, round(image.shape[1] * scale)), max(1, round(image.shape[0] * scale)))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA)


def _without_specks(mask: np.ndarray) -> np.ndarray:
    """1 on and right around the ink blobs of a binary `mask` that are at least
    `SPECK_SHARE` of the largest blob's area, 0 elsewhere (float32): the blobs' own
    anti-aliased rims stay, dust and the paper's grain go."""
    _, labels, stats, _ = cv2.connectedComponentsWithStats(
        (mask > 0).astype(np.uint8), connectivity=8
    )
    areas = stats[1:, cv2.CC_STAT_AREA]
    keep = np.concatenate([[False], areas >= SPECK_SHARE * areas.max(initial=0)])
    return cv2.dilate(keep[labels].astype(np.float32), np.ones((3, 3), np.uint8))


def naive_resize(image: np.ndarray) -> np.ndarray:
    """Squash the whole canvas to 28x28 without cropping or centring.

    What many drawing demos do; kept only so benchmarks can show what `canvas_to_mnist`
    gains over it.
    """
    ink = ink_from_image(image)
    return np.clip(cv2.resize(ink, (SIZE, SIZE), interpolation=cv2.INTER_AREA), 0.0, 1.0)
