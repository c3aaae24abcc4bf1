"""The whole-number reader: composed training numbers, the one preparation of a number's
ink, CTC decoding with known answers, a tiny run trained and exported, and the shipped
`number-ctc` reading numbers in a hand it never saw."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mnist_core.errors import InvalidModelError
from mnist_core.model.card import DIGIT, NUMBER
from mnist_core.model.loaded_model import LoadedModel
from mnist_core.model.number_network import BLANK, CLASSES, NUMBER_STEPS, NumberNetwork
from mnist_core.model.verdict import NOT_NAMED, ReadingPolicy
from mnist_core.reading import number_reader
from mnist_core.reading.inference import read_number
from mnist_core.reading.number_input import MARGIN, prepare_number
from mnist_core.reading.number_reader import best_path, decode_number, read_number_ctc
from mnist_core.reading.preprocess import ink_from_image
from mnist_core.reading.segment import NUMBER_PAD
from mnist_core.sources.pendigits import default_pendigits_path, load_pendigits
from mnist_core.store import registry
from mnist_core.training.number_data import (
    NumberComposer,
    compose_batch,
    held_out_batch,
    pen_numbers,
    touching,
)
from mnist_core.training.number_eval import (
    edit_distance,
    fit_min_probability,
    score_texts,
)

DATA = Path(__file__).parent / "data"
WRITER_28 = DATA / "pendigits-writer28.tra"  # a hand the shipped reader never fitted
SHIPPED = "number-ctc"
full_pendigits = pytest.mark.skipif(not default_pendigits_path().is_file(),
                                    reason="the full pendigits file is not beside the checkout")


def steps(*labels: int, sure: float = 0.9) -> np.ndarray:
    """`(len(labels), CLASSES)` probabilities whose likeliest class at each step is the
    label given there (`sure` of it, the rest spread evenly)."""
    rows = np.full((len(labels), CLASSES), (1 - sure) / (CLASSES - 1), dtype=np.float32)
    rows[np.arange(len(labels)), labels] = sure
    return rows


def test_best_path_collapses_repeats_and_drops_blanks():
    b = BLANK
    found = best_path(steps(b, 3, 3, b, 3, b, b, 7, 7, b))
    assert [(d.digit, d.start, d.end) for d in found] == [(3, 1, 3), (3, 4, 5), (7, 7, 9)]
    assert [d.digit for d in best_path(steps(1, 1, 1))] == [1]  # no blank: one 1
    assert best_path(steps(b, b, b)) == []


def test_a_digit_gets_its_peak_steps_probabilities_renormalised_over_the_digits():
    rows = steps(BLANK, 4, 4, BLANK, sure=0.5)
    rows[2] = 0.0
    rows[2, [4, 9, BLANK]] = [0.6, 0.3, 0.1]  # the surer of its two steps
    (four,) = best_path(rows)
    assert four.peak == 2 and four.sureness == pytest.approx(0.6)
    np.testing.assert_allclose(four.probabilities[[4, 9]], [0.6 / 0.9, 0.3 / 0.9], rtol=1e-6)
    assert four.probabilities.sum() == pytest.approx(1.0)


def two_bars() -> np.ndarray:
    """A 240x720 pad with two upright bars of ink: rows 60-180 at columns 100-160, and
    rows 80-200 at columns 300-360."""
    pad = np.zeros(NUMBER_PAD, dtype=np.uint8)
    pad[60:180, 100:160] = 255
    pad[80:200, 300:360] = 255
    return pad


def test_decoding_gives_each_digit_the_ink_between_the_cuts_as_its_box_and_a_question_mark():
    prepared = prepare_number(ink_from_image(two_bars()))
    # the ink is 140 px tall, so it is scaled by 28/140: the bars stand at image columns
    # 4-16 and 44-56, steps 1-3 and 11-13
    assert prepared.scale == pytest.approx(0.2) and prepared.crop == (60, 200, 100, 360)
    assert prepared.to_drawing_x(MARGIN) == 100
    labels = [BLANK] * NUMBER_STEPS
    labels[2], labels[12] = 3, 7
    rows = steps(*labels)
    rows[12] = 0.0
    rows[12, [7, 4, BLANK]] = [0.5, 0.3, 0.2]
    reading = decode_number(rows, prepared, min_probability=0.6)
    assert reading.text == "3?"
    three, seven = reading.digits
    assert three.box == (60, 180, 100, 160) and seven.box == (80, 200, 300, 360)
    assert three.digit == 3 and seven.digit == NOT_NAMED
    assert seven.probabilities.argmax() == 7
    assert seven.probabilities[7] == pytest.approx(0.5 / 0.8)
    assert three.image.shape == (28, 28) and three.image.max() > 0.5
    assert decode_number(rows, prepared, min_probability=0.5).text == "37"
    # a digit the network places a step early, on the margin left of the ink: the same
    rows[[0, 2]] = rows[[2, 0]]
    early = decode_number(rows, prepared, min_probability=0.5)
    assert [d.box for d in early.digits] == [three.box, seven.box]


class Recorder:
    """A stand-in network that keeps what it was given and reads every step as blank."""

    def __call__(self, x, training=False):
        self.seen = np.array(x)
        return steps(*[BLANK] * NUMBER_STEPS)[None].repeat(len(x), axis=0)


def test_training_evaluation_and_reading_prepare_a_number_the_one_way(rng):
    recorder = Recorder()
    pad = two_bars()
    reading = read_number_ctc(LoadedModel.bare(recorder), pad)
    assert reading.text == "" and reading.digits == ()
    np.testing.assert_array_equal(recorder.seen[0], prepare_number(ink_from_image(pad)).image)
    composer = NumberComposer(None, load_pendigits(DATA / "pendigits-sample.tra"))
    batch = compose_batch(composer, 4, np.random.default_rng(5))
    again = np.random.default_rng(5)
    for image in batch.images:
        np.testing.assert_array_equal(image, prepare_number(composer.compose(again).ink).image)
    digits = load_pendigits(WRITER_28)
    held = held_out_batch(digits, [28], 4, seed=3)
    written = pen_numbers(digits, [28], 2, 3, close=False)
    for image, number in zip(held.images, written):
        np.testing.assert_array_equal(image, prepare_number(number.image / 255.0).image)


def test_composed_numbers_have_the_digits_their_labels_claim(mnist_subset):
    """Spaced numbers composed from MNIST digits and from pen strokes, read by the
    segmenting reader with the default digit model: most read as their labels say (38
    and 39 of 40 when written, the misreads a 9 read as a 7, a ? and a 1 read as a 4)."""
    default = registry.open_model()
    (x_train, y_train), _ = mnist_subset
    for pen in (None, load_pendigits(DATA / "pendigits-sample.tra")):
        composer = NumberComposer(None if pen else (x_train, y_train), pen,
                                  non_numbers=0.0, close=0.0)
        rng = np.random.default_rng(7)
        numbers = [composer.compose(rng) for _ in range(40)]
        read = [read_number(default, number.ink).text for number in numbers]
        texts = ["".join(map(str, number.labels)) for number in numbers]
        assert all(1 <= len(text) <= 8 for text in texts)
        scores = score_texts(read, texts)
        assert scores.exact >= 0.85 and scores.digits >= 0.95, list(zip(texts, read))
    refusing = NumberComposer((x_train, y_train), None, non_numbers=1.0)
    assert {refusing.compose(rng).labels for _ in range(8)} == {()}


def test_touching_numbers_meet_their_neighbours_and_spaced_ones_mostly_do_not():
    digits = load_pendigits(WRITER_28)
    close = pen_numbers(digits, [28], 20, 0, close=True)
    assert all(touching(number.boxes) for number in close)
    assert all(len(number.labels) >= 2 for number in close)
    assert touching([(0, 10, 0, 10), (0, 10, 10, 20)]) and not touching([(0, 10, 0, 10)])
    assert not touching([(0, 10, 0, 30), (0, 10, 10, 20)])  # 20 px over: more than touching


def test_scores_count_edits_and_the_threshold_names_digits_right_often_enough():
    assert edit_distance("1046", "10546") == 1 and edit_distance("1?3", "123") == 1
    scores = score_texts(["123", "1?3", "45"], ["123", "123", "456"])
    assert scores.exact == pytest.approx(1 / 3)
    assert scores.digits == pytest.approx(1 - 2 / 9)
    assert scores.unnamed == pytest.approx(1 / 8)
    sureness = np.array([0.3, 0.4, 0.5, 0.9, 0.95, 0.99] * 50)
    right = np.array([False, True, True, True, True, True] * 50)
    # naming digits from 0.4 up leaves the one wrong kind out: 250 named, all right
    assert fit_min_probability(sureness, right, target=0.99, max_unnamed=0.5) == 0.4
    assert fit_min_probability(sureness, right, target=0.8) == 0.0  # 5 in 6 right already
    # where naming all is not right often enough and the limit allows no threshold: 0
    assert fit_min_probability(sureness, right, target=0.99, max_unnamed=0.0) == 0.0


@full_pendigits
def test_a_tiny_number_reader_trains_with_ctc_and_is_stored_as_one(tmp_path, mnist_subset):
    from mnist_core.store import saving
    from mnist_core.training.config import TrainConfig
    from mnist_core.training.train import train_model

    result = train_model(
        TrainConfig("number-ctc", epochs=2, numbers_per_epoch=128, batch_size=32,
                    train_size=300), data=mnist_subset, save_as="tiny", models_dir=tmp_path)
    card = result.card
    losses = card.history.loss
    assert all(np.isfinite(losses)) and losses[1] < losses[0]
    assert card.task == NUMBER and card.pen_writers == list(range(1, 26))
    assert "26-30" in card.reading.fitted_on and "no readings of MNIST" in card.trained_on
    assert sorted(path.name for path in tmp_path.iterdir()) == [
        "tiny.json", "tiny.keras", "tiny.onnx"]  # no layers graph, no test readings
    assert [info.name for info in registry.list_models(tmp_path, task=DIGIT)] == []
    assert [info.name for info in registry.list_models(tmp_path, task=NUMBER)] == ["tiny"]
    served = registry.open_model("tiny", tmp_path)
    assert isinstance(served.network, NumberNetwork)
    assert served.network.output_names == ("probabilities", "features")
    images = prepare_number(ink_from_image(two_bars())).image[None].repeat(3, axis=0)
    found = served.network.outputs(images)
    assert found["probabilities"].shape == (3, NUMBER_STEPS, CLASSES)
    assert found["features"].shape[:2] == (3, NUMBER_STEPS)
    np.testing.assert_allclose(found["probabilities"].sum(axis=2), 1.0, atol=1e-5)
    keras_read = np.asarray(result.model(images, training=False))
    np.testing.assert_allclose(found["probabilities"], keras_read, atol=1e-4)
    assert registry.load_model("tiny", tmp_path).card.task == NUMBER
    with pytest.raises(InvalidModelError, match="reads whole numbers"):
        saving.write_layers_graph("tiny", tmp_path)
    with pytest.raises(ValueError, match="reads whole numbers"):
        saving.save_model(result.model, "again", card, directory=tmp_path,
                          test_set=mnist_subset[1])
    with pytest.raises(InvalidModelError, match="expected one of"):
        registry.check_compatible(result.model, "tiny")  # not a digit reader


def test_the_digit_pickers_do_not_list_the_number_reader():
    shipped = registry.DEFAULT_SHIPPED_DIR
    assert SHIPPED in [info.name for info in registry.list_models(shipped)]
    assert SHIPPED not in [info.name for info in registry.list_models(shipped, task=DIGIT)]
    assert [info.name for info in registry.list_models(shipped, task=NUMBER)] == [SHIPPED]
    assert registry.default_model_name() == registry.DEFAULT_MODEL_NAMES[0]


def read_and_score(model, numbers) -> tuple:
    """The readings of `numbers`, their scores, and the share of the digits of numbers
    read right whose box's centre falls outside their own digit's ink box."""
    read = [read_number_ctc(model, number.image) for number in numbers]
    scores = score_texts([r.text for r in read], [n.text for n in numbers])
    centres = [(found.box[2] + found.box[3]) / 2 <= box[2] or
               (found.box[2] + found.box[3]) / 2 >= box[3]
               for reading, number in zip(read, numbers) if reading.text == number.text
               for found, box in zip(reading.digits, number.boxes)]
    return read, scores, float(np.mean(centres))


@full_pendigits
def test_the_shipped_number_reader_reads_numbers_in_hands_it_never_saw():
    """Writers 26-30, 100 numbers spaced and 100 touching (`bench.number --reader ctc`,
    1,000 of each: 96.9% and 96.5% exact; these seeds: 96-99% and 98-100%)."""
    model = registry.open_model(SHIPPED)
    card = model.card
    assert card.task == NUMBER and not set(card.pen_writers) & {26, 27, 28, 29, 30}
    assert 0.0 < model.policy.min_probability < 1.0
    assert registry.model_path(SHIPPED).stat().st_size < 2 * 2**20
    digits = [d for d in load_pendigits() if d.writer >= 26]
    for close in (False, True):
        numbers = pen_numbers(digits, [26, 27, 28, 29, 30], 100, seed=21, close=close)
        _, scores, off_box = read_and_score(model, numbers)
        assert scores.exact >= 0.93 and scores.digits >= 0.975, (close, scores)
        # a box is cut between columns: a digit under another's stroke can miss (0-2%)
        assert off_box <= 0.02, close


def test_the_shipped_number_reader_reads_a_hand_it_never_saw_and_boxes_its_digits():
    """Writer 28's twelve digits (in tests/data), numbers of them read as written: most
    (64-78% of 50 over three seeds; its one 8 is often dropped or read as a 1)."""
    model = registry.open_model(SHIPPED)
    assert 28 not in model.card.pen_writers
    digits = load_pendigits(WRITER_28)
    for close in (False, True):
        read, scores, off_box = read_and_score(
            model, pen_numbers(digits, [28], 50, seed=11, close=close))
        assert scores.exact >= 0.55 and scores.digits >= 0.85, (close, scores)
        assert off_box == 0.0
        assert all(d.image.shape == (28, 28) and d.probabilities.shape == (10,)
                   for reading in read for d in reading.digits)


def test_a_blank_pad_or_a_dot_is_no_number():
    from mnist_core.errors import EmptyDrawingError

    model = LoadedModel.bare(Recorder(), ReadingPolicy())
    with pytest.raises(EmptyDrawingError):
        read_number_ctc(model, np.zeros(NUMBER_PAD, dtype=np.uint8))
    dot = np.zeros(NUMBER_PAD, dtype=np.uint8)
    dot[100:112, 300:312] = 255
    with pytest.raises(EmptyDrawingError):
        read_number_ctc(model, dot)
    assert number_reader.number_text(best_path(steps(BLANK, 5, BLANK))) == "5"


@full_pendigits
def test_the_benchmark_sets_the_whole_number_reader_beside_the_segmenting_one(tmp_path, capsys):
    import json

    from bench import number

    out = tmp_path / "results"
    code = number.main(["--reader", "ctc", "--count", "4", "--digit-model",
                        "cnn-drawn-nondigits", "--results-dir", str(out)])
    assert code == 0
    result = json.loads((out / "number_readers.json").read_text())
    assert result["writers"] == [26, 27, 28, 29, 30] and result["digit_model_saw_writers"] == []
    readers = [row["reader"] for row in result["readers"]]
    assert readers == ["whole-number (number-ctc)", "segmenting (cnn-drawn-nondigits)"]
    for row in result["readers"]:
        for kind in ("spaced", "touching"):
            assert row[kind]["n"] == 4 and 0 <= row[kind]["exact"] <= 1
        assert row["read_5_digits"]["n"] == number.TIMED_CALLS
    p = result["digit_reader_p"]
    assert 0.9 < p < 1 and result["ceiling_1_to_5"] == pytest.approx(
        np.mean([p ** n for n in range(1, 6)]))
    assert "touching exact" in capsys.readouterr().out


def test_predict_and_evaluate_refuse_a_number_reader_in_words(tmp_path, capsys):
    from mnist_core.__main__ import main

    image = tmp_path / "seven.png"
    image.write_bytes(b"not read: the model is refused first")
    assert main(["predict", str(image), "--name", SHIPPED]) == 2
    said = capsys.readouterr().err
    assert f"{SHIPPED} reads whole numbers" in said and "predict reads single digits" in said
    assert main(["evaluate", "--name", SHIPPED]) == 2
    assert "evaluate reads single digits" in capsys.readouterr().err
