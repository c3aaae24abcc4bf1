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
from mnist_core.errors import EmptyDrawingError, InvalidModelError
from mnist_core.model.card import ModelCard
from mnist_core.model.verdict import NOT_NAMED
from mnist_core.reading.evaluate import evaluation_from_probabilities
from mnist_core.reading.inference import predict_proba, read_digits
from mnist_core.reading.preprocess import canvas_to_mnist, naive_resize, prepare_mnist
from mnist_core.sources.data import load_mnist, mnist_source_description
from mnist_core.sources.pendigits import (
    CANVAS_SIZE,
    PEN_WIDTH,
    default_pendigits_path,
    load_pendigits,
    render_digit,
)
from mnist_core.store import registry, saving
from mnist_core.training.calibration import (
    TARGET_SURE_ACCURACY,
    card_entry,
    expected_calibration_error,
    fit_policy,
)
from mnist_core.training.negatives import UNTRAINED_KINDS, non_digits

NAME = "accuracy"
QUICK_LIMIT, QUICK_MNIST_LIMIT = 300, 1000
NON_DIGITS, QUICK_NON_DIGITS = 2000, 300
UNTRAINED, QUICK_UNTRAINED = 1000, 100  # symbols and words
DOODLES, QUICK_DOODLES = 650, 100  # hearts, eyes, houses...: only opt-in runs train on them
NON_DIGIT_SEED = 7  # training runs draw theirs with seed + 1000: never these
WRITER_GROUPS = ((1, 10), (11, 20), (21, 30))
FOLDS_DIR = common.ROOT / "var" / "bench-folds"
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
    parser.add_argument("--pendigits", help="pendigits-orig.tra (default: PENDIGITS_PATH, "
                        "../shared/pendigits/, else downloaded once to ~/.keras/datasets)")
    parser.add_argument("--limit", type=int, help="score on N drawn digits, drawn at random "
                        "with --seed (default: all 7,494; --quick: 300)")
    parser.add_argument("--mnist-limit", type=int, help="score on the first N MNIST test "
                        "images (default: all; --quick: 1,000)")
    parser.add_argument("--models", nargs="+", metavar="NAME",
                        help="only these models (default: every model in the store)")
    parser.add_argument("--seed", type=int, default=0,
                        help="seed of the drawing sizes/positions and of --limit's choice")
    parser.add_argument("--top", type=int, default=5, help="confusions to list per model")
    parser.add_argument("--writer-groups", action="store_true",
                        help="also train the default model's recipe three times, each time "
                        "leaving out one group of ten pendigits writers, and score each on "
                        "the group it never saw (models kept in var/bench-folds)")
    parser.add_argument("--fold-arch", help="architecture of those runs (default: the "
                        "default model's own)")
    parser.add_argument("--fold-epochs", type=int, help="epochs of those runs (default: "
                        "the default model's own)")
    parser.add_argument("--fold-ema-momentum", type=float, metavar="M", help="weight "
                        "averaging of those runs, 0 for none (default: the default model's)")
    parser.add_argument("--groups", nargs="+", metavar="FIRST-LAST",
                        choices=[f"{first}-{last}" for first, last in WRITER_GROUPS],
                        help="only these groups of writers (default: all three)")
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


def trained_on_pendigits(card: ModelCard) -> bool:
    """True when a model card's `trained_on` names pendigits."""
    return bool(_PENDIGITS_RE.search(card.trained_on or ""))


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


def reading_figures(readings, labels: np.ndarray) -> dict:
    """What the app says of labelled digits: the share it names, how often it is right
    on those (and how many it names wrongly: on a few thousand digits, each one moves
    the share by a few hundredths of a point), and the calibration error."""
    named = readings.digits != NOT_NAMED
    wrong = int((readings.digits[named] != labels[named]).sum())
    return {
        "named_share": float(named.mean()),
        "accuracy_named": float(1 - wrong / named.sum()) if named.any() else None,
        "named": int(named.sum()),
        "wrong_named": wrong,
        "ece": expected_calibration_error(readings.probabilities, labels),
    }


def non_digit_drawings(count: int, kinds=None) -> tuple[np.ndarray, np.ndarray]:
    """Synthetic non-digits of a seed no training run uses, drawn on the pad and
    prepared as the pad's drawings are, and the kind of each. By default the kinds
    training may draw too (letters, scribbles, two digits at once, shapes)."""
    chosen = {} if kinds is None else {"kinds": kinds}
    images, made = non_digits(count, seed=NON_DIGIT_SEED, digits=load_pendigits(), **chosen)
    return np.stack([canvas_to_mnist(image) for image in images]), np.array(made)


