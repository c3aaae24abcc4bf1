"""Teaching a model a visitor's drawings, played by pen writers the base never saw.

Each writer keeps k drawings of every digit, drawn as the pad draws them, and a model is
taught them with `teach.teach_model`, what a teach job runs (held-out report, save and
all). Then the writer's other digits are read by the base and by the taught model (the
digit each reads likeliest): the share of the base's errors the teaching removed,
pooled over the writers; MNIST test accuracy before and after; and the seconds of each
teach run (wall and CPU). Last, one teach run through a real queue and worker, from the
submit (the Train page's Start) to the saved model, on a private state folder.

Only writers none of the measured bases trained on are played (their cards'
`pen_writers`): the shipped `cnn-drawn` saw writers 1-20, so 21-30; `cnn-drawn-all` and
the default saw all 30, so none (with `--seen` they are measured on writers they saw,
and the results say so). Run from the repository root:

    python -m bench.teach                    # cnn-drawn, 10 unseen writers, k = 5
    python -m bench.teach --full             # every unseen writer, k = 1, 3, 5, 10
    python -m bench.teach --bases cnn-drawn-all cnn-drawn-all-24ep-x4 --seen --k 5
    python -m bench.teach --quick --models-dir DIR --bases seed-cnn

MNIST comes from `--data-dir`, else `MNIST_DATA_DIR` (`--quick`: the committed subset
where neither is there). Writes bench/results/teach.json.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from bench import common
from mnist_core.errors import MnistCoreError
from mnist_core.reading.inference import predict_proba
from mnist_core.reading.personal import kept_examples
from mnist_core.sources.data import load_mnist
from mnist_core.sources.drawings_file import Drawings, make_drawings
from mnist_core.sources.pendigits import load_pendigits, render_dataset
from mnist_core.store import registry
from mnist_core.training.config import TeachConfig

NAME = "teach"
BASES = ("cnn-drawn",)
KS, FULL_KS = (5,), (1, 3, 5, 10)
WRITERS = 10  # played at most by default; --full plays every unseen writer
QUEUE_K = 5
QUICK = TeachConfig(epochs=1, replay=100, copies=2, batch_size=32)
QUEUE_TIMEOUT = 900  # s


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.teach",
                                     description=__doc__.split("\n")[0])
    common.add_common_args(parser)
    parser.add_argument("--data-dir", help="MNIST folder (default: MNIST_DATA_DIR)")
    parser.add_argument("--pendigits", help="pendigits-orig.tra (default: PENDIGITS_PATH, "
                        "../shared/pendigits/)")
    parser.add_argument("--bases", nargs="+", default=list(BASES), metavar="MODEL",
                        help=f"the models taught (default {' '.join(BASES)})")
    parser.add_argument("--k", nargs="+", type=int, metavar="K",
                        help="drawings kept of each digit (default 5; --full 1 3 5 10)")
    parser.add_argument("--writers", help="the writers played, e.g. 21-25 (default: the "
                        f"first {WRITERS} no base saw; --full: all of them)")
    parser.add_argument("--full", action="store_true", help="every unseen writer, k = 1, "
                        "3, 5, 10")
    parser.add_argument("--seen", action="store_true", help="allow writers a base trained "
                        "on (the results mark them)")
    parser.add_argument("--epochs", type=int, help="teach settings (default: TeachConfig's)")
    parser.add_argument("--replay", type=int)
    parser.add_argument("--copies", type=int)
    parser.add_argument("--learning-rate", type=float)
    parser.add_argument("--no-queue", action="store_true", help="skip the run through a "
                        "queue and worker")
    parser.add_argument("--queue-k", type=int, default=QUEUE_K, metavar="K",
                        help=f"drawings of each digit the queued run keeps (default {QUEUE_K})")
    parser.add_argument("--quick", action="store_true", help="2 writers, k = 1, a tiny "
                        "teach run")
    args = parser.parse_args(argv)
    if args.k is None:
        args.k = [1] if args.quick else list(FULL_KS if args.full else KS)
    if any(k < 1 for k in args.k):
        parser.error(f"--k must be at least 1, got {args.k}")
    return args


def teach_config(args: argparse.Namespace, base: str) -> TeachConfig:
    config = replace(QUICK if args.quick else TeachConfig(), base=base)
    for field in ("epochs", "replay", "copies", "learning_rate"):
        if getattr(args, field) is not None:
            config = replace(config, **{field: getattr(args, field)})
    return config.checked()


def writers_to_play(args, cards: dict, digits) -> tuple[list[int], dict[str, list[int]]]:
    """The writers played, and for each base those of them it saw in training."""
    everyone = sorted({d.writer for d in digits})
    seen = {name: sorted(set(card.pen_writers or []) & set(everyone))
            for name, card in cards.items()}
    if args.writers:
        from mnist_core.commands import parse_ranges

        writers = sorted(set(parse_ranges(args.writers)) & set(everyone))
    else:
        writers = [w for w in everyone if not any(w in s for s in seen.values())]
        if not writers and args.seen:
            writers = everyone[-10:]
        writers = writers[: 2 if args.quick else None if args.full else WRITERS]
    if not writers:
        raise MnistCoreError(
            "every pen writer was seen in training by "
            + ", ".join(name for name, s in seen.items() if s)
            + ": measure bases that left writers out (cnn-drawn saw 1-20), or pass --seen")
    clash = {name: [w for w in writers if w in s] for name, s in seen.items()}
    if any(clash.values()) and not args.seen:
        raise MnistCoreError(f"writers seen in training: {clash}; pass --seen to measure "
                             "on them anyway")
    return writers, clash


def visitor(digits, writer: int, k: int) -> tuple[Drawings, Drawings]:
    """Writer `writer`'s digits as the pad draws them: k of each digit kept, the rest."""
    canvases, labels = render_dataset([d for d in digits if d.writer == writer], seed=writer)
    rng = np.random.default_rng(writer * 100 + k)
    kept = np.concatenate([rng.permutation(np.flatnonzero(labels == digit))[:k]
                           for digit in range(10)])
    others = np.setdiff1d(np.arange(len(labels)), kept)

    def part(indices):
        return make_drawings(list(canvases[indices]), labels[indices].astype(int))

    return part(kept), part(others)


