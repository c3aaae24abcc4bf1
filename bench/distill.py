"""A distilled student against its teacher, on what neither of them trained on; or,
with `--int8`, a model's int8 graph (the student) against its float graph (the teacher).

The student's card names its teacher (`distillation.teacher`); both are read through
their ONNX graphs, as the app reads them, each with its own reading policy:

- the validation digits of the teacher's recipe, which the student held out too (same
  seed, same split): digits read wrongly, negative log-likelihood, and what the app
  says (share named, right when named, named wrongly);
- the share of synthetic non-digits refused: 2,000 of the kinds training draws and
  1,000 symbols and words that none draws, both of a seed no training run uses;
- MNIST test accuracy, reported only (it never chooses anything);
- one drawing's read time, `canvas_to_mnist` + `predict_proba` on the ONNX graph,
  teacher and student interleaved, p50/p95.

Pen-drawn digits are left out: a model trained on pendigits writers read them in
training, so they say nothing of unseen writers (and the default saw all 30). Run
from the repository root:

    python -m bench.distill --models-dir var/distill --student cnn-drawn-all-distilled
    python -m bench.distill --quick --models-dir DIR --student NAME
    python -m bench.distill --int8 --student cnn-drawn-all-24ep-x4

MNIST comes from `--data-dir`, else `MNIST_DATA_DIR` (`--quick`: the committed subset
where neither is there). Writes bench/results/distill.json.
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np

from bench import common
from bench.accuracy import (
    NON_DIGITS,
    QUICK_NON_DIGITS,
    QUICK_UNTRAINED,
    UNTRAINED,
    non_digit_drawings,
    reading_figures,
    refused_by_kind,
)
from bench.latency import canvas_drawings
from mnist_core.errors import MnistCoreError
from mnist_core.reading.inference import predict_proba, read_digits
from mnist_core.reading.preprocess import canvas_to_mnist, prepare_mnist
from mnist_core.sources.data import load_mnist
from mnist_core.store import registry
from mnist_core.training.calibration import negative_log_likelihood
from mnist_core.training.config import TrainConfig
from mnist_core.training.negatives import UNTRAINED_KINDS
from mnist_core.training.run_data import validation_digits

NAME = "distill"
CALLS, QUICK_CALLS = 300, 20
WARMUP = 10
# The settings that decide which digits a run holds out for validation.
SPLIT_KEYS = ("validation_split", "seed", "train_size", "pen_writers", "pen_renders",
              "pen_styles", "split_drawings")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.distill",
                                     description=__doc__.split("\n")[0])
    common.add_common_args(parser)
    parser.add_argument("--student", required=True, help="the distilled model")
    parser.add_argument("--teacher", help="default: the one the student's card names")
    parser.add_argument("--int8", action="store_true", help="compare the student's int8 "
                        "graph (`python -m mnist_core quantize`) with its float graph")
    parser.add_argument("--data-dir", help="MNIST folder (default: MNIST_DATA_DIR)")
    parser.add_argument("--calls", type=int, help=f"timed reads of one drawing per model "
                        f"(default {CALLS}; --quick: {QUICK_CALLS})")
    parser.add_argument("--seed", type=int, default=0, help="which drawings are timed")
    parser.add_argument("--pendigits", help="pendigits-orig.tra for the timed drawings "
                        "(default: PENDIGITS_PATH, ../shared/pendigits/)")
    parser.add_argument("--quick", action="store_true", help="fewer non-digits and calls")
    args = parser.parse_args(argv)
    if args.calls is None:
        args.calls = QUICK_CALLS if args.quick else CALLS
    if args.calls < 1:
        parser.error(f"--calls must be at least 1, got {args.calls}")
    return args


def shared_split(teacher_card, student_card) -> TrainConfig:
    """The teacher's recipe, resolved, once the student is seen to hold out the same
    validation digits; `MnistCoreError` naming the settings that differ otherwise."""
    recipes = [TrainConfig.from_card(card.hyperparameters or {}).resolved()
               for card in (teacher_card, student_card)]
    differ = [key for key in SPLIT_KEYS
              if getattr(recipes[0], key) != getattr(recipes[1], key)]
    if differ:
        raise MnistCoreError(f"the student held out other validation digits than its "
                             f"teacher ({', '.join(differ)} differ): no shared proxy")
    return recipes[0]


def scores(model, validation, mnist_test, non_digit_sets) -> dict:
    """What neither model trained on, read by `model` with its own policy."""
    x_val, y_val = validation
    raw = predict_proba(model, x_val)  # the network's own, before its policy
    x_test, y_test = mnist_test
    return {
        "validation": {
            "n": len(y_val),
            "errors": int((raw.argmax(axis=1) != y_val).sum()),
            "negative_log_likelihood": negative_log_likelihood(raw, y_val),
        } | reading_figures(read_digits(model, x_val), y_val),
        "non_digits_refused": refused_by_kind(model, *non_digit_sets["trained_kinds"]),
        "untrained_non_digits_refused": refused_by_kind(model,
                                                        *non_digit_sets["untrained_kinds"]),
        "mnist_test_accuracy": float(
            (predict_proba(model, x_test).argmax(axis=1) == y_test).mean()),
        "params": model.card.params,
    }


def read_times(models: dict, drawings: list, calls: int) -> dict:
    """One drawing read as the Draw page reads it, each model in turn, `calls` times."""
    def read(model, drawing):
        return predict_proba(model, canvas_to_mnist(drawing))

    for i in range(WARMUP):
        for model in models.values():
            read(model, drawings[i % len(drawings)])
    samples = {role: [] for role in models}
    for i in range(calls):
        for role, model in models.items():
            start = time.perf_counter()
            read(model, drawings[i % len(drawings)])
            samples[role].append(time.perf_counter() - start)
    return {role: common.stats(times) for role, times in samples.items()}


def run(args: argparse.Namespace) -> dict:
    started = time.perf_counter()
    machine = common.machine_info()
    common.print_machine(machine)
    student = registry.open_model(args.student, args.models_dir)
    student_name, teacher_name = args.student, args.teacher
    if args.int8:
        if not student.card.int8:
            raise MnistCoreError(f"{args.student!r} has no int8 graph: make one with "
                                 f"`python -m mnist_core quantize --name {args.student}`")
        teacher = registry.open_model(args.student, args.models_dir, float_graph=True)
        student_name, teacher_name = f"{args.student} int8", f"{args.student} float"
    else:
        teacher_name = teacher_name or (student.card.distillation or {}).get("teacher")
        if teacher_name is None:
            raise MnistCoreError(f"{args.student!r} names no teacher on its card: pass "
                                 "--teacher")
        teacher = registry.open_model(teacher_name, args.models_dir)
    recipe = shared_split(teacher.card, student.card)

    data_dir = common.mnist_dir(args.data_dir, args.quick)
    (x_train, y_train), (x_test, y_test) = load_mnist(data_dir)
    validation = validation_digits(recipe, (x_train, y_train))
    mnist_test = (prepare_mnist(x_test), y_test.astype(np.int64))
    non_digit_sets = {
        "trained_kinds": non_digit_drawings(QUICK_NON_DIGITS if args.quick else NON_DIGITS),
        "untrained_kinds": non_digit_drawings(QUICK_UNTRAINED if args.quick else UNTRAINED,
                                              UNTRAINED_KINDS),
    }
    models = {"teacher": teacher, "student": student}
    result = {
        "benchmark": NAME, "machine": machine,
        "settings": {"models_dir": args.models_dir, "data_dir": data_dir, "calls": args.calls,
                     "seed": args.seed, "quick": args.quick},
        "teacher": teacher_name, "student": student_name,
        "distillation": student.card.distillation,
        "non_digits": {kind: len(images) for kind, (images, _) in non_digit_sets.items()},
        "models": {role: scores(model, validation, mnist_test, non_digit_sets)
                   for role, model in models.items()},
    }
    drawings, _ = canvas_drawings(20, args.seed, args.pendigits)
    for role, figures in read_times(models, drawings, args.calls).items():
        result["models"][role]["read_one_drawing"] = figures
    result["elapsed_seconds"] = round(time.perf_counter() - started, 1)
    report(result)
    return result


def report(result: dict) -> None:
    """Teacher and student side by side, one figure a row."""
    teacher, student = result["models"]["teacher"], result["models"]["student"]
    n = teacher["validation"]["n"]

    def both(read):
        return [read(teacher), read(student)]

    rows = [
        ["parameters", *both(lambda m: f"{m['params']:,}")],
        [f"validation digits read wrongly (of {n:,})",
         *both(lambda m: m["validation"]["errors"])],
        ["validation negative log-likelihood",
         *both(lambda m: f"{m['validation']['negative_log_likelihood']:.4f}")],
        ["validation: named (own policy)",
         *both(lambda m: common.pct(m["validation"]["named_share"]))],
        ["validation: right when named",
         *both(lambda m: common.pct(m["validation"]["accuracy_named"], 3))],
        ["validation: named wrongly", *both(lambda m: m["validation"]["wrong_named"])],
        [f"non-digits refused ({result['non_digits']['trained_kinds']:,})",
         *both(lambda m: common.pct(m["non_digits_refused"]["all"], 1))],
    ]
    kinds = [kind for kind in teacher["non_digits_refused"] if kind != "all"]
    rows += [[f"  {kind}", *both(lambda m, k=kind: common.pct(m["non_digits_refused"][k], 1))]
             for kind in kinds]
    rows += [
        [f"symbols and words refused ({result['non_digits']['untrained_kinds']:,})",
         *both(lambda m: common.pct(m["untrained_non_digits_refused"]["all"], 1))],
        ["MNIST test accuracy (report only)",
         *both(lambda m: common.pct(m["mnist_test_accuracy"]))],
        ["one drawing, ONNX: p50 ms", *both(lambda m: f"{m['read_one_drawing']['p50_ms']:.2f}")],
        ["one drawing, ONNX: p95 ms", *both(lambda m: f"{m['read_one_drawing']['p95_ms']:.2f}")],
    ]
    common.print_table(["", result["teacher"], result["student"]], rows,
                       title=f"teacher and student ({result['elapsed_seconds']} s)")


def main(argv: list[str] | None = None) -> int:
    return common.run_main(NAME, run, parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