def refused_by_kind(model, images: np.ndarray, kinds: np.ndarray) -> dict:
    """The share of these non-digits the app refuses to name a digit for, in all
    (`"all"`) and by kind."""
    refused = read_digits(model, images).digits == NOT_NAMED
    return {"all": float(refused.mean())} | {
        str(kind): float(refused[kinds == kind].mean()) for kind in np.unique(kinds)
    }


def leave_writer_groups_out(args, default_name: str, digits: list, drawn, mnist) -> list:
    """Train the default model's recipe once per group of writers, without that group,
    and score each run on the group's drawn digits: accuracy on the writers a model
    never saw, with the app's reading of them. Runs are kept in `FOLDS_DIR` and reused
    when their settings match. For an ensemble, each of its runs is trained so (from
    its own seed) and the runs are averaged, as the ensemble averages its own."""
    from mnist_core.training.config import TrainConfig
    from mnist_core.training.ensemble import make_ensemble

    card = registry.read_card(default_name, args.models_dir)
    recipe = {k: v for k, v in (card.hyperparameters or {}).items()
              if k in TrainConfig.__dataclass_fields__}
    if args.fold_arch:
        recipe["architecture"] = args.fold_arch
    if args.fold_epochs:
        recipe["epochs"] = args.fold_epochs
    if args.fold_ema_momentum is not None:
        recipe["ema_momentum"] = args.fold_ema_momentum
    init_seeds = [None]
    if card.is_ensemble:
        # the first run started from the split's own seed: its fold is the plain one
        init_seeds = [None if seed == recipe.get("seed", 0) else seed
                      for seed in (member.init_seed for member in card.members)]
    data = _LazyMnist(args)
    writers = np.array([d.writer or 0 for d in digits])
    images, readable = drawn
    rows = []
    chosen = args.groups or [f"{first}-{last}" for first, last in WRITER_GROUPS]
    for first, last in (map(int, group.split("-")) for group in chosen):
        group = set(range(first, last + 1))
        fold = recipe | {"pen_writers": sorted(set(range(1, 31)) - group)}
        runs = [_fold_run(TrainConfig.from_dict(fold | {"init_seed": seed}).resolved(),
                          first, last, data) for seed in init_seeds]
        cfg, name = runs[0]
        if len(runs) > 1:
            name = name.replace("-without-", f"-x{len(runs)}-without-")
            print(f"writers {first}-{last}: averaging {', '.join(n for _, n in runs)}",
                  flush=True)
            make_ensemble([n for _, n in runs], name, data=data.get(), members_dir=FOLDS_DIR,
                          models_dir=FOLDS_DIR, overwrite=True)
        fold_card = registry.read_card(name, FOLDS_DIR)
        model = registry.load_model(name, FOLDS_DIR)
        mask = np.isin(writers, list(group))
        readings = read_digits(model, images[mask & readable])
        right = readings.probabilities.argmax(axis=1) == labels_of(digits)[mask & readable]
        row = {
            "writers": [first, last],
            "model": name,
            "architecture": cfg.architecture + (f" x{len(runs)}" if len(runs) > 1 else ""),
            "epochs": cfg.epochs,
            "n": int(mask.sum()),
            "accuracy": float(right.sum() / mask.sum()),
            "mnist_test": fold_card.test_accuracy,
        } | reading_figures(readings, labels_of(digits)[mask & readable])
        rows.append(row)
    return rows


class _LazyMnist:
    """MNIST training and test data, loaded the first time a fold needs it."""

    def __init__(self, args):
        self.args, self.data = args, None

    def get(self):
        if self.data is None:
            self.data = load_mnist(common.mnist_dir(self.args.data_dir, self.args.quick))
        return self.data


def _fold_run(cfg, first: int, last: int, data: _LazyMnist) -> tuple:
    """(settings, name) of the run of `cfg` without writers `first`-`last` in
    `FOLDS_DIR`: reused when its settings match, else trained; its reading fitted
    again when its card's target is not today's."""
    from mnist_core.training.train import train_model

    averaged = "-ema" if cfg.ema_momentum else ""
    started = "" if cfg.init_seed is None else f"-init{cfg.init_seed}"
    name = (f"{cfg.architecture}-{cfg.epochs}ep{averaged}{started}"
            f"-without-writers-{first}-{last}")
    settings = cfg.to_dict() | {"pen_writers": list(cfg.pen_writers)}
    if registry.model_exists(name, FOLDS_DIR) and _same_settings(
        registry.read_card(name, FOLDS_DIR).hyperparameters or {}, settings
    ):
        print(f"writers {first}-{last}: reusing {FOLDS_DIR / name}")
    else:
        print(f"writers {first}-{last}: training {name} ({cfg.epochs} epochs)", flush=True)
        def report(progress):
            if progress.epoch_finished:
                print(f"{name}: {progress.epoch_line()}", flush=True)

        train_model(cfg, data=data.get(), save_as=name, models_dir=FOLDS_DIR, overwrite=True,
                    progress=report)
    reading = registry.read_card(name, FOLDS_DIR).reading
    if reading is None or reading.target != TARGET_SURE_ACCURACY:
        refit_reading(name, cfg, data.get()[0])
    return cfg, name


