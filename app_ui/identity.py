"""The Models page's "Your identity" section: the visitor's personal code, renewing it,
and entering one from another browser to take that identity (`mnist_core.shared.owners`)."""

from __future__ import annotations

import streamlit as st

from app_ui import visitor
from mnist_core.errors import CodeError

UNAVAILABLE = ("Personal codes are unavailable just now: the server cannot keep them. Your "
               "runs and models stay with this browser.")


def section(owner: str) -> None:
    """A collapsed expander: the code to use elsewhere, and the box to enter one."""
    if visitor.account_owner_id():
        return  # signed in: the account carries the identity to every device
    with st.expander("Your identity: your runs and models in another browser",
                     icon=":material/key:"):
        st.caption(
            "Your runs and models belong to this browser. To have them in another one "
            "(a phone, a computer at home), open this page there and enter your personal "
            "code. Keep it to yourself: whoever has it has your runs and models."
        )
        try:
            code = visitor.owner_book().code(owner)
        except visitor.OWNER_BOOK_FAULTS:
            st.info(UNAVAILABLE)
            return
        with st.container(horizontal=True, vertical_alignment="center"):
            st.code(code, language=None, width="content")
            st.button("Renew code", key="identity_renew", on_click=_renew, args=(owner,),
                      icon=":material/autorenew:",
                      help="A new code; the current one stops working.")
        st.text_input("A personal code from your other browser", key="identity_code",
                      placeholder="XXXX-XXXX-XXXX-XXXX")
        st.button("Take this identity", key="identity_claim", on_click=_claim)
        kind, message = st.session_state.pop("identity_message", (None, None))
        if kind == "success":
            st.success(message)
        elif kind == "error":
            st.error(message)


def _renew(owner: str) -> None:
    try:
        visitor.owner_book().renew(owner)
    except visitor.OWNER_BOOK_FAULTS:
        st.session_state.identity_message = ("error", UNAVAILABLE)
        return
    st.session_state.identity_message = ("success", "Your new code is above; the old one "
                                         "no longer works.")


def _claim() -> None:
    text = st.session_state.get("identity_code", "")
    browser = visitor.browser_id() or visitor.owner_id()
    try:
        owner = visitor.owner_book().claim(text, browser, visitor.client_address())
    except CodeError as err:
        st.session_state.identity_message = ("error", f"That code was refused: {err}.")
        return
    except visitor.OWNER_BOOK_FAULTS:
        st.session_state.identity_message = ("error", UNAVAILABLE)
        return
    st.session_state.owner_id = owner
    st.session_state.identity_code = ""
    st.session_state.identity_message = (
        "success", "This browser now has the runs and models of that identity. What "
        "this browser had before stays with its old identity."
    )

