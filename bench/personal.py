"""Reading with a visitor's kept drawings in mind (`reading.personal`), measured on pen
writers: errors gone, writers read worse, calibration, and the extra read time.

Each writer of UCI pendigits stands for a visitor. Their digits are drawn as the pad
draws them (`bench.accuracy`'s drawings, seed 0) and read once by each model (its served
graph, probabilities and features in one pass). In each trial `k` of the writer's digits
of every label are kept at random and the rest are read, by the model alone and with the
kept drawings (`personal.blend`, the code the Draw page runs); errors are the digits
whose likeliest reading is wrong, averaged over trials. A writer is read worse when the
kept drawings add errors over all its trials.

Which writers: those the model's weights never saw (its card's `pen_writers`), less
writers 21-25, on which `--fit` chose the blend's constants with four other shipped
models. A model that saw every writer (the default and `cnn-drawn-all`) is measured on
the least-seen split there is: all writers but 21-25, whose drawings it trained on (each
drawing rendered afresh here), so its base errors are few and the row says "seen".

Other hands: MNIST test digits (3,000; `--quick` the committed subset's 500) read by
each model with one writer's kept drawings, for five writers in turn: what kept
drawings do to digits unlike them (someone else at the pad).

    python -m bench.personal                   # default, cnn-drawn-all, cnn-drawn, cnn
    python -m bench.personal --quick           # writers 26-30, k = 1 and 5, 2 trials
    python -m bench.personal --fit             # also the grid the constants came from

Writes bench/results/personal.json.
"""

from __future__ import annotations

import argparse
import itertools
import sys
import time

import numpy as np

from bench import common
from mnist_core.errors import EmptyDrawingError
from mnist_core.model.runtime import FEATURES, PROBABILITIES
from mnist_core.reading import personal
from mnist_core.reading.inference import BATCH, read_digits
from mnist_core.reading.preprocess import canvas_to_mnist
from mnist_core.sources.pendigits import CANVAS_SIZE, PEN_WIDTH, load_pendigits, render_digit
from mnist_core.store import registry
from mnist_core.training.calibration import expected_calibration_error

NAME = "personal"
MODELS = ("cnn-drawn-all", "cnn-drawn", "cnn")  # after the default
KS = (1, 3, 5, 10)
TRIALS = 10
FIT_WRITERS = tuple(range(21, 26))
FIT_MODELS = ("cnn", "cnn-drawn", "cnn-drawn-nondigits", "fast-cnn")
FIT_GRID = {"width": (0.07, 0.1, 0.13), "weight": (10.0, 30.0, 100.0),
            "floor": (0.05, 0.1, 0.2)}
TIMING_KEPT = 5  # per digit: 50 kept drawings
TIMING_CALLS = 300
TARGET_GONE, TARGET_K, MIN_WRITERS = 0.30, 5, 5
OTHER_HANDS, OTHER_HANDS_WRITERS = 3000, (26, 27, 28, 29, 30)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.personal",
                                     description=__doc__.split("\n")[0])
    common.add_common_args(parser)
    parser.add_argument("--models", nargs="+", metavar="NAME",
                        help="models to measure (default: the default model, "
                        f"{', '.join(MODELS)})")
    parser.add_argument("--ks", nargs="+", type=int, default=list(KS),
                        help="kept drawings per digit (default: 1 3 5 10)")
    parser.add_argument("--trials", type=int, default=TRIALS,
                        help=f"random choices of kept drawings per writer (default {TRIALS})")
    parser.add_argument("--seed", type=int, default=0, help="seed of the kept choices")
    parser.add_argument("--data-dir", help="MNIST folder, for the other hands (default: "
                        "MNIST_DATA_DIR)")
    parser.add_argument("--fit", action="store_true", help="also search the blend's "
                        f"constants on writers {FIT_WRITERS[0]}-{FIT_WRITERS[-1]} with "
                        f"{', '.join(FIT_MODELS)}")
    parser.add_argument("--quick", action="store_true",
                        help="writers 26-30 only, k = 1 and 5, 2 trials, default and cnn")
    args = parser.parse_args(argv)
    if args.quick:
        args.ks, args.trials = [1, 5], 2
    if args.trials < 1 or min(args.ks) < 1:
        parser.error("--trials and every --ks must be at least 1")
    return args


def drawn_digits(writers: set[int] | None = None) -> dict:
    """Pendigits drawn as the pad draws them, as `bench.accuracy` draws them (seed 0),
    prepared by `canvas_to_mnist`: images, labels and writers (only `writers`' if given;
    a drawing read as empty is left out)."""
    rng = np.random.default_rng(0)
    images, labels, who = [], [], []
    for digit in load_pendigits():
        canvas = render_digit(digit, CANVAS_SIZE, PEN_WIDTH, rng=rng)  # every draw: same rng
        if writers is not None and digit.writer not in writers:
            continue
        try:
            images.append(canvas_to_mnist(canvas))
        except EmptyDrawingError:
            continue
        labels.append(digit.label)
        who.append(digit.writer)
    return {"images": np.stack(images), "labels": np.array(labels, np.int64),
            "writers": np.array(who, np.int64)}


