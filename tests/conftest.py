"""Shared fixtures: the committed MNIST subset and a model trained on it."""

from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SUBSET_DIR = Path(__file__).resolve().parent / "data" / "mnist-subset"


@pytest.fixture(scope="session")
def mnist_subset():
    """The committed real MNIST subset: 1,000 training and 500 test digits (uint8)."""
    from mnist_core.data import load_mnist

    return load_mnist(SUBSET_DIR)


@pytest.fixture(scope="session")
def subset_model_store(tmp_path_factory, mnist_subset):
    """A model store holding `seed-cnn` trained for a few epochs on the subset."""
    from mnist_core.train import TrainConfig, train_model

    store = tmp_path_factory.mktemp("models")
    train_model(
        TrainConfig("seed-cnn", epochs=4, batch_size=32, validation_split=0.1, seed=1),
        data=mnist_subset, save_as="seed-cnn", models_dir=store,
    )
    return store


@pytest.fixture
def rng():
    return np.random.default_rng(1234)
