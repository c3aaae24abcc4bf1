"""Shared fixtures: the committed MNIST subset, a model trained on it, and a Redis."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SUBSET_DIR = Path(__file__).resolve().parent / "data" / "mnist-subset"


@pytest.fixture(scope="session")
def mnist_subset():
    """The committed real MNIST subset: 1,000 training and 500 test digits (uint8)."""
    from mnist_core.sources.data import load_mnist

    return load_mnist(SUBSET_DIR)


@pytest.fixture(scope="session")
def subset_model_store(tmp_path_factory, mnist_subset):
    """A model store holding `seed-cnn` trained for a few epochs on the subset."""
    from mnist_core.training.train import TrainConfig, train_model

    store = tmp_path_factory.mktemp("models")
    train_model(
        TrainConfig("seed-cnn", epochs=4, batch_size=32, validation_split=0.1, seed=1),
        data=mnist_subset, save_as="seed-cnn", models_dir=store,
    )
    return store


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


@pytest.fixture
def redis_url(tmp_path):
    """A real `redis-server` (Debian's) on a free local port, stopped at the end."""
    server = shutil.which("redis-server")
    if server is None:
        message = "redis-server is missing: apt-get install redis-server"
        if os.environ.get("CI") == "true" or os.environ.get("E2E_REQUIRED") == "1":
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    process = subprocess.Popen(
        [server, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
         "--appendonly", "no", "--dir", str(tmp_path)],
        stdout=subprocess.DEVNULL,
    )
    import redis

    client = redis.Redis(port=port)
    deadline = time.monotonic() + 20
    while not _pings(client):
        assert time.monotonic() < deadline, "redis-server did not answer in 20 s"
        time.sleep(0.2)
    yield f"redis://127.0.0.1:{port}/0"
    process.terminate()
    process.wait(10)


def _pings(client) -> bool:
    import redis

    try:
        return client.ping()
    except redis.ConnectionError:
        return False