class ModelView:
    """One model's reading of every drawing: calibrated probabilities and features."""

    def __init__(self, name: str, models_dir, images: np.ndarray):
        self.model = registry.open_model(name, models_dir)
        outputs = [self.model.network.outputs(images[s: s + BATCH], PROBABILITIES, FEATURES)
                   for s in range(0, len(images), BATCH)]
        self.features = np.concatenate([o[FEATURES] for o in outputs])
        self.unit = personal.unit_features(self.model, self.features)
        probabilities = np.concatenate([o[PROBABILITIES] for o in outputs])
        self.calibrated = self.model.policy.calibrate(probabilities)
        self.seen = set(self.model.card.pen_writers or ())


def trials(data: dict, writers, k: int, count: int, seed: int):
    """(writer, kept indices, read indices) for `count` random choices per writer of `k`
    kept drawings per digit, the same for every model."""
    rng = np.random.default_rng([seed, k])
    for writer in writers:
        mine = np.flatnonzero(data["writers"] == writer)
        for _ in range(count):
            kept = np.concatenate([
                rng.choice(pool, min(k, len(pool) - 1), replace=False)
                for pool in (mine[data["labels"][mine] == d] for d in range(10)) if len(pool) > 1
            ])
            yield writer, kept, np.setdiff1d(mine, kept)


def measure(view: ModelView, data: dict, writers, k: int, count: int, seed: int,
            **constants) -> dict:
    """Errors alone and with kept drawings (per trial), per writer, and what the app says."""
    labels = data["labels"]
    alone, kept_p, truth, who = [], [], [], []
    for writer, kept_idx, read_idx in trials(data, writers, k, count, seed):
        kept = personal.kept_from_features(view.model, view.features[kept_idx],
                                           labels[kept_idx])
        alone.append(view.calibrated[read_idx])
        kept_p.append(personal.blend(kept, view.calibrated[read_idx], view.unit[read_idx],
                                     **constants))
        truth.append(labels[read_idx])
        who.append(np.full(len(read_idx), writer))
    alone, kept_p, truth, who = map(np.concatenate, (alone, kept_p, truth, who))
    wrong_alone = alone.argmax(axis=1) != truth
    wrong_kept = kept_p.argmax(axis=1) != truth
    per_writer = {int(w): (int(wrong_alone[who == w].sum()), int(wrong_kept[who == w].sum()))
                  for w in writers}
    rows = np.arange(len(truth))
    return {
        "k": k, "writers": list(writers), "read_per_trial": len(truth) / count,
        "errors_alone": wrong_alone.sum() / count, "errors_kept": wrong_kept.sum() / count,
        "gone": 1 - wrong_kept.sum() / wrong_alone.sum() if wrong_alone.any() else None,
        "writers_worse": sorted(w for w, (a, b) in per_writer.items() if b > a),
        "per_writer_alone_kept": per_writer,
        "nll_alone": float(-np.log(np.maximum(alone[rows, truth], 1e-12)).mean()),
        "nll_kept": float(-np.log(np.maximum(kept_p[rows, truth], 1e-12)).mean()),
        "ece_alone": expected_calibration_error(alone, truth),
        "ece_kept": expected_calibration_error(kept_p, truth),
    } | {f"{key}_{name}": value for name, p in (("alone", alone), ("kept", kept_p))
         for key, value in app_says(view.model.policy, p, truth).items()}


def app_says(policy, probabilities: np.ndarray, truth: np.ndarray) -> dict:
    """The share of digits the app names, and how often it is right on those."""
    named = policy.named_digits(probabilities)
    said = named >= 0
    right = float((named[said] == truth[said]).mean()) if said.any() else None
    return {"named": float(said.mean()), "right_when_named": right}


def eval_writers(view: ModelView, everyone: list[int]) -> tuple[list[int], bool]:
    """The writers a model is measured on, and whether its weights saw them (when it
    saw every writer: the least-seen split, all but the fitting writers)."""
    candidates = [w for w in everyone if w not in FIT_WRITERS]
    unseen = [w for w in candidates if w not in view.seen]
    return (unseen, False) if unseen else (candidates, True)


