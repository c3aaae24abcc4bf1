"""A visitor's kept drawings as the pages use them: the drawings store, opened once per
server process on the shared state, and what the pages keep, show and hand over.
Nothing about a drawing is logged: what went wrong is shown to its owner alone."""

from __future__ import annotations

import numpy as np
import streamlit as st

from app_ui import ui
from mnist_core.errors import DrawingRefused, DrawingsFileError, MissingOutputError
from mnist_core.model.loaded_model import LoadedModel
from mnist_core.reading import personal
from mnist_core.reading.inference import read_digits
from mnist_core.reading.personal import KeptExamples
from mnist_core.reading.preprocess import ink_from_image
from mnist_core.shared.drawings import NOT_A_DIGIT, DrawingsStore, KeptDrawing
from mnist_core.sources.drawings_file import Drawings, drawings_to_bytes, read_drawings
from mnist_core.store import registry

LABEL_NAMES = {**{d: str(d) for d in range(10)}, NOT_A_DIGIT: "not a digit"}


@st.cache_resource(show_spinner=False)
def _drawings_store(url: str, state: str) -> DrawingsStore:
    return DrawingsStore(ui.shared_state(url, state))


def drawings_store() -> DrawingsStore:
    """The deployment's drawings store, on the same shared state as the job queue."""
    return _drawings_store(*ui.where_state_is())


def pad_image(rgba: np.ndarray) -> np.ndarray:
    """The pad's drawing as kept: `(H, W)` uint8, white ink on black, as it was drawn."""
    return np.round(ink_from_image(rgba) * 255).astype(np.uint8)


def as_uint8(image28: np.ndarray) -> np.ndarray:
    """A model's 28x28 input (float in [0, 1]) as kept: uint8."""
    return np.round(np.clip(image28, 0, 1) * 255).astype(np.uint8)


def keep(owner: str, rgba: np.ndarray, image28: np.ndarray, label: int, model: str,
         probabilities: np.ndarray) -> str:
    """Keep a drawing the visitor labelled; what to tell them (kept, or why not)."""
    try:
        drawings_store().keep(owner, pad_image(rgba), as_uint8(image28), label, model,
                              [float(p) for p in probabilities])
    except DrawingRefused as err:
        return f"Not kept: {err}."
    changed()
    return f"Kept as {LABEL_NAMES[label]}. See it under My drawings."


def changed() -> None:
    """Note that this visitor's drawings changed, so readings that use them are redone."""
    st.session_state.kept_version = st.session_state.get("kept_version", 0) + 1


def examples_for(owner: str, model: LoadedModel) -> KeptExamples | None:
    """The visitor's kept drawings as `model` sees them, to read their next drawings
    with (None without any, or for a graph exported before it had features). Worked
    out once per visitor, model and change to their drawings."""
    counts = drawings_store().counts(owner)
    if not sum(counts.values()):
        return None
    return _examples(owner, model.name, model.card.served_graph_sha256,
                     tuple(counts.items()), st.session_state.get("kept_version", 0), model)


def examples_with_images(owner: str, model: LoadedModel
                         ) -> tuple[KeptExamples, np.ndarray] | None:
    """`examples_for`, with the kept drawings' 28x28 images in the same order (what the
    "Why" section shows among the training digits); None without any."""
    examples = examples_for(owner, model)
    if examples is None:
        return None
    images = [d.image28 for d in drawings_store().drawings(owner)]
    if len(images) != len(examples):  # changed meanwhile, on another tab
        return None
    return examples, np.stack(images)


@st.cache_resource(max_entries=64, show_spinner=False)
def _examples(owner: str, name: str, graph: str | None, counts: tuple, version: int,
              _model: LoadedModel) -> KeptExamples | None:
    drawings = drawings_store().drawings(owner)
    if not drawings:
        return None
    images = np.stack([d.image28 for d in drawings]).astype(np.float32) / 255
    try:
        return personal.kept_examples(_model, images, np.array([d.label for d in drawings]))
    except MissingOutputError:
        return None


def download_bytes(kept: list[KeptDrawing]) -> bytes:
    """The visitor's drawings as a drawings file (`docs/drawings-file.md`)."""
    return drawings_to_bytes(Drawings.from_kept(kept))


def keep_file(owner: str, data: bytes) -> tuple[int, str | None]:
    """Keep every drawing of an uploaded drawings file, read by the default model; how
    many were kept, and why the rest were not (None when all were)."""
    try:
        drawings = read_drawings(data)
    except DrawingsFileError as err:
        return 0, str(err)
    name = registry.default_model_name()
    readings = read_digits(ui.load_model(name), drawings.images28.astype(np.float32) / 255)
    store, kept = drawings_store(), 0
    for i, drawing in enumerate(drawings.drawings):
        try:
            store.keep(owner, drawing, drawings.images28[i], int(drawings.labels[i]), name,
                       [float(p) for p in readings.probabilities[i]])
        except DrawingRefused as err:
            changed()
            return kept, f"drawing {i + 1} of {len(drawings)}: {err}"
        kept += 1
    changed()
    return kept, None
