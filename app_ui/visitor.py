"""Who the visitor is: their owner id (the signed-in account's, else the one their
browser's cookie stands for), sign-in, the personal codes that link browsers (the owner
book), and the network address the per-address run limit counts."""

from __future__ import annotations

import logging
import os
import sqlite3

import streamlit as st
from redis.exceptions import RedisError

from app_ui import owner_cookie, ui
from mnist_core.shared import owners

log = logging.getLogger(__name__)


def settle_visitor() -> None:
    """Settle who this visitor is before a page runs (`navigation.py` calls it).

    It drops an `?owner=` an old address carries (no longer trusted), reads the owner
    id, shows the sign-in box where the deployment has sign-in, and says so when this
    browser keeps no cookie.
    """
    if "owner" in st.query_params:
        del st.query_params["owner"]
    owner_id()
    if signs_in():
        account_box()
    elif browser_id() is None:
        st.sidebar.info(session_only_note(), icon=":material/cookie_off:")


def owner_id() -> str:
    """This visitor's owner id: the runs and models they own carry it.

    Settled once per session: the signed-in account's, where the deployment has
    sign-in; else the owner the browser's cookie stands for (itself, or the identity it
    took with a personal code); without the cookie, a new id that lasts as long as the
    session (the tab).
    """
    owner = st.session_state.get("owner_id")
    if owner is None:
        owner = account_owner_id()
        if owner is None:
            browser = browser_id()
            owner = linked_owner(browser) if browser else owners.new_owner_id()
        st.session_state.owner_id = owner
    return owner


def signs_in() -> bool:
    """Whether the deployment has sign-in (an `[auth]` section in its secrets)."""
    return "is_logged_in" in st.user.to_dict()


def account_owner_id() -> str | None:
    """The signed-in account's owner id (the same on every device), or None."""
    user = st.user.to_dict()
    if not user.get("is_logged_in") or not user.get("sub"):
        return None
    secret = st.secrets.get("auth", {}).get("cookie_secret", "")
    return owners.account_owner(str(user.get("iss", "")), str(user.get("sub", "")), secret)


def account_box() -> None:
    """Sign in or out, in the sidebar, where the deployment has sign-in."""
    with st.sidebar:
        if st.user.is_logged_in:
            st.caption(f"Signed in as {st.user.get('email') or st.user.get('name')}: your "
                       "runs and models follow your account.")
            st.button("Sign out", key="account_sign_out", on_click=st.logout,
                      icon=":material/logout:")
        else:
            st.button("Sign in", key="account_sign_in", on_click=st.login,
                      icon=":material/login:",
                      help="Signed in, your runs and models follow you to any device.")


def browser_id() -> str | None:
    """The owner id in this browser's cookie, or None where it keeps none."""
    return owner_cookie.valid_owner(st.context.cookies.get(owner_cookie.COOKIE))


def session_only_note() -> str:
    """Why this visitor's runs and models are theirs only while the tab is open."""
    why = (
        "This browser refused the app's cookie"
        if owner_cookie.serving()
        else "This server was started without its cookie (start it with "
        "`streamlit run app.py`)"
    )
    return (
        f"{why}, so your runs and models are yours only while this tab is open. "
        "Allow cookies for this site to keep them."
    )


# What keeping personal codes can meet: a state folder that cannot be written, a damaged
# file, Redis out of reach. The pages then work on, without codes.
OWNER_BOOK_FAULTS = (OSError, sqlite3.Error, RedisError)


def owner_book() -> owners.OwnerBook:
    """The deployment's personal codes, where the job records are (SQLite or Redis).
    Raises one of `OWNER_BOOK_FAULTS` when they cannot be kept."""
    return _owner_book(*ui.where_state_is())


def linked_owner(browser: str) -> str:
    """The owner the browser's cookie stands for: the identity it took with a personal
    code, else its own; its own where the codes cannot be read just now."""
    try:
        return owner_book().owner_of(browser)
    except OWNER_BOOK_FAULTS as err:
        log.warning("personal codes cannot be read (%s); the browser's own id is used", err)
        return browser


@st.cache_resource(show_spinner=False)
def _owner_book(url: str, state: str) -> owners.OwnerBook:
    return owners.OwnerBook(ui.shared_state(url, state))


CLIENT_ADDRESS_HEADER_ENV = "MNIST_CLIENT_ADDRESS_HEADER"  # e.g. X-Forwarded-For


def client_address() -> str:
    """The visitor's network address, which the per-address run limit counts.

    Behind a reverse proxy every visitor comes from the proxy's address, so a
    deployment names the header its proxy sets (`MNIST_CLIENT_ADDRESS_HEADER`)."""
    # None for a connection from this host (127.0.0.1, ::1), and under AppTest
    ip = st.context.ip_address
    return address_from(ip if isinstance(ip, str) else None, st.context.headers,
                        os.environ.get(CLIENT_ADDRESS_HEADER_ENV))


def address_from(ip: str | None, headers, header: str | None) -> str:
    """`header`'s last entry if it is named and sent, else `ip`, else "unknown". The
    last entry is the one the proxy itself appended; those before it are whatever the
    client claimed. Every visitor whose address is unknown (Streamlit gives none for a
    connection from this host, as from a proxy beside it that sends no header) counts
    as that one shared address, so the per-address limit never lets them past."""
    sent = headers.get(header) if header else None
    if sent and sent.split(",")[-1].strip():
        return sent.split(",")[-1].strip()
    return ip or "unknown"