def refit_reading(name: str, cfg, train_data) -> None:
    """Fit a stored leave-writers-out run's reading policy again, at today's target, on
    the validation digits of its own training (as `train_model` fitted it)."""
    from mnist_core.training.run_data import validation_digits

    print(f"{name}: fitting its reading again for {TARGET_SURE_ACCURACY:.2%} right when "
          "named on its validation digits", flush=True)
    x_val, y_val = validation_digits(cfg, train_data)
    policy = fit_policy(predict_proba(registry.load_model(name, FOLDS_DIR), x_val), y_val)
    reading = card_entry(policy, f"{len(x_val):,} validation images of its training run")
    saving.write_card(name, registry.read_card(name, FOLDS_DIR).replace(reading=reading),
                        FOLDS_DIR)


def _same_settings(stored: dict, settings: dict) -> bool:
    """Whether a stored run's settings are these; a setting the run's card predates
    counts as its default (what that run trained with)."""
    from mnist_core.training.config import TrainConfig

    known = {k: v for k, v in stored.items() if k in TrainConfig.__dataclass_fields__}
    try:
        filled = TrainConfig.from_dict(known).to_dict()
    except TypeError:  # a card from another version
        return False
    filled["pen_writers"] = stored.get("pen_writers")
    return all(filled.get(key) == value for key, value in settings.items())


def labels_of(digits: list) -> np.ndarray:
    return np.array([d.label for d in digits], dtype=np.int64)


