"""Command line: train, evaluate and list models, predict the digit in an image file
or in each drawing of a drawings file, teach a model a drawings file's drawings, distil
a model into one network, export a model to ONNX or make its int8 graph, build the index
of a model's training digits most like a drawing, or run a worker that trains the app's
queued jobs.

    python -m mnist_core train --arch fast-cnn --name my-fast-cnn
    python -m mnist_core train --start-from my-fast-cnn --name my-fast-cnn-more --epochs 2
    python -m mnist_core teach --from cnn-drawn-all --drawings mine.npz --name my-cnn
    python -m mnist_core evaluate [--name cnn]
    python -m mnist_core predict drawing.png [--name cnn]
    python -m mnist_core predict mine.npz [--name my-cnn]
    python -m mnist_core list
    python -m mnist_core calibrate [--name cnn]
    python -m mnist_core ensemble --name cnn-x3 --members cnn cnn-2 cnn-3
    python -m mnist_core distill --teacher cnn-x3 --name cnn-distilled
    python -m mnist_core quantize [--name cnn-x3]
    python -m mnist_core export my-old-model
    python -m mnist_core layers --name my-old-model  (or --all)
    python -m mnist_core score [NAME ...]
    python -m mnist_core index --name NAME [NAME ...]   # or --all
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

from mnist_core import beside_commands, commands
from mnist_core.errors import MnistCoreError
from mnist_core.training.config import TEACH_BASE, TeachConfig, TrainConfig
from mnist_core.training.distill import DEFAULT_ALPHA, DEFAULT_TEMPERATURE
from mnist_core.training.tensorflow_setup import quiet_tensorflow


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.run in (commands.train, commands.evaluate, beside_commands.export, commands.calibrate,
                    commands.ensemble, commands.distill, commands.teach,
                    beside_commands.layers):  # Keras's
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
    subcommands = parser.add_subparsers(required=True, metavar="COMMAND")

    train = subcommands.add_parser("train", help="train a model and save it to the store")
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
    train.add_argument("--numbers-per-epoch", type=int, metavar="N",
                       help="a whole-number reader (--arch number-ctc): numbers composed "
                       "for each epoch (default 24,000)")
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
    train.set_defaults(run=commands.train, split_drawings=False)

    evaluate = subcommands.add_parser("evaluate", help="score a model on the MNIST test set")
    evaluate.add_argument("--name", help="model name (default: the default model)")
    evaluate.set_defaults(run=commands.evaluate)

    teach = subcommands.add_parser(
        "teach", help="fit a stored model further on a drawings file's drawings (among "
        "replayed MNIST digits), calibrate it and save it; reports how the old and the new "
        "model read drawings held out of the fit, and the MNIST test set",
    )
    teach.add_argument("--from", dest="base", default=TEACH_BASE, metavar="MODEL",
                       help=f"the model to start from (default {TEACH_BASE}; an ensemble "
                       "is taught through its first run)")
    teach.add_argument("--drawings", type=Path, required=True, metavar="FILE.npz",
                       help="a drawings file (docs/drawings-file.md)")
    teach.add_argument("--name", required=True, help="name to save the new model under")
    teach.add_argument("--epochs", type=int, default=TeachConfig.epochs,
                       help=f"epochs of each fit (default {TeachConfig.epochs})")
    teach.add_argument("--overwrite", action="store_true", help="replace a model of that name")
    teach.set_defaults(run=commands.teach)

    predict = subcommands.add_parser(
        "predict", help="classify the digit in an image file, or each drawing of a drawings "
        "file (.npz) as the Draw page reads it: one line each, its index, the digit read "
        "('?' when none is named) and its probability")
    predict.add_argument("image", type=Path, help="PNG/JPEG of one digit, any polarity; or "
                         "a drawings file, FILE.npz")
    predict.add_argument("--name", help="model name (default: the default model)")
    predict.add_argument("--drawings", type=Path, metavar="KEPT.npz",
                         help="read a drawings file's drawings with these kept drawings in "
                         "mind, as the Draw page reads a visitor's")
    predict.set_defaults(run=commands.predict)

    export = subcommands.add_parser(
        "export", help="write the ONNX graph the app reads with, for models saved without "
        "one (every save writes one now)",
    )
    export.add_argument("names", nargs="+", metavar="NAME", help="the models to export")
    export.set_defaults(run=beside_commands.export)

    layers = subcommands.add_parser(
        "layers", help="write the graph that shows what a model's layers see (its "
        "convolutions' feature maps, its dense layers' activations; an ensemble's first "
        "run), for models saved without one (every save writes one now)",
    )
    which = layers.add_mutually_exclusive_group(required=True)
    which.add_argument("--name", dest="names", nargs="+", metavar="NAME",
                       help="the models to make one for")
    which.add_argument("--all", action="store_true",
                       help="every model of --models-dir (else of the writable store)")
    layers.set_defaults(run=beside_commands.layers)

    score = subcommands.add_parser(
        "score", help="store models' readings of the MNIST test set beside them, which the "
        "Evaluate page shows (every save writes them now; this is for models saved before)",
    )
    score.add_argument("names", nargs="*", metavar="NAME",
                       help="the models to score (default: every model of the folder or "
                       "writable store that has none, or stale ones)")
    score.add_argument("--again", action="store_true",
                       help="score models whose readings are up to date too")
    score.set_defaults(run=beside_commands.score)

    index = subcommands.add_parser(
        "index", help="store beside each model the index of its training digits most like "
        "a drawing (MNIST training digits it fitted and its pen writers', in its features), "
        "which the Draw page's 'Why' shows; every saved run queues one, this is for models "
        "saved before (shipped ones: with --models-dir models)",
    )
    which = index.add_mutually_exclusive_group(required=True)
    which.add_argument("--name", nargs="+", dest="names", metavar="NAME",
                       help="the models to index")
    which.add_argument("--all", action="store_true", help="every model of the folder (or "
                       "writable store) without an up-to-date index")
    index.add_argument("--mnist-per-digit", type=int, metavar="N",
                       help="MNIST training digits of each label to index (default 3000)")
    index.set_defaults(run=beside_commands.index)

    listing = subcommands.add_parser(
        "list", help="list the models in the store: name, task (what it does: digit), "
        "architecture, MNIST test accuracy")
    listing.set_defaults(run=commands.list_store)

    delete = subcommands.add_parser(
        "delete", help="remove models from the writable store, whoever trained them (the "
        "operator's way to clear one a visitor cannot, e.g. one saved without its card)",
    )
    delete.add_argument("names", nargs="+", metavar="NAME", help="the models to remove")
    delete.set_defaults(run=commands.delete)

    calibrate = subcommands.add_parser(
        "calibrate", help="fit a model's temperature and 'not sure' threshold on "
        "held-out data and store them on its card",
    )
    calibrate.add_argument("--name", help="model name (default: the default model)")
    calibrate.set_defaults(run=commands.calibrate)

    ensemble = subcommands.add_parser(
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
    ensemble.set_defaults(run=commands.ensemble)

    distill = subcommands.add_parser(
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
    distill.set_defaults(run=commands.distill)

    quantize = subcommands.add_parser(
        "quantize", help="make a model's int8 graph, which the app then reads with (quicker "
        "than the float graph); kept only if it reads the validation digits as well as the "
        "float graph, with its own reading policy fitted on them, and its test readings",
    )
    quantize.add_argument("--name", help="model name (default: the default model)")
    quantize.set_defaults(run=commands.quantize)

    worker = subcommands.add_parser("worker", help="train the app's queued jobs")
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
    worker.set_defaults(run=commands.worker)
    return parser


if __name__ == "__main__":
    sys.exit(main())
