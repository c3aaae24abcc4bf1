"""`mnist_core.reading.personal`: reading a visitor's drawings with their kept drawings in
mind, through the shipped models' ONNX graphs.

The writer's drawings are real: `tests/data/pendigits-writer28.tra` holds twelve digits of
pendigits writer 28 (one of each digit but 7, and three of their 7s), copied from the full
file. `cnn` (trained on MNIST only, so it never saw this writer) reads those 7s as 3s;
the default model reads them right.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from bench import personal as bench_personal
from mnist_core.errors import MissingOutputError, MnistCoreError
from mnist_core.model.verdict import Kind
from mnist_core.reading import personal
from mnist_core.reading.inference import Readings, read_digits, read_drawing
from mnist_core.reading.personal import (
    KeptDrawingsError,
    kept_examples,
    read_with_kept,
    unit_features,
)
from mnist_core.reading.preprocess import canvas_to_mnist, prepare_mnist
from mnist_core.sources.pendigits import load_pendigits, render_digit
from mnist_core.store import registry

from .drawing import draw_strokes

WRITER_28 = Path(__file__).parent / "data" / "pendigits-writer28.tra"
SEVENS = (9, 10, 11)  # the file's three 7s, in file order
A_Z = [[(80, 60), (200, 60), (80, 220), (200, 220)]]  # the letter, which reads as a 2
ANOTHER_Z = [[(70, 70), (205, 65), (90, 215), (210, 225)]]


@pytest.fixture(scope="module")
def writer():
    """Writer 28's digits, each drawn on the pad at a size and place of seed 0 and again
    of seed 1, prepared as the pad's drawings are; and their labels."""
    digits = load_pendigits(WRITER_28)
    drawn = [np.stack([canvas_to_mnist(render_digit(d, rng=np.random.default_rng(seed)))
                       for d in digits]) for seed in (0, 1)]
    return drawn[0], drawn[1], np.array([d.label for d in digits])


@pytest.fixture(scope="module")
def cnn():
    return registry.open_model("cnn")


@pytest.fixture(scope="module")
def default():
    return registry.open_model()


def test_the_excerpt_is_writer_28s_and_cnn_reads_its_sevens_as_threes(writer, cnn):
    images, _, labels = writer
    assert [d.writer for d in load_pendigits(WRITER_28)] == [28] * 12
    assert sorted(labels.tolist()) == [0, 1, 2, 3, 4, 5, 6, 7, 7, 7, 8, 9]
    assert labels[list(SEVENS)].tolist() == [7, 7, 7]
    assert read_digits(cnn, images[list(SEVENS)]).probabilities.argmax(axis=1).tolist() \
        == [3, 3, 3]


def test_kept_sevens_make_the_writers_next_seven_read_as_seven(writer, cnn):
    images, again, labels = writer
    keep = [i for i in range(len(labels)) if i != SEVENS[2]]  # two 7s and every other digit
    kept = kept_examples(cnn, images[keep], labels[keep])
    # their third 7, never kept, as drawn twice; and a kept 7 drawn again elsewhere on the pad
    for image in (images[SEVENS[2]], again[SEVENS[2]], again[SEVENS[0]]):
        alone = read_digits(cnn, image)
        with_kept = read_with_kept(cnn, kept, image)
        assert alone.verdict().candidates[0] == 3
        assert with_kept.verdict().candidates[0] == 7
        assert with_kept.probabilities[0, 7] > 0.6 > alone.probabilities[0, 7]
        assert with_kept.used_kept == len(keep) == 11


def test_a_kept_drawing_read_again_takes_its_label_confidently(writer, cnn, default):
    images, _, labels = writer
    # cnn alone misreads five of them (a 4, a 1 and the three 7s), yet reads each as
    # its label once it is kept
    assert (read_digits(cnn, images).probabilities.argmax(axis=1) != labels).sum() == 5
    found = read_with_kept(cnn, kept_examples(cnn, images, labels), images)
    assert found.probabilities.argmax(axis=1).tolist() == labels.tolist()
    assert found.probabilities.max(axis=1).min() > 0.7
    # the default, which reads them all right, names each surely
    found = read_with_kept(default, kept_examples(default, images, labels), images)
    assert found.probabilities.argmax(axis=1).tolist() == labels.tolist()
    assert found.probabilities.max(axis=1).min() > 0.99
    assert all(found.verdict(row).kind is Kind.DIGIT for row in range(len(labels)))


def test_a_kept_non_digit_makes_a_near_copy_read_as_no_digit(default):
    z, _ = read_drawing(default, draw_strokes(A_Z))
    kept = kept_examples(default, z, np.array([personal.NOT_A_DIGIT]))
    _, alone = read_drawing(default, draw_strokes(ANOTHER_Z, width=14))
    _, with_kept = read_drawing(default, draw_strokes(ANOTHER_Z, width=14), kept=kept)
    assert alone.verdict().kind is Kind.DIGIT and alone.verdict().digit == 2
    assert with_kept.verdict().kind is Kind.NOT_A_DIGIT
    assert with_kept.used_kept == 1
    # a 2 drawn as a 2 is still read as one
    two = draw_strokes([[(90, 90), (120, 55), (170, 55), (190, 95), (170, 140), (90, 220),
                         (200, 220)]])
    assert read_drawing(default, two, kept=kept)[1].verdict().digit == 2


