"""The My drawings page (AppTest): a visitor's kept drawings by label, relabelled,
deleted, shared, uploaded from a drawings file; another visitor sees none of them."""

from __future__ import annotations

import io
import zipfile

import numpy as np
import pytest

from mnist_core.shared.drawings import NOT_A_DIGIT, open_drawings_store
from mnist_core.sources.drawings_file import drawings_to_bytes, make_drawings
from tests.test_app import ALICE, BOB, app, store  # noqa: F401 (store: a fixture)

DRAWINGS = "app_ui/pages/drawings.py"


def stroke(column: int) -> tuple[np.ndarray, np.ndarray]:
    """A pad drawing (a vertical bar at `column`) and a 28x28 image of it."""
    pad = np.zeros((280, 280), np.uint8)
    pad[40:240, column:column + 20] = 255
    image28 = np.zeros((28, 28), np.uint8)
    image28[4:24, column // 10:column // 10 + 2] = 255
    return pad, image28


@pytest.fixture
def kept(store):  # noqa: F811 (the fixture imported above)
    """Alice keeps three drawings: two 1s and one not a digit."""
    drawings = open_drawings_store()
    for column, label in ((100, 1), (140, 1), (60, NOT_A_DIGIT)):
        drawings.keep(ALICE, *stroke(column), label, "seed-cnn", [0.1] * 10)
    return drawings


def shown_counts(at) -> dict[str, str]:
    return {metric.label: metric.value for metric in at.metric}


def test_a_visitor_sees_their_drawings_by_label_and_another_sees_none(kept):
    at = app(DRAWINGS, ALICE)
    counts = shown_counts(at)
    assert counts["1"] == "2" and counts["not a digit"] == "1" and counts["7"] == "0"
    assert [h.value for h in at.subheader] == ["1 · 2 drawings", "not a digit · 1 drawing"]
    assert len([button for button in at.button if button.label == "Delete"]) == 3

    bob = app(DRAWINGS, BOB)
    assert not bob.metric and not bob.subheader
    assert "no kept drawings yet" in bob.info[0].value


def test_relabel_and_delete_change_only_that_drawing(kept):
    at = app(DRAWINGS, ALICE)
    first = kept.drawings(ALICE)[0]
    at.selectbox(key=f"relabel_{first.id}").set_value(7).run()
    assert not at.exception
    assert {d.id: d.label for d in kept.drawings(ALICE)}[first.id] == 7
    assert shown_counts(at)["7"] == "1"

    at.button(key=f"delete_{first.id}").click().run()
    assert first.id not in {d.id for d in kept.drawings(ALICE)}
    assert sum(kept.counts(ALICE).values()) == 2


def test_sharing_and_delete_all(kept):
    at = app(DRAWINGS, ALICE)
    assert kept.is_shared(ALICE) is False
    at.toggle(key="drawings_shared").set_value(True).run()
    assert kept.is_shared(ALICE) is True
    assert len(kept.for_training(BOB, include_shared=True)) == 3

    at.button(key="drawings_delete_all").click().run()
    assert sum(kept.counts(ALICE).values()) == 0
    assert "no kept drawings yet" in at.info[0].value


def test_a_drawings_file_uploaded_is_kept_and_a_bad_one_refused(store):  # noqa: F811
    pads = [stroke(column)[0] for column in (80, 120, 160)]
    data = drawings_to_bytes(make_drawings(pads, [3, 5, NOT_A_DIGIT]))
    at = app(DRAWINGS, ALICE)
    at.file_uploader[0].upload("mine.npz", data, "application/octet-stream").run()
    assert not at.exception
    drawings = open_drawings_store()
    assert sorted(d.label for d in drawings.drawings(ALICE)) == [3, 5, NOT_A_DIGIT]
    assert all(np.array_equal(d.drawing, pad) for d, pad in
               zip(sorted(drawings.drawings(ALICE), key=lambda d: d.label), pads))
    assert shown_counts(at)["5"] == "1"

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("labels.npy", b"not an array")
    at.file_uploader[0].upload("odd.npz", buffer.getvalue(), "application/octet-stream").run()
    assert not at.exception
    assert sum(drawings.counts(ALICE).values()) == 3  # nothing more kept
    assert any("Not kept" in toast.value for toast in at.toast)


def test_a_drawing_kept_as_read_or_corrected_on_the_draw_page(store):  # noqa: F811
    from mnist_core.reading.preprocess import ink_from_image
    from tests.test_app import DRAW, pad_sends

    pad = np.zeros((280, 280), np.uint8)
    pad[40:240, 130:150] = 255  # a 1
    rgba = np.dstack([pad, pad, pad, np.full_like(pad, 255)])
    at = pad_sends(app(DRAW, ALICE), "draw_canvas_0", rgba, strokes=1)
    assert not at.exception
    drawings = open_drawings_store()
    assert sum(drawings.counts(ALICE).values()) == 0  # nothing is kept unasked
    named = at.metric[0].value
    right = [b for b in at.button if b.label.startswith("Right — keep it")]
    assert right and right[0].label == f"Right — keep it as {named}"
    right[0].click().run()
    (first,) = drawings.drawings(ALICE)
    assert first.label == int(named) and first.model == "seed-cnn"
    assert np.array_equal(first.drawing, np.round(ink_from_image(rgba) * 255))
    assert any(f"Kept as {named}" in s.value for s in at.success)

    pad[40:60, 100:180] = 255  # another drawing: a 7, say the visitor
    rgba = np.dstack([pad, pad, pad, np.full_like(pad, 255)])
    at = pad_sends(at, "draw_canvas_0", rgba, strokes=2)
    assert not at.success  # a new drawing: the choice is offered again
    assert "Read with your 1 kept drawing in mind (My drawings)." in [c.value for c in at.caption]
    bob = pad_sends(app(DRAW, BOB), "draw_canvas_0", rgba, strokes=2)
    assert not [c for c in bob.caption if "Read with your" in c.value]  # hers alone
    at.pills[0].set_value(7).run()
    assert [d.label for d in drawings.drawings(ALICE)] == [7, int(named)]
    assert sum(drawings.counts(BOB).values()) == 0


def test_a_digit_of_a_written_number_corrected_is_kept_with_its_part_of_the_pad(
        store, mnist_subset):  # noqa: F811
    import base64

    from mnist_core.reading.inference import read_number
    from mnist_core.reading.preprocess import ink_from_image
    from tests.drawing import enlarge_mnist
    from tests.test_app import DRAW, png

    _, (x_test, y_test) = mnist_subset
    wide = np.zeros((240, 720), np.uint8)
    for slot in range(3):  # three test digits, well apart
        wide[20:220, 40 + 220 * slot: 240 + 220 * slot] = enlarge_mnist(x_test[slot], 200)
    rgba = np.dstack([wide, wide, wide, np.full_like(wide, 255)])
    at = app(DRAW, ALICE)
    at.radio(key="draw_source").set_value("Write a number").run()
    at.session_state["number_canvas_1"] = {"drawing": {"raw": {"objects": []}, "data":
        "data:image/png;base64," + base64.b64encode(png(rgba)).decode()}, "backgroundFit": None}
    at.run()
    assert not at.exception
    picker = at.segmented_control(key="draw_number_digit")
    assert len(picker.options) == 3
    drawings = open_drawings_store()
    assert sum(drawings.counts(ALICE).values()) == 0  # nothing kept unasked
    picker.set_value(1).run()  # the second digit: it was a 7, says the visitor
    at.pills[0].set_value(7).run()
    assert not at.exception
    (first,) = drawings.drawings(ALICE)
    second = read_number(ui_model(at), rgba).digits[1]
    top, bottom, left, right = second.box
    assert first.label == 7
    assert first.drawing.shape == (min(bottom + 8, 240) - max(top - 8, 0),
                                   min(right + 8, 720) - max(left - 8, 0))
    part = np.round(ink_from_image(rgba[max(top - 8, 0): bottom + 8,
                                        max(left - 8, 0): right + 8]) * 255)
    assert np.array_equal(first.drawing, part)
    assert np.array_equal(first.image28, np.round(second.image * 255).astype(np.uint8))
    assert any("Kept as 7" in s.value for s in at.success)


def ui_model(at):
    """The model the Draw page read with, opened from the store."""
    from mnist_core.store import registry

    return registry.open_model(at.session_state["draw_model"])


def test_teach_it_my_drawings_on_the_train_page(store, mnist_subset):  # noqa: F811
    from tests.test_app import TRAIN, wait_until_ended

    (x_train, y_train), _ = mnist_subset
    drawings = open_drawings_store()
    at = app(TRAIN, ALICE)
    assert "Not yet" in " ".join(info.value for info in at.info)  # no drawings yet
    assert at.button(key="teach_start").disabled
    for digit in range(10):  # two of each digit, kept as the pad would keep them
        for i in np.flatnonzero(y_train == digit)[:2]:
            pad = np.kron(x_train[i], np.ones((10, 10), np.uint8))
            drawings.keep(ALICE, pad, x_train[i], digit, "seed-cnn", [0.1] * 10)
    at.run()
    assert not at.button(key="teach_start").disabled
    assert at.selectbox(key="teach_base").value == "seed-cnn"  # the store's one reader
    at.text_input(key="teach_name").set_value("seed-cnn-mine").run()
    at.button(key="teach_start").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]

    job = wait_until_ended("seed-cnn-mine")
    assert job.status == "finished", job.message
    assert job.kind == "teach" and job.drawings == 20
    at.run()
    tables = at.table
    assert tables, "the finished run shows the old and new model side by side"
    shown = tables[0].value
    assert list(shown.columns)[1:] == ["seed-cnn", "seed-cnn-mine"]
    assert "of" in shown.iloc[0, 1] and "%" in shown.iloc[1, 2]
    assert any("taught from seed-cnn" in c.value for c in at.caption)


def what_it_gained_of(card):
    """A script of its own for AppTest: the finished teach run's comparison."""
    from app_ui.teach_views import what_it_gained

    what_it_gained(card)


def test_a_taught_model_that_reads_the_held_out_drawings_worse_says_so(store):  # noqa: F811
    from streamlit.testing.v1 import AppTest

    from mnist_core.model.card import ModelCard

    def shown(base_right: int, taught_right: int) -> list[str]:
        card = ModelCard(name="mine", extra={"taught": {
            "base": "seed-cnn", "held_out": {"digits": 10, "cross_validated": True,
                                             "base_right": base_right,
                                             "taught_right": taught_right},
            "mnist_test": {"base": 0.99, "taught": 0.98}}})
        at = AppTest.from_function(what_it_gained_of, args=(card,)).run()
        assert not at.exception, [e.value for e in at.exception]
        return [w.value for w in at.warning]

    assert shown(8, 9) == []
    (said,) = shown(9, 7)
    assert said.startswith("mine read your held-out drawings worse than seed-cnn")
