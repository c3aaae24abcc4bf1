"""`LoadedModel`: a model ready to read with, as the store opens it (`registry.open_model`
for its ONNX graph, `registry.load_model` for its Keras network) or a network that is not
stored (a run being trained). Its own module, so that what reads with a model
(`inference`) does not import the store that opens it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from mnist_core.model.card import ModelCard
from mnist_core.model.verdict import ReadingPolicy

if TYPE_CHECKING:
    import keras

    from mnist_core.model.runtime import OnnxNetwork


@dataclass(frozen=True, eq=False)
class LoadedModel:
    """A model from the store, ready to read with: its network (the Keras one from
    `load_model`, or its ONNX graph from `open_model`), its card, and the reading
    policy (calibration and "not sure" threshold) its card holds."""

    name: str
    network: keras.Model | OnnxNetwork
    card: ModelCard
    policy: ReadingPolicy

    @classmethod
    def bare(cls, network: keras.Model | OnnxNetwork, policy: ReadingPolicy | None = None,
             name: str = "unsaved") -> LoadedModel:
        """A network that is not in the store (a run just trained, a test's model)."""
        return cls(name, network, ModelCard(name=name), policy or ReadingPolicy())
