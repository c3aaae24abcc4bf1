"""Latency of reading one drawing, and of one Draw-page rerun on the server.

With the default model (or `--model`), on 280x280 RGBA drawings as the canvas gives
them (pendigits rendered white on black, alpha 255), it measures:

- `canvas_to_mnist` + `predict_proba`, the app's path, p50/p95 over `--calls` calls,
  split into preprocessing and inference;
- the same drawing through `canvas_to_mnist` + `model.predict(x, verbose=0)`,
  interleaved in the same run (`--predict-calls` calls), and the ratio of medians;
- the server-side time of one rerun of the Draw page (`app_ui/pages/draw.py`) with a new drawing,
  driven by `streamlit.testing.v1.AppTest` (`--reruns` reruns), checking that the
  "Prediction" metric (or the page's "not sure" warning) shows what the core reads.
  This includes AppTest's own overhead (the script runs in a thread and the element
  tree is rebuilt), but not the browser or the network;
- with `--while-training`, the app's path again, idle and then while a worker process
  trains a queued `fast-cnn` run (how the Train page runs it), to show what training
  does to drawing on the same machine.

Warm-up calls are excluded from every figure. Run from the repository root:

    python -m bench.latency                 # 300 calls, 50 model.predict calls, 20 reruns
    python -m bench.latency --quick         # 50 / 10 calls, 5 reruns
    python -m bench.latency --model seed-cnn --no-app
    MNIST_DATA_DIR=../shared/mnist python -m bench.latency --no-app --while-training

Writes bench/results/latency.json.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import io
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

from app_ui.messages import PREDICTION_LABEL
from bench import common
from mnist_core.jobs.queue import JobQueue
from mnist_core.reading.inference import predict_proba, read_digits
from mnist_core.reading.preprocess import canvas_to_mnist
from mnist_core.shared.owners import new_owner_id
from mnist_core.sources.pendigits import load_pendigits, render_dataset
from mnist_core.store import registry
from mnist_core.training.config import TrainConfig

NAME = "latency"
APP = common.ROOT / "navigation.py"
# flag -> (default, value under --quick, help); a flag given explicitly wins over both
COUNTS = {
    "calls": (300, 50, "timed canvas_to_mnist + predict_proba calls"),
    "predict_calls": (50, 10, "timed canvas_to_mnist + model.predict calls"),
    "warmup": (10, 5, "untimed calls of each path first"),
    "reruns": (20, 5, "timed Draw-page reruns"),
    "rerun_warmup": (3, 2, "untimed Draw-page reruns after the first run"),
}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.latency", description=__doc__.split("\n")[0]
    )
    common.add_common_args(parser)
    parser.add_argument("--model", help="model name (default: the store's default model)")
    for key, (default, quick, text) in COUNTS.items():
        parser.add_argument(f"--{key.replace('_', '-')}", type=int,
                            help=f"{text} (default {default}; --quick: {quick})")
    parser.add_argument("--drawings", type=int, default=20,
                        help="distinct pendigits drawings to cycle through (default 20)")
    parser.add_argument("--seed", type=int, default=0, help="which drawings, their size/place")
    parser.add_argument("--pendigits", help="pendigits-orig.tra (default: PENDIGITS_PATH, "
                        "../shared/pendigits/, else downloaded once to ~/.keras/datasets)")
    parser.add_argument("--no-app", action="store_true", help="skip the Draw-page reruns")
    parser.add_argument(
        "--while-training", action="store_true",
        help="also time the read path while a queued run trains (a worker process "
        "trains fast-cnn on MNIST from --data-dir)",
    )
    parser.add_argument("--data-dir", help="MNIST for --while-training (default: MNIST_DATA_DIR)")
    parser.add_argument("--quick", action="store_true", help="tiny run, finishes in seconds")
    args = parser.parse_args(argv)
    for key, (default, quick, _) in COUNTS.items():
        if getattr(args, key) is None:
            setattr(args, key, quick if args.quick else default)
    for key in (*COUNTS, "drawings"):
        low = 0 if "warmup" in key else 1
        if getattr(args, key) < low:
            parser.error(f"--{key.replace('_', '-')} must be at least {low}, "
                         f"got {getattr(args, key)}")
    return args


def canvas_drawings(count: int, seed: int, path=None) -> tuple[list[np.ndarray], np.ndarray]:
    """`count` pendigits drawings as the canvas returns them: RGBA, white ink, alpha 255."""
    digits = load_pendigits(path)
    chosen = np.random.default_rng(seed).choice(len(digits), min(count, len(digits)),
                                                replace=False)
    gray, labels = render_dataset([digits[i] for i in chosen], seed=seed)
    drawings = []
    for image in gray:
        rgba = np.empty((*image.shape, 4), dtype=np.uint8)
        rgba[..., :3] = image[..., None]
        rgba[..., 3] = 255
        drawings.append(rgba)
    return drawings, labels


def time_read(model, drawings, calls: int) -> list[float]:
    """Seconds of `calls` reads as the Draw page makes them: prepare, then infer."""
    samples = []
    for i in range(calls):
        start = time.perf_counter()
        predict_proba(model, canvas_to_mnist(drawings[i % len(drawings)]))
        samples.append(time.perf_counter() - start)
    return samples


def read_while_training(model, drawings, calls: int, data_dir: str | None) -> dict:
    """The read path idle, then while a worker trains a queued run in its own process
    (as the app's Train page queues it), interleaved idle/training runs of `calls`."""
    with tempfile.TemporaryDirectory(prefix="bench-latency-") as folder:
        env = os.environ | {
            "MNIST_STATE_DIR": f"{folder}/state", "MNIST_MODELS_DIR": f"{folder}/trained",
            "MNIST_DATA_DIR": data_dir or "", "MNIST_QUEUE_URL": "",
            "TF_CPP_MIN_LOG_LEVEL": "2",
        }
        idle = time_read(model, drawings, calls)
        worker = subprocess.Popen([sys.executable, "-m", "mnist_core", "worker"], env=env,
                                  cwd=common.ROOT, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL)
        try:
            queue = JobQueue(state=f"{folder}/state")
            job = queue.submit(TrainConfig("fast-cnn", epochs=50, train_size=5000),
                               "bench-while-training", new_owner_id())
            deadline = time.monotonic() + 300
            while (current := queue.job(job.id)).progress is None:
                if not current.active or time.monotonic() > deadline:
                    raise RuntimeError(f"the run did not start fitting: {current.message}")
                time.sleep(0.5)
            training = time_read(model, drawings, calls)
            still = queue.job(job.id).status
            queue.stop(job.id, job.owner)
        finally:
            worker.terminate()
            worker.wait(60)
    return {
        "idle": common.stats(idle),
        "training": common.stats(training),
        "run_still_training_at_end": still == "running",
    }


def time_paths(model, drawings, calls: int, predict_calls: int, warmup: int) -> dict:
    """Time both paths, interleaved: every k-th `predict_proba` call is followed by a
    `model.predict` call on the same drawing, so both see the same machine state."""
    network = model.network
    input_shape = (1, *network.input_shape[1:])

    def via_proba(image):
        t0 = time.perf_counter()
        x = canvas_to_mnist(image)
        t1 = time.perf_counter()
        p = predict_proba(model, x)[0]
        return t1 - t0, time.perf_counter() - t1, p

    def via_predict(image):
        t0 = time.perf_counter()
        x = canvas_to_mnist(image)
        t1 = time.perf_counter()
        p = network.predict(x.reshape(input_shape), verbose=0)[0]
        return t1 - t0, time.perf_counter() - t1, p

    for i in range(warmup):  # traces the tf.function and builds predict's pipeline
        via_proba(drawings[i % len(drawings)])
        via_predict(drawings[i % len(drawings)])

    times = {"proba": ([], []), "predict": ([], [])}
    every = max(1, calls // predict_calls)
    max_diff, sums = 0.0, []
    for i in range(calls):
        image = drawings[i % len(drawings)]
        pre, inf, p = via_proba(image)
        times["proba"][0].append(pre)
        times["proba"][1].append(inf)
        sums.append(float(p.sum()))
        if i % every == 0 and len(times["predict"][0]) < predict_calls:
            pre, inf, q = via_predict(image)
            times["predict"][0].append(pre)
            times["predict"][1].append(inf)
            max_diff = max(max_diff, float(np.abs(p - q).max()))

    out = {}
    for path, (pre, inf) in times.items():
        out[path] = {
            "preprocess": common.stats(pre),
            "inference": common.stats(inf),
            "total": common.stats(np.add(pre, inf)),
        }
    proba, predict = out["proba"], out["predict"]
    out["ratio_of_medians"] = {
        "total": predict["total"]["p50_ms"] / proba["total"]["p50_ms"],
        "inference": predict["inference"]["p50_ms"] / proba["inference"]["p50_ms"],
    }
    out["preprocess_share_of_median"] = (
        proba["preprocess"]["p50_ms"] / proba["total"]["p50_ms"]
    )
    out["checks"] = {
        "max_abs_difference_predict_vs_proba": max_diff,
        "probability_sum_min": min(sums),
        "probability_sum_max": max(sums),
    }
    return out


def png_data_url(rgba: np.ndarray) -> str:
    """The canvas's PNG data URL for an RGBA image."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(rgba).save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


@contextlib.contextmanager
def models_dir_env(models_dir):
    """Point the app at `models_dir` alone for the duration, if given: it serves as both
    the shipped and the trained store, so the page reads the models timed here."""
    if models_dir is None:
        yield
        return
    names = (registry.MODELS_DIR_ENV, registry.SHIPPED_MODELS_DIR_ENV)
    old = {name: os.environ.get(name) for name in names}
    os.environ.update({name: str(models_dir) for name in names})
    try:
        yield
    finally:
        for name, value in old.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def canvas_key(at) -> str:
    """The drawing pad's widget key, as the running page shows it (`draw_canvas_<n>`)."""
    keys = [element.key for element in at.get("bidi_component") if element.key]
    canvases = [key for key in keys if "canvas" in key]
    if not (canvases or keys):
        raise LookupError("the Draw page shows no drawing pad (no bidi_component element)")
    return (canvases or keys)[0]


def time_app(drawings, expected, reruns: int, warmup: int, models_dir) -> dict:
    """Time Draw-page reruns, each with a new drawing injected into the canvas's state."""
    if not APP.is_file():
        return {"skipped": f"{APP} does not exist yet: no Draw page to time"}
    from streamlit.testing.v1 import AppTest

    urls = [png_data_url(d) for d in drawings]  # encoded outside the timed region
    with models_dir_env(models_dir):
        at = AppTest.from_file(str(APP), default_timeout=180)
        start = time.perf_counter()
        at.run()
        first_run = time.perf_counter() - start
        if at.exception:
            return {"error": f"the Draw page failed on its first run: {at.exception[0].value}"}
        try:
            key = canvas_key(at)
        except LookupError as err:
            return {"error": str(err)}
        durations, read_ms, shown, unsure, matches, blank = [], [], 0, 0, 0, 0
        for i in range(warmup + reruns):
            j = i % len(urls)
            at.session_state[key] = {
                "drawing": {"raw": {"objects": []}, "data": urls[j]}, "backgroundFit": None,
            }
            start = time.perf_counter()
            at.run()
            elapsed = time.perf_counter() - start
            if at.exception:
                return {"error": f"the Draw page failed on rerun {i + 1} (key {key!r}): "
                                 f"{at.exception[0].value}"}
            if i < warmup:
                continue
            durations.append(elapsed)
            if "draw_read_ms" in at.session_state:
                # the page's own timer: image arrived -> probabilities (prepare + infer)
                read_ms.append(at.session_state["draw_read_ms"] / 1000)
            metrics = [m for m in at.metric if m.label == PREDICTION_LABEL]
            warnings = [w for w in at.warning if any(
                words in str(w.value).lower() for words in ("not sure", "look like a digit")
            )]
            shown += bool(metrics)
            unsure += bool(warnings) and not metrics
            blank += not metrics and not warnings
            verdict = expected[j]
            if metrics:
                matches += metrics[0].value == str(verdict.digit)
            else:
                matches += bool(warnings) and verdict.digit is None
    return {
        "canvas_key": key,
        "first_run_seconds": first_run,
        "warmup_reruns": warmup,
        "rerun": common.stats(durations),
        "page_read": common.stats(read_ms) if read_ms else None,
        "prediction_metric_shown": shown,
        "unsure_warning_shown": unsure,
        "nothing_shown": blank,
        "matches_core_reading": matches,
    }


def run(args: argparse.Namespace) -> dict:
    machine = common.machine_info()
    common.print_machine(machine)
    name = args.model or registry.default_model_name(args.models_dir)
    model = registry.load_model(name, args.models_dir)
    drawings, labels = canvas_drawings(args.drawings, args.seed, args.pendigits)

    paths = time_paths(model, drawings, args.calls, args.predict_calls, args.warmup)
    training: dict = {"skipped": "no --while-training"}
    if args.while_training:
        data_dir = common.mnist_dir(args.data_dir, args.quick)
        training = read_while_training(model, drawings, args.calls, data_dir)

    app: dict = {"skipped": "--no-app"}
    if not args.no_app:
        # What the page should show: the core's reading with the model the page opens on.
        app_model_name = registry.default_model_name(args.models_dir)
        app_model = model if app_model_name == name else registry.load_model(
            app_model_name, args.models_dir)
        expected = []
        for drawing in drawings:
            expected.append(read_digits(app_model, canvas_to_mnist(drawing)).verdict(0))
        app = time_app(drawings, expected, args.reruns, args.rerun_warmup, args.models_dir)
        app["model"] = app_model_name

    result = {
        "benchmark": NAME,
        "machine": machine,
        "settings": {
            key: getattr(args, key)
            for key in ("models_dir", "calls", "predict_calls", "warmup", "reruns",
                        "rerun_warmup", "drawings", "seed", "no_app", "while_training",
                        "quick")
        },
        "model": name,
        "input": {"shape": drawings[0].shape, "dtype": str(drawings[0].dtype),
                  "labels": labels, "source": "pendigits rendered, varied (seeded)"},
        "paths": paths,
        "while_training": training,
        "app": app,
    }
    report(result)
    return result


def report(result: dict) -> None:
    paths = result["paths"]
    proba, predict = paths["proba"], paths["predict"]

    def row(label, figures):
        return [label, figures["n"], f"{figures['p50_ms']:.2f}", f"{figures['p95_ms']:.2f}",
                f"{figures['mean_ms']:.2f}"]

    common.print_table(
        ["path", "calls", "p50 ms", "p95 ms", "mean ms"],
        [
            row("canvas_to_mnist (preprocess)", proba["preprocess"]),
            row("predict_proba (inference)", proba["inference"]),
            row("canvas_to_mnist + predict_proba", proba["total"]),
            row("model.predict (inference)", predict["inference"]),
            row("canvas_to_mnist + model.predict", predict["total"]),
        ],
        title=f"One 280x280 RGBA drawing to ten probabilities, model {result['model']!r}",
    )
    ratio = paths["ratio_of_medians"]
    print(
        f"model.predict / predict_proba, ratio of medians: {ratio['total']:.1f}x end to end, "
        f"{ratio['inference']:.1f}x inference alone; preprocessing is "
        f"{common.pct(paths['preprocess_share_of_median'], 0)} of the app path's median"
    )
    print(f"largest difference between the two paths' probabilities: "
          f"{paths['checks']['max_abs_difference_predict_vs_proba']:.2g}")

    training = result["while_training"]
    if "skipped" not in training:
        common.print_table(
            ["", "calls", "p50 ms", "p95 ms", "mean ms"],
            [row("idle", training["idle"]), row("while a queued run trains", training["training"])],
            title="canvas_to_mnist + predict_proba while a worker trains fast-cnn "
                  f"(still training at the end: {training['run_still_training_at_end']})",
        )

    app = result["app"]
    if "skipped" in app or "error" in app:
        print(f"\nDraw-page rerun: {'skipped' if 'skipped' in app else 'FAILED'} "
              f"({app.get('skipped') or app['error']})")
        return
    common.print_table(
        ["", "reruns", "p50 ms", "p95 ms", "mean ms"],
        [row("Draw page rerun with a new drawing", app["rerun"])]
        + ([row("  of which the page's read (prepare + infer)", app["page_read"])]
           if app.get("page_read") else []),
        title=f"Server side of one Draw-page rerun (AppTest, model {app['model']!r}, "
              f"first run {app['first_run_seconds']:.1f} s not counted)",
    )
    n = app["rerun"]["n"]
    print(
        f"'{PREDICTION_LABEL}' metric shown in {app['prediction_metric_shown']} of {n} "
        f"reruns, 'not sure' warning in {app['unsure_warning_shown']}, nothing in "
        f"{app['nothing_shown']}; the page agrees with the core's reading in "
        f"{app['matches_core_reading']} of {n}"
    )


def main(argv: list[str] | None = None) -> int:
    return common.run_main(NAME, run, parse_args(argv), lambda result: "error" in result["app"])


if __name__ == "__main__":
    sys.exit(main())
