"""The time of "why it said 4" for one drawing (`reading.why`), on the web server's read
path: one thread, ONNX Runtime, no TensorFlow in the timed calls.

For each model, its layers graph (an ensemble's first run) reads pen-drawn digits as the
pad draws them (two per digit from UCI pendigits, seed 0, and a plain vertical 1), and
each call is timed in turn over the drawings: the occlusion map (`occlusion_map`, 6x6
patches every 3 px, the default, and every 2 px; patches that cover no ink are not
read), the layers' activations (`layer_activations`, one pass), and for comparison the
map every 2 px through the model's own served float graph (for the four-run default:
all four runs).
Last, all three as the Draw page's "Why did it say that?" works them out, one call
after another for each drawing: the map (every 3 px), the layers, and the 8 training
digits nearest it (the drawing's features from the layers graph, `nearest` over the
model's neighbour index, where it has one).
Target (issue 44): map + layers + nearest neighbours <= 40 ms.

    python -m bench.why                 # cnn and the default, 200 calls each
    python -m bench.why --quick         # 20 calls, 5 drawings

Writes bench/results/why.json.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

from bench import common
from mnist_core.errors import MnistCoreError
from mnist_core.model.runtime import FEATURES
from mnist_core.reading.preprocess import canvas_to_mnist
from mnist_core.reading.why import (
    PATCH,
    STRIDE,
    layer_activations,
    occlusion_map,
    patch_positions,
)
from mnist_core.sources.pendigits import CANVAS_SIZE, PEN_WIDTH, load_pendigits, render_digit
from mnist_core.store import registry
from mnist_core.store.layers import no_layers_graph, open_layers
from mnist_core.store.neighbours import nearest, open_neighbours

NAME = "why"
MODELS = ("cnn", "cnn-drawn-all-24ep-x4")
TARGET_MS = 40.0


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.why", description=__doc__.split("\n")[0])
    common.add_common_args(parser)
    parser.add_argument("--models", nargs="+", default=list(MODELS), metavar="NAME")
    parser.add_argument("--calls", type=int, default=200, help="timed calls of each (200)")
    parser.add_argument("--quick", action="store_true", help="20 calls on 5 drawings")
    parser.add_argument("--pendigits", help="pendigits-orig.tra (default: PENDIGITS_PATH, "
                        "../shared/pendigits/, else downloaded once to ~/.keras/datasets)")
    return parser.parse_args(argv)


def drawings(per_digit: int, pendigits=None) -> list[np.ndarray]:
    """28x28 images of pen-drawn digits (`per_digit` of each, the first writers'), drawn
    as the pad draws them, and a vertical 1."""
    rng = np.random.default_rng(0)
    counts, images = [0] * 10, []
    for digit in load_pendigits(pendigits):
        if counts[digit.label] < per_digit:
            counts[digit.label] += 1
            images.append(canvas_to_mnist(render_digit(digit, CANVAS_SIZE, PEN_WIDTH, rng=rng)))
        if min(counts) >= per_digit:
            break
    one = np.zeros((CANVAS_SIZE, CANVAS_SIZE), np.uint8)
    one[40:240, 131:149] = 255
    return [*images, canvas_to_mnist(one)]


def timed_in_turn(fn, images: list[np.ndarray], calls: int) -> dict:
    """`fn(image)` timed `calls` times, cycling through `images`."""
    turn = iter(range(10**9))
    return common.stats(common.time_calls(lambda: fn(images[next(turn) % len(images)]),
                                          calls))


def model_figures(graph, served, index, images: list[np.ndarray], calls: int) -> dict:
    """One model's timings: its layers graph's map at strides 2 and 3 and its layers,
    the map through its served float graph, and all three parts together (the
    neighbours where `index` is not None), each drawing explained as the digit the
    layers graph reads it as against its runner-up."""
    pairs = {}
    for image in images:
        order = np.argsort(graph(image[np.newaxis])[0])[::-1]
        pairs[image.tobytes()] = int(order[0]), int(order[1])

    def occlusion(network, stride):
        return lambda image: occlusion_map(network, image, *pairs[image.tobytes()],
                                           stride=stride)

    read = [1 + sum(bool((image[top:top + PATCH, left:left + PATCH] != 0).any())
                    for top in patch_positions(PATCH, 2) for left in patch_positions(PATCH, 2))
            for image in images]
    figures = {
        "label": graph.label,
        "images_read_per_map_stride2": float(np.mean(read)),
        "map_stride2": timed_in_turn(occlusion(graph, 2), images, calls),
        "map_stride3": timed_in_turn(occlusion(graph, 3), images, calls),
        "layers": timed_in_turn(lambda image: layer_activations(graph, image), images, calls),
        "map_stride2_served_graph": timed_in_turn(occlusion(served, 2), images,
                                                  max(20, calls // 4)),
    }
    figures["map_and_layers_p50_ms"] = (figures[f"map_stride{STRIDE}"]["p50_ms"]
                                        + figures["layers"]["p50_ms"])

    def all_three(image):
        occlusion_map(graph, image, *pairs[image.tobytes()])
        layer_activations(graph, image)
        if index is not None:
            nearest(index, graph.outputs(image[np.newaxis], FEATURES)[FEATURES])

    figures["neighbours"] = index is not None
    figures["all_three"] = timed_in_turn(all_three, images, calls)
    return figures


def run(args) -> dict:
    info = common.machine_info()
    common.print_machine(info)
    calls = 20 if args.quick else args.calls
    images = drawings(1 if args.quick else 2, args.pendigits)
    if args.quick:
        images = images[:4] + images[-1:]
    result = {"machine": info,
              "settings": vars(args) | {"calls": calls, "drawings": len(images)}}
    rows = []
    for name in args.models:
        graph = open_layers(name, args.models_dir)
        if graph is None:
            raise MnistCoreError(no_layers_graph(name))
        served = registry.open_model(name, args.models_dir, float_graph=True).network
        index, why_not = open_neighbours(name, args.models_dir)
        if index is None:
            print(f"{name}: the neighbours are left out: {why_not}")
        result[name] = figures = model_figures(graph, served, index, images, calls)
        for what in ("map_stride2", "map_stride3", "layers", "map_stride2_served_graph",
                     "all_three"):
            network = "served graph" if what.endswith("served_graph") else graph.label
            rows.append([name, network, what, f"{figures[what]['p50_ms']:.1f}",
                         f"{figures[what]['p95_ms']:.1f}"])
    common.print_table(["model", "network", "call", "p50 ms", "p95 ms"], rows,
                       f"one drawing, one thread ({len(images)} drawings in turn, {calls} calls)")
    for name in args.models:
        figures = result[name]
        total = figures["all_three"]["p50_ms"]
        parts = "map, layers and neighbours" if figures["neighbours"] else "map and layers"
        print(f"{name}: {parts} p50 {total:.1f} ms (target {TARGET_MS:.0f} ms: "
              f"{'met' if total <= TARGET_MS else 'not met'}); "
              f"{figures['images_read_per_map_stride2']:.0f} images read per map every 2 px "
              "on average")
    return result


def main(argv: list[str] | None = None) -> int:
    return common.run_main(NAME, run, parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
