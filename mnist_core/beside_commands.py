"""The commands that make what a stored model keeps beside its `.keras` file: its ONNX
graph (`export`), its layers graph (`layers`), its MNIST test readings (`score`) and its
index of training digits (`index`); `__main__` parses their arguments."""

from __future__ import annotations

from mnist_core.errors import MnistCoreError
from mnist_core.model.card import DIGIT


def export(args) -> int:
    from mnist_core.store.saving import export_onnx

    for name in args.names:
        print(f"{name}: wrote {export_onnx(name, args.models_dir)}")
    return 0


def layers(args) -> int:
    from mnist_core.store import registry
    from mnist_core.store.layers import layers_path
    from mnist_core.store.saving import write_layers_graph

    folder = args.models_dir or registry.trained_dir()
    names = args.names or [info.name for info in registry.list_models(folder, task=DIGIT)]
    if not names:
        print(f"no models in {folder}")
    for name in names:
        entry = write_layers_graph(name, args.models_dir).layers
        path = layers_path(name, args.models_dir)
        shown = ", ".join(f"{o.name} {'x'.join(map(str, o.shape))}" for o in entry.outputs[2:])
        print(f"{name}: wrote {path.name} ({path.stat().st_size / 1024:.0f} KB) for "
              f"{entry.network}: {shown or 'no convolution or hidden dense layer'}")
    return 0


def score(args) -> int:
    from mnist_core.reading.preprocess import prepare_mnist
    from mnist_core.sources.data import load_mnist
    from mnist_core.store import registry, saving
    from mnist_core.store.scores import score_model

    folder = args.models_dir or registry.trained_dir()
    names = args.names or [info.name for info in registry.list_models(folder, task=DIGIT)]
    if not args.names and not args.again:
        names = [name for name in names if lacks_scores(name, folder)]
    if not names:
        print(f"every model in {folder} has its test readings")
        return 0
    _, (x_test, y_test) = load_mnist(args.data_dir)
    test_set = prepare_mnist(x_test), y_test
    for name in names:
        model = registry.open_model(name, args.models_dir, memory_arena=False)
        scores = score_model(model, test_set)
        path = saving.write_scores(name, scores, args.models_dir)
        result = scores.evaluation()
        print(f"{name}: {result.accuracy:.2%} of {len(y_test):,} test digits read right "
              f"({len(result.misclassified):,} wrong); wrote {path} "
              f"({path.stat().st_size / 1024:.0f} KB)")
    return 0


def index(args) -> int:
    import time

    from mnist_core.sources.data import load_mnist
    from mnist_core.store import registry
    from mnist_core.store.neighbours import open_neighbours
    from mnist_core.training.neighbour_index import MNIST_PER_DIGIT, index_model

    folder = args.models_dir or registry.trained_dir()
    names = args.names or [info.name for info in registry.list_models(folder, task=DIGIT)
                           if open_neighbours(info.name, folder)[0] is None]
    if not names:
        print(f"every model in {folder} has an up-to-date index")
        return 0
    data = load_mnist(args.data_dir)
    for name in names:
        started = time.monotonic()
        built, path = index_model(name, args.models_dir, data=data,
                                  mnist_per_digit=args.mnist_per_digit or MNIST_PER_DIGIT)
        counts = built.counts()
        print(f"{name}: {len(built):,} training digits ({counts['MNIST']:,} MNIST, "
              f"{counts['pen']:,} pen) in {built.width} features"
              + (f" of {built.note}" if built.note else "")
              + f", {time.monotonic() - started:.0f} s; wrote {path} "
              f"({path.stat().st_size / 1e6:.1f} MB)")
    return 0


def lacks_scores(name: str, folder) -> bool:
    """Whether a model has no test readings, stale ones or a damaged file of them."""
    from mnist_core.store.registry import read_scores

    try:
        return read_scores(name, folder) is None
    except MnistCoreError:
        return True
