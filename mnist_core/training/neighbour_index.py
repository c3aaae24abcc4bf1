"""Building a stored model's neighbour index (`store.neighbours`): which training images
it holds, their embeddings in the model's features, and the file beside the model.

    python -m mnist_core --models-dir models index --name cnn-drawn-all-24ep-x4

The images are the MNIST training digits the model fitted (its run's validation digits
left out, found again from its card), a stratified sample of `mnist_per_digit` of each
digit (fewer for wide features: `MAX_VALUES`), and every digit of the pen writers its
card lists, drawn once as the pad draws them. Forward passes through the float graph
only: no TensorFlow. The default's 37,494 images make a file of 10.8 MB
(docs/results.md).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from pathlib import Path

import numpy as np

from mnist_core.errors import InvalidModelError, ModelProtectedError, TrainingStopped
from mnist_core.model.card import ModelCard
from mnist_core.model.runtime import FEATURES
from mnist_core.reading.preprocess import prepare_mnist
from mnist_core.store import registry, saving
from mnist_core.store.neighbours import MNIST_TRAIN, PEN_WRITER, NeighbourIndex, unit_embeddings
from mnist_core.training.config import TrainConfig
from mnist_core.training.teach_data import base_validation

MNIST_PER_DIGIT = 3000  # with the default's 7,494 pen digits, under 20 MB and 40k rows
# The most values an index embeds (rows x one run's features): the default's 37,494 rows
# of 128 fit; wider features get fewer MNIST digits (fast-cnn's 576: 8,880), so a
# visitor's model's index stays near 10 MB on disk and 20 MB in the web server's memory.
MAX_VALUES = 40_000 * 128
MIN_PER_DIGIT = 100
PEN_SEED = 0  # size, place and pen width of each pen digit's one render
BATCH = 256  # images per forward pass: a session's arena grows to its largest batch


def fitted_mnist(card: ModelCard, n_train: int) -> np.ndarray:
    """Indices of the MNIST training digits the model fitted: the ones its run used
    (`train_size`), less those it held out for validation; all of them where its card
    cannot say."""
    used = n_train
    if card.hyperparameters:
        with contextlib.suppress(TypeError, ValueError):  # a card that cannot say
            used = min(TrainConfig.from_card(card.hyperparameters).train_size or n_train,
                       n_train)
    held = base_validation(card, n_train)
    fitted = np.arange(used)
    return fitted if held is None else np.setdiff1d(fitted, held)


def per_digit(wanted: int, width: int, pen: int) -> int:
    """MNIST digits of each label an index of `width` features per image holds beside
    `pen` pen digits: `wanted`, or fewer to stay within `MAX_VALUES`, but not fewer than
    `MIN_PER_DIGIT` for that."""
    return min(wanted, max(MIN_PER_DIGIT, (MAX_VALUES // width - pen) // 10))


def index_images(card: ModelCard, train_data: tuple[np.ndarray, np.ndarray], *,
                 mnist_per_digit: int = MNIST_PER_DIGIT, width: int = 128, seed: int = 0
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The images an index of this model (`width` features per image) holds, prepared
    `(N, 28, 28)` float32, with their labels, sources (`MNIST_TRAIN`, `PEN_WRITER`) and
    numbers (MNIST training index, or writer): up to `mnist_per_digit` fitted MNIST
    digits of each label (`per_digit`), chosen at random with `seed`, then the card's
    pen writers' digits, drawn once each (none where the pendigits file is not on this
    machine)."""
    x_train, y_train = train_data
    pen_images, pen_labels, writers = pen_digits(card.pen_writers or [])
    fitted = fitted_mnist(card, len(x_train))
    rng = np.random.default_rng(seed)
    most = per_digit(mnist_per_digit, width, len(writers))
    chosen = np.sort(np.concatenate([
        rng.permutation(fitted[y_train[fitted] == digit])[:most] for digit in range(10)]))
    images, labels = prepare_mnist(x_train[chosen]), y_train[chosen].astype(np.uint8)
    source, number = np.full(len(chosen), MNIST_TRAIN, np.uint8), chosen.astype(np.int32)
    return (np.concatenate([images, pen_images]), np.concatenate([labels, pen_labels]),
            np.concatenate([source, np.full(len(writers), PEN_WRITER, np.uint8)]),
            np.concatenate([number, writers]))


def pen_digits(writers: list[int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every digit of these pen writers drawn once as the pad draws them (prepared),
    their labels and writers; none without writers or the pendigits file."""
    from mnist_core.sources.pendigits import (
        drawn_training_set,
        load_pendigits,
        pendigits_available,
    )

    if not (writers and pendigits_available()):
        return np.zeros((0, 28, 28), np.float32), np.zeros(0, np.uint8), np.zeros(0, np.int32)
    digits = [digit for digit in load_pendigits() if digit.writer in set(writers)]
    images, labels = drawn_training_set(digits, renders=1, seed=PEN_SEED)
    return images, labels.astype(np.uint8), np.array([d.writer for d in digits], np.int32)


def build_index(name: str, directory=None, *, data, mnist_per_digit: int = MNIST_PER_DIGIT,
                progress: Callable[[int, int], None] | None = None,
                stop_event=None) -> NeighbourIndex:
    """A stored model's neighbour index: `index_images` of `data` (MNIST as `load_mnist`
    gives it) read through the model's float graph in batches, the first run's features
    kept (an ensemble's runs give theirs side by side). `progress(done, total)` after
    each batch; `stop_event.is_set()` ends it early (`TrainingStopped`)."""
    model = registry.open_model(name, directory, float_graph=True, memory_arena=False)
    card = model.card
    runs = len(card.members) if card.is_ensemble else 1
    probe = model.network.outputs(np.zeros((1, 28, 28), np.float32), FEATURES)[FEATURES]
    images, labels, source, number = index_images(
        card, data[0], mnist_per_digit=mnist_per_digit, width=probe.shape[1] // runs)
    embeddings = []
    for start in range(0, len(images), BATCH):
        if stop_event is not None and stop_event.is_set():
            raise TrainingStopped("stopped before the index was built; nothing was saved")
        features = model.network.outputs(images[start:start + BATCH], FEATURES)[FEATURES]
        if features.shape[1] % runs:
            raise InvalidModelError(f"model {name!r} gives {features.shape[1]} features, not "
                                    f"{runs} equal blocks for its {runs} runs")
        embeddings.append(unit_embeddings(features, runs))
        if progress is not None:
            progress(min(start + BATCH, len(images)), len(images))
    return NeighbourIndex(np.concatenate(embeddings), np.round(images * 255).astype(np.uint8),
                          labels, source, number, card.onnx_sha256, runs)


def index_model(name: str, directory=None, *, data, **options) -> tuple[NeighbourIndex, Path]:
    """Build a stored model's neighbour index (`build_index`) and store it beside the
    model (`saving.write_neighbours`); the index and its path. A shipped model is
    refused before any work, unless its own folder is `directory`."""
    if directory is None and registry.is_shipped(name):
        raise ModelProtectedError(f"{name!r} is a shipped model and cannot be changed here; "
                                  f"build its index in its own folder, --models-dir "
                                  f"{registry.shipped_dir()}")
    index = build_index(name, directory, data=data, **options)
    return index, saving.write_neighbours(name, index, directory)