def errors(model, drawings: Drawings) -> int:
    read = predict_proba(model, drawings.images28.astype(np.float32) / 255).argmax(axis=1)
    return int((read != drawings.labels).sum())


def errors_with_kept(name: str, directory, kept: Drawings, others: Drawings) -> int:
    """`others` read as the Draw page reads them for a visitor who kept `kept`: the
    stored model's served graph, with the kept drawings in mind (the likeliest digit)."""
    model = registry.open_model(name, directory)
    examples = kept_examples(model, kept.images28.astype(np.float32) / 255, kept.labels)
    read = examples.read(model, others.images28.astype(np.float32) / 255)
    return int((read.probabilities.argmax(axis=1) != others.labels).sum())


def play(args, base: str, k: int, writers: list[int], digits, data, store: Path) -> dict:
    """Teach `base` each writer's k drawings per digit; read the writer's others."""
    from mnist_core.training.teach import teach_model

    config = teach_config(args, base)
    loaded = registry.load_model(base, args.models_dir)
    base_dir = registry.model_path(base, args.models_dir).parent
    rows = []
    for writer in writers:
        kept, others = visitor(digits, writer, k)
        cpu = resource.getrusage(resource.RUSAGE_SELF)
        started = time.perf_counter()
        result = teach_model(kept, f"{base}-w{writer}-k{k}", config, data=data, owner=None,
                             owners=1, models_dir=store, overwrite=True,
                             base_dir=base_dir)
        wall = time.perf_counter() - started
        after = resource.getrusage(resource.RUSAGE_SELF)
        report = result.report
        rows.append({
            "writer": writer, "kept": len(kept), "others": len(others),
            "base_errors": errors(loaded, others), "taught_errors": errors(result.model, others),
            "base_kept_errors": errors_with_kept(base, base_dir, kept, others),
            "taught_kept_errors": errors_with_kept(f"{base}-w{writer}-k{k}", store, kept,
                                                   others),
            "mnist_test_base": report["mnist_test"]["base"],
            "mnist_test_taught": report["mnist_test"]["taught"],
            "held_out": report["held_out"], "seconds": wall,
            "cpu_seconds": (after.ru_utime - cpu.ru_utime) + (after.ru_stime - cpu.ru_stime),
        })
        print(f"  {base} k={k} writer {writer}: errors {rows[-1]['base_errors']} -> "
              f"{rows[-1]['taught_errors']} of {len(others)} (with the kept drawings "
              f"{rows[-1]['base_kept_errors']} -> {rows[-1]['taught_kept_errors']}); MNIST test "
              f"{common.pct(report['mnist_test']['base'])} -> "
              f"{common.pct(report['mnist_test']['taught'])}; {wall:.0f} s", flush=True)
    before = sum(r["base_errors"] for r in rows)
    after = sum(r["taught_errors"] for r in rows)
    drop = [r["mnist_test_base"] - r["mnist_test_taught"] for r in rows]
    with_kept = {key: sum(r[f"{key}_errors"] for r in rows) for key in ("base_kept", "taught_kept")}
    return {
        "base": base, "k": k, "settings": config.to_dict(), "writers": rows,
        "base_errors": before, "taught_errors": after, "others": sum(r["others"] for r in rows),
        "errors_removed": None if before == 0 else 1 - after / before,
        "base_kept_errors": with_kept["base_kept"], "taught_kept_errors": with_kept["taught_kept"],
        "errors_removed_with_kept": None if before == 0 else 1 - with_kept["taught_kept"] / before,
        "mnist_test_base": rows[0]["mnist_test_base"],
        "mnist_test_taught_mean": float(np.mean([r["mnist_test_taught"] for r in rows])),
        "mnist_test_drop_max": float(max(drop)),
        "seconds_mean": float(np.mean([r["seconds"] for r in rows])),
        "seconds_max": float(max(r["seconds"] for r in rows)),
        "cpu_seconds_mean": float(np.mean([r["cpu_seconds"] for r in rows])),
    }


