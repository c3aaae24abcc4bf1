"""Accuracy of every model in the store on MNIST and on real pen-drawn digits.

For each model of the store it measures:

- MNIST test accuracy: the test images through `prepare_mnist`, then `predict_proba`;
- drawn-digit accuracy on UCI pendigits (7,494 stylus trajectories by 30 writers, none
  of them used to train the shipped models), rendered as the drawing pad draws (white
  18 px strokes on a black 280x280 canvas, size and position varied, seeded) and read
  through the app's path, `canvas_to_mnist`;
- the same drawings squashed whole to 28x28 (`naive_resize`): what cropping and
  centring buy;
- a fixed rendering (180 px, centred on the pad) through `canvas_to_mnist`;

with per-class accuracy and the top confusions of every model. The drawings are
rendered and preprocessed once and reused for every model. A model whose card says it
was trained on pendigits is marked and gets "trained on these" instead of a drawn
accuracy. Run from the repository root:

    python -m bench.accuracy                    # every model, all 7,494 drawn digits
    python -m bench.accuracy --quick            # 300 drawn digits, 1,000 MNIST test digits
    python -m bench.accuracy --limit 1000 --models cnn seed-cnn --data-dir /work/shared/mnist

MNIST comes from `--data-dir`, else `MNIST_DATA_DIR`, else the Keras cache; where none
is there the MNIST column is left out (nothing is downloaded), except that `--quick`
falls back to the committed 500-image test subset. Writes bench/results/accuracy.json.
"""

from __future__ import annotations

import argparse
import re
import sys
import time

import numpy as np

from bench import common
from mnist_core import registry
from mnist_core.data import load_mnist, mnist_source_description
from mnist_core.errors import EmptyDrawingError, InvalidModelError, MnistCoreError
from mnist_core.evaluate import evaluation_from_probabilities
from mnist_core.inference import predict_proba
from mnist_core.pendigits import (
    CANVAS_SIZE,
    PEN_WIDTH,
    default_pendigits_path,
    load_pendigits,
    render_digit,
)
from mnist_core.preprocess import canvas_to_mnist, naive_resize, prepare_mnist

NAME = "accuracy"
QUICK_LIMIT, QUICK_MNIST_LIMIT = 300, 1000
# key -> column heading; every variant is the same digits, drawn or read differently
VARIANTS = {
    "centred": "drawn: canvas_to_mnist",
    "naive_resize": "drawn: naive resize",
    "fixed_render": "drawn: fixed-centred render",
}
TRAINED_ON_THESE = "trained on these"
_PENDIGITS_RE = re.compile(r"pen[\s_-]?digits", re.IGNORECASE)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.accuracy", description=__doc__.split("\n")[0]
    )
    common.add_common_args(parser)
    parser.add_argument("--data-dir", help="MNIST folder (default: MNIST_DATA_DIR)")
    parser.add_argument("--pendigits", help="pendigits-orig.tra (default: PENDIGITS_PATH "
                        "or ../shared/pendigits/pendigits-orig.tra)")
    parser.add_argument("--limit", type=int, help="score on N drawn digits, drawn at random "
                        "with --seed (default: all 7,494; --quick: 300)")
    parser.add_argument("--mnist-limit", type=int, help="score on the first N MNIST test "
                        "images (default: all; --quick: 1,000)")
    parser.add_argument("--models", nargs="+", metavar="NAME",
                        help="only these models (default: every model in the store)")
    parser.add_argument("--seed", type=int, default=0,
                        help="seed of the drawing sizes/positions and of --limit's choice")
    parser.add_argument("--top", type=int, default=5, help="confusions to list per model")
    parser.add_argument("--quick", action="store_true",
                        help=f"tiny run: --limit {QUICK_LIMIT} --mnist-limit {QUICK_MNIST_LIMIT}")
    args = parser.parse_args(argv)
    if args.quick:
        args.limit = QUICK_LIMIT if args.limit is None else args.limit
        args.mnist_limit = QUICK_MNIST_LIMIT if args.mnist_limit is None else args.mnist_limit
    for flag in ("limit", "mnist_limit"):
        value = getattr(args, flag)
        if value is not None and value < 1:
            parser.error(f"--{flag.replace('_', '-')} must be at least 1, got {value}")
    return args


def trained_on_pendigits(card: dict) -> bool:
    """True when a model card's `trained_on` names pendigits."""
    trained_on = card.get("trained_on") or ""
    text = " ".join(map(str, trained_on)) if isinstance(trained_on, list) else str(trained_on)
    return bool(_PENDIGITS_RE.search(text))


def select_digits(digits: list, limit: int | None, seed: int) -> list:
    """All digits, or `limit` of them drawn at random (kept in file order)."""
    if limit is None or limit >= len(digits):
        return list(digits)
    chosen = np.sort(np.random.default_rng(seed).choice(len(digits), limit, replace=False))
    return [digits[i] for i in chosen]


