"""Why a model read a drawing as it did: where it looked (an occlusion map) and what its
layers saw (a layers graph's feature maps), with forward passes only, so they work on
the web server's ONNX read path as well as on a Keras network.

    values = occlusion_map(network, image28, digit=4, against=9)    # (28, 28), signed
    picture = overlay(values, image28)                              # (28, 28, 3) uint8
    on_pad = overlay_on_drawing(values, drawing)                    # the pad's size
    seen = layer_activations(open_layers(name), image28)            # one pass
    grids = [channel_grid(layer.values) for layer in seen.layers if layer.kind == "conv"]

Images are white ink on black in [0, 1], as `preprocess.canvas_to_mnist` gives them.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np

from mnist_core.model.layers_graph import CONV, LayersGraph
from mnist_core.reading.preprocess import SIZE, PreprocessSteps, canvas_to_mnist, ink_from_image

# The occluding patch takes the value that means "no ink": MNIST's and the pad's
# background, 0. A mid-grey 0.5 would paint a blob of ink where there was none, and the
# map would show how the network reads an added smudge; a patch of background asks what
# the drawing would read as without the ink under it, and leaves blank places at 0.
NO_INK = 0.0
# A 6x6 patch every 3 px: 9 x 9 = 81 places (edges at 0, 3, ..., 21 and 22). Every 2 px
# (12 x 12 = 144) draws a finer map but took 42 ms p50 for one pen-drawn digit through
# one CNN on this machine's busy single thread, more than the 40 ms that map, layers and
# nearest neighbours share; every 3 px took 21 ms (`bench.why`).
PATCH, STRIDE = 6, 3
# Probabilities are floored here before their logarithm: a float32 softmax can give an
# exact 0 to a digit far from the reading.
_FLOOR = 1e-30


def patch_positions(patch: int = PATCH, stride: int = STRIDE) -> list[int]:
    """Where a patch's top (or left) edge goes along one side of the 28x28: every
    `stride` pixels, and flush with the far edge so every pixel is covered."""
    if not 1 <= patch <= SIZE or stride < 1:
        raise ValueError(f"patch must be 1-{SIZE} px and stride at least 1, "
                         f"got patch {patch}, stride {stride}")
    positions = list(range(0, SIZE - patch + 1, stride))
    if positions[-1] != SIZE - patch:
        positions.append(SIZE - patch)
    return positions


def occlusion_map(probabilities_fn: Callable[[np.ndarray], np.ndarray], image28: np.ndarray,
                  digit: int, against: int, *, patch: int = PATCH,
                  stride: int = STRIDE) -> np.ndarray:
    """How much each place of `image28` supported reading it as `digit` rather than
    `against` (the runner-up): a `(28, 28)` float32 map, positive where covering the
    ink lowered the log-odds `log p(digit) - log p(against)` (the place spoke for
    `digit`), negative where it raised them, 0 where nothing was covered that mattered.

    A `patch`-pixel square of background (`NO_INK`) is slid over the image every
    `stride` pixels (`patch_positions`); the image and every covered copy are read in
    ONE call of `probabilities_fn`, any `(N, 28, 28) -> (N, 10)` function (an
    `OnnxNetwork`, a `LayersGraph`, or `lambda x: inference.predict_proba(network, x)`).
    Each pixel gets the mean drop in log-odds of the patches that cover it. A patch
    that covers no ink leaves the image as it was, so its drop is 0 without reading
    it: a drawing's blank places cost nothing (at stride 2 a drawn 1 covers ink in 48
    of the 144 places, pen-drawn digits in about 90)."""
    image = _image28(image28)
    if digit == against or not (0 <= digit <= 9 and 0 <= against <= 9):
        raise ValueError(f"digit and against must be two different digits 0-9, "
                         f"got {digit} and {against}")
    positions = [(top, left) for top in patch_positions(patch, stride)
                 for left in patch_positions(patch, stride)]
    inked = [(top, left) for top, left in positions
             if (image[top:top + patch, left:left + patch] != NO_INK).any()]
    batch = np.repeat(image[np.newaxis], len(inked) + 1, axis=0)
    for index, (top, left) in enumerate(inked, start=1):
        batch[index, top:top + patch, left:left + patch] = NO_INK
    probabilities = np.asarray(probabilities_fn(batch), dtype=np.float64)
    if probabilities.shape != (len(batch), 10):
        raise ValueError(f"probabilities_fn gave shape {probabilities.shape} for "
                         f"{len(batch)} images, expected ({len(batch)}, 10)")
    log_p = np.log(np.maximum(probabilities, _FLOOR))
    log_odds = log_p[:, digit] - log_p[:, against]
    drops = log_odds[0] - log_odds[1:]
    total, covered = np.zeros((SIZE, SIZE)), np.zeros((SIZE, SIZE))
    for drop, (top, left) in zip(drops, inked):
        total[top:top + patch, left:left + patch] += drop
    for top, left in positions:
        covered[top:top + patch, left:left + patch] += 1
    return (total / covered).astype(np.float32)


@dataclass(frozen=True)
class LayerView:
    """What one layer saw of an image: its name (the Keras layer's), `kind` (`conv` or
    `dense`), its shape for one image (`(H, W, C)` or `(units,)`) and its activations:
    for a convolution its `C` channel maps as a `(C, H, W)` array (`values[c]` is
    channel `c`), for a dense layer the `(units,)` vector."""

    name: str
    kind: str
    shape: tuple[int, ...]
    values: np.ndarray


@dataclass(frozen=True)
class LayerActivations:
    """What a network's layers saw of one image, in the network's order; `network` says
    which network it is ("the model", or for an ensemble "run 1 of 4") and
    `probabilities` are that network's own `(10,)`."""

    network: str
    probabilities: np.ndarray
    layers: list[LayerView]