def run(args: argparse.Namespace) -> dict:
    started = time.perf_counter()
    machine = common.machine_info()
    common.print_machine(machine)

    infos = common.store_models(args.models_dir, args.models)
    default_name = registry.default_model_name(args.models_dir)  # raises if store is empty

    mnist, mnist_skip = load_mnist_test(args.data_dir, args.mnist_limit, args.quick)

    digits = select_digits(load_pendigits(args.pendigits), args.limit, args.seed)
    pendigits_path = args.pendigits or default_pendigits_path()  # downloaded if need be
    labels = np.array([d.label for d in digits], dtype=np.int64)
    prepare_start = time.perf_counter()
    drawn = prepare_drawn(digits, args.seed)
    prepare_seconds = time.perf_counter() - prepare_start

    # A model trained on some writers' digits is scored on drawn digits only of the
    # writers it never saw; the app's reading (named share, ECE, refusals) likewise.
    writers = np.array([d.writer or 0 for d in digits])
    refusal_set, _ = non_digit_drawings(QUICK_NON_DIGITS if args.quick else NON_DIGITS)
    untrained_set = non_digit_drawings(QUICK_UNTRAINED if args.quick else UNTRAINED,
                                       UNTRAINED_KINDS)
    doodle_set, _ = non_digit_drawings(QUICK_DOODLES if args.quick else DOODLES, ("doodle",))

    rows = []
    for info in infos:
        card = info.card
        row = {
            "name": info.name,
            "architecture": card.architecture,
            "trained_on": card.trained_on,
            "card_test_accuracy": card.test_accuracy,
            "card_error": info.card_error,
            "trained_on_pendigits": trained_on_pendigits(card),
            "pen_writers": list(card.pen_writers or []),
        }
        rows.append(row)
        try:
            model = registry.load_model(info.name, args.models_dir)
        except InvalidModelError as err:
            row["error"] = str(err)
            continue
        if mnist is not None:
            images, mnist_labels, _ = mnist
            readings = read_digits(model, images)
            row["mnist_test"] = score(
                readings.probabilities, mnist_labels, np.ones(len(images), bool), args.top
            )
            row["mnist_reading"] = reading_figures(readings, mnist_labels)
        unseen = ~np.isin(writers, row["pen_writers"])
        if row["trained_on_pendigits"] and not row["pen_writers"]:
            unseen[:] = False  # a card that names no writers: every writer may be seen
        row["unseen_writers"] = sorted(set(writers[unseen].tolist()))
        if unseen.any():
            images, readable = drawn["centred"]
            mask = unseen & readable
            readings = read_digits(model, images[mask])
            row["drawn_unseen"] = score(
                readings.probabilities, labels[unseen], readable[unseen], args.top
            )
            row["drawn_reading"] = reading_figures(readings, labels[mask])
        row["non_digits_refused"] = float(
            (read_digits(model, refusal_set).digits == NOT_NAMED).mean()
        )
        row["untrained_non_digits_refused"] = refused_by_kind(model, *untrained_set)
        row["doodles_refused"] = float(
            (read_digits(model, doodle_set).digits == NOT_NAMED).mean()
        )
        row["trained_on_doodles"] = "doodle" in (
            (card.hyperparameters or {}).get("non_digit_kinds") or ()
        )
        if row["trained_on_pendigits"]:
            row["drawn"] = None
            row["drawn_excluded"] = TRAINED_ON_THESE
            continue
        row["drawn"] = {}
        for key, (images, readable) in drawn.items():
            probabilities = predict_proba(model, images[readable])
            row["drawn"][key] = score(probabilities, labels, readable, args.top)

    groups = None
    if args.writer_groups:
        groups = leave_writer_groups_out(args, default_name, digits, drawn["centred"], mnist)

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
        "non_digits": {"n": len(refusal_set), "seed": NON_DIGIT_SEED,
                       "kinds": "letters, scribbles, digit pairs, shapes"},
        "untrained_non_digits": {"n": len(untrained_set[0]), "seed": NON_DIGIT_SEED,
                                 "kinds": "symbols and words, which no training run draws"},
        "doodles": {"n": len(doodle_set), "seed": NON_DIGIT_SEED,
                    "kinds": "doodles, which only runs given --non-digit-kinds doodle draw"},
        "writer_groups": groups,
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
        drawn.append(common.pct(row["drawn_unseen"]["accuracy"]) if "drawn_unseen" in row
                     else "-")
        drawn.append(writer_span(row.get("unseen_writers") or []))
        rows.append([name, row["architecture"] or "?", mnist_acc, *drawn])
    common.print_table(
        ["model", "architecture", "MNIST test", *VARIANTS.values(),
         "drawn: writers it never saw", "those writers"], rows,
        title="Accuracy by model",
    )
    reading_rows = []
    for row in result["models"]:
        if "error" in row:
            continue
        mnist_r, drawn_r = row.get("mnist_reading") or {}, row.get("drawn_reading") or {}
        reading_rows.append([
            row["name"],
            common.pct(drawn_r.get("named_share"), 1),
            common.pct(drawn_r.get("accuracy_named")),
            common.pct(drawn_r.get("ece")),
            common.pct(mnist_r.get("named_share"), 1),
            common.pct(mnist_r.get("accuracy_named")),
            common.pct(mnist_r.get("ece")),
            common.pct(row["non_digits_refused"], 1),
            common.pct(row["untrained_non_digits_refused"]["all"], 1),
            common.pct(row["doodles_refused"], 1) + (" (trained)" if row["trained_on_doodles"]
                                                     else ""),
        ])
    common.print_table(
        ["model", "drawn: named", "right when named", "ECE", "MNIST: named",
         "right when named", "ECE", "non-digits refused", "symbols, words refused",
         "doodles refused"],
        reading_rows,
        title="What the app says (read_digits): drawn digits of writers each model never "
        f"saw, MNIST test, {result['non_digits']['n']:,} synthetic non-digits, "
        f"{result['untrained_non_digits']['n']:,} symbols and words no model trained on, "
        f"{result['doodles']['n']:,} doodles",
    )
    groups = result.get("writer_groups")
    if groups:
        common.print_table(
            ["writers left out", "run", "drawn accuracy", "named", "right when named", "ECE",
             "MNIST test"],
            [[f"{g['writers'][0]}-{g['writers'][1]} ({g['n']:,} digits)", g["model"],
              common.pct(g["accuracy"]), common.pct(g["named_share"], 1),
              f"{common.pct(g['accuracy_named'])} ({g['wrong_named']} wrong of "
              f"{g['named']:,})", common.pct(g["ece"]),
              common.pct(g["mnist_test"])] for g in groups],
            title="The default model's recipe with each group of writers left out of "
            "training, scored on that group",
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


def writer_span(writers: list[int]) -> str:
    """'21-30' for consecutive writers, else their count."""
    if not writers:
        return "none"
    if writers == list(range(writers[0], writers[-1] + 1)):
        return f"{writers[0]}-{writers[-1]}"
    return f"{len(writers)} writers"


def main(argv: list[str] | None = None) -> int:
    return common.run_main(NAME, run, parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
