"""What the benchmark scripts share: machine description, timing stats, tables, JSON.

Every script writes `bench/results/<script>.json` (git-ignored) holding `machine`
(CPU, cores, load, library versions, date), `settings` (its flags) and its figures.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from mnist_core.errors import DatasetError, MnistCoreError

ROOT = Path(__file__).resolve().parent.parent
RESULTS_DIR = Path(__file__).resolve().parent / "results"
SUBSET_DIR = ROOT / "tests" / "data" / "mnist-subset"


def add_common_args(parser: argparse.ArgumentParser) -> None:
    """Flags every script takes: where the models are and where results go."""
    parser.add_argument(
        "--models-dir", help="model store folder (default: MNIST_MODELS_DIR, else models/)"
    )
    parser.add_argument(
        "--results-dir", type=Path, default=RESULTS_DIR,
        help=f"folder for the JSON result (default: {RESULTS_DIR.relative_to(ROOT)})",
    )


def mnist_dir(data_dir: str | None, quick: bool) -> str | None:
    """The MNIST folder to read: `data_dir`, else `MNIST_DATA_DIR`, else None (the
    Keras cache). Raises `MnistMissing` when MNIST is not there (the benchmarks never
    download it), except that a quick run falls back to the committed subset."""
    from mnist_core.sources.data import DATA_DIR_ENV, mnist_available, mnist_source_description

    data_dir = data_dir or os.environ.get(DATA_DIR_ENV) or None
    if mnist_available(data_dir):
        return data_dir
    missing = f"MNIST not found in {mnist_source_description(data_dir)}"
    if quick:
        print(f"note: {missing}; --quick uses the committed subset {SUBSET_DIR}")
        return str(SUBSET_DIR)
    raise MnistMissing(f"{missing}; pass --data-dir or set {DATA_DIR_ENV}")


class MnistMissing(DatasetError):
    """MNIST is not on this machine."""


def store_models(models_dir: str | None, names: list[str] | None) -> list:
    """The store's digit readers (`registry.list_models`), only those `names` if given; a
    name the store lacks is an error that lists what it has."""
    from mnist_core.model.card import DIGIT
    from mnist_core.store import registry

    infos = registry.list_models(models_dir, task=DIGIT)  # the benchmarks read digits
    if not names:
        return infos
    known = {info.name for info in infos}
    missing = [name for name in names if name not in known]
    if missing:
        raise MnistCoreError(
            f"no model named {', '.join(map(repr, missing))} in "
            f"{registry.models_dir(models_dir)} (have: {', '.join(sorted(known))})"
        )
    return [info for info in infos if info.name in names]


def machine_info() -> dict:
    """CPU model, core counts, load, library versions and the date of this run."""
    import keras
    import tensorflow as tf

    info = {
        "cpu": _cpu_model(),
        "logical_cores": os.cpu_count(),
        "usable_cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
        else os.cpu_count(),
        "load_average_1min": round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg")
        else None,
        "gpus": [d.name for d in tf.config.list_physical_devices("GPU")],
        "platform": platform.platform(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "git_commit": _git_commit(),
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    for module in ("streamlit", "cv2"):
        try:
            info[module] = __import__(module).__version__
        except ImportError:
            info[module] = None
    return info


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _git_commit() -> str | None:
    """The checked-out commit (read-only `git rev-parse`), or None outside a checkout."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
            text=True, timeout=5, check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def print_machine(info: dict) -> None:
    """One line about the machine, and a warning when it is busy (timings are noisy)."""
    print(
        f"{info['cpu']} · {info['usable_cores']} of {info['logical_cores']} cores · "
        f"TF {info['tensorflow']} · Keras {info['keras']} · {info['date']}"
    )
    load, cores = info["load_average_1min"], info["usable_cores"]
    if load is not None and cores and load > 0.5 * cores:
        print(
            f"warning: the machine is busy (load {load:.1f} on {cores} cores): "
            "timings will be noisy"
        )


def stats(samples: Sequence[float]) -> dict:
    """p50, p95, mean, min and max of durations in seconds, reported in milliseconds."""
    ms = np.asarray(samples, dtype=np.float64) * 1000.0
    if ms.size == 0:
        raise ValueError("no timing samples")
    return {
        "n": int(ms.size),
        "p50_ms": float(np.percentile(ms, 50)),
        "p95_ms": float(np.percentile(ms, 95)),
        "mean_ms": float(ms.mean()),
        "min_ms": float(ms.min()),
        "max_ms": float(ms.max()),
    }


def time_calls(fn: Callable[[], object], calls: int, warmup: int = 5) -> list[float]:
    """Durations in seconds of `calls` calls of `fn`, after `warmup` untimed ones."""
    for _ in range(warmup):
        fn()
    durations = []
    for _ in range(calls):
        start = time.perf_counter()
        fn()
        durations.append(time.perf_counter() - start)
    return durations


def print_table(
    headers: Sequence[str], rows: Sequence[Sequence[object]], title: str | None = None
) -> None:
    """A plain-text table: first column left-aligned, the others right-aligned."""
    cells = [[str(h) for h in headers]] + [["" if c is None else str(c) for c in r] for r in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]

    def line(row):
        return "  ".join(
            cell.ljust(width) if i == 0 else cell.rjust(width)
            for i, (cell, width) in enumerate(zip(row, widths))
        )

    if title:
        print(f"\n{title}")
    print(line(cells[0]))
    print("  ".join("-" * width for width in widths))
    for row in cells[1:]:
        print(line(row))


def pct(value: float | None, digits: int = 2) -> str:
    """A share in [0, 1] as a percentage, '-' when missing."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{100 * value:.{digits}f}%"


def run_main(name: str, run, args, failed=lambda result: False) -> int:
    """Run a benchmark, print a clear error for bad input, write its JSON; exit code."""
    try:
        result = run(args)
    except (MnistCoreError, FileNotFoundError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    path = write_json(name, result, args.results_dir)
    print(f"\nwrote {path}")
    return 1 if failed(result) else 0


def write_json(name: str, payload: dict, results_dir: Path | None = None) -> Path:
    """Write `payload` to `<results_dir>/<name>.json` (NaN becomes null); return the path."""
    folder = Path(results_dir) if results_dir is not None else RESULTS_DIR
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.json"
    path.write_text(json.dumps(_jsonable(payload), indent=1) + "\n", encoding="utf-8")
    return path


def _jsonable(value):
    """Plain JSON types from numpy scalars and arrays, tuples, paths and NaN."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return _jsonable(value.tolist())
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Path):
        return str(value)
    return value
