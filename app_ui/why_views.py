"""The Draw page's "Why did it say that?": where the model looked (an occlusion map),
what its layers saw (a grid of feature maps per layer) and the training digits most like
the drawing. Nothing here runs while the section is closed; open, it reads the drawing
through the model's layers graph (an ensemble's first run), once per drawing."""

from __future__ import annotations

import math
import time
from pathlib import Path

import numpy as np
import streamlit as st

from app_ui import reading_views, ui
from mnist_core.errors import InvalidModelError, ModelNotFoundError
from mnist_core.model.layers_graph import CONV, THE_MODEL, LayersGraph
from mnist_core.model.loaded_model import LoadedModel
from mnist_core.model.runtime import FEATURES
from mnist_core.reading import why
from mnist_core.reading.personal import KeptExamples
from mnist_core.reading.preprocess import PreprocessSteps
from mnist_core.store import layers, neighbours
from mnist_core.store.neighbours import NeighbourIndex

MAP_PX = 168  # the 28x28 map, each pixel 6 px
DRAWING_PX = 224  # the map over the drawing, at most
LAYER_PX = 320  # a layer's grid, at most (one column on a phone)
NEIGHBOUR_PX = 72  # each training digit most like the drawing


@st.cache_resource(max_entries=8, show_spinner="Loading the model's layers…")
def _layers_graph(path: str, mtime_ns: int, size: int, beside_mtime_ns: int
                  ) -> LayersGraph | str:
    name = Path(path).stem
    try:
        graph = layers.open_layers(name, Path(path).parent)
    except (ModelNotFoundError, InvalidModelError) as err:
        return str(err)
    return layers.no_layers_graph(name) if graph is None else graph


def layers_graph(name: str) -> LayersGraph | str:
    """The model's layers graph, opened once per server process and version of the
    model; or why there is none, in words."""
    return _layers_graph(*ui.file_version(name))


@st.cache_resource(max_entries=2, show_spinner="Loading the model's training digits…")
def _neighbour_index(path: str, mtime_ns: int, size: int, beside_mtime_ns: int,
                     index_mtime_ns: int) -> NeighbourIndex | str:
    index, why_not = neighbours.open_neighbours(Path(path).stem, Path(path).parent)
    return index if index is not None else why_not


def neighbour_index(name: str) -> NeighbourIndex | str:
    """The model's index of training digits, read once per server process and version
    of the model and its index (the default's takes about 60 MB in memory: two at most
    are kept); or why there is none."""
    version = ui.file_version(name)
    return _neighbour_index(*version, ui.mtime_ns(neighbours.neighbours_path(name)))


def why_toggle(key: str) -> bool:
    """The closed-by-default switch; nothing below it runs while it is off."""
    return st.toggle(
        "Why did it say that?", key=key,
        help="Where the model looked, what its layers saw, and the training digits "
        "most like this drawing.")


def why_it_said(model: LoadedModel, x: np.ndarray, probabilities: np.ndarray,
                drawing: np.ndarray | None = None, steps: PreprocessSteps | None = None,
                kept: tuple[KeptExamples, np.ndarray] | None = None) -> None:
    """The section's three parts for the 28x28 `x` the model read (with `probabilities`,
    the reading shown above), over the pad's `drawing` too where there is one; `kept`,
    the visitor's kept drawings as the model sees them and their 28x28 images, show
    among the training digits most like it."""
    graph = layers_graph(model.name)
    index = neighbour_index(model.name)
    started = time.perf_counter()  # what the server works out for this drawing
    order = np.argsort(probabilities)[::-1]
    digit, against = int(order[0]), int(order[1])
    network = graph.label if isinstance(graph, LayersGraph) else THE_MODEL
    reader = graph if isinstance(graph, LayersGraph) else model.network
    values = why.occlusion_map(reader, x, digit, against)
    seen = why.layer_activations(graph, x) if isinstance(graph, LayersGraph) else None
    found = None
    if isinstance(index, NeighbourIndex):
        features = reader.outputs(x[np.newaxis].astype(np.float32), FEATURES)[FEATURES]
        found = neighbours.nearest_with_kept(index, features, *(kept or (None, None)))
    server_ms = (time.perf_counter() - started) * 1000
    where_it_looked(values, x, digit, against, network, drawing, steps)
    what_its_layers_saw(seen, graph)
    most_alike(found, index, digit)
    st.caption(f"Worked out in {server_ms:,.0f} ms.")


