"""Accuracy on photos and scans of digits, read through the app's upload path.

No model in the store trained on the MNIST test set, so its digits are what each image
here shows. Every digit is made into an image file the way a scanner or a phone camera
would make it, then read exactly as the Draw page reads an upload: `read_image` on the
file's bytes, then `read_upload` (`photo_to_mnist` and `read_digits`; a tiny image
whose ink fills its frame is read squeezed sideways too). The kinds
(`mnist_core.reading.photos.KINDS`):

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

import numpy as np

from bench import common
from bench.accuracy import reading_figures
from mnist_core.errors import EmptyDrawingError, InvalidModelError
from mnist_core.reading.images import read_image
from mnist_core.reading.inference import read_views, upload_views
from mnist_core.reading.photos import KINDS
from mnist_core.sources.data import load_mnist, mnist_source_description
from mnist_core.store import registry

NAME = "scans"
QUICK_LIMIT = 200


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
