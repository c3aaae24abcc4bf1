"""Training throughput of `train_model` (the Train page's path) against a plain `model.fit`.

Both paths train the same freshly built architecture (default `fast-cnn`, the Train
page's default) from the same seed, on the same prepared images, with the same batch
size, learning-rate schedule, validation split and `tf.data` pipeline (shuffle, batch,
augmentation when the architecture uses it or `--augment` says so, prefetch). What
differs is exactly what `train_model` adds on top of `fit`:

- a progress callback like the Train page's (it copies each `Progress` snapshot into a
  dict under a lock), throttled to `--progress-interval`, and the stop-switch check
  after every batch (a per-batch callback also turns off Keras's asynchronous
  batch-end dispatch);
- scoring the test set (`--test-size` images, default all) after every epoch, and
  copying the best weights.

It reports images/s over each epoch's training phase (validation excluded), the
overhead of `train_model` in %, epoch times, the time `train_model` spends at each
epoch's end (test scoring, weight copy, progress report) and the test scoring alone.
Epoch 1 of every run traces the graphs and is reported on its own; the steady figures
come from epochs 2 and later (with `--epochs 1` there is only the first, and the output
says so). A small untimed run of both paths warms the process first, then runs
alternate fit, train_model, train_model, fit, ... (`--rounds`). Run from the repository
root:

    python -m bench.training                       # cnn, 12,000 images, 2 epochs, 2 rounds
    python -m bench.training --quick               # 500 images, 200 test images, 1 round
    python -m bench.training --arch seed-cnn --no-augment --train-size 30000

MNIST comes from `--data-dir`, else `MNIST_DATA_DIR`, else the Keras cache (`--quick`
falls back to the committed 1,000-image subset). Writes bench/results/training.json.
"""

from __future__ import annotations

import argparse
import sys
import threading
import time

import keras
import numpy as np

from bench import common
from mnist_core.errors import MnistCoreError
from mnist_core.reading.preprocess import prepare_mnist
from mnist_core.sources.data import load_mnist, mnist_source_description
from mnist_core.training.architectures import ARCHITECTURES, DEFAULT_ARCHITECTURE
from mnist_core.training.train import TrainConfig, prepare_run, train_model

