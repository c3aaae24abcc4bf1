"""Browser fixtures: the app served by `streamlit run` on a free port, and headless Chromium.

The server reads a private copy of the repository's shipped models
(`MNIST_SHIPPED_MODELS_DIR`), saves trained models to a temporary store
(`MNIST_MODELS_DIR`) and keeps its job queue in a temporary state folder
(`MNIST_STATE_DIR`), so a test never changes `models/` or `var/`; MNIST comes from the
committed subset (`MNIST_DATA_DIR`), so the Train and Evaluate pages work without the
full set. Training runs go through the real queue and the worker the app starts.
Screenshots go to `test-artifacts/screenshots/` (git-ignored).

Without Debian's Chromium the tests are skipped, unless `E2E_REQUIRED=1` (CI), where a
missing browser is an error.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from ..conftest import ROOT, SUBSET_DIR

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"
SERVER_START_TIMEOUT = 90  # s; the first import of TensorFlow is slow on a busy machine
DESKTOP = dict(viewport={"width": 1280, "height": 800})
PHONE = dict(
    viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True,
    has_touch=True,
    user_agent="Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like "
    "Gecko) Chrome/131.0.0.0 Mobile Safari/537.36",
)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_healthy(url: str, server: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + SERVER_START_TIMEOUT
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(
                f"streamlit exited with code {server.returncode}:\n{log.read_text()[-4000:]}"
            )
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=5) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.5)
    raise RuntimeError(
        f"streamlit did not answer {url}/_stcore/health within {SERVER_START_TIMEOUT} s:\n"
        + log.read_text()[-4000:]
    )


@pytest.fixture(scope="session")
def sync_playwright_or_skip():
    """Playwright's sync API, once the browser is known to be there."""
    required = os.environ.get("E2E_REQUIRED") == "1"
    if not CHROMIUM.is_file():
        message = f"{CHROMIUM} is missing: install Debian's chromium to run the browser tests"
        if required:
            pytest.fail(f"E2E_REQUIRED=1 but {message}", pytrace=False)
        pytest.skip(message)
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as err:
        if required:
            pytest.fail(f"E2E_REQUIRED=1 but playwright cannot be imported: {err}", pytrace=False)
        pytest.skip(f"playwright is not installed: {err}")
    return sync_playwright


@pytest.fixture(scope="session")
def models_store(tmp_path_factory) -> Path:
    """A copy of the repository's shipped models, which the served app only reads."""
    store = tmp_path_factory.mktemp("e2e") / "models"
    # dot-files are half-written saves of a run in progress
    shutil.copytree(ROOT / "models", store, ignore=shutil.ignore_patterns(".*"))
    return store


@pytest.fixture(scope="session")
def trained_store(tmp_path_factory) -> Path:
    """Where the served app saves the models trained through it."""
    return tmp_path_factory.mktemp("e2e-trained")


@pytest.fixture(scope="session")
def app_url(sync_playwright_or_skip, models_store, trained_store, tmp_path_factory):
    """The app served by `streamlit run app.py` on a free port; stopped at the end."""
    settings = {
        "MNIST_SHIPPED_MODELS_DIR": str(models_store),
        "MNIST_MODELS_DIR": str(trained_store),
        "MNIST_STATE_DIR": str(tmp_path_factory.mktemp("e2e-state")),
        "MNIST_DATA_DIR": str(SUBSET_DIR),
    }
    with served_app(settings, tmp_path_factory.mktemp("e2e-server") / "streamlit.log") as url:
        yield url


@contextlib.contextmanager
def served_app(settings: dict[str, str], log: Path):
    """The app as `streamlit run app.py` serves it, on a free local port, with these
    environment settings; its URL, and the server stopped on leaving."""
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    env = os.environ | {"TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONUNBUFFERED": "1"} | settings
    command = [
        sys.executable, "-m", "streamlit", "run", "app.py",
        "--server.headless", "true", "--server.port", str(port),
        "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false",
        "--server.fileWatcherType", "none",
    ]
    with log.open("wb") as out:
        server = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, ended as a whole below
        )
    try:
        _wait_healthy(url, server, log)
        yield url
    finally:
        _stop(server)


def _stop(server: subprocess.Popen) -> None:
    try:
        os.killpg(server.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        server.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(server.pid, signal.SIGKILL)
        server.wait(timeout=15)


@pytest.fixture(scope="session")
def browser(sync_playwright_or_skip):
    from playwright.sync_api import expect

    # every wait for a rerun: generous, the machine may be busy training
    expect.set_options(timeout=15_000)
    with sync_playwright_or_skip() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def _new_page(browser, options):
    context = browser.new_context(**options)
    context.set_default_timeout(30_000)
    page = context.new_page()
    return context, page


@pytest.fixture
def page(browser, app_url):
    """A fresh desktop tab (1280x800) with its own Streamlit session."""
    context, page = _new_page(browser, DESKTOP)
    yield page
    context.close()


@pytest.fixture
def phone_page(browser, app_url):
    """A fresh phone-sized tab (390x844, touch) with its own Streamlit session."""
    context, page = _new_page(browser, PHONE)
    yield page
    context.close()


@pytest.fixture(scope="session")
def screenshots() -> Path:
    """The screenshot folder, emptied of an earlier run's pictures."""
    for old in SCREENSHOTS.glob("*.png"):
        old.unlink()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS
