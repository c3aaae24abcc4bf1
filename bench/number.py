"""Reading whole numbers: exact-number and segmentation accuracy, and the time to read one.

Numbers of 1-5 digits are written from real pen-drawn digits (UCI pendigits), each
number by one writer, on the Number mode's 240x720 pad (`pendigits.compose_number`:
random sizes, gaps that sometimes let digits touch, vertical jitter), and read with
`inference.read_number`. Every model is scored only on writers it never trained on
(its card's `pen_writers`); a model that saw all 30 writers gets no figures. Reported:

- exact numbers: the text read equals the number written;
- segmentation: as many pieces as digits, each piece over its own digit;
- digits named: the share of digits not read as `?`, and numbers with a `?`;
- the same numbers read naively, one connected ink component per digit (no merging,
  splitting or speck removal): what segmentation buys;
- the server-side time of `read_number` on 5-digit numbers, p50/p95.

`--reader ctc` compares the whole-number reader (`number_reader.read_number_ctc`, the
shipped `number-ctc` unless `--number-model` names another) with the segmenting reader
and the default digit model (or `--digit-model`), both through their served ONNX graphs
on one thread, as the web server reads. The numbers are written by the number reader's held-out pen
writers (26-30), `--count` of them spaced as above and as many touching: every
neighbour's ink meeting or overlapping the next by up to 14 px
(`number_data.pen_numbers`). Reported for each reader and both kinds: exact numbers,
digits read right (1 - edits over digits written), digits marked `?`, and the time to
read a 5-digit number, p50/p95; beside them, p, the share of those writers' single
digits the default model names right, and the ceiling it sets for exact 1-5-digit
numbers read digit by digit, the mean of p^L over L = 1..5.

    python -m bench.number                       # default model and cnn-drawn-nondigits
    python -m bench.number --models cnn --count 2000
    python -m bench.number --quick               # 200 numbers
    python -m bench.number --reader ctc --count 1000

Writes bench/results/number.json (`--reader ctc`: number_readers.json).
"""

from __future__ import annotations

import argparse
import sys
import time

import cv2
import numpy as np

from bench import common
from mnist_core.errors import EmptyDrawingError, MnistCoreError
from mnist_core.model.card import DIGIT, NUMBER
from mnist_core.model.verdict import NOT_NAMED
from mnist_core.reading.inference import read_digits, read_number, warm_up
from mnist_core.reading.number_reader import read_number_ctc
from mnist_core.reading.preprocess import INK_LEVEL, canvas_to_mnist, center_ink
from mnist_core.reading.segment import NUMBER_PAD
from mnist_core.sources.pendigits import (
    compose_number,
    default_pendigits_path,
    load_pendigits,
    render_dataset,
)
from mnist_core.store import registry
from mnist_core.training.number_data import pen_numbers
from mnist_core.training.number_eval import score_texts