def fit(views: dict, data: dict, ks, count: int, seed: int) -> list[dict]:
    """Every combination of `FIT_GRID` on `FIT_WRITERS` with `FIT_MODELS`: the summed log
    ratio of the right digit's negative log-likelihood with and without kept drawings
    (lower is better), and the writers read worse; best first among those with none."""
    rows = []
    for width, weight, floor in itertools.product(*FIT_GRID.values()):
        constants = {"width": width, "weight": weight, "floor": floor}
        score, worse = 0.0, 0
        for view, k in itertools.product(views.values(), ks):
            found = measure(view, data, FIT_WRITERS, k, count, seed, **constants)
            score += float(np.log(found["nll_kept"] / found["nll_alone"]))
            worse += len(found["writers_worse"])
        rows.append(constants | {"log_nll_ratio": score, "writers_worse": worse})
    return sorted(rows, key=lambda r: (r["writers_worse"] > 0, r["log_nll_ratio"]))


def other_hands(view: ModelView, data: dict, mnist: tuple, seed: int) -> dict:
    """MNIST digits read alone and with each of `OTHER_HANDS_WRITERS`' kept drawings
    (`TARGET_K` per digit): errors and digits named rightly, summed over the writers."""
    images, truth = mnist
    outputs = view.model.network.outputs(images, PROBABILITIES, FEATURES)
    alone = view.model.policy.calibrate(outputs[PROBABILITIES])
    unit = personal.unit_features(view.model, outputs[FEATURES])
    policy, found = view.model.policy, {"errors": [0, 0], "named_right": [0, 0]}
    for _, kept_idx, _ in trials(data, OTHER_HANDS_WRITERS, TARGET_K, 1, seed):
        kept = personal.kept_from_features(view.model, view.features[kept_idx],
                                           data["labels"][kept_idx])
        for i, p in enumerate((alone, personal.blend(kept, alone, unit))):
            found["errors"][i] += int((p.argmax(axis=1) != truth).sum())
            found["named_right"][i] += int((policy.named_digits(p) == truth).sum())
    return found | {"digits": len(truth), "writers": list(OTHER_HANDS_WRITERS)}


def mnist_digits(args) -> tuple | None:
    """The first `OTHER_HANDS` MNIST test digits, prepared, and labels; None without MNIST."""
    from mnist_core.reading.preprocess import prepare_mnist
    from mnist_core.sources.data import load_mnist

    try:
        folder = common.mnist_dir(args.data_dir, args.quick)
    except common.MnistMissing as err:
        print(f"other hands: skipped ({err})")
        return None
    _, (x_test, y_test) = load_mnist(folder)
    return prepare_mnist(x_test[:OTHER_HANDS]), y_test[:OTHER_HANDS].astype(np.int64)


def time_reads(view: ModelView, data: dict) -> dict:
    """One drawing read alone and with 50 kept drawings (5 per digit, another writer's
    than the one read), interleaved: p50/p95 of each, and the extra."""
    writers = data["writers"]
    first = writers[0]
    kept_idx = np.concatenate([np.flatnonzero((writers == first) & (data["labels"] == d))
                               [:TIMING_KEPT] for d in range(10)])
    kept = personal.kept_examples(view.model, data["images"][kept_idx],
                                  data["labels"][kept_idx])
    image = data["images"][np.flatnonzero(writers != first)[0]]
    reads = {"alone": lambda: read_digits(view.model, image),
             "with_kept": lambda: personal.read_with_kept(view.model, kept, image)}
    durations = {key: common.time_calls(read, 0) for key, read in reads.items()}  # warm-up
    for _ in range(TIMING_CALLS):
        for key, read in reads.items():
            durations[key] += common.time_calls(read, 1, warmup=0)
    alone, with_kept = durations["alone"], durations["with_kept"]
    a, b = common.stats(alone), common.stats(with_kept)
    return {"kept": len(kept), "alone": a, "with_kept": b,
            "extra_p50_ms": b["p50_ms"] - a["p50_ms"], "extra_p95_ms": b["p95_ms"] - a["p95_ms"]}


