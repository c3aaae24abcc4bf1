"""The web set (`requirements-web.txt`) against the full install (`requirements.txt`).

A web replica installs only the web set; `.ci/run` checks every page with exactly that
installed (`tests/check_web_install.py`). Here, in the full install: the pins live in one
place, that check itself works, and a server without TensorFlow queues runs for a
worker elsewhere instead of starting one that would fail them.
"""

from __future__ import annotations

import re
import subprocess
import sys

import pytest
from streamlit.testing.v1 import AppTest

from mnist_core.errors import DatasetError
from mnist_core.jobs import worker
from mnist_core.jobs.queue import JobQueue
from mnist_core.jobs.records import QUEUED
from mnist_core.sources import data
from tests.conftest import ROOT, SUBSET_DIR

ONLY_FULL = {"tensorflow", "keras", "tf2onnx", "onnx", "pytest", "ruff", "playwright"}
PIN = re.compile(r"^([A-Za-z0-9_.-]+)(\[[a-z,]+\])?==[0-9][0-9A-Za-z.]*$")


def pins(path) -> tuple[dict[str, str], list[str]]:
    """A requirements file's pinned packages (name: line) and its `-r` includes."""
    found, included = {}, []
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.split("#")[0].strip()
        if not line:
            continue
        if line.startswith("-r "):
            included.append(line[3:].strip())
            continue
        match = PIN.match(line)
        assert match, f"{path.name}: {line!r} is not pinned as name==version"
        found[match.group(1).lower()] = line
    return found, included


def test_the_full_install_is_the_web_set_and_the_rest_each_pinned_once():
    web, web_includes = pins(ROOT / "requirements-web.txt")
    full, full_includes = pins(ROOT / "requirements.txt")
    assert web_includes == [] and full_includes == ["requirements-web.txt"]
    assert not ONLY_FULL & set(web), "the web set must not need the full install"
    assert set(full) >= ONLY_FULL
    assert not set(web) & set(full), "a package pinned in both files"
    assert set(web) >= {"streamlit", "onnxruntime", "huey"}


@pytest.fixture
def light_server(tmp_path, monkeypatch):
    """A server on a SQLite queue that, like one with only the web set, cannot train."""
    monkeypatch.setenv("MNIST_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("MNIST_MODELS_DIR", str(tmp_path / "models"))
    monkeypatch.setenv("MNIST_DATA_DIR", str(SUBSET_DIR))
    monkeypatch.delenv("MNIST_QUEUE_URL", raising=False)
    monkeypatch.delenv("MNIST_AUTOSTART_WORKER", raising=False)
    monkeypatch.setattr(worker, "trains_here", lambda: False)
    started = len(worker._started_workers)
    yield
    for process in worker._started_workers[started:]:
        process.terminate()
        process.wait(30)


def test_a_server_without_tensorflow_queues_runs_and_starts_no_worker(light_server):
    queue = JobQueue.from_env()
    assert not worker.wants_local_worker(queue)
    before = len(worker._started_workers)
    at = AppTest.from_file(str(ROOT / "navigation.py"), default_timeout=90)
    at.session_state["owner_id"] = owner = "o_light-server-" + "0" * 19
    at.run()
    at.switch_page("app_ui/pages/train.py").run()
    at.selectbox(key="train_arch").set_value("mlp-16-16-relu").run()
    at.slider(key="train_epochs").set_value(1)
    at.select_slider(key="train_size").set_value(500)
    at.text_input(key="train_name").input("waits").run()
    at.button(key="train_start").click().run()
    assert not at.exception, [e.value for e in at.exception]
    (job,) = [job for job in queue.view().jobs if job.name == "waits"]
    assert job.status == QUEUED and len(worker._started_workers) == before
    note = " ".join(str(info.value) for info in at.info)
    assert "web install only" in note and "python -m mnist_core worker" in note
    queue.stop(job.id, owner)


def test_without_keras_missing_mnist_is_a_dataset_error_not_an_import_error(
    tmp_path, monkeypatch
):
    """The web set has no Keras to download MNIST with: the Evaluate page must be told
    MNIST is missing (a `DatasetError` it explains), not crash on the import."""
    monkeypatch.delenv("MNIST_DATA_DIR", raising=False)
    monkeypatch.setattr(data, "KERAS_CACHE", tmp_path)
    monkeypatch.setitem(sys.modules, "keras", None)  # `import keras` fails as uninstalled
    with pytest.raises(DatasetError, match="MNIST_DATA_DIR"):
        data.load_mnist()


def test_the_web_install_check_passes_here_but_for_what_is_installed():
    """`tests/check_web_install.py` in the full install, where TensorFlow and the test
    tools are installed but must still not be imported by the pages."""
    done = subprocess.run([sys.executable, "tests/check_web_install.py", "--full-install-ok"],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, (done.stdout + done.stderr)[-3000:]
    assert "web install: OK" in done.stdout
    refused = subprocess.run([sys.executable, "tests/check_web_install.py"], cwd=ROOT,
                             capture_output=True, text=True, timeout=120)
    assert refused.returncode == 1
    assert "web install: FAILED: installed, but not of the web set" in refused.stdout