NAME = "training"
# flag -> (default, value under --quick); a flag given explicitly wins over both
SIZES = {
    "train_size": (12000, 500),
    "test_size": (None, 200),
    "epochs": (2, 2),
    "rounds": (2, 1),
    "warmup_size": (512, 128),
}
TEST_BATCH = 1024  # the batch size train_model scores the test set with
FIT, TRAIN_MODEL = "model.fit", "train_model"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.training", description=__doc__.split("\n")[0]
    )
    common.add_common_args(parser)
    parser.add_argument("--data-dir", help="MNIST folder (default: MNIST_DATA_DIR)")
    parser.add_argument("--arch", default=DEFAULT_ARCHITECTURE, choices=list(ARCHITECTURES))
    parser.add_argument("--train-size", type=int, help="training images, of which "
                        "--validation-split are held out (default 12,000; --quick: 500)")
    parser.add_argument("--test-size", type=int, help="test images train_model scores "
                        "after every epoch (default: all; --quick: 200)")
    parser.add_argument("--epochs", type=int, help="epochs per run (default 2)")
    parser.add_argument("--rounds", type=int, help="pairs of runs, order alternating "
                        "(default 2; --quick: 1)")
    parser.add_argument("--warmup-size", type=int, help="images of the untimed warm-up "
                        "run of each path (default 512; --quick: 128)")
    parser.add_argument("--batch-size", type=int, help="default: the architecture's own")
    augment = parser.add_mutually_exclusive_group()
    augment.add_argument("--augment", dest="augment", action="store_true", default=None,
                         help="augment in both paths (default: as the architecture does)")
    augment.add_argument("--no-augment", dest="augment", action="store_false")
    parser.add_argument("--validation-split", type=float, default=0.1,
                        help="share held out for validation, > 0 (default 0.1, as the UI)")
    parser.add_argument("--progress-interval", type=float, default=0.5,
                        help="seconds between progress reports (default 0.5, as the UI)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="tiny run, well under a minute")
    args = parser.parse_args(argv)
    for key, (default, quick) in SIZES.items():
        if getattr(args, key) is None:
            setattr(args, key, quick if args.quick else default)
    for key in ("train_size", "test_size", "warmup_size"):
        value = getattr(args, key)
        if value is not None and value < 20:
            parser.error(f"--{key.replace('_', '-')} must be at least 20, got {value}")
    if args.epochs < 1 or args.rounds < 1:
        parser.error("--epochs and --rounds must be at least 1")
    if not 0 < args.validation_split < 0.9:
        # The validation pass marks where an epoch's training phase ends.
        parser.error(f"--validation-split must lie in (0, 0.9), got {args.validation_split}")
    return args


class EpochClock(keras.callbacks.Callback):
    """Timestamps of each epoch's phases: training, validation, epoch-end work.

    Only epoch- and test-level hooks, no batch hooks, so a plain `fit` keeps Keras's
    asynchronous batch dispatch. Listed after `train_model`'s own monitor, its
    `on_epoch_end` comes after the monitor has scored the test set.
    """

    def __init__(self):
        super().__init__()
        self.epochs: list[dict] = []
        self._marks: dict = {}

    def on_epoch_begin(self, epoch, logs=None):
        self._marks = {"begin": time.perf_counter()}

    def on_test_begin(self, logs=None):  # fit's validation pass
        self._marks.setdefault("val_begin", time.perf_counter())

    def on_test_end(self, logs=None):
        self._marks.setdefault("val_end", time.perf_counter())

    def on_epoch_end(self, epoch, logs=None):
        end = time.perf_counter()
        m = self._marks
        val_begin, val_end = m.get("val_begin", end), m.get("val_end", end)
        self.epochs.append({
            "train_s": val_begin - m["begin"],
            "validation_s": val_end - val_begin,
            "epoch_end_s": end - val_end,
            "epoch_s": end - m["begin"],
        })


class ProgressSink:
    """What the Train page's job does with a report: keep the snapshot under a lock."""

    def __init__(self):
        self._lock = threading.Lock()
        self.state: dict = {}
        self.reports = 0

    def __call__(self, progress) -> None:
        with self._lock:
            self.state = dict(self.state, progress=progress)
            self.reports += 1


def run_fit(cfg: TrainConfig, data) -> tuple[EpochClock, float, keras.Model]:
    """Plain `model.fit` of exactly what `train_model` fits (`prepare_run`), no extras:
    no progress callback, stop check or test scoring."""
    cfg = cfg.resolved()
    (x_train, y_train), _ = data
    started = time.perf_counter()
    run = prepare_run(cfg, (x_train, y_train))
    clock = EpochClock()
    run.model.fit(
        run.train_ds, epochs=cfg.epochs, validation_data=run.val_data,
        verbose=0, shuffle=False, callbacks=[clock],
    )
    return clock, time.perf_counter() - started, run.model


def run_train_model(cfg: TrainConfig, data, interval: float):
    """`train_model` as the Train page's job calls it (progress, stop switch), unsaved."""
    clock, sink = EpochClock(), ProgressSink()
    started = time.perf_counter()
    result = train_model(
        cfg, data=data, progress=sink, stop_event=threading.Event(), callbacks=[clock],
        progress_interval=interval,
    )
    return clock, time.perf_counter() - started, result.model, sink.reports


def time_test_scoring(model: keras.Model, x_test, y_test, repeats: int = 3) -> list[float]:
    """Seconds of the call `train_model` makes after each epoch, on a traced model."""
    durations = []
    for _ in range(repeats):
        start = time.perf_counter()
        model.evaluate(x_test, y_test, batch_size=TEST_BATCH, verbose=0)
        durations.append(time.perf_counter() - start)
    return durations


def summarise_run(clock: EpochClock, total_s: float, n_fit: int) -> dict:
    """Per-run figures: steady epochs (2 and later) apart from the first."""
    epochs = clock.epochs
    steady = epochs[1:] or epochs  # with one epoch, the first is all there is
    train_s = sum(e["train_s"] for e in steady)
    return {
        "epochs": epochs,
        "steady_epochs": len(epochs) - 1 if len(epochs) > 1 else 0,
        "images_per_s": n_fit * len(steady) / train_s,
        "train_phase_s": train_s / len(steady),
        "validation_s": float(np.mean([e["validation_s"] for e in steady])),
        "epoch_end_s": float(np.mean([e["epoch_end_s"] for e in steady])),
        "epoch_s": float(np.mean([e["epoch_s"] for e in steady])),
        "first_epoch_s": epochs[0]["epoch_s"],
        "run_s": total_s,
        "outside_epochs_s": total_s - sum(e["epoch_s"] for e in epochs),
    }


def load_data(args) -> tuple:
    data_dir = common.mnist_dir(args.data_dir, args.quick)
    data, source = load_mnist(data_dir), mnist_source_description(data_dir)
    (x_train, _), (x_test, _) = data
    if args.train_size > len(x_train):
        raise MnistCoreError(
            f"--train-size {args.train_size}, but {source} holds only {len(x_train)} "
            "training images"
        )
    if args.test_size is not None and args.test_size > len(x_test):
        raise MnistCoreError(
            f"--test-size {args.test_size}, but {source} holds only {len(x_test)} test images"
        )
    return data, source


def run(args: argparse.Namespace) -> dict:
    machine = common.machine_info()
    common.print_machine(machine)
    data, source = load_data(args)
    cfg = TrainConfig(
        architecture=args.arch, epochs=args.epochs, batch_size=args.batch_size,
        validation_split=args.validation_split, seed=args.seed, augment=args.augment,
        train_size=args.train_size, test_size=args.test_size,
    ).resolved()
    n_val = int(round(cfg.train_size * cfg.validation_split))
    n_fit = cfg.train_size - n_val
    n_test = len(data[1][0]) if cfg.test_size is None else cfg.test_size

    # Untimed: first use of TensorFlow's kernels, tf.data and the augmentation ops.
    warm = TrainConfig(**(vars(cfg) | {"epochs": 1, "train_size": args.warmup_size,
                                       "test_size": min(n_test, args.warmup_size)}))
    run_fit(warm, data)
    run_train_model(warm, data, args.progress_interval)

    runs = {FIT: [], TRAIN_MODEL: []}
    reports, scoring = [], []
    x_test = prepare_mnist(data[1][0][:n_test])
    y_test = data[1][1][:n_test].astype(np.int32)
    order = []
    for round_ in range(args.rounds):
        for path in (FIT, TRAIN_MODEL) if round_ % 2 == 0 else (TRAIN_MODEL, FIT):
            order.append(path)
            if path == FIT:
                clock, seconds, _ = run_fit(cfg, data)
            else:
                clock, seconds, model, count = run_train_model(cfg, data, args.progress_interval)
                reports.append(count)
                scoring += time_test_scoring(model, x_test, y_test)
            runs[path].append(summarise_run(clock, seconds, n_fit))

    def median(path, key):
        return float(np.median([r[key] for r in runs[path]]))

    keys = ("images_per_s", "train_phase_s", "validation_s", "epoch_end_s", "epoch_s",
            "first_epoch_s", "run_s", "outside_epochs_s")
    summary = {path: {key: median(path, key) for key in keys} for path in runs}
    fit, tm = summary[FIT], summary[TRAIN_MODEL]
    result = {
        "benchmark": NAME,
        "machine": machine,
        "settings": {
            key: getattr(args, key)
            for key in ("arch", "train_size", "test_size", "epochs", "rounds", "warmup_size",
                        "batch_size", "augment", "validation_split", "progress_interval",
                        "seed", "quick")
        },
        "config": vars(cfg),
        "data": {"source": source, "fit_images": n_fit, "validation_images": n_val,
                 "test_images": n_test},
        "compared": (
            "model.fit and train_model on the same freshly built model, seed, data, batch "
            "size, learning-rate schedule, validation split and tf.data pipeline "
            f"(augmentation {'on' if cfg.augment else 'off'}); train_model adds its progress "
            "callback, stop check, per-epoch test scoring and best-weight copies"
        ),
        "order": order,
        "steady_epochs": runs[FIT][0]["steady_epochs"],
        "runs": runs,
        "summary": summary,
        "overhead_pct": {
            "train_phase": 100 * (tm["train_phase_s"] / fit["train_phase_s"] - 1),
            "epoch": 100 * (tm["epoch_s"] / fit["epoch_s"] - 1),
        },
        "test_scoring": {"images": n_test, "batch_size": TEST_BATCH,
                         "seconds": common.stats(scoring)},
        "progress_reports_per_run": reports,
    }
    report(result)
    return result


def report(result: dict) -> None:
    cfg, data, summary = result["config"], result["data"], result["summary"]
    steady = result["steady_epochs"]
    print(
        f"\nArchitecture {cfg['architecture']!r}: batch {cfg['batch_size']}, augmentation "
        f"{'on' if cfg['augment'] else 'off'}; {data['fit_images']:,} training + "
        f"{data['validation_images']:,} validation images from {data['source']}, "
        f"{cfg['epochs']} epoch(s) per run; run order {', '.join(result['order'])}."
    )
    print(f"Compared: {result['compared']}.")
    print(
        f"Figures are medians over runs of epochs 2-{cfg['epochs']} (epoch 1 traces the "
        "graphs: 'first epoch')." if steady else
        "With one epoch per run, every figure includes graph tracing (use --epochs 2+)."
    )
    rows = [
        [path, f"{s['images_per_s']:,.0f}", f"{s['train_phase_s']:.2f}",
         f"{s['validation_s']:.2f}", f"{s['epoch_end_s']:.2f}", f"{s['epoch_s']:.2f}",
         f"{s['first_epoch_s']:.2f}", f"{s['run_s']:.1f}"]
        for path, s in summary.items()
    ]
    common.print_table(
        ["path", "images/s", "train s", "validation s", "epoch-end s", "epoch s",
         "first epoch s", "run s"],
        rows, title="Training throughput (train = the epoch's training phase)",
    )
    overhead, scoring = result["overhead_pct"], result["test_scoring"]
    print(
        f"train_model overhead: {overhead['train_phase']:+.1f}% in the training phase "
        f"(progress callback, stop check), {overhead['epoch']:+.1f}% per whole epoch "
        "(adds test scoring)"
    )
    print(
        f"test scoring per epoch in train_model: {scoring['images']:,} test images, batch "
        f"{scoring['batch_size']}: p50 {scoring['seconds']['p50_ms'] / 1000:.2f} s alone; "
        f"epoch-end work in the run {summary[TRAIN_MODEL]['epoch_end_s']:.2f} s"
    )
    print(f"progress reports per train_model run: {result['progress_reports_per_run']}; "
          f"time outside epochs (data prep, build, final weights): "
          f"fit {summary[FIT]['outside_epochs_s']:.2f} s, "
          f"train_model {summary[TRAIN_MODEL]['outside_epochs_s']:.2f} s")


def main(argv: list[str] | None = None) -> int:
    return common.run_main(NAME, run, parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