NAME = "number"
READERS_NAME = "number_readers"
NUMBER_MODEL = "number-ctc"
QUICK_COUNT = 200
MAX_DIGITS = 5
TIMED_CALLS = 200


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.number",
                                     description=__doc__.split("\n")[0])
    common.add_common_args(parser)
    parser.add_argument("--models", nargs="+", metavar="NAME",
                        help="models to score (default: the default model and every model "
                        "of the store trained on only some pendigits writers)")
    parser.add_argument("--pendigits", help="pendigits-orig.tra (default: PENDIGITS_PATH, "
                        "../shared/pendigits/, else downloaded once to ~/.keras/datasets)")
    parser.add_argument("--count", type=int, default=1000,
                        help="numbers per model (default 1,000; --quick: 200)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="a small, fast run")
    parser.add_argument("--reader", choices=("segment", "ctc"), default="segment",
                        help="segment: the segmenting reader, model by model (default); "
                        "ctc: the whole-number reader beside the segmenting one")
    parser.add_argument("--number-model", default=NUMBER_MODEL,
                        help=f"the whole-number reader --reader ctc scores (default "
                        f"{NUMBER_MODEL})")
    parser.add_argument("--digit-model", help="the digit model the segmenting reader reads "
                        "with beside it (default: the default model, which saw every pen "
                        "writer; cnn-drawn-nondigits saw writers 1-20 only)")
    args = parser.parse_args(argv)
    if args.quick:
        args.count = min(args.count, QUICK_COUNT)
    if args.count < 1:
        parser.error(f"--count must be at least 1, got {args.count}")
    return args


def write_numbers(digits: list, writers: list[int], count: int, seed: int) -> list:
    """`count` numbers of 1-5 digits, each written by one of `writers`."""
    rng = np.random.default_rng(seed)
    by_writer = {w: [d for d in digits if d.writer == w] for w in writers}
    numbers = []
    for _ in range(count):
        own = by_writer[int(rng.choice(writers))]
        length = int(rng.integers(1, MAX_DIGITS + 1))
        chosen = rng.choice(len(own), size=length, replace=len(own) < length)
        numbers.append(compose_number([own[i] for i in chosen], rng))
    return numbers


def segmented_right(pieces: list[tuple[int, int, int, int]], number) -> bool:
    """As many pieces as digits, and each piece's centre column inside its own digit's box
    and in no other."""
    if len(pieces) != len(number.boxes):
        return False
    for i, (_, _, left, right) in enumerate(pieces):
        centre = (left + right) / 2
        inside = [j for j, box in enumerate(number.boxes) if box[2] <= centre < box[3]]
        if i not in inside:
            return False
    return True


def naive_text(model, image: np.ndarray) -> str:
    """One digit per connected component of the ink, left to right: the baseline."""
    ink = image.astype(np.float32) / 255.0
    count, labels, stats, _ = cv2.connectedComponentsWithStats(
        (ink > INK_LEVEL).astype(np.uint8), connectivity=8
    )
    order = sorted(range(1, count), key=lambda i: stats[i][0])
    images = []
    for i in order:
        x, y, w, h = (int(v) for v in stats[i][:4])
        try:
            images.append(center_ink(np.where(labels[y:y + h, x:x + w] == i,
                                              ink[y:y + h, x:x + w], 0.0)))
        except EmptyDrawingError:
            continue
    if not images:
        return ""
    digits = read_digits(model, np.stack(images)).digits
    return "".join("?" if d == NOT_NAMED else str(d) for d in digits)


def score_model(model, numbers: list) -> dict:
    exact = segmented = naive = named = digits_total = with_unread = 0
    by_length = {n: [0, 0] for n in range(1, MAX_DIGITS + 1)}
    wrong = []
    for number in numbers:
        reading = read_number(model, number.image)
        right = reading.text == number.text
        exact += right
        segmented += segmented_right([d.box for d in reading.digits], number)
        named += sum(d.digit != NOT_NAMED for d in reading.digits)
        digits_total += len(reading.digits)
        with_unread += "?" in reading.text
        naive += naive_text(model, number.image) == number.text
        by_length[len(number.labels)][0] += right
        by_length[len(number.labels)][1] += 1
        if not right and len(wrong) < 30:
            wrong.append(f"{number.text}->{reading.text}")
    n = len(numbers)
    return {
        "n": n,
        "exact": exact / n,
        "segmented": segmented / n,
        "naive_exact": naive / n,
        "digits_named": named / max(digits_total, 1),
        "numbers_with_unread": with_unread / n,
        "exact_by_length": {k: v[0] / v[1] for k, v in by_length.items() if v[1]},
        "examples_wrong": wrong,
    }


def time_five_digits(model, numbers: list) -> dict:
    five = [n for n in numbers if len(n.labels) == MAX_DIGITS] or numbers
    images = iter([n.image for n in five] * (TIMED_CALLS // len(five) + 2))
    warm_up(model)
    return common.stats(common.time_calls(lambda: read_number(model, next(images)),
                                          TIMED_CALLS))


def run(args: argparse.Namespace) -> dict:
    started = time.perf_counter()
    machine = common.machine_info()
    common.print_machine(machine)
    infos = {info.name: info for info in registry.list_models(args.models_dir, task=DIGIT)}
    default = registry.default_model_name(args.models_dir)
    names = args.models or [default] + sorted(
        name for name, info in infos.items()
        if name != default and 0 < len(info.card.pen_writers or []) < 30
    )
    missing = [name for name in names if name not in infos]
    if missing:
        raise MnistCoreError(f"no model named {', '.join(map(repr, missing))} in "
                             f"{registry.models_dir(args.models_dir)}")
    digits = load_pendigits(args.pendigits)
    rows = []
    for name in names:
        seen = set(infos[name].card.pen_writers or [])
        writers = sorted({d.writer for d in digits} - seen)
        row = {"name": name, "unseen_writers": writers}
        if not writers:
            row["skipped"] = "trained on every pendigits writer"
            rows.append(row)
            continue
        model = registry.load_model(name, args.models_dir)
        numbers = write_numbers(digits, writers, args.count, args.seed)
        row |= score_model(model, numbers)
        row["read_5_digits"] = time_five_digits(model, numbers)
        rows.append(row)
    result = {
        "machine": machine,
        "canvas": NUMBER_PAD,
        "count": args.count,
        "pendigits": str(args.pendigits or default_pendigits_path()),
        "seed": args.seed,
        "default_model": default,
        "models": rows,
        "elapsed_seconds": round(time.perf_counter() - started, 1),
    }
    report(result)
    return result


def report(result: dict) -> None:
    rows = []
    for row in result["models"]:
        writers = row["unseen_writers"]
        span = f"{writers[0]}-{writers[-1]}" if writers else "-"
        if "skipped" in row:
            rows.append([row["name"], span, row["skipped"], "", "", "", "", ""])
            continue
        timing = row["read_5_digits"]
        rows.append([
            row["name"], span, common.pct(row["exact"], 1), common.pct(row["segmented"], 1),
            common.pct(row["naive_exact"], 1), common.pct(row["digits_named"], 1),
            common.pct(row["numbers_with_unread"], 1),
            f"{timing['p50_ms']:.1f} / {timing['p95_ms']:.1f}",
        ])
    common.print_table(
        ["model", "unseen writers", "exact number", "segmented", "naive CC exact",
         "digits named", "numbers with ?", "read 5 digits p50/p95 ms"],
        rows,
        title=f"{result['count']:,} numbers of 1-{MAX_DIGITS} digits per model, "
        f"{result['canvas'][1]}x{result['canvas'][0]} canvas, seed {result['seed']}",
    )
    for row in result["models"]:
        if "exact_by_length" in row:
            by_length = ", ".join(f"{k} digits {common.pct(v, 1)}"
                                  for k, v in row["exact_by_length"].items())
            print(f"{row['name']}: exact by length: {by_length}")
            print(f"  misread (written->read): {', '.join(row['examples_wrong']) or 'none'}")


def run_readers(args: argparse.Namespace) -> dict:
    """The whole-number reader and the segmenting reader on the same held-out numbers."""
    started = time.perf_counter()
    machine = common.machine_info()
    common.print_machine(machine)
    number_model = registry.open_model(args.number_model, args.models_dir)
    if number_model.card.task != NUMBER:
        raise MnistCoreError(f"model {args.number_model!r} reads single digits, not numbers")
    digit_model = registry.open_model(
        args.digit_model or registry.default_model_name(args.models_dir), args.models_dir)
    digits = load_pendigits(args.pendigits)
    writers = sorted({d.writer for d in digits} - set(number_model.card.pen_writers or []))
    if not writers:
        raise MnistCoreError(f"{args.number_model!r} was trained on every pen writer")
    unseen = [d for d in digits if d.writer in writers]
    numbers = {"spaced": pen_numbers(unseen, writers, args.count, args.seed, close=False),
               "touching": pen_numbers(unseen, writers, args.count, args.seed + 1,
                                       close=True)}
    readers = {f"whole-number ({number_model.name})":
               lambda image: read_number_ctc(number_model, image).text,
               f"segmenting ({digit_model.name})":
               lambda image: read_number(digit_model, image).text}
    five = [n.image for n in numbers["spaced"] if len(n.labels) == MAX_DIGITS] or [
        n.image for n in numbers["spaced"]]
    rows = []
    for name, read in readers.items():
        row = {"reader": name}
        for kind, written in numbers.items():
            texts = [read(number.image) for number in written]
            scores = score_texts(texts, [number.text for number in written])
            row[kind] = {"n": len(written), "exact": scores.exact, "digits": scores.digits,
                         "unnamed": scores.unnamed,
                         "examples_wrong": [f"{n.text}->{t}" for n, t in zip(written, texts)
                                            if n.text != t][:20]}
        row["read_5_digits"] = time_reader(read, five)
        rows.append(row)
    single = digit_reader_share(digit_model, unseen, args.seed)
    seen = sorted(set(writers) & set(digit_model.card.pen_writers or []))
    result = {
        "machine": machine, "canvas": NUMBER_PAD, "count": args.count, "seed": args.seed,
        "pendigits": str(args.pendigits or default_pendigits_path()), "writers": writers,
        "number_model": number_model.name, "digit_model": digit_model.name,
        "digit_model_saw_writers": seen,
        "digit_reader_p": single,
        "ceiling_1_to_5": float(np.mean([single ** n for n in range(1, MAX_DIGITS + 1)])),
        "readers": rows, "elapsed_seconds": round(time.perf_counter() - started, 1),
    }
    report_readers(result)
    return result


def time_reader(read, images: list[np.ndarray]) -> dict:
    """p50/p95 of `read` on each image in turn, `TIMED_CALLS` times."""
    queue = iter(images * (TIMED_CALLS // max(len(images), 1) + 2))
    return common.stats(common.time_calls(lambda: read(next(queue)), TIMED_CALLS))


def digit_reader_share(model, digits: list, seed: int) -> float:
    """The share of `digits`, each drawn alone on the pad, that `model` names right."""
    images, labels = render_dataset(digits, seed=seed)
    named = read_digits(model, np.stack([canvas_to_mnist(image) for image in images])).digits
    return float((named == labels).mean())


def report_readers(result: dict) -> None:
    rows = []
    for row in result["readers"]:
        timing = row["read_5_digits"]
        rows.append([row["reader"]] + [
            common.pct(row[kind][key], 1) for kind in ("spaced", "touching")
            for key in ("exact", "digits", "unnamed")
        ] + [f"{timing['p50_ms']:.1f} / {timing['p95_ms']:.1f}"])
    writers = result["writers"]
    common.print_table(
        ["reader", "spaced exact", "digits", "?", "touching exact", "digits", "?",
         "5 digits p50/p95 ms"], rows,
        title=f"{result['count']:,} spaced and {result['count']:,} touching numbers of "
        f"1-{MAX_DIGITS} digits, pen writers {writers[0]}-{writers[-1]}, seed {result['seed']}")
    if result["digit_model_saw_writers"]:
        print(f"{result['digit_model']} was trained on these writers' digits: its figures "
              "are not for unseen hands")
    print(f"single digits named right by {result['digit_model']}: "
          f"p = {common.pct(result['digit_reader_p'])}; ceiling for 1-{MAX_DIGITS} digits "
          f"read one by one: {common.pct(result['ceiling_1_to_5'])}")
    for row in result["readers"]:
        for kind in ("spaced", "touching"):
            print(f"  {row['reader']} {kind} misread (written->read): "
                  f"{', '.join(row[kind]['examples_wrong']) or 'none'}")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.reader == "ctc":
        return common.run_main(READERS_NAME, run_readers, args)
    return common.run_main(NAME, run, args)


if __name__ == "__main__":
    sys.exit(main())
