"""The Streamlit pages, driven with `AppTest` against a temporary model store.

Every test copies the session's small store (`seed-cnn` trained on the committed
MNIST subset) into its own folder and points `MNIST_MODELS_DIR` there, with an empty
shipped folder and its own state folder (job queue), so the repository's `models/`
and `var/` are never read or changed. The drawing pad is fed through its session
state, the way the browser component reports a drawing. Training from the Train page
goes through the real queue: the page starts a local worker process, as it does for
a person.
"""

from __future__ import annotations

import base64
import errno
import hashlib
import json
import logging
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from mnist_core.errors import JobError
from mnist_core.jobs import worker
from mnist_core.jobs.queue import JobQueue
from mnist_core.jobs.records import FAILED, FINISHED, INDEX, STOPPED, Job, address_key
from mnist_core.reading.images import read_image
from mnist_core.reading.inference import read_digits, read_number, read_upload
from mnist_core.reading.photos import image_file, stretch_to_frame
from mnist_core.reading.preprocess import canvas_to_mnist, photo_to_mnist
from mnist_core.shared.owners import account_owner, new_owner_id
from mnist_core.store.registry import (
    list_models,
    load_model,
    model_exists,
    read_card,
    read_scores,
    scores_path,
)
from mnist_core.training.config import TrainConfig
from tests.bars import read_strips

from .conftest import SUBSET_DIR
from .drawing import enlarge_mnist

ROOT = Path(__file__).resolve().parent.parent
NAVIGATION = "navigation.py"  # the script `app.py` serves: every page runs inside it
DRAW, TRAIN, EVALUATE, MODELS = (
    f"app_ui/pages/{page}.py" for page in ("draw", "train", "evaluate", "models")
)
TIMEOUT = 90  # s: a slow first run of a page on a busy machine


ALICE, BOB = "o_alice-visitor-" + "0" * 18, "o_bob-visitor-" + "0" * 20  # as the app makes
JOB_TIMEOUT = 180  # s: a job's process imports TensorFlow first