def run(args: argparse.Namespace) -> dict:
    started = time.perf_counter()
    machine = common.machine_info()
    common.print_machine(machine)
    default = registry.default_model_name(args.models_dir)
    names = args.models or ([default, "cnn-drawn"] if args.quick else [default, *MODELS])
    quick_writers = set(range(26, 31)) | (set(FIT_WRITERS) if args.fit else set())
    data = drawn_digits(quick_writers if args.quick else None)
    everyone = sorted(set(data["writers"].tolist()))
    print(f"{len(data['labels']):,} pen-drawn digits of {len(everyone)} writers", flush=True)
    views = {name: ModelView(name, args.models_dir, data["images"]) for name in names}
    constants = {"width": personal.NEARNESS_WIDTH, "weight": personal.KEPT_WEIGHT,
                 "floor": personal.MODEL_FLOOR}
    rows = []
    for name, view in views.items():
        writers, seen = eval_writers(view, everyone)
        for k in args.ks:
            rows.append({"model": name, "seen": seen}
                        | measure(view, data, writers, k, args.trials, args.seed))
    fitted = None
    if args.fit:
        fit_views = {name: views.get(name) or ModelView(name, args.models_dir, data["images"])
                     for name in FIT_MODELS}
        fitted = fit(fit_views, data, args.ks, args.trials, args.seed)
    mnist = mnist_digits(args)
    hands = {name: other_hands(view, data, mnist, args.seed) for name, view in views.items()
             if all(w in everyone for w in OTHER_HANDS_WRITERS)} if mnist else None
    timing = time_reads(views[default], data)
    result = {
        "benchmark": NAME, "machine": machine,
        "settings": {"models": names, "ks": args.ks, "trials": args.trials, "seed": args.seed,
                     "quick": args.quick, "fit_writers": FIT_WRITERS, "constants": constants},
        "rows": rows, "fit": fitted, "other_hands": hands, "timing": {"model": default} | timing,
        "elapsed_seconds": round(time.perf_counter() - started, 1),
    }
    report(result)
    return result


def report(result: dict) -> None:
    """The table per model and k, the fit, the read time and the targets."""
    table = []
    for r in result["rows"]:
        writers = r["writers"]
        table.append([
            r["model"], f"{len(writers)}{' seen' if r['seen'] else ''}", r["k"],
            f"{r['read_per_trial']:,.0f}", f"{r['errors_alone']:.1f}", f"{r['errors_kept']:.1f}",
            common.pct(r["gone"], 0), len(r["writers_worse"]),
            f"{common.pct(r['ece_alone'])} -> {common.pct(r['ece_kept'])}",
            f"{common.pct(r['named_alone'], 1)} -> {common.pct(r['named_kept'], 1)}",
            f"{common.pct(r['right_when_named_alone'])} -> "
            f"{common.pct(r['right_when_named_kept'])}",
        ])
    settings = result["settings"]
    common.print_table(
        ["model", "writers", "k", "read", "errors alone", "with kept", "gone", "writers worse",
         "ECE", "named", "right when named"], table,
        title=f"Errors per trial ({settings['trials']} trials per writer), k kept per digit; "
        "'seen': writers the model trained on (the least-seen split)")
    for r in result["rows"]:
        if r["writers_worse"]:
            detail = ", ".join(f"{w}: {r['per_writer_alone_kept'][w][0]} -> "
                               f"{r['per_writer_alone_kept'][w][1]}" for w in r["writers_worse"])
            print(f"  {r['model']} k={r['k']}: writers read worse (errors over all trials, "
                  f"alone -> with kept): {detail}")
    if result["fit"]:
        common.print_table(
            ["width", "weight", "floor", "log NLL ratio", "writers worse"],
            [[f["width"], f["weight"], f["floor"], f"{f['log_nll_ratio']:.2f}",
              f["writers_worse"]] for f in result["fit"][:8]],
            title=f"Fit on writers {FIT_WRITERS[0]}-{FIT_WRITERS[-1]} with "
            f"{', '.join(FIT_MODELS)} (best first; shipped: {settings['constants']})")
    if result["other_hands"]:
        common.print_table(
            ["model", "errors alone", "with kept", "named rightly alone", "with kept"],
            [[name, *h["errors"], *h["named_right"]] for name, h in result["other_hands"].items()],
            title="Other hands: MNIST test digits read with each of writers "
            f"{OTHER_HANDS_WRITERS[0]}-{OTHER_HANDS_WRITERS[-1]}'s kept drawings "
            f"({TARGET_K} per digit), summed over the writers")
    t = result["timing"]
    print(f"\nOne drawing read by {t['model']}: alone p50 {t['alone']['p50_ms']:.2f} ms, "
          f"with {t['kept']} kept drawings p50 {t['with_kept']['p50_ms']:.2f} ms: "
          f"+{t['extra_p50_ms']:.2f} ms (p95 +{t['extra_p95_ms']:.2f} ms)")
    for r in result["rows"]:
        if r["k"] == TARGET_K and not r["seen"] and len(r["writers"]) >= MIN_WRITERS:
            met = (r["gone"] or 0) >= TARGET_GONE and not r["writers_worse"]
            print(f"target ({TARGET_GONE:.0%} of errors gone with {TARGET_K} kept per digit, "
                  f"no writer worse) on {r['model']}, {len(r['writers'])} unseen writers: "
                  f"{common.pct(r['gone'], 0)} gone, {len(r['writers_worse'])} worse: "
                  f"{'met' if met else 'not met'}")


def main(argv: list[str] | None = None) -> int:
    return common.run_main(NAME, run, parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
