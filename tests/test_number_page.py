"""Write a number on the Draw page (AppTest) with a whole-number reader in the store: it is
the number pad's first choice and reads the number at once, touching digits too;
"Cut into digits" reads it with a digit model as before."""

from __future__ import annotations

import base64
import shutil

import numpy as np

from app_ui.pickers import CUT_INTO_DIGITS
from mnist_core.reading.inference import read_number
from mnist_core.reading.number_reader import read_number_ctc
from mnist_core.sources.pendigits import load_pendigits
from mnist_core.store import registry
from mnist_core.training.number_data import pen_numbers
from tests.conftest import ROOT
from tests.test_app import ALICE, DRAW, app, png, store  # noqa: F401 (a fixture)
from tests.test_number_ctc import SHIPPED, WRITER_28


def with_the_shipped_reader(folder) -> None:
    """The repository's whole-number reader copied into the test's model store."""
    for suffix in (".keras", ".onnx", ".json"):
        shutil.copy(ROOT / "models" / f"{SHIPPED}{suffix}", folder / f"{SHIPPED}{suffix}")


def write(at, image: np.ndarray):
    rgba = np.dstack([image, image, image, np.full_like(image, 255)])
    at.session_state["number_canvas_1"] = {"drawing": {"raw": {"objects": []}, "data":
        "data:image/png;base64," + base64.b64encode(png(rgba)).decode()}, "backgroundFit": None}
    return at.run(), rgba


def test_a_touching_number_is_read_by_the_whole_number_reader(store):  # noqa: F811
    number = pen_numbers(load_pendigits(WRITER_28), [28], 1, seed=3, close=True,
                         max_digits=4)[0]
    assert len(number.labels) >= 2
    at = app(DRAW, ALICE)
    at.radio(key="draw_source").set_value("Write a number").run()
    # no whole-number reader in the store yet: the digit picker alone
    assert [s.key for s in at.selectbox] == ["draw_model"]
    with_the_shipped_reader(store)
    at.run()
    picker = at.selectbox(key="draw_number_reader")
    assert picker.value == SHIPPED and picker.options[-1] == CUT_INTO_DIGITS
    facts = " ".join(m.value for m in at.markdown)
    assert "Test numbers read exactly" in facts and "MNIST test accuracy" not in facts

    at, rgba = write(at, number.image)
    assert not at.exception, [e.value for e in at.exception]
    expected = read_number_ctc(registry.open_model(SHIPPED), rgba)
    assert [(m.label, m.value) for m in at.metric] == [("Number", expected.text)]
    assert len(at.segmented_control(key="draw_number_digit").options) == len(expected.digits)

    # why a digit was read so: its 28x28 explained by the default digit model
    at.segmented_control(key="draw_number_digit").set_value(0).run()
    at.toggle(key="draw_number_why").set_value(True).run()
    assert not at.exception, [e.value for e in at.exception]
    default = registry.default_model_name()
    assert f"Explained by the digit model {default}." in [c.value for c in at.caption]
    shown = [i.caption for e in at.get("image") for i in e.proto.imgs]
    assert "Over what the model saw" in shown and "Over your drawing" not in shown

    picker.set_value(CUT_INTO_DIGITS).run()  # the digit model cuts the ink instead
    assert not at.exception
    digit_model = registry.open_model(at.session_state["draw_model"])
    assert [m.value for m in at.metric] == [read_number(digit_model, rgba).text]


def test_the_train_page_queues_a_whole_number_reader_without_digit_settings(
        store, monkeypatch):  # noqa: F811
    from mnist_core.jobs.queue import JobQueue
    from tests.test_app import TRAIN

    monkeypatch.setenv("MNIST_AUTOSTART_WORKER", "0")  # the run stays queued
    at = app(TRAIN, ALICE)
    at.toggle(key="train_pen").set_value(True).run()  # a digit run's setting, left on
    at.selectbox(key="train_arch").set_value("number-ctc").run()
    assert not at.exception, [e.value for e in at.exception]
    keys = {t.key for t in at.toggle}
    assert "train_pen" not in keys and "train_non_digits" not in keys
    assert any("writers 26-30 are kept for its validation" in c.value for c in at.caption)
    at.button(key="train_start").click().run()
    assert not at.error, [e.value for e in at.error]
    (job,) = JobQueue.from_env().view().owned_by(ALICE)
    config = job.config
    assert config.architecture == "number-ctc" and config.numbers_per_epoch
    assert config.pen_writers is None and not config.non_digits
