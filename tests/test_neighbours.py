"""`mnist_core.store.neighbours` and `training.neighbour_index`: the training digits most
like a drawing, found in a model's features, kept beside the model, used only while it
belongs to the model's graph, removed with it; and the shipped default's own index.

Small indexes are built from the committed MNIST subset and the pendigits sample, through
the shipped `cnn-drawn` (trained on MNIST and pen writers 1-20)."""

from __future__ import annotations

import io
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pytest

from mnist_core.__main__ import main
from mnist_core.errors import InvalidModelError
from mnist_core.model.runtime import FEATURES
from mnist_core.reading.personal import kept_examples
from mnist_core.reading.preprocess import canvas_to_mnist
from mnist_core.sources.pendigits import load_pendigits, render_digit
from mnist_core.store import registry, saving
from mnist_core.store.neighbours import (
    MNIST_TRAIN,
    PEN_WRITER,
    YOURS,
    NeighbourIndex,
    NeighbourIndexError,
    nearest,
    nearest_with_kept,
    neighbours_path,
    open_neighbours,
)
from mnist_core.training.neighbour_index import (
    MAX_VALUES,
    MIN_PER_DIGIT,
    build_index,
    index_model,
    per_digit,
)
from tests.conftest import ROOT, SUBSET_DIR

PEN_SAMPLE = Path(__file__).parent / "data" / "pendigits-sample.tra"  # 3 of each digit
WRITER_28 = Path(__file__).parent / "data" / "pendigits-writer28.tra"  # a writer it never saw
MODEL = "cnn-drawn"
PER_DIGIT = 12
DEFAULT = "cnn-drawn-all-24ep-x4"


@pytest.fixture
def store(tmp_path, monkeypatch):
    """A folder of its own holding the shipped `cnn-drawn`; pen digits from the sample."""
    for path in (ROOT / "models").glob(f"{MODEL}.*"):
        shutil.copy(path, tmp_path / path.name)
    monkeypatch.setenv("PENDIGITS_PATH", str(PEN_SAMPLE))
    return tmp_path


@pytest.fixture
def indexed(store, mnist_subset):
    """`store` with `cnn-drawn`'s index built from the subset and written beside it."""
    index, path = index_model(MODEL, store, data=mnist_subset, mnist_per_digit=PER_DIGIT)
    return store, index, path


def features(name: str, directory, images: np.ndarray, **options) -> np.ndarray:
    network = registry.open_model(name, directory, **options).network
    return network.outputs(images.astype(np.float32) / 255, FEATURES)[FEATURES]


def test_an_index_holds_fitted_mnist_digits_by_label_and_the_model_s_pen_writers(indexed,
                                                                                mnist_subset):
    store, index, path = indexed
    (x_train, y_train), _ = mnist_subset
    mnist = index.source == MNIST_TRAIN
    assert np.bincount(index.labels[mnist], minlength=10).tolist() == [PER_DIGIT] * 10
    numbers = index.number[mnist]
    np.testing.assert_array_equal(index.labels[mnist], y_train[numbers])
    assert len(set(numbers.tolist())) == len(numbers)
    # the sample's digits by writers 1-20, the ones the model fitted, and no others
    sample = [d for d in load_pendigits(PEN_SAMPLE) if d.writer <= 20]
    pen = index.source == PEN_WRITER
    assert index.number[pen].tolist() == [d.writer for d in sample]
    assert index.labels[pen].tolist() == [d.label for d in sample]
    assert index.counts() == {"MNIST": 10 * PER_DIGIT, "pen": len(sample)}
    assert index.embeddings.dtype == np.float16 and index.images.dtype == np.uint8
    np.testing.assert_allclose(np.linalg.norm(index.matrix, axis=1), 1, atol=2e-3)
    assert index.note == "" and index.runs == 1
    assert index.graph_sha256 == registry.read_card(MODEL, store).onnx_sha256
    assert path == neighbours_path(MODEL, store) == store / f"{MODEL}.neighbours.npz"


