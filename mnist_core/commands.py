"""What each `python -m mnist_core` command does, given its parsed arguments
(`__main__` parses them). Each imports what it needs when it runs, so `worker` and
`predict` never import TensorFlow."""

from __future__ import annotations

import argparse

from mnist_core.model.card import DIGIT
from mnist_core.training.config import TrainConfig


def train(args) -> int:
    from mnist_core.sources.data import load_mnist
    from mnist_core.training.architectures import get_architecture
    from mnist_core.training.train import train_model

    arch = args.arch or "fast-cnn"
    if args.start_from and not args.arch:
        from mnist_core.store.registry import read_card

        arch = read_card(args.start_from, args.models_dir).architecture or arch
    get_architecture(arch)  # an unknown name fails here, naming the known ones
    config = TrainConfig(
        architecture=arch, epochs=args.epochs, batch_size=args.batch_size,
        validation_split=args.validation_split, seed=args.seed, augment=args.augment,
        learning_rate=args.learning_rate, train_size=args.train_size,
        pen_writers=parse_ranges(args.pen_writers) if args.pen_writers else None,
        pen_renders=args.pen_renders, pen_styles=args.pen_styles,
        non_digits=args.non_digits, non_digit_kinds=args.non_digit_kinds,
        ema_momentum=args.ema_momentum, init_seed=args.init_seed,
        split_drawings=args.split_drawings, start_from=args.start_from,
        numbers_per_epoch=args.numbers_per_epoch,
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


def parse_ranges(text: str) -> tuple[int, ...]:
    """'1-20,25' -> (1, ..., 20, 25)."""
    numbers = []
    try:
        for part in text.split(","):
            low, _, high = part.strip().partition("-")
            numbers.extend(range(int(low), int(high or low) + 1))
    except ValueError:
        raise ValueError(f"cannot read writer list {text!r}; write e.g. 1-20,25") from None
    return tuple(numbers)


def digit_reader(model, command: str):
    """`model`, refused in words where it reads something other than single digits."""
    from mnist_core.model.card import DIGIT

    if model.card.task != DIGIT:
        raise ValueError(f"{model.name} reads whole numbers written on the Draw page's number "
                         f"pad; {command} reads single digits: name a digit model with --name "
                         "(`python -m mnist_core list` shows each model's task)")
    return model


def evaluate(args) -> int:
    from mnist_core.reading.evaluate import evaluate_model
    from mnist_core.reading.preprocess import prepare_mnist
    from mnist_core.sources.data import load_mnist
    from mnist_core.store.registry import default_model_name, load_model

    name = args.name or default_model_name(args.models_dir)
    model = digit_reader(load_model(name, args.models_dir), "evaluate")
    _, (x_test, y_test) = load_mnist(args.data_dir)
    result = evaluate_model(model, prepare_mnist(x_test), y_test)
    print(f"{name}: test accuracy {result.accuracy:.4f}, loss {result.loss:.4f}, "
          f"{len(result.misclassified)} of {len(y_test)} wrong")
    print("class  precision  recall")
    for digit in range(10):
        print(f"{digit:>5}  {result.precision[digit]:9.4f}  {result.recall[digit]:6.4f}")
    print("top confusions (true -> predicted: count):",
          ", ".join(f"{t}->{p}: {n}" for t, p, n in result.top_confusions()))
    return 0


def teach(args) -> int:
    from mnist_core.sources.data import load_mnist
    from mnist_core.sources.drawings_file import read_drawings_file
    from mnist_core.training.config import TeachConfig
    from mnist_core.training.teach import teach_model

    drawings = read_drawings_file(args.drawings)

    def report(progress):
        if progress.epoch_finished:
            h = progress.history
            print(f"epoch {progress.epoch}/{progress.epochs}  loss {h['loss'][-1]:.4f}  "
                  f"acc {h['accuracy'][-1]:.4f}", flush=True)

    result = teach_model(
        drawings, args.name, TeachConfig(base=args.base, epochs=args.epochs),
        data=load_mnist(args.data_dir), models_dir=args.models_dir, progress=report,
        overwrite=args.overwrite,
    )
    taught = result.report
    held, test = taught["held_out"], taught["mnist_test"]
    how = "each in turn, in 3 fits" if held["cross_validated"] else "kept back from the fit"
    print(f"saved {args.name}: taught {taught['drawings']} drawings; of {held['digits']} "
          f"drawn digits held out ({how}) it reads {held['taught_right']} right, "
          f"{taught['base']} {held['base_right']}; MNIST test {test['taught']:.4f} "
          f"({taught['base']}: {test['base']:.4f}); {taught['seconds']:.0f} s")
    return 0


def predict(args) -> int:
    from mnist_core.model.verdict import Kind
    from mnist_core.reading.images import read_image
    from mnist_core.reading.inference import read_upload
    from mnist_core.store.registry import open_model

    model = digit_reader(open_model(args.name, args.models_dir), "predict")
    if args.image.suffix.lower() == ".npz":
        return predict_drawings(model, args.image, args.drawings)
    if args.drawings is not None:
        raise ValueError("--drawings reads drawings with kept ones in mind: give a drawings "
                         "file (.npz) to read, not a photo")
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


def predict_drawings(model, path, kept_path=None) -> int:
    """Each drawing of a drawings file read as the Draw page reads one (with the kept
    drawings of `kept_path` in mind, if given): its index, the digit read ('?' when none
    is named), the probability of the likeliest digit, and the label it was kept with."""
    from mnist_core.errors import EmptyDrawingError
    from mnist_core.reading.inference import UNREAD, read_drawing
    from mnist_core.reading.personal import kept_examples
    from mnist_core.sources.drawings_file import NOT_A_DIGIT, read_drawings_file

    drawings = read_drawings_file(path)
    mine = None
    if kept_path is not None:
        kept_file = read_drawings_file(kept_path)
        mine = kept_examples(model, kept_file.images28.astype("float32") / 255,
                             kept_file.labels)
        print(f"with {len(kept_file)} kept drawings of {kept_path.name} in mind")
    for index, (drawing, label) in enumerate(zip(drawings.drawings, drawings.labels)):
        kept = "not a digit" if label == NOT_A_DIGIT else str(label)
        try:
            _, readings = read_drawing(model, drawing, kept=mine)
        except EmptyDrawingError as err:
            print(f"{index} {UNREAD} -      kept as {kept}; {err}")
            continue
        digit = int(readings.digits[0])
        shown = UNREAD if digit < 0 else str(digit)
        print(f"{index} {shown} {readings.probabilities[0].max():.3f}  kept as {kept}")
    return 0


def list_store(args) -> int:
    from mnist_core.store.registry import list_models

    for info in list_models(args.models_dir):
        accuracy = info.card.test_accuracy
        print(f"{info.name:28} {info.card.task:6} {info.card.architecture or '?':26} "
              f"{'-' if accuracy is None else f'{accuracy:.4f}':>7}  "
              f"{info.card_error or ''}")
    return 0


def delete(args) -> int:
    from mnist_core.store.saving import delete_model

    for name in args.names:
        delete_model(name, args.models_dir)  # shipped models are refused
        print(f"{name}: deleted")
    return 0


def calibrate(args) -> int:
    from mnist_core.sources.data import load_mnist
    from mnist_core.store import registry
    from mnist_core.training.calibration import calibrate_model

    name = args.name or registry.default_model_name(args.models_dir)
    if registry.read_card(name, args.models_dir).task != DIGIT:
        return calibrate_number_reader(name, args.models_dir)
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


def calibrate_number_reader(name: str, models_dir) -> int:
    from mnist_core.training.number_eval import calibrate_number_reader as calibrate

    reading = calibrate(name, models_dir).reading
    print(f"{name}: names a digit of a number at probability >= "
          f"{reading.min_probability:.3f} (fitted on {reading.fitted_on})")
    for label, kinds in reading.held_out.items():
        print(f"  {label}: " + "; ".join(
            f"{kind} {r['exact']:.1%} read exactly, {r['digits_right']:.2%} of digits right, "
            f"{r['digits_unnamed']:.2%} marked ?" for kind, r in kinds.items()))
    return 0


def ensemble(args) -> int:
    from mnist_core.sources.data import load_mnist
    from mnist_core.training.ensemble import make_ensemble

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
    return calibrate(argparse.Namespace(
        name=args.name, models_dir=args.models_dir, data_dir=args.data_dir
    ))


def distill(args) -> int:
    from mnist_core.sources.data import load_mnist
    from mnist_core.training.distill import distill

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


def quantize(args) -> int:
    from mnist_core.sources.data import load_mnist
    from mnist_core.store import registry
    from mnist_core.training.quantize import quantize_model

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


def worker(args) -> int:
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