@pytest.fixture
def store(subset_model_store, tmp_path, monkeypatch):
    """A private copy of the subset store, an empty shipped folder, a private state
    folder, and MNIST read from the committed subset. Workers the pages start are
    stopped at the end."""
    folder = tmp_path / "models"
    shutil.copytree(subset_model_store, folder)
    (tmp_path / "shipped").mkdir()
    monkeypatch.setenv("MNIST_MODELS_DIR", str(folder))
    monkeypatch.setenv("MNIST_SHIPPED_MODELS_DIR", str(tmp_path / "shipped"))
    monkeypatch.setenv("MNIST_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("MNIST_DATA_DIR", str(SUBSET_DIR))
    monkeypatch.delenv("MNIST_QUEUE_URL", raising=False)
    started = len(worker._started_workers)
    yield folder
    for process in worker._started_workers[started:]:
        process.terminate()
        process.wait(30)


@pytest.fixture(scope="module")
def model(subset_model_store):
    return load_model("seed-cnn", subset_model_store)


@pytest.fixture(scope="module")
def clear_digits(model, mnist_subset):
    """Indices of test digits the subset model reads right and surely, both polarities."""
    _, (x_test, y_test) = mnist_subset
    chosen = {}
    for i, (digit, label) in enumerate(zip(x_test, y_test)):
        if int(label) in chosen:
            continue
        sure = True
        for image in (enlarge_mnist(digit), 255 - enlarge_mnist(digit)):
            named = read_digits(model, photo_to_mnist(read_image(png(image)))).digits[0]
            sure = sure and named == label
        if sure:
            chosen[int(label)] = i
        if len(chosen) == 3:
            break
    assert len(chosen) == 3, "the subset model should read some digits surely"
    return list(chosen.values())


def wait_until_ended(name: str, timeout: float = JOB_TIMEOUT) -> Job:
    """The queue's job that saves `name`, once it has ended (not the index job queued
    for the model it saved)."""
    queue = JobQueue.from_env()
    deadline = time.monotonic() + timeout
    while True:
        found = [job for job in queue.view().jobs if job.name == name and job.kind != INDEX]
        if found and not found[-1].active:
            return found[-1]
        assert time.monotonic() < deadline, f"run {name!r} did not end in {timeout} s"
        time.sleep(0.3)


def copy_model(store: Path, name: str, folder: Path | None = None, card: dict | None = None
               ) -> None:
    """Store the subset's `seed-cnn` again as `name` (in `folder`, else the store): its
    `.keras` file, its ONNX graph, and a card holding `card` (none: nothing about it)
    and the graph's checksum, without which the app does not read with it."""
    folder = folder or store
    for suffix in (".keras", ".onnx"):
        shutil.copy(store / f"seed-cnn{suffix}", folder / f"{name}{suffix}")
    checksum = {"onnx_sha256": read_card("seed-cnn", store).onnx_sha256}
    (folder / f"{name}.json").write_text(json.dumps((card or {}) | checksum), "utf-8")


def png(image: np.ndarray) -> bytes:
    ok, data = cv2.imencode(".png", image)
    assert ok
    return data.tobytes()


def app(page: str, owner: str = ALICE) -> AppTest:
    """Run one page the way `streamlit run app.py` serves it (links between pages work),
    for visitor `owner`: AppTest sends no cookies, so the session holds the id, as the
    app keeps it once read from the browser's cookie."""
    at = AppTest.from_file(str(ROOT / NAVIGATION), default_timeout=TIMEOUT)
    at.session_state["owner_id"] = owner
    at.run()  # the first run registers the pages; later switches run through them
    if page != DRAW:
        at.switch_page(page).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def upload(at: AppTest, name: str, data: bytes, mime="image/png") -> AppTest:
    at.radio(key="draw_source").set_value("Upload a photo").run()
    at.file_uploader[0].upload(name, data, mime).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def strips(at: AppTest) -> list:
    """The strips of probability bars the page shows (tests/bars.py reads them)."""
    return [strip for html in at.get("html") for strip in read_strips(html.value)]


def bars(at: AppTest) -> list[float]:
    (strip,) = strips(at)
    return strip.probabilities


def texts(elements) -> str:
    return " ".join(str(e.value) for e in elements)


# Draw page -----------------------------------------------------------------------


def test_draw_page_starts_blank_with_a_prompt_and_the_default_model(store):
    at = app(DRAW)
    assert "Draw a digit" in texts(at.info)
    assert not at.metric and not strips(at)
    assert at.selectbox(key="draw_model").value == "seed-cnn"
    assert "seed-cnn" in texts(at.markdown) and "test accuracy" in texts(at.markdown)


@pytest.mark.parametrize("dark_on_light", [False, True])
def test_uploaded_mnist_digit_is_read_right(store, mnist_subset, model, clear_digits,
                                            dark_on_light):
    _, (x_test, y_test) = mnist_subset
    for i in clear_digits:
        image = enlarge_mnist(x_test[i])
        if dark_on_light:
            image = 255 - image
        at = upload(app(DRAW), f"digit{i}.png", png(image))
        expected = read_digits(model, photo_to_mnist(read_image(png(image)))).probabilities[0]
        assert [(m.label, m.value) for m in at.metric] == [("Prediction", str(y_test[i]))]
        assert "%" in at.metric[0].delta
        assert bars(at) == pytest.approx(expected.tolist(), abs=1e-5)
        assert len(bars(at)) == 10


# The web process, as AppTest runs it in a process of its own: every page, a digit
# uploaded and read, then what it imported. `python -m mnist_core predict` likewise.
WEB_PROCESS = """
import json, sys
from streamlit.testing.v1 import AppTest
import app_ui.charts, app_ui.ui
at = AppTest.from_file("navigation.py", default_timeout=90)
at.run()
at.radio(key="draw_source").set_value("Upload a photo").run()
with open(sys.argv[1], "rb") as f:
    at.file_uploader[0].upload("digit.png", f.read(), "image/png").run()
shown = [m.value for m in at.metric]
for page in ("app_ui/pages/evaluate.py", "app_ui/pages/models.py", "app_ui/pages/train.py"):
    at.switch_page(page).run()
    assert not at.exception, [e.value for e in at.exception]
print(json.dumps({"shown": shown,
                  "loaded": sorted(m for m in ("tensorflow", "keras") if m in sys.modules)}))
"""
NO_TENSORFLOW = (
    "import runpy, sys; sys.argv = ['mnist_core', *sys.argv[1:]]\n"
    "try:\n    runpy.run_module('mnist_core', run_name='__main__')\n"
    "except SystemExit:\n    pass\n"
    "loaded = sorted(m for m in ('tensorflow', 'keras') if m in sys.modules)\n"
    "print('loaded', loaded)"
)


def test_the_web_process_and_predict_import_no_tensorflow_or_keras(store, mnist_subset,
                                                                    clear_digits, tmp_path):
    """The pages read with ONNX Runtime: serving every page and reading an upload (and
    `predict` reading a file) leaves TensorFlow and Keras unimported."""
    _, (x_test, y_test) = mnist_subset
    digit = tmp_path / "digit.png"
    digit.write_bytes(png(enlarge_mnist(x_test[clear_digits[0]])))
    web = subprocess.run([sys.executable, "-c", WEB_PROCESS, str(digit)], cwd=ROOT,
                         capture_output=True, text=True, timeout=300)
    assert web.returncode == 0, web.stderr[-3000:]
    result = json.loads(web.stdout.strip().splitlines()[-1])
    assert result == {"shown": [str(y_test[clear_digits[0]])], "loaded": []}

    cli = subprocess.run([sys.executable, "-c", NO_TENSORFLOW, "predict", str(digit),
                          "--name", "seed-cnn"], cwd=ROOT, capture_output=True, text=True,
                         timeout=120)
    assert cli.returncode == 0, cli.stderr[-3000:]
    assert "prediction:" in cli.stdout and "loaded []" in cli.stdout


def test_a_phone_photo_in_a_shadow_is_read_right(store, mnist_subset, clear_digits):
    """Dark ink on dim paper, the light falling by half across it, sent as a JPEG: the
    page reads the digit, not the shadow."""
    _, (x_test, y_test) = mnist_subset
    for i in clear_digits:
        ink = enlarge_mnist(x_test[i]).astype(np.float32) / 255
        light = np.linspace(0.75, 0.35, ink.shape[1], dtype=np.float32)[np.newaxis, :]
        photo = np.round(255 * light * (1 - 0.7 * ink)).astype(np.uint8)
        ok, jpeg = cv2.imencode(".jpg", photo, [cv2.IMWRITE_JPEG_QUALITY, 70])
        at = upload(app(DRAW), f"photo{i}.jpg", jpeg.tobytes(), "image/jpeg")
        assert [(m.label, m.value) for m in at.metric] == [("Prediction", str(y_test[i]))]


def test_a_scan_stretched_to_fill_a_tiny_frame_is_read_squeezed_too(store, model, mnist_subset):
    """Semeion stored its digits stretched to fill 16x16 both ways: the page reads such a
    scan as `read_upload` does, squeezed sideways too, not as it stands."""
    _, (x_test, _) = mnist_subset
    checked = 0
    for digit in x_test[:60]:
        data = image_file(1 - (stretch_to_frame(digit / 255.0, 16) > 0.5))
        _, expected = read_upload(model, read_image(data))
        as_it_stands = read_digits(model, photo_to_mnist(read_image(data)))
        if np.allclose(expected.probabilities, as_it_stands.probabilities, atol=1e-3):
            continue  # the scan read as it stands was the surest
        at = upload(app(DRAW), "scan.png", data)
        assert bars(at) == pytest.approx(expected.probabilities[0].tolist(), abs=1e-5)
        checked += 1
        if checked == 2:
            break
    assert checked == 2


def test_drawing_on_the_pad_gives_a_prediction_and_clear_empties_it(store, model,
                                                                   mnist_subset, clear_digits):
    _, (x_test, y_test) = mnist_subset
    digit = enlarge_mnist(x_test[clear_digits[0]])
    rgba = np.dstack([digit, digit, digit, np.full_like(digit, 255)])  # ink baked on black
    data_url = "data:image/png;base64," + base64.b64encode(png(rgba)).decode()
    at = app(DRAW)
    at.session_state["draw_canvas_0"] = {
        "drawing": {"raw": {"objects": []}, "data": data_url}, "backgroundFit": None,
    }
    at.run()
    assert not at.exception
    expected = read_digits(model, canvas_to_mnist(rgba))
    assert at.metric[0].label == "Prediction"
    assert at.metric[0].value == str(expected.digits[0]) == str(y_test[clear_digits[0]])
    assert bars(at) == pytest.approx(expected.probabilities[0].tolist(), abs=1e-5)
    assert at.get("image"), "what the model sees is shown"
    assert at.session_state["draw_read_ms"] > 0
    assert "Read in" in texts(at.caption)

    at.button(key="draw_clear").click().run()
    assert not at.metric and "Draw a digit" in texts(at.info)
    assert "draw_read_ms" not in at.session_state


def test_a_number_written_on_the_wide_pad_is_read_digit_by_digit(store, model, mnist_subset,
                                                                 clear_digits):
    _, (x_test, y_test) = mnist_subset
    wide = np.zeros((240, 720), np.uint8)
    for slot, i in enumerate(clear_digits[:3]):  # three digits side by side, well apart
        wide[20:220, 40 + 220 * slot : 240 + 220 * slot] = enlarge_mnist(x_test[i], 200)
    rgba = np.dstack([wide, wide, wide, np.full_like(wide, 255)])
    data_url = "data:image/png;base64," + base64.b64encode(png(rgba)).decode()
    at = app(DRAW)
    at.radio(key="draw_source").set_value("Write a number").run()
    assert "Write a number" in texts(at.info) and not at.metric
    at.session_state["number_canvas_1"] = {
        "drawing": {"raw": {"objects": []}, "data": data_url}, "backgroundFit": None,
    }
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    expected = read_number(model, rgba)
    assert len(expected.digits) == 3
    assert [(m.label, m.value) for m in at.metric] == [("Number", expected.text)]
    # the small test model may be unsure of one, but its likeliest digits are right
    assert [int(d.probabilities.argmax()) for d in expected.digits] == [
        int(y_test[i]) for i in clear_digits[:3]
    ]
    assert ("?" in expected.text) == any("Not sure" in w.value for w in at.warning)
    bars_per_digit = [strip.probabilities for strip in strips(at)]
    np.testing.assert_allclose(bars_per_digit, [d.probabilities for d in expected.digits],
                               atol=1e-5)
    assert at.get("image"), "the preview with a box over each digit is shown"

    at.button(key="draw_clear").click().run()
    assert not at.metric and "Write a number" in texts(at.info)


def test_coming_back_to_upload_starts_with_an_empty_uploader(store):
    at = upload(app(DRAW), "bomb.png", b"not an image at all")
    assert "Cannot read bomb.png" in texts(at.error)
    assert [t.value for t in at.title] == ["Read a photo"]
    at.radio(key="draw_source").set_value("Draw a digit").run()
    assert [t.value for t in at.title] == ["Draw a digit"]
    at.radio(key="draw_source").set_value("Upload a photo").run()
    assert not at.error and "Upload a photo or scan of a single digit." in texts(at.info)
    assert not at.file_uploader[0].value


def test_blank_or_flat_upload_shows_no_prediction(store):
    at = upload(app(DRAW), "white.png", png(np.full((280, 280), 255, np.uint8)))
    assert not at.metric and not strips(at)
    assert "Nothing to read" in texts(at.info)


def test_corrupt_upload_is_an_error_message(store):
    at = upload(app(DRAW), "broken.png", b"\x89PNG\r\n\x1a\n this is not really a png")
    assert "Cannot read broken.png" in texts(at.error)
    assert not at.metric


def pad_sends(at: AppTest, key: str, image: np.ndarray, strokes: int) -> AppTest:
    """What the pad `key` sends after `strokes` strokes: its image and that many paths."""
    data_url = "data:image/png;base64," + base64.b64encode(png(image)).decode()
    objects = [{"type": "path"}] * strokes
    at.session_state[key] = {"drawing": {"raw": {"objects": objects}, "data": data_url},
                             "backgroundFit": None}
    return at.run()


def test_a_pad_wiped_with_its_trash_icon_says_what_a_new_pad_says(store):
    black = np.dstack([np.zeros((280, 280, 3), np.uint8), np.full((280, 280), 255, np.uint8)])
    at = app(DRAW)
    said = lambda: [str(info.value) for info in at.info]  # noqa: E731
    prompt = "Draw a digit in the black box to see what the model thinks it is."
    assert prompt in said()
    pad_sends(at, "draw_canvas_0", black, strokes=0)  # all strokes wiped: a black image
    assert not at.exception and not at.metric
    assert prompt in said() and not any("Nothing to read" in text for text in said())

    dot = black.copy()
    dot[138:142, 138:142, :3] = 255  # a tap of the pen
    pad_sends(at, "draw_canvas_0", dot, strokes=1)
    assert ("Nothing to read yet: the drawing is only a dot or a blot. Draw a digit."
            in said())

    at.radio(key="draw_source").set_value("Write a number").run()
    prompt = "Write a number, digit after digit, in the black box."
    assert prompt in said()
    pad_sends(at, "number_canvas_1", np.dstack([np.zeros((240, 720, 3), np.uint8),
                                                np.full((240, 720), 255, np.uint8)]), strokes=0)
    assert not at.exception and not at.metric
    assert prompt in said() and not any("Nothing to read" in text for text in said())


def test_a_file_of_any_type_replaces_the_one_before_and_one_not_an_image_is_named(
    store, mnist_subset, clear_digits
):
    _, (x_test, _) = mnist_subset
    at = upload(app(DRAW), "digit.png", png(255 - enlarge_mnist(x_test[clear_digits[0]])))
    assert at.metric and at.get("image")
    at.file_uploader[0].upload("notes.txt", b"seven", "text/plain").run()
    assert not at.exception
    assert texts(at.error) == ("Cannot read notes.txt: the file is not a readable image (PNG, "
                               "JPEG, BMP, WebP, GIF or TIFF).")
    assert not at.metric and not strips(at) and not at.get("image")
    assert "PNG, JPEG, BMP, WebP, GIF or TIFF" in at.file_uploader[0].label


def test_the_draw_page_has_the_browser_load_what_a_reading_shows_before_it_arrives(store):
    from app_ui import reading_views

    at = app(DRAW)
    (preload,) = [h for h in at.get("html") if reading_views.PRELOAD_MARK in h.value]
    assert all(module in preload.value for module in reading_views.element_modules())
    assert preload.proto.unsafe_allow_javascript


def test_unsure_reading_says_so_instead_of_naming_a_digit(store, model, mnist_subset):
    _, (x_test, _) = mnist_subset
    for digit in x_test:
        image = enlarge_mnist(digit)
        if read_digits(model, photo_to_mnist(read_image(png(image)))).digits[0] == -1:
            break
    else:
        raise AssertionError("the subset model names a digit for every test digit")
    at = upload(app(DRAW), "unclear.png", png(image))
    assert not at.metric
    assert "Not sure — maybe" in texts(at.warning)
    assert len(bars(at)) == 10


def test_a_reading_spread_over_many_digits_is_called_no_digit(store, mnist_subset):
    """A model whose belief is spread thin (here: its card's temperature flattens it)
    says the drawing is no digit, rather than naming two."""
    copy_model(store, "spread", card={"reading": {"temperature": 50.0, "min_probability": 0.9}})
    _, (x_test, _) = mnist_subset
    at = app(DRAW)
    at.selectbox(key="draw_model").set_value("spread").run()
    at = upload(at, "digit.png", png(enlarge_mnist(x_test[0])))
    assert not at.metric
    assert "doesn't look like a digit" in texts(at.warning)
    assert "Not sure" not in texts(at.warning)
    assert max(bars(at)) < 0.2 and len(bars(at)) == 10


def test_corrupt_model_files_are_reported_not_raised(store, mnist_subset, clear_digits):
    # the default name, broken: the server reads its ONNX graph, which is damaged
    (store / "cnn.keras").write_bytes(b"not a keras zip")
    (store / "cnn.onnx").write_bytes(b"not an onnx graph")
    (store / "cnn.json").write_text(json.dumps(
        {"onnx_sha256": hashlib.sha256(b"not an onnx graph").hexdigest()}), "utf-8")
    shutil.copy(store / "seed-cnn.keras", store / "badcard.keras")
    (store / "badcard.json").write_text("{ not json", encoding="utf-8")
    shutil.copy(store / "seed-cnn.keras", store / "old.keras")  # saved before ONNX export

    at = app(DRAW)
    assert at.selectbox(key="draw_model").value == "cnn"
    assert "'cnn' cannot be used" in texts(at.error)
    at.selectbox(key="draw_model").set_value("old").run()
    assert "has no ONNX file" in texts(at.error)
    assert "python -m mnist_core export old" in texts(at.error)
    assert "badcard (trained here, card unreadable)" in at.selectbox(key="draw_model").options
    at.selectbox(key="draw_model").set_value("seed-cnn").run()
    _, (x_test, y_test) = mnist_subset
    at = upload(at, "digit.png", png(enlarge_mnist(x_test[clear_digits[0]])))
    assert at.metric[0].value == str(y_test[clear_digits[0]])

    at = app(EVALUATE)
    table = at.dataframe[0].value.set_index("Model")
    assert dict(table["Status"]) == {
        "badcard": "broken", "cnn": "broken", "old": "broken", "seed-cnn": "ok"}
    assert table["Problem"]["cnn"].startswith("ONNX file")
    assert "python -m mnist_core export old" in table["Problem"]["old"]
    assert table["Problem"]["badcard"].startswith("model card")
    assert "'cnn' cannot be used" in texts(at.warning)
    assert at.selectbox(key="eval_model").value == "seed-cnn"

    at = app(MODELS)
    assert at.selectbox(key="models_name").value == "cnn"
    assert "cannot be used: ONNX file" in texts(at.warning)
    assert dict(at.dataframe[0].value.set_index("Model")["Status"])["cnn"] == "broken"


def test_choices_survive_a_visit_to_another_page(store):
    copy_model(store, "twin")
    at = app(DRAW)
    at.selectbox(key="draw_model").set_value("twin").run()
    at.slider(key="draw_stroke").set_value(30).run()
    at.switch_page(TRAIN).run()
    at.slider(key="train_epochs").set_value(3).run()
    at.switch_page(DRAW).run()
    assert not at.exception
    assert at.selectbox(key="draw_model").value == "twin"
    assert at.slider(key="draw_stroke").value == 30
    at.switch_page(TRAIN).run()
    assert at.slider(key="train_epochs").value == 3


def test_draw_page_without_models_points_to_training(tmp_path, monkeypatch):
    monkeypatch.setenv("MNIST_MODELS_DIR", str(tmp_path / "empty"))
    monkeypatch.setenv("MNIST_SHIPPED_MODELS_DIR", str(tmp_path / "empty"))
    at = app(DRAW)
    assert "no trained models" in texts(at.info)


# Train page ----------------------------------------------------------------------


def test_train_page_offers_the_settings(store):
    at = app(TRAIN)
    assert at.selectbox(key="train_arch").value == "fast-cnn"  # the one-minute default
    assert at.slider(key="train_epochs").value == 2
    assert "about 1 min" in texts(at.caption)
    assert "Epochs" in at.slider(key="train_epochs").label
    assert "Batch size" in at.select_slider(key="train_batch_size").label
    assert at.select_slider(key="train_batch_size").options == [
        str(2**k) for k in range(4, 11)
    ]
    at.selectbox(key="train_arch").set_value("mlp-16-16-relu").run()
    # the architecture's default, 20, is more than a run on every image may have here
    assert at.slider(key="train_epochs").value == at.slider(key="train_epochs").max == 18
    assert at.text_input(key="train_name").value == "my-mlp-16-16-relu"
    assert "You have no runs yet" in texts(at.info)
    assert "0 waiting" in texts(at.caption)
    assert at.toggle(key="train_non_digits").value is False
    # the person's own settings hold over later runs of the page, until another pick
    at.slider(key="train_epochs").set_value(1).run()
    at.run()
    at.run()
    assert at.slider(key="train_epochs").value == 1
    at.selectbox(key="train_arch").set_value("fast-cnn").run()
    assert at.slider(key="train_epochs").value == 2
    # runs belong to the browser (its cookie), not to the page's address
    assert "keep the address" not in texts(at.caption)
    assert "come back later in this browser: your runs belong to it" in texts(at.caption)


def test_the_epochs_slider_ends_where_the_size_limit_does_and_follows_the_settings(
    store, monkeypatch
):
    monkeypatch.setenv("MNIST_AUTOSTART_WORKER", "0")  # runs stay queued
    at = app(TRAIN)
    epochs = lambda: at.slider(key="train_epochs")  # noqa: E731
    # fast-cnn on every image: 54,000 an epoch, 1,000,000 images a run
    assert epochs().max == 18
    assert ("Up to 18 epochs here: a run may train on 1,000,000 images in all, and these "
            "settings give 54,000 an epoch.") in texts(at.caption)
    # the most it offers is what the queue takes
    epochs().set_value(18).run()
    at.button(key="train_start").click().run()
    assert "Queued 'my-fast-cnn'" in texts(at.toast) and not at.error
    with pytest.raises(JobError, match="limited to 1,000,000"):
        JobQueue.from_env().submit(TrainConfig("fast-cnn", epochs=19), "one-more", BOB)

    # more images an epoch: the end comes down, and so does a choice past it
    at.toggle(key="train_non_digits").set_value(True).run()
    assert not at.exception
    assert (epochs().max, epochs().value) == (15, 15)
    at.toggle(key="train_pen").set_value(True).run()  # 77,500 an epoch
    assert (epochs().max, epochs().value) == (12, 12)
    # fewer: the end goes up to the slider's own, and the limit goes unsaid
    at.toggle(key="train_pen").set_value(False)
    at.toggle(key="train_non_digits").set_value(False)
    at.select_slider(key="train_size").set_value(2000).run()  # 1,800 an epoch
    assert (epochs().max, epochs().value) == (50, 12)
    assert "Up to" not in texts(at.caption)
    epochs().set_value(40).run()
    at.select_slider(key="train_size").set_value(0).run()
    assert not at.exception
    assert (epochs().max, epochs().value) == (18, 18)
    at.switch_page(DRAW).run()
    at.switch_page(TRAIN).run()  # kept over a visit elsewhere
    assert (epochs().max, epochs().value) == (18, 18)


def test_where_not_two_epochs_fit_the_page_says_so_and_start_waits(store, monkeypatch):
    monkeypatch.setenv("MNIST_MAX_IMAGE_EPOCHS", "60000")
    at = app(TRAIN)
    assert "train_epochs" not in [slider.key for slider in at.slider]
    assert "**Epochs:** 1" in texts(at.markdown)
    assert "One epoch only here" in texts(at.caption)
    assert not at.button(key="train_start").disabled
    at.toggle(key="train_non_digits").set_value(True).run()  # 64,000 an epoch
    assert not at.exception
    assert "not even one epoch fits here" in texts(at.caption)
    assert at.button(key="train_start").disabled
    at.select_slider(key="train_size").set_value(5000).run()  # 14,500 an epoch
    assert at.slider(key="train_epochs").max == 4
    assert not at.button(key="train_start").disabled


def test_train_page_refuses_bad_taken_and_shipped_names(store):
    shutil.copy(store / "seed-cnn.keras", store.parent / "shipped" / "cnn.keras")
    at = app(TRAIN)
    at.text_input(key="train_name").input("../evil").run()
    assert "invalid model name" in texts(at.error)
    assert at.button(key="train_start").disabled
    at.text_input(key="train_name").input("cnn").run()
    assert "shipped model" in texts(at.error)
    assert at.button(key="train_start").disabled
    at.text_input(key="train_name").input("seed-cnn").run()  # trained by nobody here
    assert "someone else" in texts(at.error)
    assert at.button(key="train_start").disabled


def quick_settings(at: AppTest, name: str, epochs: int, batch_size: int = 64,
                   non_digits: bool = False) -> AppTest:
    at.selectbox(key="train_arch").set_value("mlp-16-16-relu").run()
    at.toggle(key="train_non_digits").set_value(non_digits)
    # first the images, then the epochs: the slider's end follows the images (as a
    # person sets them one at a time, never past the end shown)
    at.select_slider(key="train_size").set_value(500).run()
    at.slider(key="train_epochs").set_value(epochs)
    at.select_slider(key="train_batch_size").set_value(batch_size)
    at.text_input(key="train_name").input(name)
    return at.run()


def test_a_run_can_also_learn_from_the_pen_drawn_digits_in_other_hands(store):
    at = quick_settings(app(TRAIN), "pen", epochs=1)
    assert at.toggle(key="train_pen").value is False
    at.toggle(key="train_pen").set_value(True).run()
    at.button(key="train_start").click().run()
    assert "Queued 'pen'" in texts(at.toast)
    queue = JobQueue.from_env()
    (job,) = [j for j in queue.view().jobs if j.name == "pen"]
    assert job.config.pen_writers == tuple(range(1, 31))
    assert job.config.pen_styles and job.config.pen_renders == 2
    assert "pen-drawn digits of 30 writers" in texts(at.caption)
    queue.stop(job.id, ALICE)


def test_without_the_pen_drawn_digits_the_toggle_says_they_will_be_downloaded(
    store, tmp_path, monkeypatch
):
    from mnist_core.sources import pendigits_source

    monkeypatch.delenv("PENDIGITS_PATH", raising=False)
    monkeypatch.setattr(pendigits_source, "SHARED_COPY", tmp_path / "no-shared.tra")
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    toggle = app(TRAIN).toggle(key="train_pen")
    assert not toggle.disabled
    assert "downloads them once from UCI" in toggle.help and "PENDIGITS_PATH" in toggle.help
    assert str(tmp_path / "keras" / "datasets") in toggle.help


def test_training_from_the_page_saves_a_model_the_draw_page_offers(store):
    at = quick_settings(app(TRAIN), "quick", epochs=1, non_digits=True)
    at.button(key="train_start").click().run()
    assert not at.exception
    assert "Queued 'quick'" in texts(at.toast)
    assert at.text_input(key="train_name").value == "quick-2"  # a free name for the next run
    job = wait_until_ended("quick")
    assert job.status == FINISHED, job.message
    at.run()
    assert "Saved model 'quick'" in texts(at.success)
    assert "from Start to saved" in texts(at.success)
    assert len(at.get("plotly_chart")) == 2  # accuracy and loss curves
    card = read_card("quick", store)
    assert card.epochs_run == 1 and card.hyperparameters["batch_size"] == 64
    assert card.train_images == 450  # 500 images less the 10% validation split
    assert card.owner == ALICE
    assert card.hyperparameters["non_digits"] == 10_000
    assert "10,000 synthetic non-digits" in card.trained_on
    assert "quick (yours)" in app(DRAW).selectbox(key="draw_model").options

    # the same name again: the owner may replace their own model
    at.text_input(key="train_name").input("quick").run()
    assert "You already have a model named 'quick'" in texts(at.warning)
    assert at.button(key="train_start").disabled
    at.checkbox(key="train_overwrite_quick").check().run()
    assert not at.button(key="train_start").disabled


def test_the_run_list_and_the_next_name_follow_the_store(store):
    from mnist_core.store.saving import delete_model

    at = quick_settings(app(TRAIN), "quick", epochs=1)
    at.button(key="train_start").click().run()
    assert at.text_input(key="train_name").value == "quick-2"  # while 'quick' trains
    assert wait_until_ended("quick").status == FINISHED
    at.run()
    assert "Saved model 'quick'" in texts(at.success)
    assert at.text_input(key="train_name").value == "quick-2"

    delete_model("quick", owner=ALICE)
    at.run()
    assert "Saved model 'quick'" not in texts(at.success)  # no longer a model to try
    assert "has since been deleted, or replaced" in texts(at.info)
    assert not [link for link in at.get("page_link") if "Try" in link.proto.label]
    assert at.text_input(key="train_name").value == "quick"  # free again: offered again

    at.text_input(key="train_name").input("my-own").run()  # typed: left alone
    at.run()
    assert at.text_input(key="train_name").value == "my-own"


def test_an_index_job_is_listed_in_its_own_words_while_it_waits_or_if_it_fails(
    store, monkeypatch
):
    from app_ui.run_views import INDEX_LINE

    monkeypatch.setenv("MNIST_AUTOSTART_WORKER", "0")  # it stays queued
    copy_model(store, "mine", card={"owner": ALICE})
    queue = JobQueue.from_env()
    job = queue.submit_index("mine", ALICE)
    at = app(TRAIN)
    assert "mine" in texts(at.get("subheader")) and INDEX_LINE in texts(at.caption)
    assert "Queued" in texts(at.markdown) and f"train_stop_{job.id}" in {b.key for b in at.button}
    queue.store.update(job.id, {"status": FAILED, "ended": time.time(), "message": "no MNIST."})
    at.run()
    assert "Indexing failed: no MNIST." in texts(at.error)
    queue.store.update(job.id, {"status": FINISHED, "message": "Indexed."})
    at.run()
    assert not at.exception and "mine" not in texts(at.get("subheader"))


def test_each_visitor_sees_and_stops_only_their_own_runs(store):
    alice = quick_settings(app(TRAIN, ALICE), "alices", epochs=50, batch_size=16)
    bob = quick_settings(app(TRAIN, BOB), "bobs", epochs=1)
    alice.button(key="train_start").click().run()
    bob.button(key="train_start").click().run()  # never disabled by someone else's run
    assert "Queued 'bobs'" in texts(bob.toast)

    queue = JobQueue.from_env()
    alices, bobs = (next(j for j in queue.view().jobs if j.name == n) for n in ("alices", "bobs"))
    stops = lambda at: {b.key for b in at.button if b.key.startswith("train_stop_")}  # noqa: E731
    alice.run()
    bob.run()
    assert stops(alice) == {f"train_stop_{alices.id}"}
    assert stops(bob) == {f"train_stop_{bobs.id}"}
    assert "alices" not in texts(bob.get("subheader")) and "bobs" in texts(bob.get("subheader"))
    alice.button(key=f"train_stop_{alices.id}").click().run()
    assert wait_until_ended("alices").status == STOPPED
    assert wait_until_ended("bobs").status == FINISHED
    alice.run()
    assert not alice.exception and "Stopped" in texts(alice.warning)


def test_visitors_whose_address_is_unknown_count_against_one_shared_address(
    store, monkeypatch
):
    # Streamlit gives no address for a connection from this host (so AppTest's, or a
    # proxy's beside the server that sends no header): such runs count, all together
    monkeypatch.setenv("MNIST_MAX_RUNS_PER_ADDRESS", "1")
    monkeypatch.setenv("MNIST_AUTOSTART_WORKER", "0")  # runs stay queued
    alice = quick_settings(app(TRAIN, ALICE), "alices", epochs=1)
    alice.button(key="train_start").click().run()
    assert "Queued 'alices'" in texts(alice.toast)
    bob = quick_settings(app(TRAIN, BOB), "bobs", epochs=1)
    bob.button(key="train_start").click().run()
    assert "1 runs from your network address are already queued" in texts(bob.error)
    (record,) = JobQueue.from_env().store.all()
    assert record["address"] == address_key("unknown")


def test_without_mnist_start_is_off_and_says_why(store, tmp_path, monkeypatch):
    monkeypatch.setenv("MNIST_DATA_DIR", str(tmp_path / "nothing-here"))
    at = quick_settings(app(TRAIN), "nodata", epochs=1)
    assert "MNIST_DATA_DIR" in texts(at.warning)
    start = at.button(key="train_start")
    assert start.disabled and "MNIST" in start.help
    assert "Start is off until the server has MNIST" in texts(at.caption)
    assert not JobQueue.from_env().view().jobs


def test_a_run_that_cannot_find_mnist_fails_with_the_reason_and_saves_nothing(
    store, tmp_path, monkeypatch
):
    # a worker on a host without MNIST (this page's host has it)
    queue = JobQueue.from_env()
    config = TrainConfig(architecture="mlp-16-16-relu", epochs=1, train_size=500)
    queue.submit(config, "nodata", ALICE)
    monkeypatch.setenv("MNIST_DATA_DIR", "/nothing-here")
    worker.ensure_worker(queue)
    assert wait_until_ended("nodata").status == FAILED
    monkeypatch.setenv("MNIST_DATA_DIR", str(SUBSET_DIR))
    at = app(TRAIN)
    assert "Training failed" in texts(at.error) and "/nothing-here" in texts(at.error)
    assert [info.name for info in list_models(store)] == ["seed-cnn"]


def test_train_page_says_once_that_damaged_run_records_were_set_aside(store, tmp_path):
    at = app(TRAIN)  # the server has the queue open
    assert "set them aside" not in texts(at.warning)
    state = tmp_path / "state"
    with sqlite3.connect(state / "jobs.db") as db:  # every write in the main file
        db.execute("pragma wal_checkpoint(truncate)")
    (state / "jobs.db").write_bytes(os.urandom((state / "jobs.db").stat().st_size))
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert "found its training records damaged and set them aside" in texts(at.warning)
    assert len(list(state.glob("jobs.db.damaged-*Z"))) == 1
    at.run()
    assert "set them aside" not in texts(at.warning)  # said once
    at = quick_settings(at, "fresh", epochs=1)
    at.button(key="train_start").click().run()
    assert "Queued 'fresh'" in texts(at.toast)


def test_the_train_page_and_the_server_log_say_when_the_queues_redis_would_lose_runs(
    store, tmp_path, monkeypatch, redis_url, caplog
):
    import redis

    monkeypatch.setenv("MNIST_QUEUE_URL", redis_url)  # snapshots only, Redis's default
    with caplog.at_level(logging.WARNING, logger="mnist_core.shared.state"):
        at = app(TRAIN)
    said = "For whoever runs this server: the Redis at"
    assert said in texts(at.warning) and "does not run append-only" in texts(at.warning)
    assert "does not run append-only" in caplog.text  # the server's log
    assert "Queue (Redis)" in texts(at.caption)
    admin = redis.Redis.from_url(redis_url)
    admin.config_set("appendonly", "yes")
    try:
        monkeypatch.setenv("MNIST_STATE_DIR", str(tmp_path / "other"))  # another server
        at = app(TRAIN)
        assert "append-only" not in texts(at.warning) + texts(at.caption)
    finally:  # as the fixture started it, which then stops at once
        admin.config_set("appendonly", "no")


def test_without_a_writable_state_folder_training_is_unavailable_and_the_rest_works(
    store, tmp_path, monkeypatch
):
    blocked = tmp_path / "blocked"
    blocked.write_text("a file where the state folder should be")
    monkeypatch.setenv("MNIST_STATE_DIR", str(blocked / "state"))
    at = app(TRAIN)  # no exception
    shown = texts(at.error)
    assert "Training is unavailable: the server's state folder cannot be written" in shown
    assert str(tmp_path) not in shown
    for page in (DRAW, EVALUATE, MODELS):
        app(page)  # each runs without an exception


# Evaluate page -------------------------------------------------------------------


def test_evaluate_page_shows_curves_table_confusion_and_mistakes(store):
    copy_model(store, "twin", card=read_card("seed-cnn", store).to_json())
    at = app(EVALUATE)
    assert at.multiselect(key="eval_models").value == ["seed-cnn", "twin"]
    charts = {chart.key for chart in at.get("plotly_chart")}
    assert charts == {
        "eval_curve_accuracy", "eval_curve_loss", "eval_confusion", "eval_reliability"
    }
    reliability = json.loads(at.get("plotly_chart")[3].proto.spec)["data"]
    assert [trace["name"] for trace in reliability] == [
        "perfectly calibrated", "as trained", "calibrated (what the bars show)"
    ]
    assert "Calibration error (ECE), as shown" in [m.label for m in at.metric]
    # one split at a time, validation first: a line per model
    curves = json.loads(at.get("plotly_chart")[0].proto.spec)["data"]
    assert sorted((c["name"], c["meta"]) for c in curves if "meta" in c) == [
        ("seed-cnn", "validation"), ("twin", "validation")]
    at.segmented_control(key="eval_split").set_value("train").run()
    curves = json.loads(at.get("plotly_chart")[0].proto.spec)["data"]
    assert {c["meta"] for c in curves if "meta" in c} == {"train"}
    table = at.dataframe[0].value
    assert list(table["Model"]) == ["seed-cnn", "twin"]
    accuracy = read_card("seed-cnn", store).test_accuracy
    assert table["Test acc. %"].iloc[0] == pytest.approx(100 * accuracy, abs=0.01)
    assert "Status" not in table  # no model is broken
    assert at.dataframe[0].proto.placeholder == "—"  # a missing value is a dash, not "None"
    assert "Test accuracy" in [m.label for m in at.metric]
    assert len(at.dataframe[1].value) == 10  # precision and recall per digit
    assert at.get("image"), "the misclassified digits of the top confusion are shown"

    at.toggle(key="eval_normalise").set_value(True).run()
    (heatmap,) = json.loads(at.get("plotly_chart")[2].proto.spec)["data"]
    assert sum(heatmap["z"][0]) == pytest.approx(1.0)
    at.selectbox(key="eval_true").set_value(3)
    at.selectbox(key="eval_pred").set_value(3).run()
    assert not at.exception and "Choose two different digits" in texts(at.info)


def test_evaluate_page_draws_each_run_of_an_ensemble(store):
    card = read_card("seed-cnn", store)
    runs = [{"name": f"run-{seed}", "init_seed": seed, "history": card.history.to_json()}
            for seed in (1, 2)]
    ensemble = {k: v for k, v in card.to_json().items() if k != "history"}
    copy_model(store, "pair", card=ensemble | {
        "architecture": "ensemble", "members": runs, "test_accuracy": 0.999})
    at = app(EVALUATE)
    picker = at.multiselect(key="eval_models")
    assert picker.options == ["pair · run 1", "pair · run 2", "seed-cnn"]
    assert picker.value == ["pair · run 1", "pair · run 2", "seed-cnn"]
    curves = json.loads(at.get("plotly_chart")[0].proto.spec)["data"]
    assert {c["name"] for c in curves if "meta" in c} == set(picker.value)
    assert "ensemble" in list(at.dataframe[0].value["Architecture"])


def test_evaluate_leaves_out_training_losses_that_count_non_digits(store):
    card = read_card("seed-cnn", store).to_json()
    copy_model(store, "with-non-digits", card=card | {
        "hyperparameters": card["hyperparameters"] | {"non_digits": 500}})
    at = app(EVALUATE)
    at.segmented_control(key="eval_split").set_value("train").run()
    accuracy, loss = (json.loads(chart.proto.spec)["data"] for chart in
                      at.get("plotly_chart")[:2])
    assert {c["name"] for c in accuracy if "meta" in c} == {"seed-cnn", "with-non-digits"}
    assert {c["name"] for c in loss if "meta" in c} == {"seed-cnn"}
    assert "Training loss not drawn for with-non-digits" in texts(at.caption)
    at.segmented_control(key="eval_split").set_value("validation").run()
    loss = json.loads(at.get("plotly_chart")[1].proto.spec)["data"]
    assert {c["name"] for c in loss if "meta" in c} == {"seed-cnn", "with-non-digits"}


def test_an_ensemble_without_a_training_accuracy_gets_a_dash_not_none(store):
    card = read_card("seed-cnn", store).to_json()
    copy_model(store, "pair", card={k: v for k, v in card.items() if k != "history"} | {
        "architecture": "ensemble", "train_accuracy": None,
        "members": [{"name": "a", "history": card["history"]}]})
    (table, *_) = app(EVALUATE).dataframe
    assert table.proto.placeholder == "—"
    values = table.value.set_index("Model")["Train acc. %"]
    assert np.isnan(values["pair"]) and values["seed-cnn"] > 0


def test_evaluate_page_reads_stored_test_results_without_mnist(store, tmp_path, monkeypatch):
    monkeypatch.setenv("MNIST_DATA_DIR", str(tmp_path / "nothing-here"))
    at = app(EVALUATE)
    assert not at.exception
    assert len(at.get("plotly_chart")) == 4  # curves, confusion matrix, reliability
    assert at.get("image"), "the misread digits come with the stored results"
    stored = read_scores("seed-cnn", store).evaluation()
    assert at.metric[1].value == f"{len(stored.misclassified):,} of 500"


def test_evaluate_page_without_stored_results_or_mnist_compares_the_cards(
        store, tmp_path, monkeypatch):
    scores_path("seed-cnn", store).unlink()
    monkeypatch.setenv("MNIST_DATA_DIR", str(tmp_path / "nothing-here"))
    at = app(EVALUATE)
    assert len(at.get("plotly_chart")) == 2
    assert len(at.dataframe) == 1
    assert "stored without its results" in texts(at.info)
    assert "MNIST_DATA_DIR" in texts(at.info)


def test_a_model_stored_without_test_results_gets_them_once(store):
    scores_path("seed-cnn", store).unlink()
    at = app(EVALUATE)
    assert not at.exception and len(at.get("plotly_chart")) == 4
    made = read_scores("seed-cnn", store)
    assert made is not None, "the results are kept for the next visitor"
    assert at.metric[0].value == f"{made.evaluation().accuracy:.2%}"


# Models page ---------------------------------------------------------------------


def test_models_page_shows_card_and_download(store):
    at = app(MODELS)
    assert at.selectbox(key="models_name").value == "seed-cnn"
    assert at.get("json")
    # labels short enough for their column whatever the name; the files carry the name
    buttons = at.get("download_button")
    assert [button.proto.label for button in buttons] == [
        "Keras model (.keras)", "ONNX graph (.onnx)", "Model card (.json)"]
    # the table shows its few columns whole; Status only when a model is broken
    assert list(at.dataframe[0].value.columns) == [
        "Model", "Test acc. %", "Source", "Params", "Size (MB)", "Created"]
    assert "someone else" in texts(at.info)  # seed-cnn has no owner here
    assert not [b for b in at.button if b.key == "models_delete"]


def test_a_model_quantized_while_the_app_runs_is_read_through_its_int8_graph(store):
    from app_ui import ui
    from mnist_core.sources.data import load_mnist
    from mnist_core.training.quantize import quantize_model

    assert ui.load_model("seed-cnn").network.path.name == "seed-cnn.onnx"
    quantize_model("seed-cnn", data=load_mnist(SUBSET_DIR), directory=store)
    assert ui.load_model("seed-cnn").network.path.name == "seed-cnn.int8.onnx"  # no restart
    at = app(MODELS)
    assert "int8 ONNX graph (.int8.onnx)" in [
        button.proto.label for button in at.get("download_button")]
    assert any("Read through:** its int8 graph" in md.value for md in at.markdown)
    assert not any("twice as fast" in md.value for md in at.markdown)


def test_a_delete_the_store_refuses_is_told_without_server_paths(store, monkeypatch):
    shutil.copy(store / "seed-cnn.keras", store / "alices.keras")
    (store / "alices.json").write_text(json.dumps({"owner": ALICE}), encoding="utf-8")

    def refused(name, directory=None, *, owner=None):
        raise PermissionError(errno.EROFS, "Read-only file system", str(store / "alices.keras"))

    monkeypatch.setattr("mnist_core.store.saving.delete_model", refused)
    at = app(MODELS, ALICE)
    at.selectbox(key="models_name").set_value("alices").run()
    at.checkbox(key="models_confirm_alices").check().run()
    at.button(key="models_delete").click().run()
    assert not at.exception
    shown = texts(at.error)
    assert "Could not delete 'alices': the model store cannot be written." in shown
    assert str(store) not in shown and "Errno" not in shown


def test_shipped_models_cannot_be_deleted_and_owners_delete_their_own(store):
    copy_model(store, "cnn", store.parent / "shipped")
    for name, owner in (("alices", ALICE), ("bobs", BOB)):
        copy_model(store, name, card={"owner": owner})

    at = app(MODELS, ALICE)
    assert at.selectbox(key="models_name").value == "cnn"
    assert "ships with the app and cannot be deleted" in texts(at.info)
    assert not [b for b in at.button if b.key == "models_delete"]
    table = at.dataframe[0].value.set_index("Model")
    assert dict(table["Source"]) == {
        "alices": "yours", "bobs": "trained here", "cnn": "shipped", "seed-cnn": "trained here"
    }
    at.selectbox(key="models_name").set_value("bobs").run()
    assert "someone else" in texts(at.info)
    assert not [b for b in at.button if b.key == "models_delete"]

    at.selectbox(key="models_name").set_value("alices").run()
    assert at.button(key="models_delete").disabled
    at.checkbox(key="models_confirm_alices").check().run()
    at.button(key="models_delete").click().run()
    assert not at.exception
    assert "Deleted model 'alices'" in texts(at.success)
    assert not model_exists("alices", store) and model_exists("bobs", store)
    assert not (store / "alices.onnx").exists() and not (store / "alices.json").exists()
    assert (store.parent / "shipped" / "cnn.keras").is_file()
    assert at.selectbox(key="models_name").options == ["bobs", "cnn", "seed-cnn"]


def own_model(store: Path, name: str, owner: str) -> None:
    shutil.copy(store / "seed-cnn.keras", store / f"{name}.keras")
    (store / f"{name}.json").write_text(json.dumps({"owner": owner}), encoding="utf-8")


def test_an_owner_in_an_old_address_is_dropped_from_it_and_not_trusted(store):
    own_model(store, "alices", ALICE)
    at = AppTest.from_file(str(ROOT / NAVIGATION), default_timeout=TIMEOUT)
    at.query_params["owner"] = ALICE  # a link shared before owners moved to a cookie
    at.run()
    at.switch_page(MODELS).run()
    assert not at.exception
    assert "owner" not in at.query_params
    assert at.session_state["owner_id"] not in (ALICE, None)
    at.selectbox(key="models_name").set_value("alices").run()
    assert "someone else" in texts(at.info)
    assert not [b for b in at.button if b.key == "models_delete"]
    # AppTest sends no cookie: the page says the runs last only as long as the tab
    assert "only while this tab is open" in texts(at.sidebar.info)


def test_a_personal_code_moves_an_identity_and_a_wrong_one_is_refused(store):
    own_model(store, "alices", ALICE)
    alice = app(MODELS, ALICE)
    (code,) = [c.value for c in alice.code]
    elsewhere = app(MODELS, BOB)
    assert [c.value for c in elsewhere.code] != [code]  # each identity has its own code

    elsewhere.text_input(key="identity_code").input("0000-0000-0000-0000")
    elsewhere.button(key="identity_claim").click().run()
    assert "That code was refused: no identity has the code" in texts(elsewhere.error)
    assert elsewhere.session_state["owner_id"] == BOB

    elsewhere.text_input(key="identity_code").input(code.lower())
    elsewhere.button(key="identity_claim").click().run()
    assert not elsewhere.exception
    assert "now has the runs and models of that identity" in texts(elsewhere.success)
    assert elsewhere.session_state["owner_id"] == ALICE
    assert [c.value for c in elsewhere.code] == [code]
    elsewhere.selectbox(key="models_name").set_value("alices").run()
    assert [b for b in elsewhere.button if b.key == "models_delete"]

    alice.button(key="identity_renew").click().run()
    assert "the old one no longer works" in texts(alice.success)
    (renewed,) = [c.value for c in alice.code]
    assert renewed != code
    third = app(MODELS, new_owner_id())
    third.text_input(key="identity_code").input(code)
    third.button(key="identity_claim").click().run()
    assert "That code was refused" in texts(third.error)
    assert third.session_state["owner_id"] != ALICE


def test_where_the_deployment_has_sign_in_the_owner_is_the_signed_in_account(store):
    at = AppTest.from_file(str(ROOT / NAVIGATION), default_timeout=TIMEOUT)
    at.secrets["auth"] = {"cookie_secret": "s3cret"}
    at.user = {"is_logged_in": True, "iss": "https://accounts.example", "sub": "alice-1",
               "email": "alice@school.example"}
    at.run()
    at.switch_page(MODELS).run()
    assert not at.exception
    alice = account_owner("https://accounts.example", "alice-1", "s3cret")
    assert at.session_state["owner_id"] == alice
    assert "Signed in as alice@school.example" in texts(at.sidebar.caption)
    assert not at.sidebar.info  # no note about cookies: the account carries the identity
    assert not at.code and not [b for b in at.button if b.key.startswith("identity_")]


def test_try_it_opens_the_draw_page_on_that_model_and_the_list_marks_default_and_yours(store):
    own_model(store, "alices", ALICE)
    own_model(store, "bobs", BOB)
    at = AppTest.from_file(str(ROOT / NAVIGATION), default_timeout=TIMEOUT)
    at.session_state["owner_id"] = ALICE
    at.query_params["model"] = "alices"  # the Train page's "Try alices on the Draw page"
    at.run()
    picker = at.selectbox(key="draw_model")
    assert picker.value == "alices"
    assert "model" not in at.query_params  # taken once; the visitor's later pick holds
    # seed-cnn: this store ships nothing, so it counts as trained here
    assert picker.options == [
        "seed-cnn (default, trained here)", "alices (yours)", "bobs (trained here)"]
    picker.set_value("seed-cnn").run()
    assert at.selectbox(key="draw_model").value == "seed-cnn"
