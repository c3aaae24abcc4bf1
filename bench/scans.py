"""Accuracy on photos and scans of digits, read through the app's upload path.

No model in the store trained on the MNIST test set, so its digits are what each image
here shows. Every digit is made into an image file the way a scanner or a phone camera
would make it, then read exactly as the Draw page reads an upload: `read_image` on the
file's bytes, then `read_upload` (`photo_to_mnist` and `read_digits`; a tiny image
whose ink fills its frame is read squeezed sideways too). The kinds (`KINDS`):

- paper scan: dark ink on off-white paper at 4x, a slight lighting gradient, blur,
  sensor noise, JPEG;
- phone photo: 6x, greyer ink on dimmer paper, a shadow across it (the light falls by
  30 points from one side to the other), more blur and noise, JPEG at quality 50;
- thin pen, marker: the strokes eroded or dilated before the paper scan;
- 16x16 grey, 16x16 and 32x32 black and white: the digit scaled to fill a tiny frame,
  its aspect kept, as older digit collections were stored (USPS, optdigits);
- 16x16 b/w stretched: the digit stretched to fill the frame both ways, as Semeion
  stored its digits (an upright 1 becomes a block).

For each model: accuracy, the share it names and how often it is right on those; the
"as uploaded" column is the plain MNIST image saved as a PNG. Run from the repository
root:

    python -m bench.scans                       # every model, the 10,000 MNIST test digits
    python -m bench.scans --quick               # 200 digits
    python -m bench.scans --limit 2000 --models cnn-drawn-all-24ep-x4 cnn

MNIST comes from `--data-dir`, else `MNIST_DATA_DIR`, else the Keras cache (never
downloaded); `--quick` falls back to the committed subset. Writes bench/results/scans.json.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable

import cv2
import numpy as np

from bench import common
from bench.accuracy import reading_figures
from mnist_core import registry
from mnist_core.data import load_mnist, mnist_source_description
from mnist_core.errors import EmptyDrawingError, InvalidModelError
from mnist_core.images import read_image
from mnist_core.inference import read_views, upload_views

NAME = "scans"
QUICK_LIMIT = 200


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


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.scans", description=__doc__.split("\n")[0]
    )
    common.add_common_args(parser)
    parser.add_argument("--data-dir", help="MNIST folder (default: MNIST_DATA_DIR)")
    parser.add_argument("--limit", type=int, help="the first N MNIST test digits "
                        f"(default: all; --quick: {QUICK_LIMIT})")
    parser.add_argument("--models", nargs="+", metavar="NAME",
                        help="only these models (default: every model in the store)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the paper, light and noise")
    parser.add_argument("--quick", action="store_true", help=f"tiny run: --limit {QUICK_LIMIT}")
    args = parser.parse_args(argv)
    if args.quick and args.limit is None:
        args.limit = QUICK_LIMIT
    if args.limit is not None and args.limit < 1:
        parser.error(f"--limit must be at least 1, got {args.limit}")
    return args


def prepare_kind(kind: str, digits: np.ndarray, seed: int) -> tuple[list, np.ndarray]:
    """Every digit (uint8 `(N, 28, 28)`) as this kind's image file, prepared as the
    upload path prepares it: `(views, readable (N,) bool)`, where `views` holds the
    `(k, 28, 28)` views `read_upload` reads of each readable image (the first: the image
    as it is). An image the upload path finds empty is not readable (it counts as
    wrong)."""
    make = KINDS[kind][0]
    rng = np.random.default_rng([seed, list(KINDS).index(kind)])
    views = []
    readable = np.ones(len(digits), bool)
    for i, digit in enumerate(digits.astype(np.float32) / 255.0):
        try:
            views.append(np.stack([x for x, _ in upload_views(read_image(make(digit, rng)))]))
        except EmptyDrawingError:
            readable[i] = False
    return views, readable


def run(args: argparse.Namespace) -> dict:
    started = time.perf_counter()
    machine = common.machine_info()
    common.print_machine(machine)
    infos = common.store_models(args.models_dir, args.models)
    default_name = registry.default_model_name(args.models_dir)

    data_dir = common.mnist_dir(args.data_dir, args.quick)
    _, (x_test, y_test) = load_mnist(data_dir)
    x_test, y_test = x_test[: args.limit], y_test[: args.limit].astype(np.int64)
    prepared, prepare_seconds = {}, {}
    for kind in KINDS:
        kind_started = time.perf_counter()
        prepared[kind] = prepare_kind(kind, x_test, args.seed)
        prepare_seconds[kind] = round(time.perf_counter() - kind_started, 2)

    rows = []
    for info in infos:
        row = {"name": info.name, "kinds": {}}
        rows.append(row)
        try:
            model = registry.load_model(info.name, args.models_dir)
        except InvalidModelError as err:
            row["error"] = str(err)
            continue
        for kind, (views, readable) in prepared.items():
            readings, _ = read_views(model, views)
            right = int((readings.probabilities.argmax(axis=1) == y_test[readable]).sum())
            row["kinds"][kind] = {
                "accuracy": right / len(y_test),
                "unreadable": int((~readable).sum()),
                **reading_figures(readings, y_test[readable]),
            }
    result = {
        "benchmark": NAME,
        "machine": machine,
        "settings": {key: getattr(args, key)
                     for key in ("models_dir", "data_dir", "limit", "seed", "quick")},
        "mnist": {"source": mnist_source_description(data_dir), "n": len(y_test)},
        "kinds": {kind: description for kind, (_, description) in KINDS.items()},
        "prepare_seconds": prepare_seconds,
        "default_model": default_name,
        "models": rows,
        "elapsed_seconds": round(time.perf_counter() - started, 1),
    }
    report(result)
    return result


def report(result: dict) -> None:
    """Accuracy by model and kind, then what the app says of each kind (named share,
    right when named) for the default model."""
    print(f"\n{result['mnist']['n']:,} MNIST test digits from {result['mnist']['source']}, "
          "each made into an image file of every kind and read as the Draw page reads "
          "an upload.")
    kinds = list(result["kinds"])
    common.print_table(
        ["model", *kinds],
        [[row["name"], *(common.pct(row["kinds"][k]["accuracy"]) for k in kinds)]
         if "kinds" in row and row["kinds"] else [row["name"], f"cannot load: {row['error']}"]
         for row in result["models"]],
        title="Accuracy by model and kind of image",
    )
    default = next((r for r in result["models"] if r["name"] == result["default_model"]), None)
    if default is None or not default.get("kinds"):
        return
    common.print_table(
        ["kind", "accuracy", "named", "right when named", "ECE", "unreadable", "imitates"],
        [[kind, common.pct(f["accuracy"]), common.pct(f["named_share"], 1),
          f"{common.pct(f['accuracy_named'])} ({f['wrong_named']} wrong)",
          common.pct(f["ece"]), f["unreadable"], result["kinds"][kind]]
         for kind, f in default["kinds"].items()],
        title=f"What the app says of each kind, default model {result['default_model']!r}",
    )


def main(argv: list[str] | None = None) -> int:
    return common.run_main(NAME, run, parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
