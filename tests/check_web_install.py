"""Check a web replica's light install: every page runs with only the web set installed.

    python3 -m venv .venv-web && .venv-web/bin/pip install -r requirements-web.txt
    .venv-web/bin/python tests/check_web_install.py

`.ci/run` runs it after the test suite. With the shipped models, the committed MNIST
subset and a throwaway state folder, it checks that none of the training or test
packages is installed (TensorFlow, Keras, tf2onnx, onnx, pytest, ruff, Playwright),
runs `streamlit run app.py` until it answers, then each page of `navigation.py` through
`AppTest`: a drawing and an upload read on the Draw page, Evaluate, Models, and a run
queued on the Train page, for which this server starts no worker (it could not train).
Then none of the training packages may have been imported. It prints the install's size
and one result line, and exits 1 on any failure. Not a pytest file: the web set has no
pytest (`tests/test_web_install.py` runs it with `--full-install-ok` in the full install).
"""

from __future__ import annotations

import argparse
import base64
import importlib.util
import os
import socket
import subprocess
import sys
import tempfile
import time
import traceback
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run as a script: import the app's packages from the checkout

SUBSET_DIR = ROOT / "tests" / "data" / "mnist-subset"
TRAINING = ["tensorflow", "keras", "tf2onnx", "onnx"]  # onnxruntime is the web set's
TOOLING = ["pytest", "ruff", "playwright"]
MAX_BYTES = 1_000_000_000  # a web replica's install: at most 1 GB on disk
TIMEOUT = 120  # s for one page's run on a busy machine
OWNER = "o_web-install-check-" + "0" * 14


class CheckFailed(Exception):
    pass


def check(condition, message: str) -> None:
    if not condition:
        raise CheckFailed(message)


def install_size() -> int:
    """Bytes this Python's environment takes on disk (`du`)."""
    done = subprocess.run(["du", "-sk", sys.prefix], capture_output=True, text=True,
                          check=True)
    return int(done.stdout.split()[0]) * 1024


