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

    python -m bench.number                       # default model and cnn-drawn-nondigits
    python -m bench.number --models cnn --count 2000
    python -m bench.number --quick               # 200 numbers

Writes bench/results/number.json.
"""

from __future__ import annotations

import argparse
import sys
import time

import cv2
import numpy as np

from bench import common
from mnist_core.errors import EmptyDrawingError, MnistCoreError
from mnist_core.model.verdict import NOT_NAMED
from mnist_core.reading.inference import read_digits, read_number, warm_up
from mnist_core.reading.preprocess import INK_LEVEL, center_ink
from mnist_core.reading.segment import NUMBER_PAD
from mnist_core.sources.pendigits import compose_number, default_pendigits_path, load_pendigits
from mnist_core.store import registry

NAME = "number"
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
    infos = {info.name: info for info in registry.list_models(args.models_dir)}
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


def main(argv: list[str] | None = None) -> int:
    return common.run_main(NAME, run, parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