def layer_activations(layers_graph: LayersGraph, image28: np.ndarray) -> LayerActivations:
    """Every convolution's feature maps and every hidden dense layer's activations for
    one `(28, 28)` image, from one pass of a model's layers graph."""
    image = _image28(image28)
    shown = layers_graph.layers
    found = layers_graph.outputs(image[np.newaxis], "probabilities",
                                 *(output.name for output in shown))
    views = []
    for output in shown:
        values = found[output.name][0]
        if output.kind == CONV:  # channels last, as Keras computes them: maps first here
            values = np.ascontiguousarray(np.moveaxis(values, -1, 0))
        views.append(LayerView(output.name, output.kind, tuple(output.shape), values))
    return LayerActivations(layers_graph.label, found["probabilities"][0], views)


# The grey between channel maps and in a grid's empty cells: apart from black (a silent
# channel) and white (its strongest place) alike.
SEPARATOR = 128


def channel_grid(maps: np.ndarray) -> np.ndarray:
    """A convolution's `(C, H, W)` channel maps tiled into one uint8 picture: a grid
    near square (`ceil(sqrt(C))` columns), each map scaled to 0-255 from its own lowest
    to its highest value (a flat map is black), with 1-px `SEPARATOR` lines between."""
    maps = np.asarray(maps, dtype=np.float32)
    if maps.ndim != 3 or 0 in maps.shape:
        raise ValueError(f"expected (C, H, W) channel maps, got shape {maps.shape}")
    channels, height, width = maps.shape
    columns = math.ceil(math.sqrt(channels))
    rows = math.ceil(channels / columns)
    low = maps.min(axis=(1, 2), keepdims=True)
    spread = maps.max(axis=(1, 2), keepdims=True) - low
    scaled = np.where(spread > 0, (maps - low) / np.where(spread > 0, spread, 1), 0)
    grid = np.full((rows * (height + 1) - 1, columns * (width + 1) - 1), SEPARATOR, np.uint8)
    for channel, picture in enumerate(np.round(scaled * 255).astype(np.uint8)):
        row, column = divmod(channel, columns)
        top, left = row * (height + 1), column * (width + 1)
        grid[top:top + height, left:left + width] = picture
    return grid


# The map's colours: red where a place spoke for the digit, blue where against it.
SUPPORT_RGB = np.array([220, 40, 30], dtype=np.float32)
AGAINST_RGB = np.array([30, 90, 230], dtype=np.float32)
# At most this much of the colour covers the grey image, so the ink stays visible.
MAX_OPACITY = 0.75