def where_it_looked(values: np.ndarray, x: np.ndarray, digit: int, against: int,
                    network: str, drawing: np.ndarray | None,
                    steps: PreprocessSteps | None) -> None:
    """The occlusion map over what the model saw and over the drawing."""
    st.markdown("**Where it looked**")
    whose = "" if network == THE_MODEL else f" ({network} of the model)"
    st.caption(
        f"Each place was covered in turn and the drawing read again{whose}: red where "
        f"covering it made {digit} less likely against {against}, so that place spoke "
        f"for {digit}; blue where it spoke for {against}.")
    seen_column, drawn_column = st.columns(2)
    seen_column.image(why.overlay(values, x, enlarge=MAP_PX // 28),
                      caption="Over what the model saw", width=MAP_PX)
    if drawing is not None:
        picture = why.overlay_on_drawing(values, drawing, steps)
        drawn_column.image(picture, caption="Over your drawing",
                           width=min(DRAWING_PX, picture.shape[1]))


def what_its_layers_saw(seen: why.LayerActivations | None, graph: LayersGraph | str) -> None:
    """A picture per layer: a convolution's channel maps as a grid, a dense layer's
    units as a strip of squares; each labelled with the layer's name and shape."""
    st.markdown("**What its layers saw**")
    if seen is None:
        st.caption(str(graph))
        return
    whose = "" if seen.network == THE_MODEL else f" Shown for {seen.network} of the model."
    st.caption("Brighter is stronger. Each small square of a convolution is one of its "
               f"filters' maps; each square of a dense layer one unit.{whose}")
    columns = st.columns(2)  # side by side on a laptop, one under another on a phone
    for i, layer in enumerate(seen.layers):
        if layer.kind == CONV:
            picture = why.channel_grid(layer.values)
        else:
            picture = units_picture(layer.values)
        shape = " × ".join(str(n) for n in layer.shape)
        # enlarged by whole pixels, then shown at most the column's width: squares stay sharp
        columns[i % 2].image(reading_views.enlarge(picture, 2 * LAYER_PX),
                             caption=f"{layer.name} · {shape}", width="stretch")


def most_alike(found: neighbours.Neighbours | None, index: NeighbourIndex | str,
               digit: int) -> None:
    """The training digits nearest the drawing in the model's features, with their
    labels and where each came from; the visitor's own kept drawings among them."""
    st.markdown("**Training digits most like yours**")
    if found is None:
        st.caption(f"Not shown: {index}.")
        return
    alike = int((found.labels == digit).sum())
    whose = f" (as {found.note} of the model sees them)" if found.note else ""
    st.caption(f"{alike} of the {len(found)} digits nearest yours{whose} are {digit}s: "
               "it read what it has seen drawn like this."
               + (" Yours are your kept drawings." if found.yours.any() else ""))
    with st.container(horizontal=True, gap="small"):
        for image, label, source, yours in zip(found.images, found.labels, found.sources,
                                               found.yours):
            name = "not a digit" if label > 9 else str(label)
            st.image(reading_views.enlarge(image, NEIGHBOUR_PX), width=NEIGHBOUR_PX,
                     caption=f"{name} · {'yours' if yours else source}")


def units_picture(values: np.ndarray) -> np.ndarray:
    """A dense layer's activations as a near-square grid of grey squares (uint8), the
    strongest white; places past the last unit stay at the separator grey."""
    values = np.asarray(values, dtype=np.float32).ravel()
    columns = math.ceil(math.sqrt(len(values)))
    rows = math.ceil(len(values) / columns)
    spread = float(values.max() - values.min())
    scaled = (values - values.min()) / spread if spread > 0 else np.zeros_like(values)
    grid = np.full(rows * columns, why.SEPARATOR / 255, np.float32)
    grid[: len(values)] = scaled
    return np.round(grid.reshape(rows, columns) * 255).astype(np.uint8)


def looked_at_each(name: str, images: list[np.ndarray], digit: int, against: int) -> None:
    """The occlusion map of each `(28, 28)` image, `digit` against `against`, read by
    the model's layers graph (an ensemble's first run) or, without one, by the model."""
    graph = layers_graph(name)
    reader = graph if isinstance(graph, LayersGraph) else ui.load_model(name).network
    network = graph.label if isinstance(graph, LayersGraph) else THE_MODEL
    if network != THE_MODEL:
        st.caption(f"Read by {network} of the model.")
    st.image([why.overlay(why.occlusion_map(reader, image, digit, against), image,
                          enlarge=4) for image in images], width=112)