def test_without_kept_drawings_the_reading_is_the_old_one(writer, default, mnist_subset):
    images, _, labels = writer
    canvas = draw_strokes([[(80, 60), (200, 60), (110, 240)]])
    image, old = read_drawing(default, canvas)
    for kept in (None, kept_examples(default, images[:0], labels[:0])):
        same_image, readings = read_drawing(default, canvas, kept=kept)
        np.testing.assert_array_equal(same_image, image)
        np.testing.assert_array_equal(readings.probabilities, old.probabilities)
        np.testing.assert_array_equal(readings.digits, old.digits)
        assert readings.used_kept == 0 and readings.verdict() == old.verdict()
    digits = prepare_mnist(mnist_subset[1][0][:50])
    plain = read_with_kept(default, None, digits)
    assert isinstance(plain, Readings) and plain.used_kept == 0
    np.testing.assert_array_equal(plain.probabilities, read_digits(default, digits).probabilities)


def test_probabilities_sum_to_one_and_far_drawings_keep_their_reading(writer, default,
                                                                     mnist_subset):
    images, _, labels = writer
    kept = kept_examples(default, images, labels)
    digits = prepare_mnist(mnist_subset[1][0][:200])
    found = read_with_kept(default, kept, digits)
    assert found.probabilities.shape == (200, 10) and found.probabilities.dtype == np.float32
    assert (found.probabilities >= 0).all()
    np.testing.assert_allclose(found.probabilities.sum(axis=1), 1.0, atol=1e-5)
    alone = read_digits(default, digits).probabilities
    # MNIST's hands are not writer 28's: the likeliest digit stays for all but a few
    assert (found.probabilities.argmax(axis=1) != alone.argmax(axis=1)).sum() <= 2
    assert found.used_kept == 12


def test_an_ensembles_features_are_each_members_unit_length(default):
    features = np.abs(np.random.default_rng(0).normal(size=(3, 512))).astype(np.float32)
    unit = unit_features(default, features)
    assert len(default.card.members) == 4
    np.testing.assert_allclose(np.linalg.norm(unit.reshape(3, 4, 128), axis=2), 0.5, atol=1e-6)
    np.testing.assert_allclose((unit @ unit.T).diagonal(), 1.0, atol=1e-6)


def test_kept_drawings_of_another_model_or_bad_input_are_refused(writer, cnn, default):
    images, _, labels = writer
    kept = kept_examples(cnn, images, labels)
    with pytest.raises(KeptDrawingsError, match="seen by model 'cnn'.*make them again"):
        read_with_kept(default, kept, images[0])
    bad_labels = (labels[:-1], labels + 11, labels - 1, labels.astype(float))
    for wrong in bad_labels:
        with pytest.raises(KeptDrawingsError, match="label"):
            kept_examples(cnn, images, wrong)
    with pytest.raises(KeptDrawingsError, match=r"\(N, 28, 28\)"):
        kept_examples(cnn, images[:, :20], labels)
    with pytest.raises(KeptDrawingsError, match=r"\[0, 1\]"):
        read_with_kept(cnn, kept, images * 2)
    assert issubclass(KeptDrawingsError, MnistCoreError)


def test_a_graph_without_features_gives_a_clear_error(tmp_path, writer):
    """A graph exported before graphs had features cannot see kept drawings: making them
    says so (`MissingOutputError`, export it again); the model still reads alone."""
    import onnx

    for suffix in (".onnx", ".json", ".keras"):
        shutil.copy(registry.DEFAULT_SHIPPED_DIR / f"cnn{suffix}", tmp_path)
    graph = onnx.load(str(tmp_path / "cnn.onnx"))
    del graph.graph.output[1:]
    for node in graph.graph.node:
        node.output[:] = ["Identity:0" if name == "probabilities" else name
                          for name in node.output]
    graph.graph.output[0].name = "Identity:0"
    data = graph.SerializeToString()
    (tmp_path / "cnn.onnx").write_bytes(data)
    card = json.loads((tmp_path / "cnn.json").read_text())
    card["onnx_sha256"] = hashlib.sha256(data).hexdigest()
    (tmp_path / "cnn.json").write_text(json.dumps(card))
    old = registry.open_model("cnn", tmp_path)
    images, _, labels = writer
    with pytest.raises(MissingOutputError, match="gives no 'features'.*export it again"):
        kept_examples(old, images, labels)
    assert read_with_kept(old, None, images).used_kept == 0


def test_the_bench_keeps_k_of_each_digit_and_reads_only_the_rest(writer):
    images, again, labels = writer
    data = {"images": np.concatenate([images, again]), "labels": np.tile(labels, 2),
            "writers": np.array([28] * 12 + [5] * 12)}
    chosen = list(bench_personal.trials(data, [28, 5], k=1, count=3, seed=0))
    assert len(chosen) == 6
    for writer_id, kept, read in chosen:
        mine = set(np.flatnonzero(data["writers"] == writer_id))
        assert set(kept) | set(read) == mine and not set(kept) & set(read)
        # one of each digit with two or more drawings: the 7s, of which one is kept
        assert sorted(data["labels"][kept].tolist()) == [7]