def test_the_nearest_neighbours_of_a_training_image_include_itself_first(indexed):
    store, index, _ = indexed
    picks = [0, 57, int(np.flatnonzero(index.source == PEN_WRITER)[3])]
    for i, row in zip(picks, features(MODEL, store, index.images[picks]), strict=True):
        found = nearest(index, row, k=8)
        assert len(found) == 8 and found.sources[0] == index.source_words(i)
        assert found.similarities[0] == pytest.approx(1.0, abs=2e-3)
        assert list(found.similarities) == sorted(found.similarities, reverse=True)
        assert found.labels[0] == index.labels[i] and not found.yours.any()
        np.testing.assert_array_equal(found.images[0], index.images[i])
    assert index.source_words(0).startswith("MNIST train #")
    assert index.source_words(picks[2]).startswith("pen writer ")
    with pytest.raises(NeighbourIndexError, match="another model"):
        nearest(index, np.ones(7, np.float32))


def test_a_kept_drawing_shows_among_the_neighbours_as_the_visitor_s(indexed):
    store, index, _ = indexed
    digits = load_pendigits(WRITER_28)
    drawn = np.stack([canvas_to_mnist(render_digit(d, rng=np.random.default_rng(0)))
                      for d in digits])
    labels = np.array([d.label for d in digits])
    model = registry.open_model(MODEL, store)
    kept = kept_examples(model, drawn, labels)
    kept_images = np.round(drawn * 255).astype(np.uint8)
    query = model.network.outputs(drawn[:1], FEATURES)[FEATURES][0]  # kept drawing 0 again
    found = nearest_with_kept(index, query, kept, kept_images, k=8)
    assert found.yours[0] and found.sources[0] == YOURS
    assert found.labels[0] == labels[0] and found.similarities[0] == pytest.approx(1, abs=1e-3)
    np.testing.assert_array_equal(found.images[0], kept_images[0])
    # the training images that stay are the nearest of the index alone, in order
    alone = nearest(index, query, k=8)
    theirs = [s for s, mine in zip(found.sources, found.yours, strict=True) if not mine]
    assert theirs == alone.sources[:len(theirs)] and found.yours.sum() < 8
    assert list(found.similarities) == sorted(found.similarities, reverse=True)
    assert nearest_with_kept(index, query, None, None).sources == alone.sources


def test_an_index_of_a_replaced_graph_is_stale_and_never_used(indexed):
    store, index, path = indexed
    assert open_neighbours(MODEL, store)[0] is not None
    card = registry.read_card(MODEL, store)
    saving.write_card(MODEL, card.replace(onnx_sha256="0" * 64), store)
    opened, why = open_neighbours(MODEL, store)
    assert opened is None and "earlier version" in why and "mnist_core index" in why
    with pytest.raises(InvalidModelError, match="replaced while its index was built"):
        saving.write_neighbours(MODEL, index, store)
    saving.write_card(MODEL, card, store)
    path.write_bytes(b"PK\x03\x04 truncated")
    opened, why = open_neighbours(MODEL, store)
    assert opened is None and "cannot be read" in why
    path.unlink()
    assert open_neighbours(MODEL, store) == (None, f"no index of its training digits is "
                                                   f"built for {MODEL!r} yet")


def test_replacing_or_deleting_the_model_removes_its_index(indexed):
    store, _, path = indexed
    model = registry.load_model(MODEL, store)  # Keras: a save writes a new graph
    saving.save_model(model.network, MODEL, model.card, directory=store, overwrite=True)
    assert not path.exists()
    path.write_bytes(b"an index")
    saving.delete_model(MODEL, store)
    assert not path.exists() and not list(store.glob(f"{MODEL}.*"))


