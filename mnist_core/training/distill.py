"""Knowledge distillation: one network trained to read as a bigger model reads.

A teacher (any stored model, an ensemble above all) is read through its ONNX graph, so
it costs no TensorFlow: once, before training, it gives its probabilities for every
image the student fits, validates and tests on, as they are (augmentation comes later,
on the student's side). The student then trains with the teacher's own recipe (same
data, same seed, so the same validation split) on the label and those probabilities
(`objective.distillation_loss`); validation chooses its epoch and fits its reading
policy as for any run (`train.train_model`).

    result = distill("cnn-drawn-all-24ep-x4", "cnn-drawn-all-distilled",
                     data=load_mnist(), temperature=2.0, alpha=0.5,
                     changes={"epochs": 12}, models_dir="var/distill")
"""

from __future__ import annotations

import os
from collections.abc import Callable

from mnist_core.errors import OnnxMissingError
from mnist_core.model.card import ModelCard
from mnist_core.store import registry
from mnist_core.training.config import TrainConfig

DEFAULT_TEMPERATURE = 2.0
DEFAULT_ALPHA = 0.5


def teacher_recipe(card: ModelCard) -> TrainConfig:
    """The settings a teacher (one run or an ensemble of runs) was trained with; a
    student trained with them fits the same images and holds out the same validation
    digits. ValueError if its card records none."""
    stored = card.hyperparameters or {}
    if "architecture" not in stored:
        raise ValueError(f"{card.name or 'the teacher'!r} has no recorded training "
                         "settings on its card, so no student can be trained as it was")
    return TrainConfig.from_card(stored)


def distill(teacher: str, save_as: str, *, data, temperature: float = DEFAULT_TEMPERATURE,
            alpha: float = DEFAULT_ALPHA, changes: dict | None = None, models_dir=None,
            overwrite: bool = False, progress: Callable | None = None, stop_event=None):
    """Train a student on the teacher `teacher`'s probabilities and save it as
    `save_as` (both in `models_dir`, else the store). Returns the `train.TrainResult`.

    The student's settings are the teacher's recipe with `changes` (TrainConfig
    fields: `architecture`, `epochs`, ...) on top; `data` is `load_mnist()`'s. Its card
    records the teacher, the temperature and alpha under `distillation`.
    """
    from mnist_core.training.objective import distillation_loss
    from mnist_core.training.train import SoftTargets, train_model

    loss = distillation_loss(temperature, alpha)  # checks both before any work
    read_teacher, teacher_card = _teacher(teacher, models_dir)
    recipe = teacher_recipe(teacher_card)
    config = TrainConfig.from_dict(recipe.to_dict() | {"init_seed": None} | (changes or {}))
    cfg = config.resolved()
    description = (f"{cfg.architecture} trained on the probabilities of {teacher} "
                   f"(temperature {temperature:g}, alpha {alpha:g}) and the labels")
    return train_model(
        cfg, data=data, save_as=save_as, models_dir=models_dir, overwrite=overwrite,
        progress=progress, stop_event=stop_event,
        soft_targets=SoftTargets(teacher=read_teacher, loss=loss),
        card_extra={
            "description": description,
            "distillation": {
                "teacher": teacher, "teacher_architecture": teacher_card.architecture,
                "teacher_params": teacher_card.params, "temperature": float(temperature),
                "alpha": float(alpha),
            },
        },
    )


def _teacher(name: str, models_dir) -> tuple[Callable, ModelCard]:
    """The teacher's reading (images to its own probabilities, before calibration)
    through its ONNX graph with every core, and its card."""
    from mnist_core.model.runtime import OnnxNetwork
    from mnist_core.reading.inference import predict_proba

    loaded = registry.open_model(name, models_dir)  # checks it exists and has a graph
    if not loaded.card.onnx_sha256:
        raise OnnxMissingError(f"teacher {name!r} has no ONNX checksum on its card")
    # The serving session reads on one thread; one pass over a training set wants all.
    network = OnnxNetwork(registry.onnx_path(name, models_dir),
                          sha256=loaded.card.onnx_sha256,
                          intra_op_threads=os.cpu_count() or 1)
    return (lambda images: predict_proba(network, images)), loaded.card.replace(name=name)
