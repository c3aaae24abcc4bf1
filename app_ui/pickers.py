"""The Draw page's model pickers: a digit reader for a drawing or a photo, and for a
written number a whole-number reader or a digit model to read it digit by digit."""

from __future__ import annotations

import streamlit as st

from app_ui import messages, ui, visitor
from mnist_core.errors import InvalidModelError, ModelNotFoundError
from mnist_core.model.card import NUMBER
from mnist_core.model.loaded_model import LoadedModel
from mnist_core.store import registry

CUT_INTO_DIGITS = "Cut into digits, each read by a digit model"


def choose_model(infos: list[registry.ModelInfo]) -> LoadedModel | None:
    """The model picker with the chosen model's card; the loaded model, or None (with
    a message) when it cannot be used."""
    st.subheader("Model")
    default = registry.default_model_name()
    owner = visitor.owner_id()
    cards = {info.name: info for info in infos}
    # the default first, then the visitor's own, the shipped ones, the others trained here
    names = sorted(cards, key=lambda n: (n != default, cards[n].owner != owner,
                                         not cards[n].shipped, n))
    asked = st.query_params.pop("model", None)  # "Try it" on the Train page names one
    if asked in cards:
        st.session_state.draw_model = asked
    if st.session_state.get("draw_model") not in cards:
        st.session_state.draw_model = default

    def label(n: str) -> str:
        mine = cards[n].owner == owner
        marks = ["default"] * (n == default) + ["yours"] * mine
        marks += ["trained here"] * (not mine and not cards[n].shipped)  # by someone else
        marks += ["card unreadable"] * bool(cards[n].card_error)
        return f"{n} ({', '.join(marks)})" if marks else n

    name = st.selectbox(
        "Model", names, key="draw_model", label_visibility="collapsed", format_func=label,
    )
    return card_and_model(cards[name])


def choose_number_reader(infos: list[registry.ModelInfo]) -> LoadedModel | None:
    """The number reader picker: the whole-number readers in the store (the shipped one
    first), or cutting the number into digits for a digit model (the digit picker)."""
    readers = {info.name: info for info in registry.list_models(task=NUMBER)}
    if not readers:
        return choose_model(infos)
    st.subheader("Number reader")
    names = sorted(readers, key=lambda n: (not readers[n].shipped, n)) + [CUT_INTO_DIGITS]
    if st.session_state.get("draw_number_reader") not in names:
        st.session_state.draw_number_reader = names[0]
    name = st.selectbox("Number reader", names, key="draw_number_reader",
                        label_visibility="collapsed",
                        help="A whole-number reader reads the number at once, touching "
                        "digits too; or the ink is cut into digits, each read by a digit "
                        "model.")
    if name == CUT_INTO_DIGITS:
        return choose_model(infos)
    return card_and_model(readers[name])


def card_and_model(info: registry.ModelInfo) -> LoadedModel | None:
    """The chosen model's card, and the model loaded; None (with a message) when it
    cannot be used."""
    if info.card_error:
        st.warning(f"The model card cannot be read: {messages.for_visitor(info.card_error)}")
    else:
        st.markdown(ui.card_markdown(info.card))
    try:
        return ui.load_model(info.name)
    except (ModelNotFoundError, InvalidModelError) as err:
        st.error(f"Model {info.name!r} cannot be used: "
                 f"{messages.for_visitor(err).rstrip('.')}. Choose another model.")
        return None