def overlay(values: np.ndarray, image28: np.ndarray, *, limit: float | None = None,
            enlarge: int = 1) -> np.ndarray:
    """An occlusion map coloured over the `(28, 28)` image the model saw (grey, white
    ink on black): red where the place supported the digit, blue where it spoke
    against it, more opaque the stronger, full strength at `limit` (default: the map's
    largest magnitude). `(28 * enlarge, 28 * enlarge, 3)` RGB uint8, each pixel an
    `enlarge`-pixel square."""
    picture = _coloured(np.asarray(values, dtype=np.float32), _image28(image28), limit)
    if enlarge > 1:
        picture = cv2.resize(picture, None, fx=enlarge, fy=enlarge,
                             interpolation=cv2.INTER_NEAREST)
    return picture


def overlay_on_drawing(values: np.ndarray, drawing: np.ndarray,
                       steps: PreprocessSteps | None = None, *,
                       limit: float | None = None) -> np.ndarray:
    """An occlusion map of a drawing's `(28, 28)` image coloured over the drawing
    itself, at the drawing's size (RGB uint8, its ink grey on black), through
    `map_to_drawing`. `steps` are those of the `canvas_to_mnist(drawing, steps)` call
    that made the 28x28; without them it is made again."""
    if steps is None or steps.bbox is None or steps.boxed is None:
        steps = PreprocessSteps()
        canvas_to_mnist(drawing, steps)
    ink = ink_from_image(drawing)
    limit = float(np.abs(values).max()) if limit is None else limit
    return _coloured(map_to_drawing(values, steps, ink.shape), ink, limit)


def map_to_drawing(values: np.ndarray, steps: PreprocessSteps,
                   shape: tuple[int, int]) -> np.ndarray:
    """A `(28, 28)` map carried back onto the `shape`d drawing it was made from, exactly
    as `canvas_to_mnist` carried the drawing forward (`steps` says how): the 28x28's box
    of cropped ink (the crop resized to 20 px on its longer side, then shifted to
    centre its mass) stretched back over the ink's bounding box on the drawing, and the
    frame around that box over the drawing around it, so each place of the map lies over
    the ink it covered; beyond the frame, 0. Float32, bilinear."""
    top, bottom, left, right = steps.bbox
    box_h, box_w = steps.boxed.shape
    row0 = (SIZE - box_h) // 2 + steps.shift[0]  # where the box sits in the 28x28
    col0 = (SIZE - box_w) // 2 + steps.shift[1]
    scale_y, scale_x = (bottom - top) / box_h, (right - left) / box_w
    # pixel centres: drawing x = left + (x28 + 0.5 - col0) * scale_x - 0.5, rows alike
    to_drawing = np.array([[scale_x, 0, left + (0.5 - col0) * scale_x - 0.5],
                           [0, scale_y, top + (0.5 - row0) * scale_y - 0.5]], np.float32)
    return cv2.warpAffine(np.asarray(values, dtype=np.float32), to_drawing,
                          (shape[1], shape[0]), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=0)


def _coloured(values: np.ndarray, grey: np.ndarray, limit: float | None) -> np.ndarray:
    """`values` as red (positive) or blue (negative) over the `grey` image in [0, 1]."""
    limit = float(np.abs(values).max()) if limit is None else float(limit)
    strength = np.clip(values / limit, -1, 1) if limit > 0 else np.zeros_like(values)
    opacity = (np.abs(strength) * MAX_OPACITY)[..., np.newaxis]
    colour = np.where((strength >= 0)[..., np.newaxis], SUPPORT_RGB, AGAINST_RGB)
    base = np.repeat(np.clip(grey, 0, 1)[..., np.newaxis] * 255, 3, axis=2)
    return np.round(base * (1 - opacity) + colour * opacity).astype(np.uint8)


def _image28(image28: np.ndarray) -> np.ndarray:
    """A `(28, 28)` float32 image in [0, 1], checked."""
    image = np.asarray(image28, dtype=np.float32)
    if image.shape != (SIZE, SIZE):
        raise ValueError(f"expected a (28, 28) image, got shape {image.shape}")
    if not np.isfinite(image).all() or image.min() < 0 or image.max() > 1:
        raise ValueError("image values must be finite and lie in [0, 1]")
    return image
