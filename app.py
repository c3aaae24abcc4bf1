"""The app's one entry point: the web server `streamlit run app.py` starts.

    streamlit run app.py

`streamlit run` finds `app` below and serves it: Streamlit's own ASGI app running
`navigation.py`, the list of pages (`app_ui/pages/`, Draw first), with a middleware in front
that keeps each visitor's owner id in a cookie of their browser
(`app_ui/owner_cookie.py`). Streamlit runs the scripts; it only imports this one. As it
starts, malloc is told to share a few arenas among the visitors' threads, and a thread
warms the Draw page's reading (`app_ui/server.py`), so the first visitor's first drawing
is read as fast as the next.
"""

import streamlit as st
from starlette.middleware import Middleware

from app_ui import server
from app_ui.owner_cookie import OwnerCookieMiddleware


def warm_pages() -> None:
    """Import the pages' helpers and open the default model (`ui.warm_start`): imported
    here, on the warming thread, since `ui`'s imports would hold up the server's start."""
    from app_ui import ui

    ui.warm_start()


server.limit_malloc_arenas()
app = st.App("navigation.py", middleware=[Middleware(OwnerCookieMiddleware)])
server.warm_in_background(warm_pages)