def serve_app(env: dict, log_path: Path) -> None:
    """`streamlit run app.py` answers its health check and serves the page with the
    owner cookie; its log has no traceback (the warm start's included)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with open(log_path, "wb") as log:
        server = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true",
             "--server.port", str(port), "--server.address", "127.0.0.1",
             "--browser.gatherUsageStats", "false"],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + TIMEOUT
            while not answers(f"http://127.0.0.1:{port}/_stcore/health"):
                check(server.poll() is None, f"streamlit run app.py exited ({server.returncode})")
                check(time.monotonic() < deadline, f"the server did not answer in {TIMEOUT} s")
                time.sleep(0.5)
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10) as response:
                cookie = response.headers.get("Set-Cookie") or ""
            check("mnist_owner=" in cookie, "the app's page came without the owner cookie")
            time.sleep(3)  # the warm start opens the default model on a thread meanwhile
        finally:
            server.terminate()
            server.wait(30)
    output = log_path.read_text(errors="replace")
    check("Traceback" not in output and "warm start failed" not in output,
          f"the server logged an error:\n{output[-3000:]}")


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


def png_data_url(image) -> str:
    import cv2
    import numpy as np

    rgba = np.dstack([image, image, image, np.full_like(image, 255)])  # ink on black
    ok, data = cv2.imencode(".png", rgba)
    check(ok, "PNG encoding failed")
    return "data:image/png;base64," + base64.b64encode(data.tobytes()).decode()


def run_pages() -> list[str]:
    """Every page of `navigation.py` through AppTest; what each showed, in words."""
    import cv2
    from streamlit.testing.v1 import AppTest

    from mnist_core.jobs import worker
    from mnist_core.jobs.queue import JobQueue
    from mnist_core.sources.data import load_mnist
    from tests.drawing import enlarge_mnist

    def ran(at: AppTest, page: str) -> AppTest:
        check(not at.exception, f"{page}: {[e.value for e in at.exception]}")
        return at

    _, (x_test, y_test) = load_mnist(SUBSET_DIR)
    digit = enlarge_mnist(x_test[0])  # white on black, as the pad draws
    done = []

    at = AppTest.from_file(str(ROOT / "navigation.py"), default_timeout=TIMEOUT)
    at.session_state["owner_id"] = OWNER  # AppTest sends no cookie
    ran(at.run(), "Draw")
    at.session_state["draw_canvas_0"] = {
        "drawing": {"raw": {"objects": []}, "data": png_data_url(digit)},
        "backgroundFit": None,
    }
    ran(at.run(), "Draw (a drawing)")
    shown = [(m.label, m.value) for m in at.metric]
    check(shown == [("Prediction", str(y_test[0]))],
          f"Draw: a drawn {y_test[0]} showed {shown}")
    done.append(f"Draw read a drawn {y_test[0]}")

    at.radio(key="draw_source").set_value("Upload a photo").run()
    ok, data = cv2.imencode(".png", 255 - digit)  # dark ink on light paper
    at.file_uploader[0].upload("digit.png", data.tobytes(), "image/png").run()
    ran(at, "Draw (an upload)")
    shown = [(m.label, m.value) for m in at.metric]
    check(shown == [("Prediction", str(y_test[0]))],
          f"Draw: an uploaded {y_test[0]} showed {shown}")
    done[-1] += f" and an uploaded {y_test[0]}"

    ran(at.switch_page("app_ui/pages/evaluate.py").run(), "Evaluate")
    check(at.selectbox(key="eval_model").value, "Evaluate: no model to pick")
    done.append(f"Evaluate showed {at.selectbox(key='eval_model').value}")

    ran(at.switch_page("app_ui/pages/models.py").run(), "Models")
    done.append(f"Models listed {len(at.selectbox(key='models_name').options)} models")

    ran(at.switch_page("app_ui/pages/train.py").run(), "Train")
    at.selectbox(key="train_arch").set_value("mlp-16-16-relu").run()
    at.slider(key="train_epochs").set_value(1)
    at.select_slider(key="train_size").set_value(500)
    at.text_input(key="train_name").input("web-install-check")
    at.run()
    at.button(key="train_start").click().run()
    ran(at, "Train (Start training)")
    queue = JobQueue.from_env()
    queued = [job for job in queue.view().jobs if job.name == "web-install-check"]
    check(len(queued) == 1, f"Train: the run was not queued ({[t.value for t in at.toast]})")
    done.append("Train queued a run")
    if not worker.trains_here():
        check(not worker._started_workers,
              "Train: the server started a worker, which cannot train without TensorFlow")
        infos = " ".join(str(i.value) for i in at.info)
        check("web install only" in infos, f"Train: no word that runs wait ({infos})")
        done[-1] += " and started no worker"
    queue.stop(queued[0].id, OWNER)
    return done


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--full-install-ok", action="store_true",
                        help="do not require the training and test packages to be missing "
                             "(checking this script in the full install)")
    args = parser.parse_args(argv)
    size = install_size()
    print(f"web install: {sys.prefix} takes {size / 1e6:,.0f} MB on disk "
          f"({size / 2**20:,.0f} MiB; at most {MAX_BYTES / 1e6:,.0f} MB)", flush=True)
    installed = [m for m in TRAINING + TOOLING if importlib.util.find_spec(m) is not None]
    with tempfile.TemporaryDirectory() as tmp:
        os.environ.update(
            MNIST_STATE_DIR=str(Path(tmp) / "state"),
            MNIST_MODELS_DIR=str(Path(tmp) / "models"),
            MNIST_DATA_DIR=str(SUBSET_DIR),
        )
        for name in ("MNIST_QUEUE_URL", "MNIST_AUTOSTART_WORKER"):  # the defaults
            os.environ.pop(name, None)
        os.environ.pop("MNIST_SHIPPED_MODELS_DIR", None)  # the shipped models/
        try:
            if not args.full_install_ok:
                check(not installed, f"installed, but not of the web set: {installed}")
                check(size <= MAX_BYTES, f"the install takes {size / 1e6:,.0f} MB")
            serve_app(dict(os.environ), Path(tmp) / "server.log")
            done = run_pages()
            loaded = sorted(m for m in TRAINING if m in sys.modules)
            check(not loaded, f"the pages imported {loaded}")
        except CheckFailed as err:
            print(f"web install: FAILED: {err}", flush=True)
            return 1
        except Exception:  # noqa: BLE001 - a page or AppTest broke: say so, then fail
            traceback.print_exc()
            print("web install: FAILED: an exception (above)", flush=True)
            return 1
        finally:
            from mnist_core.jobs import worker

            for process in worker._started_workers:
                process.terminate()
                process.wait(30)
    print(f"web install: OK, {size / 1e6:,.0f} MB; `streamlit run app.py` answered; "
          f"{'; '.join(done)}; none of {', '.join(TRAINING)} imported"
          + ("" if installed else " or installed"), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
