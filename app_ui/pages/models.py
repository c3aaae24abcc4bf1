"""Models page: the model store — inspect a model's card, download it (Keras, or ONNX
for other runtimes, float or int8, with its card), or delete one you trained. Shipped models are
read-only; other visitors' models are theirs to delete. "Your identity" moves a
visitor's runs and models to another browser."""

import json
import logging

import streamlit as st

from app_ui import charts, identity, messages, ui, visitor
from mnist_core.errors import ModelNotFoundError, ModelProtectedError
from mnist_core.store import registry, saving

log = logging.getLogger(__name__)


def title() -> None:
    """The page's title and what a stored model is."""
    st.title("Models")
    st.caption(
        "Each model is a `.keras` file, its ONNX graph (what the app reads with) and a JSON "
        "card. Shipped models are read-only; models trained here are saved in the server's "
        "model store."
    )


def last_change() -> None:
    """What the visitor's last action here did (a model deleted), once."""
    if "models_flash" in st.session_state:
        st.success(st.session_state.pop("models_flash"))


def stored_models() -> list[registry.ModelInfo]:
    """Every stored model; with none, says so."""
    infos = registry.list_models()
    if not infos:
        st.info("There are no models yet: train one on the Train page.")
    return infos


def model_table(infos: list[registry.ModelInfo], owner: str) -> dict[str, str | None]:
    """The store as a table; returns each model's problem (None where it loads)."""
    with st.spinner("Checking the model files…"):
        problems = {info.name: ui.model_problem(info) for info in infos}
    rows = charts.comparison_rows(infos, problems, owner)
    ui.model_table(rows, charts.store_columns(rows))
    return problems


def choose_model(infos: list[registry.ModelInfo], problems: dict[str, str | None]
                 ) -> registry.ModelInfo:
    """The model picker, what stops the chosen model being used, and its card's facts."""
    cards = {info.name: info for info in infos}
    if st.session_state.get("models_name") not in cards:
        st.session_state.models_name = registry.default_model_name()
    name = st.selectbox("Model", list(cards), key="models_name")
    info = cards[name]
    if problems[name]:
        st.warning(f"This model cannot be used: {problems[name]}")
    if not info.card_error:
        st.markdown(ui.card_markdown(info.card))
    return info


def card_json(info: registry.ModelInfo) -> None:
    """The whole card as JSON, folded away."""
    with st.expander("Model card (JSON)", expanded=False):
        st.json(info.card.to_json(), expanded=1)


def downloads(info: registry.ModelInfo) -> None:
    """A download button for each of the model's files: Keras, ONNX, int8 ONNX, card."""
    # labels that fit the column whatever the model's name: the file name is the model's
    name = info.name
    st.subheader("Download")
    st.download_button(
        "Keras model (.keras)", data=info.path.read_bytes(), file_name=f"{name}.keras",
        mime="application/octet-stream", key="models_download", icon=":material/download:",
        help="Load it with keras.saving.load_model; inputs are 28×28 floats in [0, 1].",
    )
    graph = info.path.with_suffix(".onnx")
    if graph.is_file():
        st.download_button(
            "ONNX graph (.onnx)", data=graph.read_bytes(), file_name=f"{name}.onnx",
            mime="application/octet-stream", key="models_download_onnx", icon=":material/download:",
            help="Read it with onnxruntime (or any ONNX runtime): inputs `images`, "
            "(N, 28, 28) float32 in [0, 1]; outputs (N, 10) probabilities.",
        )
    else:
        st.caption(f"No ONNX graph yet: `python -m mnist_core export {name}` makes one.")
    int8_graph = registry.int8_path(name)
    if info.card.int8 and int8_graph.is_file():
        st.download_button(
            "int8 ONNX graph (.int8.onnx)", data=int8_graph.read_bytes(),
            file_name=f"{name}.int8.onnx", mime="application/octet-stream",
            key="models_download_int8", icon=":material/download:",
            help="The int8 graph the app reads with: the same inputs and outputs, quicker "
            "than the float graph on a CPU; its reading policy is the card's `int8.reading`.",
        )
    st.download_button(
        "Model card (.json)",
        data=json.dumps(info.card.to_json(), indent=1), file_name=f"{name}.json",
        mime="application/json", key="models_download_card", icon=":material/download:",
        help="Its architecture, training and scores, its calibration (`reading`: the log "
        "probabilities divided by `temperature`, a digit named from `min_probability`) and "
        "the ONNX file's SHA-256.",
    )


def delete(info: registry.ModelInfo, owner: str) -> None:
    """Delete the model, confirmed first, where it is the visitor's; otherwise why not."""
    name = info.name
    st.subheader("Delete")
    if info.shipped:
        st.info(f"{name!r} ships with the app and cannot be deleted.")
        return
    if info.owner != owner:
        st.info(f"{name!r} was trained by someone else; only they can delete it.")
        return
    confirmed = st.checkbox(f"Yes, delete {name!r} and its card", key=f"models_confirm_{name}")
    if not st.button("Delete", key="models_delete", type="primary", disabled=not confirmed):
        return
    try:
        saving.delete_model(name, owner=owner)
    except (ModelNotFoundError, ModelProtectedError) as err:
        st.error(f"Could not delete {name!r}: {messages.for_visitor(err)}")
    except OSError as err:
        log.warning("deleting model %r failed: %s", name, err)
        problem = saving.store_problem(err) or "the model store could not be changed"
        st.error(f"Could not delete {name!r}: {problem}.")
    else:
        st.session_state.models_flash = f"Deleted model {name!r}."
        st.rerun()


owner = visitor.owner_id()
ui.remember("models_name")
title()
identity.section(owner)
last_change()
if infos := stored_models():
    problems = model_table(infos, owner)
    info = choose_model(infos, problems)
    card_column, actions = st.columns([1.5, 1], gap="large")
    with card_column:
        card_json(info)
    with actions:
        downloads(info)
        delete(info, owner)