def test_the_index_file_holds_no_pickles_and_one_with_objects_is_refused(indexed):
    _, index, path = indexed
    data = path.read_bytes()
    with np.load(io.BytesIO(data), allow_pickle=False) as stored:
        arrays = {name: stored[name] for name in stored.files}  # raises on a pickle
    assert not any(array.dtype.hasobject for array in arrays.values())
    again = NeighbourIndex.from_bytes(data)
    np.testing.assert_array_equal(again.embeddings, index.embeddings)
    assert again.graph_sha256 == index.graph_sha256
    buffer = io.BytesIO()
    np.savez(buffer, **arrays | {"labels": np.array([{"a": 1}] * len(index), dtype=object)})
    with pytest.raises(NeighbourIndexError, match="not a neighbour index"):
        NeighbourIndex.from_bytes(buffer.getvalue())
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert sorted(archive.namelist()) == sorted(f"{name}.npy" for name in arrays)


def test_the_command_indexes_named_models_and_all_that_lack_one(store, capsys):
    args = ["--models-dir", str(store), "--data-dir", str(SUBSET_DIR), "index"]
    assert main([*args, "--name", MODEL, "--mnist-per-digit", "5"]) == 0
    printed = capsys.readouterr().out
    assert f"{MODEL}: " in printed and "(50 MNIST, " in printed and "MB)" in printed
    assert len(open_neighbours(MODEL, store)[0]) > 50
    assert main([*args, "--all"]) == 0
    assert "has an up-to-date index" in capsys.readouterr().out
    # a shipped model is changed only through its own folder, and refused before building
    assert main(["--data-dir", str(SUBSET_DIR), "index", "--name", MODEL]) == 2
    assert "shipped model" in capsys.readouterr().err


def test_the_default_ships_with_its_index_of_its_first_run():
    path = neighbours_path(DEFAULT)
    assert path.parent == ROOT / "models" and path.stat().st_size <= 20_000_000
    index, why = open_neighbours(DEFAULT)
    assert why is None and index.note == "run 1 of 4" and len(index) <= 40_000
    card = registry.read_card(DEFAULT)
    assert index.runs == len(card.members) and index.counts()["pen"] > 7000
    assert np.bincount(index.labels, minlength=10).min() > 3000
    # every indexed image finds itself, read through the served (int8) graph too
    picks = np.random.default_rng(0).choice(len(index), 12, replace=False)
    for options in ({}, {"float_graph": True}):
        for i, row in zip(picks, features(DEFAULT, None, index.images[picks], **options),
                          strict=True):
            found = nearest(index, row)
            assert found.sources[0] == index.source_words(i) and found.note == "run 1 of 4"
            assert found.similarities[0] > 0.99


def test_wider_features_index_fewer_mnist_digits_within_one_budget():
    assert per_digit(3000, 128, 7494) == 3000  # the default: 37,494 rows of 128
    assert per_digit(3000, 576, 0) == 888  # fast-cnn: 8,880 rows of 576
    assert per_digit(3000, 576, 0) * 10 * 576 <= MAX_VALUES < 889 * 10 * 576
    assert per_digit(3000, 784, 7494) == per_digit(3000, 10**6, 0) == MIN_PER_DIGIT == 100
    assert per_digit(5, 16, 0) == 5


def test_building_reads_an_ensemble_s_first_run_only(store, mnist_subset, monkeypatch):
    """A model card naming two runs: the index keeps the first half of the features."""
    card = registry.read_card(MODEL, store)
    members = [{"name": "a"}, {"name": "b"}]
    saving.write_card(MODEL, card.replace(architecture="ensemble", members=members), store)
    index = build_index(MODEL, store, data=mnist_subset, mnist_per_digit=2)
    assert index.runs == 2 and index.note == "run 1 of 2"
    full = features(MODEL, store, index.images[:3])
    half = full[:, : full.shape[1] // 2]
    expected = half / np.linalg.norm(half, axis=1, keepdims=True)
    np.testing.assert_allclose(index.matrix[:3], expected, atol=2e-3)
    assert index.width * 2 == full.shape[1]
    assert nearest(index, full[1]).sources[0] == index.source_words(1)
