"""The Train page's "Teach it my drawings": a run that fits a stored model further on the
visitor's kept drawings (`mnist_core.training.teach`, a job of kind teach), and what a
finished one says: how the old and the new model read the drawings it held out, and
their MNIST test accuracy."""

from __future__ import annotations

import streamlit as st

from app_ui import kept, ui, visitor
from mnist_core.errors import InvalidModelNameError, JobError, ModelProtectedError
from mnist_core.jobs.queue import JobQueue
from mnist_core.jobs.records import QUEUED, Job
from mnist_core.model.card import DIGIT, ModelCard
from mnist_core.shared.drawings import NOT_A_DIGIT
from mnist_core.store import registry
from mnist_core.training.config import TEACH_BASE, TeachConfig, missing_drawings


def teach_my_drawings(queue: JobQueue, owner: str, data_problem: str | None) -> None:
    """Your kept drawings by digit, the model to start from, and Start."""
    counts = kept.drawings_store().counts(owner)
    total = sum(counts.values())
    st.caption(
        "Fits a copy of a stored model further on the drawings you kept on the Draw page "
        "(among MNIST digits it already knew, so that it still reads everyone else's), "
        "then saves it as a model of yours. Part of your drawings is held out to show "
        "what it gained."
    )
    shown = " · ".join(f"{label}: {count}" for label, count in counts.items()
                       if label != NOT_A_DIGIT)
    st.markdown(f"**Your drawings** ({total}) · {shown} · not a digit: {counts[NOT_A_DIGIT]}")
    lacking = missing_drawings([counts[label] for label in sorted(counts)])
    if lacking:
        st.info(f"Not yet: {lacking}.", icon=":material/draw:")
        st.page_link("app_ui/pages/draw.py", label="Draw and keep on the Draw page",
                     icon=":material/draw:")
    names = [info.name for info in registry.list_models(task=DIGIT)]
    if not names:
        return
    if st.session_state.get("teach_base") not in names:
        st.session_state.teach_base = TEACH_BASE if TEACH_BASE in names else names[0]
    base = st.selectbox("Start from", names, key="teach_base",
                        help="The model whose copy learns your drawings. A single network "
                        "learns them best; an ensemble is taught through its first run.")
    st.checkbox("Also the class's shared drawings", key="teach_shared",
                help="Drawings others chose to share (\"Let others train on these\" on "
                "My drawings). Yours are shared only if you turn that on.")
    if st.session_state.get("teach_name_base") != base:
        st.session_state.teach_name_base = base
        st.session_state.teach_name = queue.free_name(f"{base}-mine")
    name = st.text_input("New model name", key="teach_name", max_chars=64).strip()
    st.button("Teach it my drawings", type="primary", key="teach_start",
              disabled=bool(lacking or data_problem or not name),
              on_click=start_teaching, args=(queue, owner), icon=":material/school:")
    if said := st.session_state.pop("teach_flash", None):
        st.error(said)


def start_teaching(queue: JobQueue, owner: str) -> None:
    """Queue the teach run the settings describe (Start's callback)."""
    state = st.session_state
    name = state.teach_name.strip()
    config = TeachConfig(base=state.teach_base, include_shared=bool(state.teach_shared))
    try:
        job = queue.submit_teach(config, name, owner, address=visitor.client_address())
    except (JobError, ModelProtectedError, InvalidModelNameError, ValueError) as err:
        state.teach_flash = f"Not started: {err}."
        return
    ui.ensure_local_worker(queue)
    state.teach_name = queue.free_name(f"{state.teach_base}-mine")
    st.toast(f"Queued {name!r}." if job.status == QUEUED else f"{name!r}: {job.status}.",
             icon=":material/schedule:")


def teach_line(job: Job) -> str:
    """A teach run's settings in one line."""
    teach = job.teach
    return (f"taught from {teach.base} · {ui.plural(job.drawings or 0, 'kept drawing')}"
            + (" with the class's shared ones" if teach.include_shared else "")
            + f" · {ui.plural(teach.epochs, 'epoch')}")


def what_it_gained(card: ModelCard) -> None:
    """The old and the new model side by side: the held-out drawings, MNIST test."""
    taught = card.extra.get("taught") if card.extra else None
    if not taught:
        return
    held, mnist = taught["held_out"], taught["mnist_test"]
    digits, new = held["digits"], card.name or "taught"
    how = ("each drawing held out in turn" if held["cross_validated"]
           else "a tenth of them held out")
    rows = [
        {"": f"Your drawings it did not fit ({how})",
         taught["base"]: f"{held['base_right']} of {digits}",
         new: f"{held['taught_right']} of {digits}"},
        {"": f"MNIST test set ({card.test_images or 0:,} digits)",
         taught["base"]: _percent(mnist.get("base")), new: _percent(mnist.get("taught"))},
    ]
    st.table(rows)
    if held["taught_right"] < held["base_right"]:
        st.warning(f"{new} read your held-out drawings worse than {taught['base']}: too few "
                   "drawings teach the wrong lesson. Keep more (five of each digit or more) "
                   "and teach it again.")


def _percent(value: float | None) -> str:
    return "—" if value is None else f"{value:.2%}"