def prepare_drawn(digits: list, seed: int) -> dict:
    """Render every digit (varied and fixed) and preprocess it each way, once.

    Returns `{variant: (images (N, 28, 28) float32, readable (N,) bool)}`; a drawing
    that `canvas_to_mnist` finds empty is not readable (it counts as wrong). Digits are
    rendered one by one, so the full set never needs the ~590 MB of 280x280 canvases;
    the shared generator gives exactly `render_dataset(digits, seed)`'s drawings.
    """
    n = len(digits)
    out = {key: np.zeros((n, 28, 28), dtype=np.float32) for key in VARIANTS}
    readable = {key: np.ones(n, dtype=bool) for key in VARIANTS}
    rng = np.random.default_rng(seed)
    for i, digit in enumerate(digits):
        varied = render_digit(digit, CANVAS_SIZE, PEN_WIDTH, rng=rng)
        fixed = render_digit(digit, CANVAS_SIZE, PEN_WIDTH)  # = render_dataset(varied=False)
        out["naive_resize"][i] = naive_resize(varied)
        for key, image in (("centred", varied), ("fixed_render", fixed)):
            try:
                out[key][i] = canvas_to_mnist(image)
            except EmptyDrawingError:
                readable[key][i] = False
    return {key: (out[key], readable[key]) for key in VARIANTS}


def score(probabilities: np.ndarray, labels: np.ndarray, readable: np.ndarray, top: int) -> dict:
    """Accuracy (unreadable drawings count as wrong), per-class accuracy, top confusions."""
    labels = np.asarray(labels, dtype=np.int64)
    totals = np.bincount(labels, minlength=10)
    correct = np.zeros(10, dtype=np.int64)
    confusions = []
    if readable.any():
        evaluation = evaluation_from_probabilities(probabilities, labels[readable])
        correct = np.diag(evaluation.confusion)
        confusions = [
            {"true": t, "predicted": p, "count": c} for t, p, c in evaluation.top_confusions(top)
        ]
    with np.errstate(divide="ignore", invalid="ignore"):
        per_class = np.where(totals > 0, correct / np.maximum(totals, 1), np.nan)
    return {
        "accuracy": float(correct.sum() / len(labels)),
        "n": int(len(labels)),
        "unreadable": int((~readable).sum()),
        "per_class": per_class,
        "class_counts": totals,
        "top_confusions": confusions,
    }


def load_mnist_test(data_dir: str | None, limit: int | None, quick: bool):
    """(prepared MNIST test images, labels, source), or (None, reason) when MNIST is not
    on this machine: the drawn-digit figures do not need it."""
    try:
        data_dir = common.mnist_dir(data_dir, quick)
    except common.MnistMissing as err:
        return None, f"{err}; no download is attempted"
    _, (x_test, y_test) = load_mnist(data_dir)
    if limit is not None:
        x_test, y_test = x_test[:limit], y_test[:limit]
    return (prepare_mnist(x_test), y_test.astype(np.int64), data_dir), None


def run(args: argparse.Namespace) -> dict:
    started = time.perf_counter()
    machine = common.machine_info()
    common.print_machine(machine)

    infos = registry.list_models(args.models_dir)
    if args.models:
        known = {info.name for info in infos}
        missing = [name for name in args.models if name not in known]
        if missing:
            raise MnistCoreError(
                f"no model named {', '.join(map(repr, missing))} in "
                f"{registry.models_dir(args.models_dir)} (have: {', '.join(sorted(known))})"
            )
        infos = [info for info in infos if info.name in args.models]
    default_name = registry.default_model_name(args.models_dir)  # raises if store is empty

    mnist, mnist_skip = load_mnist_test(args.data_dir, args.mnist_limit, args.quick)

    pendigits_path = args.pendigits or default_pendigits_path()
    digits = select_digits(load_pendigits(pendigits_path), args.limit, args.seed)
    labels = np.array([d.label for d in digits], dtype=np.int64)
    prepare_start = time.perf_counter()
    drawn = prepare_drawn(digits, args.seed)
    prepare_seconds = time.perf_counter() - prepare_start

    # Models trained on some writers' digits are scored only on the other writers; every
    # model gets that held-out column too, so the comparison is like for like.
    seen_writers = sorted({w for info in infos for w in info.card.get("pen_writers") or []})
    writers = np.array([d.writer or 0 for d in digits])
    held_out = ~np.isin(writers, seen_writers)

    rows = []
    for info in infos:
        card = info.card
        row = {
            "name": info.name,
            "architecture": card.get("architecture"),
            "trained_on": card.get("trained_on"),
            "card_test_accuracy": card.get("test_accuracy"),
            "card_error": info.card_error,
            "trained_on_pendigits": trained_on_pendigits(card),
            "pen_writers": list(card.get("pen_writers") or []),
        }
        rows.append(row)
        try:
            model = registry.load_model(info.name, args.models_dir)
        except InvalidModelError as err:
            row["error"] = str(err)
            continue
        if mnist is not None:
            images, mnist_labels, _ = mnist
            row["mnist_test"] = score(
                predict_proba(model, images), mnist_labels, np.ones(len(images), bool), args.top
            )
        if seen_writers and held_out.any() and (
            row["pen_writers"] or not row["trained_on_pendigits"]
        ):
            images, readable = drawn["centred"]
            mask = held_out & readable
            row["drawn_held_out"] = score(
                predict_proba(model, images[mask]), labels[held_out], readable[held_out],
                args.top,
            )
        if row["trained_on_pendigits"]:
            row["drawn"] = None
            row["drawn_excluded"] = TRAINED_ON_THESE
            continue
        row["drawn"] = {}
        for key, (images, readable) in drawn.items():
            probabilities = predict_proba(model, images[readable])
            row["drawn"][key] = score(probabilities, labels, readable, args.top)

    result = {
        "benchmark": NAME,
        "machine": machine,
        "settings": {
            key: getattr(args, key)
            for key in ("models_dir", "data_dir", "limit", "mnist_limit", "seed", "top", "quick")
        } | {"models_dir_resolved": registry.models_dir(args.models_dir)},
        "mnist": {
            "source": None if mnist is None else mnist_source_description(mnist[2]),
            "n": 0 if mnist is None else len(mnist[1]),
            "skipped": mnist_skip,
        },
        "pendigits": {
            "path": pendigits_path,
            "n": len(digits),
            "class_counts": np.bincount(labels, minlength=10),
            "seed": args.seed,
            "canvas_size": CANVAS_SIZE,
            "pen_width": PEN_WIDTH,
            "variants": {
                "centred": "size and position varied (seeded), then canvas_to_mnist",
                "naive_resize": "the same drawings, whole canvas resized to 28x28",
                "fixed_render": "180 px digit centred on the pad, then canvas_to_mnist",
            },
            "prepare_seconds": round(prepare_seconds, 2),
        },
        "default_model": default_name,
        "held_out_writers": sorted(set(writers[held_out].tolist())) if seen_writers else None,
        "models": rows,
        "elapsed_seconds": round(time.perf_counter() - started, 1),
    }
    report(result)
    return result