def through_a_queue(args, base: str, writer: int, digits) -> dict:
    """One teach run submitted to a queue a real worker consumes, on a private state
    folder and model store: from the submit to the saved model."""
    from mnist_core.jobs.queue import JobQueue
    from mnist_core.shared.drawings import DrawingsStore
    from mnist_core.shared.owners import new_owner_id
    from mnist_core.shared.state import open_backend

    k = 1 if args.quick else args.queue_k
    kept, _ = visitor(digits, writer, k)
    shipped = registry.model_path(base, args.models_dir).parent  # served as shipped
    with tempfile.TemporaryDirectory() as folder:
        env = {"MNIST_STATE_DIR": folder, "MNIST_QUEUE_URL": "",
               "MNIST_MODELS_DIR": str(Path(folder) / "trained"),
               "MNIST_SHIPPED_MODELS_DIR": str(shipped), "MNIST_AUTOSTART_WORKER": "0",
               "TF_CPP_MIN_LOG_LEVEL": "2"}
        if args.data_dir:
            env["MNIST_DATA_DIR"] = args.data_dir
        saved_env = {name: os.environ.get(name) for name in env}
        os.environ.update(env)
        worker = subprocess.Popen([sys.executable, "-m", "mnist_core", "worker"],
                                  cwd=common.ROOT, env=os.environ.copy(),
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            backend = open_backend("", folder)
            queue, drawings = JobQueue(backend), DrawingsStore(backend)
            owner = new_owner_id()
            for drawing, image28, label in zip(kept.drawings, kept.images28, kept.labels):
                drawings.keep(owner, drawing, image28, int(label), base, [0.1] * 10)
            _wait(lambda: queue.view().workers, "the worker to start")
            config = teach_config(args, base)
            job = queue.submit_teach(config, f"{base}-queued", owner)
            job = _wait(lambda: None if queue.job(job.id).active else queue.job(job.id),
                        "the teach job to end")
        finally:
            worker.terminate()
            worker.wait(60)
            for name, value in saved_env.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value
    taught = (job.card.extra.get("taught") or {}) if job.card else {}
    return {
        "base": base, "writer": writer, "kept": len(kept), "status": job.status,
        "message": job.message, "submit_to_saved_seconds": job.since_submitted,
        "waited_seconds": (job.started or job.created) - job.created,
        "process_seconds": job.elapsed,
        "teach_seconds": taught.get("seconds"),
    }


def _wait(condition, what: str):
    deadline = time.monotonic() + QUEUE_TIMEOUT
    while not (value := condition()):
        if time.monotonic() > deadline:
            raise MnistCoreError(f"timed out waiting for {what}")
        time.sleep(0.2)
    return value


def run(args: argparse.Namespace) -> dict:
    started = time.perf_counter()
    machine = common.machine_info()
    common.print_machine(machine)
    args.data_dir = common.mnist_dir(args.data_dir, args.quick)  # the worker's too
    data = load_mnist(args.data_dir)
    digits = load_pendigits(args.pendigits)
    cards = {name: registry.read_card(name, args.models_dir) for name in args.bases}
    writers, seen = writers_to_play(args, cards, digits)
    print(f"writers played: {', '.join(map(str, writers))}"
          + (f" (seen in training: {seen})" if any(seen.values()) else
             " (no base trained on them)"))
    results = []
    with tempfile.TemporaryDirectory() as store:
        for base in args.bases:
            for k in args.k:
                results.append(play(args, base, k, writers, digits, data, Path(store)))
    queued = None if args.no_queue else through_a_queue(args, args.bases[0], writers[0],
                                                        digits)
    common.print_table(
        ["base", "k", "writers", "base errors", "taught", "removed", "base+kept",
         "taught+kept", "removed", "MNIST test",
         "taught (mean)", "worst drop", "s (mean)", "s (max)", "CPU s"],
        [[r["base"], r["k"], len(r["writers"]), r["base_errors"], r["taught_errors"],
          common.pct(r["errors_removed"], 0), r["base_kept_errors"], r["taught_kept_errors"],
          common.pct(r["errors_removed_with_kept"], 0), common.pct(r["mnist_test_base"]),
          common.pct(r["mnist_test_taught_mean"]), common.pct(r["mnist_test_drop_max"]),
          f"{r['seconds_mean']:.1f}", f"{r['seconds_max']:.1f}",
          f"{r['cpu_seconds_mean']:.0f}"] for r in results],
        title="The writers' other digits, read by the base and the taught model")
    if queued:
        print(f"\nthrough a queue and worker ({queued['base']}, writer {queued['writer']}, "
              f"{queued['kept']} drawings): {queued['status']} in "
              f"{queued['submit_to_saved_seconds']:.1f} s from submit to saved (waited "
              f"{queued['waited_seconds']:.1f} s for the worker, its process "
              f"{queued['process_seconds']:.1f} s, of which teach_model "
              f"{queued['teach_seconds']} s)\n  {queued['message']}")
    return {"machine": machine, "settings": vars(args) | {"results_dir": None},
            "writers": writers, "seen_in_training": seen, "results": results,
            "queued": queued, "seconds": time.perf_counter() - started}


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    return common.run_main(NAME, run, args,
                           failed=lambda r: bool(r["queued"]) and r["queued"]["status"]
                           != "finished")


if __name__ == "__main__":
    sys.exit(main())
