"""My drawings: the drawings a visitor kept on the Draw page ("Wrong? It was a …",
"Right — keep it"), by label; relabel or delete one, delete all, download them as a
drawings file or upload one, and choose whether others may train on them. Only their
owner sees them (`mnist_core/shared/drawings.py`, `docs/drawings.md`)."""

import streamlit as st

from app_ui import kept as kept_drawings
from app_ui import reading_views, ui, visitor
from app_ui.kept import LABEL_NAMES
from mnist_core.errors import DrawingRefused
from mnist_core.shared.drawings import DrawingsStore, KeptDrawing

SHOWN_PER_LABEL = 40  # the newest of a label; more only make the page slow


def title() -> None:
    """The page's title and whose drawings these are."""
    st.title("My drawings")
    st.caption(
        "The drawings you kept on the Draw page, with the label you gave them. Nothing is "
        "kept unless you press Keep or correct a reading there. Only you see them; a run "
        "you start with \"Teach it my drawings\" on the Train page learns from them."
    )


def flash() -> None:
    """What the last change did, once."""
    if said := st.session_state.pop("drawings_flash", None):
        st.toast(said)


def per_digit(store: DrawingsStore, owner: str) -> int:
    """How many drawings of each label; returns how many in all."""
    counts = store.counts(owner)
    total = sum(counts.values())
    if total:
        with st.container(horizontal=True, gap="small"):
            for label, count in counts.items():
                st.metric(LABEL_NAMES[label], count, width=90 if label < 10 else 120)
    return total


def sharing(store: DrawingsStore, owner: str) -> None:
    """The "Let others train on these" switch."""
    def switch() -> None:
        store.set_shared(owner, bool(st.session_state.drawings_shared))

    st.toggle("Let others train on these", value=store.is_shared(owner),
              key="drawings_shared", on_change=switch,
              help="Others' runs may then learn from your drawings when they tick \"with "
              "the class's shared drawings\". They never see, download or delete them.")


def gallery(store: DrawingsStore, owner: str, kept: list[KeptDrawing]) -> None:
    """Each label's drawings, newest first, each with a menu to relabel or delete it."""
    for label, name in LABEL_NAMES.items():
        mine = [k for k in kept if k.label == label]
        if not mine:
            continue
        st.subheader(f"{name} · {ui.plural(len(mine), 'drawing')}")
        with st.container(horizontal=True, gap="small"):
            for drawing in mine[:SHOWN_PER_LABEL]:
                one_drawing(store, owner, drawing)
        if len(mine) > SHOWN_PER_LABEL:
            st.caption(f"The newest {SHOWN_PER_LABEL} shown; the download holds them all.")


def one_drawing(store: DrawingsStore, owner: str, drawing: KeptDrawing) -> None:
    """A drawing, small, and its menu."""
    with st.container(width=96):
        st.image(reading_views.enlarge(drawing.image28, 84), width=84)
        with st.popover("Change", width=84):
            label = st.selectbox("It is a", list(LABEL_NAMES), index=drawing.label,
                                 format_func=LABEL_NAMES.get, key=f"relabel_{drawing.id}")
            if label != drawing.label:
                change(lambda: store.relabel(owner, drawing.id, label),
                       f"Relabelled as {LABEL_NAMES[label]}.")
            if st.button("Delete", key=f"delete_{drawing.id}", type="primary"):
                change(lambda: store.delete(owner, drawing.id), "Deleted.")


def change(act, said: str) -> None:
    """Do one change to the visitor's drawings, say what it did, show the page again."""
    try:
        act()
    except DrawingRefused as err:
        said = f"Not changed: {err}."
    kept_drawings.changed()
    st.session_state.drawings_flash = said
    st.rerun()


def download(kept: list[KeptDrawing]) -> None:
    """Every drawing as one drawings file."""
    st.download_button(
        f"Download all {len(kept)} (.npz)", data=kept_drawings.download_bytes(kept),
        file_name="my-drawings.npz", mime="application/octet-stream",
        on_click="ignore", icon=":material/download:",
        help="A NumPy .npz: `drawings` (N, H, W) uint8 as drawn, white ink on black, "
        "`labels` 0-9 or 10 for not a digit, and more (docs/drawings-file.md).",
    )


def upload(owner: str) -> None:
    """Keep the drawings of a drawings file (one downloaded here before)."""
    given = st.file_uploader(
        "Add drawings from a drawings file (.npz)",
        key=f"drawings_upload_{st.session_state.get('drawings_uploads', 0)}",
        help="A file downloaded from this page, or one made as docs/drawings-file.md says.",
    )
    if given is None:
        return
    count, problem = kept_drawings.keep_file(owner, given.getvalue())
    said = f"Kept {ui.plural(count, 'drawing')} from {given.name}."
    if problem:
        said += f" Not kept: {problem}."
    st.session_state.drawings_uploads = st.session_state.get("drawings_uploads", 0) + 1
    st.session_state.drawings_flash = said
    st.rerun()


def delete_all(store: DrawingsStore, owner: str, total: int) -> None:
    """Delete every drawing, once confirmed."""
    with st.popover("Delete all", icon=":material/delete:"):
        st.write(f"Delete all {ui.plural(total, 'drawing')}? This cannot be undone.")
        if st.button("Yes, delete them all", type="primary", key="drawings_delete_all"):
            gone = store.delete_all(owner)
            change(lambda: None, f"Deleted {ui.plural(gone, 'drawing')}.")


title()
flash()
owner = visitor.owner_id()
store = kept_drawings.drawings_store()
total = per_digit(store, owner)
if not total:
    st.info("You have no kept drawings yet. On the Draw page, draw a digit and press "
            "\"Right — keep it\", or tell the model what it was under \"Wrong? It was a\".")
    upload(owner)
else:
    kept = store.drawings(owner)
    with st.container(horizontal=True, gap="small", vertical_alignment="center"):
        download(kept)
        delete_all(store, owner, total)
        sharing(store, owner)
    gallery(store, owner, kept)
    upload(owner)
