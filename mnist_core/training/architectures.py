"""The trainable architectures as plain data: their names, what they are, and the
settings each is trained with by default. The networks themselves are built in
`mnist_core.training.models` (Keras); this table is what the Train page, the job queue and
`TrainConfig` read, without importing Keras."""

from __future__ import annotations

from dataclasses import dataclass

from mnist_core.model.card import DIGIT, NUMBER


@dataclass(frozen=True)
class Architecture:
    """One trainable architecture and the settings it is trained with by default."""

    name: str
    description: str
    activation: str
    epochs: int
    batch_size: int
    augment: bool
    learning_rate: float = 1e-3
    # Cosine decay of the learning rate over the run (the default CNN needs it for
    # its last tenth of a percent); the seeds were trained with a constant rate.
    cosine_decay: bool = False
    # Share of the run spent warming the rate up from a tenth to `learning_rate` before
    # the cosine decay: a one-cycle schedule, which lets a short run use a high rate.
    warmup_share: float = 0.0
    # What a person can expect on a 2-core CPU with the default settings.
    typical_time: str = ""
    # What its models do (`card.DIGIT`, `card.NUMBER`): a number reader is trained on
    # composed numbers (`number_train`) and its card says so.
    task: str = DIGIT


# What a new training run uses unless told otherwise: done in about a minute.
DEFAULT_ARCHITECTURE = "fast-cnn"

ARCHITECTURES: dict[str, Architecture] = {
    arch.name: arch
    for arch in (
        Architecture(
            "fast-cnn",
            "Fast CNN: 16 5x5 / 32 / 64 conv with batch norm, one-cycle learning rate",
            "relu", epochs=2, batch_size=128, augment=False,
            learning_rate=5e-3, cosine_decay=True, warmup_share=0.15,
            typical_time="about 1 min on 2 cores",
        ),
        Architecture(
            "cnn",
            "Default CNN: 32-32 / 64-64 / 128 conv with batch norm, dense 128, dropout",
            "relu", epochs=15, batch_size=128, augment=True,
            learning_rate=2e-3, cosine_decay=True, typical_time="about 15 min on 2 cores",
        ),
        Architecture(
            "number-ctc",
            "Whole-number reader: 4 conv blocks (24-48-64-96, height pooled away), two "
            "1-D conv (128), 10 digits + blank per 4 px step, CTC loss",
            "relu", epochs=8, batch_size=64, augment=False,
            learning_rate=2e-3, cosine_decay=True, warmup_share=0.05,
            typical_time="about 20 min on 2 cores", task=NUMBER,
        ),
        Architecture(
            "seed-cnn", "Seed CNN: conv 32 3x3, max pool, dense 128, dropout 0.2",
            "relu", epochs=10, batch_size=128, augment=False,
            typical_time="about 2 min on 2 cores",
        ),
        Architecture(
            "mlp-16-16-sigmoid", "MLP 784-16-16-10, sigmoid", "sigmoid",
            epochs=20, batch_size=32, augment=False, typical_time="about 2-3 min on 2 cores",
        ),
        Architecture(
            "mlp-16-16-relu", "MLP 784-16-16-10, ReLU", "relu",
            epochs=20, batch_size=32, augment=False, typical_time="about 2-3 min on 2 cores",
        ),
        Architecture(
            "mlp-64-64-sigmoid", "MLP 784-64-64-10, sigmoid", "sigmoid",
            epochs=20, batch_size=32, augment=False, typical_time="about 2-3 min on 2 cores",
        ),
        Architecture(
            "mlp-64-64-relu", "MLP 784-64-64-10, ReLU", "relu",
            epochs=20, batch_size=32, augment=False, typical_time="about 2-3 min on 2 cores",
        ),
        Architecture(
            "mlp-784-784-256-128-relu", "MLP 784-784-256-128-10, ReLU", "relu",
            epochs=10, batch_size=32, augment=False, typical_time="about 5 min on 2 cores",
        ),
    )
}


def get_architecture(name: str) -> Architecture:
    """Look up an architecture by name, naming the known ones if it is not there."""
    try:
        return ARCHITECTURES[name]
    except KeyError:
        known = ", ".join(ARCHITECTURES)
        raise ValueError(f"unknown architecture {name!r}; known: {known}") from None
