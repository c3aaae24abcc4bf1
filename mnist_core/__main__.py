"""Command line: train, evaluate and list models, predict the digit in an image file,
distil a model into one network, export a model to ONNX or make its int8 graph, or run
a worker that trains the app's queued jobs.

    python -m mnist_core train --arch fast-cnn --name my-fast-cnn
    python -m mnist_core train --start-from my-fast-cnn --name my-fast-cnn-more --epochs 2
    python -m mnist_core evaluate [--name cnn]
    python -m mnist_core predict drawing.png [--name cnn]
    python -m mnist_core list
    python -m mnist_core calibrate [--name cnn]
    python -m mnist_core ensemble --name cnn-x3 --members cnn cnn-2 cnn-3
    python -m mnist_core distill --teacher cnn-x3 --name cnn-distilled
    python -m mnist_core quantize [--name cnn-x3]
    python -m mnist_core export my-old-model
    python -m mnist_core score [NAME ...]
    python -m mnist_core worker [--threads 1]

MNIST is read from `MNIST_DATA_DIR` (or `--data-dir`), else the Keras cache. Trained
models go to the writable store (`MNIST_MODELS_DIR`, default `var/models`) unless
`--models-dir` names another folder. Workers consume the queue of `MNIST_QUEUE_URL`
(a redis:// URL), else the SQLite queue in the state folder (`MNIST_STATE_DIR`).
Nothing here imports TensorFlow until a command needs it, so a worker stays light;
`predict` reads with ONNX Runtime, as the app does, and never imports it.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from mnist_core.config import TrainConfig
from mnist_core.distill import DEFAULT_ALPHA, DEFAULT_TEMPERATURE
from mnist_core.errors import MnistCoreError
from mnist_core.tensorflow_setup import quiet_tensorflow


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.run in (_train, _evaluate, _export, _calibrate, _ensemble, _distill):  # Keras's
        quiet_tensorflow()
    try:
        return args.run(args)
    except (MnistCoreError, ValueError, FileExistsError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m mnist_core", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--models-dir", help="one model folder to use alone (default: the "
                        "shipped models and the writable store together)")
    parser.add_argument("--data-dir", help="folder with the MNIST IDX files")
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    train = commands.add_parser("train", help="train a model and save it to the store")
    train.add_argument("--arch", help="architecture (default: the --start-from model's, "
                       "else fast-cnn)")
    train.add_argument("--start-from", metavar="NAME", help="fit this stored model's network "
                       "further instead of a fresh one (of its own architecture)")
    train.add_argument("--name", help="name to save under (default: the architecture)")
    train.add_argument("--epochs", type=int, help="default: the architecture's own")
    train.add_argument("--batch-size", type=int, help="default: the architecture's own")
    train.add_argument("--validation-split", type=float, default=0.1)
    train.add_argument("--seed", type=int, default=0,
                       help="seed of the validation split, the pen renders and the rest")
    train.add_argument("--init-seed", type=int, metavar="N",
                       help="seed of the weights' start, batch order and augmentation only "
                       "(default: --seed): same data and validation digits, another model")
    train.add_argument("--learning-rate", type=float)
    augment = train.add_mutually_exclusive_group()
    augment.add_argument("--augment", dest="augment", action="store_true", default=None)
    augment.add_argument("--no-augment", dest="augment", action="store_false")
    train.add_argument("--train-size", type=int, help="use only the first N training images")
    train.add_argument(
        "--pen-writers", help="also train on these pendigits writers' drawings, e.g. 1-20"
    )
    train.add_argument("--pen-renders", type=int, default=TrainConfig.pen_renders, metavar="N",
                       help="render each pen-drawn digit N times (default 3)")
    train.add_argument("--pen-styles", action="store_true",
                       help="rewrite all renders but the first in other hands: flagged "
                       "1s, crossed 7s, open 4s, straight-tailed 9s, slant, stretch")
    train.add_argument("--non-digits", type=int, default=0, metavar="N",
                       help="also fit N synthetic non-digits, taught as 'unsure of every "
                       "digit' (default 0)")
    train.add_argument("--non-digit-kinds", nargs="+", metavar="KIND",
                       help="kinds of those non-digits: letter, scribble, pair, shape (the "
                       "default four), touching (digits touching), fragment (a digit cut "
                       "in two): what a number's reader must not read as one digit; "
                       "doodle (hearts, eyes, clouds, moons, signs such as euro and pi)")
    train.add_argument("--ema-momentum", type=float, default=0.0, metavar="M",
                       help="keep a moving average of the weights with momentum M per "
                       "batch (e.g. 0.999) and keep that average (default 0: off)")
    split = train.add_mutually_exclusive_group()
    split.add_argument("--split-renders", dest="split_drawings", action="store_false",
                       help="hold out single renders of drawn digits for validation, "
                       "image by image (the default; how the shipped models were trained)")
    split.add_argument("--split-drawings", dest="split_drawings", action="store_true",
                       help="hold out whole drawn digits for validation: all renders of "
                       "one digit on the same side of the split")
    train.add_argument("--overwrite", action="store_true", help="replace a model of that name")
    train.set_defaults(run=_train, split_drawings=False)

    evaluate = commands.add_parser("evaluate", help="score a model on the MNIST test set")
    evaluate.add_argument("--name", help="model name (default: the default model)")
    evaluate.set_defaults(run=_evaluate)

    predict = commands.add_parser("predict", help="classify the digit in an image file")
    predict.add_argument("image", type=Path, help="PNG/JPEG of one digit, any polarity")
    predict.add_argument("--name", help="model name (default: the default model)")
    predict.set_defaults(run=_predict)

    export = commands.add_parser(
        "export", help="write the ONNX graph the app reads with, for models saved without "
        "one (every save writes one now)",
    )
    export.add_argument("names", nargs="+", metavar="NAME", help="the models to export")
    export.set_defaults(run=_export)

    score = commands.add_parser(
        "score", help="store models' readings of the MNIST test set beside them, which the "
        "Evaluate page shows (every save writes them now; this is for models saved before)",
    )
    score.add_argument("names", nargs="*", metavar="NAME",
                       help="the models to score (default: every model of the folder or "
                       "writable store that has none, or stale ones)")
    score.add_argument("--again", action="store_true",
                       help="score models whose readings are up to date too")
    score.set_defaults(run=_score)

    listing = commands.add_parser(
        "list", help="list the models in the store: name, task (what it does: digit), "
        "architecture, MNIST test accuracy")
    listing.set_defaults(run=_list)

    delete = commands.add_parser(
        "delete", help="remove models from the writable store, whoever trained them (the "
        "operator's way to clear one a visitor cannot, e.g. one saved without its card)",
    )
    delete.add_argument("names", nargs="+", metavar="NAME", help="the models to remove")
    delete.set_defaults(run=_delete)

    calibrate = commands.add_parser(
        "calibrate", help="fit a model's temperature and 'not sure' threshold on "
        "held-out data and store them on its card",
    )
    calibrate.add_argument("--name", help="model name (default: the default model)")
    calibrate.set_defaults(run=_calibrate)

    ensemble = commands.add_parser(
        "ensemble", help="average runs of one recipe that differ only in --init-seed into "
        "one model, then calibrate it",
    )
    ensemble.add_argument("--name", required=True, help="name to save the ensemble under")
    ensemble.add_argument("--members", nargs="+", required=True, metavar="NAME",
                          help="the runs (at least two)")
    ensemble.add_argument("--members-dir",
                          help="folder of those runs (default: --models-dir, else the store)")
    ensemble.add_argument("--overwrite", action="store_true",
                          help="replace a model of that name")
    ensemble.set_defaults(run=_ensemble)

    distill = commands.add_parser(
        "distill", help="train one network on a model's probabilities (and the labels) "
        "with that model's own recipe, then calibrate it on the same validation split",
    )
    distill.add_argument("--teacher", required=True, help="the model to learn from (read "
                         "through its ONNX graph)")
    distill.add_argument("--name", required=True, help="name to save the student under")
    distill.add_argument("--arch", help="the student's architecture (default: the one "
                         "the teacher's recipe trained)")
    distill.add_argument("--temperature", type=float, default=DEFAULT_TEMPERATURE,
                         metavar="T", help="soften both models' probabilities at T (default "
                         f"{DEFAULT_TEMPERATURE:g})")
    distill.add_argument("--alpha", type=float, default=DEFAULT_ALPHA, metavar="A",
                         help="weight of the labels' loss; 1 - A goes to the teacher's "
                         f"(default {DEFAULT_ALPHA:g})")
    distill.add_argument("--epochs", type=int, help="default: the teacher recipe's")
    distill.add_argument("--overwrite", action="store_true",
                         help="replace a model of that name")
    distill.set_defaults(run=_distill)

    quantize = commands.add_parser(
        "quantize", help="make a model's int8 graph, which the app then reads with (quicker "
        "than the float graph); kept only if it reads the validation digits as well as the "
        "float graph, with its own reading policy fitted on them, and its test readings",
    )
    quantize.add_argument("--name", help="model name (default: the default model)")
    quantize.set_defaults(run=_quantize)

    worker = commands.add_parser("worker", help="train the app's queued jobs")
    worker.add_argument("--threads", type=int, default=1,
                        help="jobs trained at once, each in its own process (default 1)")
    worker.add_argument("--stop-grace", type=float, default=60.0, metavar="SECONDS",
                        help="kill a run that has not stopped this long after a stop "
                        "request (default 60)")
    worker.add_argument("--requeue-every", type=float, default=30.0, metavar="SECONDS",
                        help="how often to queue again a waiting run whose message was "
                        "lost, e.g. by a Redis restart (default 30)")
    worker.add_argument("--lost-contact-after", type=float, default=120.0, metavar="SECONDS",
                        help="give a run up after this long without reaching the queue "
                        "(default 120)")
    worker.add_argument("--exit-with", type=int, metavar="PID", help=argparse.SUPPRESS)
    worker.set_defaults(run=_worker)
    return parser


def _train(args) -> int:
    from mnist_core.architectures import get_architecture
    from mnist_core.data import load_mnist
    from mnist_core.train import train_model

    arch = args.arch or "fast-cnn"
    if args.start_from and not args.arch:
        from mnist_core.registry import read_card

        arch = read_card(args.start_from, args.models_dir).architecture or arch
    get_architecture(arch)  # an unknown name fails here, naming the known ones
    config = TrainConfig(
        architecture=arch, epochs=args.epochs, batch_size=args.batch_size,
        validation_split=args.validation_split, seed=args.seed, augment=args.augment,
        learning_rate=args.learning_rate, train_size=args.train_size,
        pen_writers=_parse_ranges(args.pen_writers) if args.pen_writers else None,
        pen_renders=args.pen_renders, pen_styles=args.pen_styles,
        non_digits=args.non_digits, non_digit_kinds=args.non_digit_kinds,
        ema_momentum=args.ema_momentum, init_seed=args.init_seed,
        split_drawings=args.split_drawings, start_from=args.start_from,
    )

    def report(progress):
        if progress.epoch_finished:
            print(progress.epoch_line(), flush=True)

    result = train_model(
        config, data=load_mnist(args.data_dir), save_as=args.name or arch,
        models_dir=args.models_dir, progress=report, overwrite=args.overwrite,
    )
    card = result.card
    print(
        f"saved {card.name}: test accuracy {card.test_accuracy:.4f} "
        f"(epoch {card.best_epoch}), {card.training_seconds:.0f} s"
    )
    return 0


def _parse_ranges(text: str) -> tuple[int, ...]:
    """'1-20,25' -> (1, ..., 20, 25)."""
    numbers = []
    try:
        for part in text.split(","):
            low, _, high = part.strip().partition("-")
            numbers.extend(range(int(low), int(high or low) + 1))
    except ValueError:
        raise ValueError(f"cannot read writer list {text!r}; write e.g. 1-20,25") from None
    return tuple(numbers)


def _evaluate(args) -> int:
    from mnist_core.data import load_mnist
    from mnist_core.evaluate import evaluate_model
    from mnist_core.preprocess import prepare_mnist
    from mnist_core.registry import default_model_name, load_model

    name = args.name or default_model_name(args.models_dir)
    _, (x_test, y_test) = load_mnist(args.data_dir)
    result = evaluate_model(load_model(name, args.models_dir), prepare_mnist(x_test), y_test)
    print(f"{name}: test accuracy {result.accuracy:.4f}, loss {result.loss:.4f}, "
          f"{len(result.misclassified)} of {len(y_test)} wrong")
    print("class  precision  recall")
    for digit in range(10):
        print(f"{digit:>5}  {result.precision[digit]:9.4f}  {result.recall[digit]:6.4f}")
    print("top confusions (true -> predicted: count):",
          ", ".join(f"{t}->{p}: {n}" for t, p, n in result.top_confusions()))
    return 0


def _predict(args) -> int:
    from mnist_core.images import read_image
    from mnist_core.inference import read_upload
    from mnist_core.registry import open_model
    from mnist_core.verdict import Kind

    model = open_model(args.name, args.models_dir)
    _, readings = read_upload(model, read_image(args.image.read_bytes()))
    verdict = readings.verdict(0)
    (first, second), (p_first, p_second) = verdict.candidates, verdict.probabilities
    if verdict.kind is Kind.DIGIT:
        print(f"prediction: {first} ({p_first:.1%})")
    elif verdict.kind is Kind.NOT_SURE:
        print(f"not sure: maybe {first} ({p_first:.1%}) or {second} ({p_second:.1%})")
    else:
        print(f"not a digit: its likeliest reading is {first} ({p_first:.1%})")
    print("  ".join(f"{d}: {p:.3f}" for d, p in enumerate(readings.probabilities[0])))
    return 0


def _export(args) -> int:
    from mnist_core.registry import export_onnx

    for name in args.names:
        print(f"{name}: wrote {export_onnx(name, args.models_dir)}")
    return 0


def _score(args) -> int:
    from mnist_core import registry
    from mnist_core.data import load_mnist
    from mnist_core.preprocess import prepare_mnist
    from mnist_core.scores import score_model

    folder = args.models_dir or registry.trained_dir()
    names = args.names or [info.name for info in registry.list_models(folder)]
    if not args.names and not args.again:
        names = [name for name in names if _lacks_scores(name, folder)]
    if not names:
        print(f"every model in {folder} has its test readings")
        return 0
    _, (x_test, y_test) = load_mnist(args.data_dir)
    test_set = prepare_mnist(x_test), y_test
    for name in names:
        model = registry.open_model(name, args.models_dir, memory_arena=False)
        scores = score_model(model, test_set)
        path = registry.write_scores(name, scores, args.models_dir)
        result = scores.evaluation()
        print(f"{name}: {result.accuracy:.2%} of {len(y_test):,} test digits read right "
              f"({len(result.misclassified):,} wrong); wrote {path} "
              f"({path.stat().st_size / 1024:.0f} KB)")
    return 0


def _lacks_scores(name: str, folder) -> bool:
    """Whether a model has no test readings, stale ones or a damaged file of them."""
    from mnist_core.registry import read_scores

    try:
        return read_scores(name, folder) is None
    except MnistCoreError:
        return True


def _list(args) -> int:
    from mnist_core.registry import list_models

    for info in list_models(args.models_dir):
        accuracy = info.card.test_accuracy
        print(f"{info.name:28} {info.card.task:6} {info.card.architecture or '?':26} "
              f"{'-' if accuracy is None else f'{accuracy:.4f}':>7}  "
              f"{info.card_error or ''}")
    return 0


def _delete(args) -> int:
    from mnist_core.registry import delete_model

    for name in args.names:
        delete_model(name, args.models_dir)  # shipped models are refused
        print(f"{name}: deleted")
    return 0


def _calibrate(args) -> int:
    from mnist_core import registry
    from mnist_core.calibration import calibrate_model
    from mnist_core.data import load_mnist

    name = args.name or registry.default_model_name(args.models_dir)
    reading = calibrate_model(name, data=load_mnist(args.data_dir),
                              directory=args.models_dir).reading
    print(f"{name}: temperature {reading.temperature:.3f}, names a digit at top "
          f"probability >= {reading.min_probability:.3f} (fitted on {reading.fitted_on})")
    *digit_sets, non_digits = reading.held_out.items()
    for label, r in digit_sets:
        right_named = ("none named" if r["accuracy_named"] is None
                       else f"right on {r['accuracy_named']:.2%} of those")
        print(f"  {label}: ECE {r['ece_before']:.2%} -> {r['ece']:.2%}; names "
              f"{r['named_share']:.2%} of digits, {right_named} "
              f"(accuracy on all {r['accuracy']:.2%})")
    label, r = non_digits
    print(f"  {r['count']:,} {label}: refuses {r['refused_share']:.1%} ("
          + ", ".join(f"{kind} {share:.0%}" for kind, share in r["by_kind"].items()) + ")")
    return 0


def _ensemble(args) -> int:
    from mnist_core.data import load_mnist
    from mnist_core.ensemble import make_ensemble

    card = make_ensemble(
        args.members, args.name, data=load_mnist(args.data_dir),
        members_dir=args.members_dir or args.models_dir,
        models_dir=args.models_dir, overwrite=args.overwrite,
    )
    for member in card.members:
        print(f"  run {member.name} (init seed {member.init_seed}): validation "
              f"{member.val_accuracy:.4f}, test {member.test_accuracy:.4f}")
    print(f"saved {args.name}: validation {card.val_accuracy:.4f} (negative "
          f"log-likelihood {card.val_negative_log_likelihood:.4f}), test "
          f"{card.test_accuracy:.4f} ({card.val_images:,} validation images)")
    return _calibrate(argparse.Namespace(
        name=args.name, models_dir=args.models_dir, data_dir=args.data_dir
    ))


def _distill(args) -> int:
    from mnist_core.data import load_mnist
    from mnist_core.distill import distill

    changes = {key: value for key, value in
               (("architecture", args.arch), ("epochs", args.epochs)) if value is not None}

    def report(progress):
        if progress.epoch_finished:
            print(progress.epoch_line(), flush=True)

    card = distill(
        args.teacher, args.name, data=load_mnist(args.data_dir),
        temperature=args.temperature, alpha=args.alpha, changes=changes,
        models_dir=args.models_dir, overwrite=args.overwrite, progress=report,
    ).card
    print(f"saved {card.name}: validation {card.val_accuracy:.4f}, test "
          f"{card.test_accuracy:.4f} (epoch {card.best_epoch}), "
          f"{card.training_seconds:.0f} s")
    return 0


def _quantize(args) -> int:
    from mnist_core import registry
    from mnist_core.data import load_mnist
    from mnist_core.quantize import quantize_model

    name = args.name or registry.default_model_name(args.models_dir)
    entry = quantize_model(name, data=load_mnist(args.data_dir),
                           directory=args.models_dir).int8
    print(f"{name}: wrote {registry.int8_path(name, args.models_dir).name} "
          f"in {entry.seconds:.0f} s; {entry.val_errors} of {entry.val_images:,} "
          f"validation digits read wrongly (float graph: {entry.float_val_errors}), "
          f"{entry.changed_readings} read otherwise, probabilities within "
          f"{entry.max_difference:.3f}; names a digit at top probability >= "
          f"{entry.policy.min_probability:.3f}")
    return 0


def _worker(args) -> int:
    import logging

    from mnist_core.jobs.queue import JobQueue
    from mnist_core.jobs.worker import run_worker, worker_id

    if args.threads < 1:
        raise ValueError(f"--threads must be at least 1, got {args.threads}")
    if not args.stop_grace > 0:
        raise ValueError(f"--stop-grace must be positive, got {args.stop_grace}")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    queue = JobQueue.from_env()
    where = queue.backend.where if queue.url else queue.state / "queue.db"
    print(f"worker {worker_id()}: {args.threads} thread(s) on the {queue.backend.kind} queue "
          f"{where}", flush=True)
    for option in ("requeue_every", "lost_contact_after"):
        if not getattr(args, option) > 0:
            flag = "--" + option.replace("_", "-")
            raise ValueError(f"{flag} must be positive, got {getattr(args, option)}")
    run_worker(queue, threads=args.threads, exit_with=args.exit_with,
               stop_grace=args.stop_grace, requeue_every=args.requeue_every,
               lost_contact_after=args.lost_contact_after)
    return 0


if __name__ == "__main__":
    sys.exit(main())