def report(result: dict) -> None:
    """Print the model table, then the default model's per-class accuracy and confusions."""
    pen, mnist = result["pendigits"], result["mnist"]
    print(
        f"\nDrawn digits: {pen['n']:,} UCI pendigits (seed {pen['seed']}) on a "
        f"{pen['canvas_size']} px pad, {pen['pen_width']} px pen. "
        + (f"MNIST test: {mnist['n']:,} images from {mnist['source']}."
           if mnist["n"] else f"MNIST test: skipped ({mnist['skipped']}).")
    )
    rows, marked, unknown = [], False, False
    for row in result["models"]:
        no_card = not row["trained_on"] and not row["trained_on_pendigits"]
        name = row["name"] + (" *" if row["trained_on_pendigits"] else " ?" if no_card else "")
        marked |= row["trained_on_pendigits"]
        unknown |= no_card
        if "error" in row:
            rows.append([name, row["architecture"], f"cannot load: {row['error']}"])
            continue
        mnist_acc = common.pct(row["mnist_test"]["accuracy"]) if "mnist_test" in row else "-"
        if row["drawn"] is None:
            drawn = [TRAINED_ON_THESE] * len(VARIANTS)
        else:
            drawn = [common.pct(row["drawn"][key]["accuracy"]) for key in VARIANTS]
        held = result["held_out_writers"]
        if held:
            drawn.append(
                common.pct(row["drawn_held_out"]["accuracy"]) if "drawn_held_out" in row else "-"
            )
        rows.append([name, row["architecture"] or "?", mnist_acc, *drawn])
    held = result["held_out_writers"]
    held_column = [f"drawn, unseen writers {held[0]}-{held[-1]}"] if held else []
    common.print_table(
        ["model", "architecture", "MNIST test", *VARIANTS.values(), *held_column], rows,
        title="Accuracy by model",
    )
    if marked:
        print("* trained on pendigits writers' digits: scored only on writers it never saw")
    if unknown:
        print("? no card says what it was trained on (pendigits is assumed unseen)")

    default = next((r for r in result["models"] if r["name"] == result["default_model"]), None)
    if default is None or not default.get("drawn"):
        why = "not scored" if default is None else default.get("error", TRAINED_ON_THESE)
        print(f"\nDefault model {result['default_model']!r}: no per-class figures ({why})")
        return
    drawn = default["drawn"]
    counts = drawn["centred"]["class_counts"]
    per_class_rows = [
        [digit, int(counts[digit]),
         *(common.pct(drawn[key]["per_class"][digit], 1) for key in VARIANTS)]
        for digit in range(10)
    ]
    common.print_table(
        ["digit", "n", *VARIANTS.values()], per_class_rows,
        title=f"Drawn accuracy by digit, default model {result['default_model']!r}",
    )
    for key in ("centred", "naive_resize"):
        pairs = ", ".join(
            f"{c['true']}->{c['predicted']}: {c['count']}" for c in drawn[key]["top_confusions"]
        )
        unreadable = drawn[key]["unreadable"]
        print(f"top confusions, {VARIANTS[key]} (true->predicted: count): {pairs or 'none'}"
              + (f"; {unreadable} drawings read as empty" if unreadable else ""))


def main(argv: list[str] | None = None) -> int:
    return common.run_main(NAME, run, parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
