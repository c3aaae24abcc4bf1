"""The app's one entry point: the web server `streamlit run app.py` starts.

    streamlit run app.py

`streamlit run` finds `app` below and serves it: Streamlit's own ASGI app running
`navigation.py`, the list of pages (`app_ui/pages/`, Draw first), with a middleware in front
that keeps each visitor's owner id in a cookie of their browser
(`app_ui/owner_cookie.py`). Streamlit runs the scripts; it only imports this one, and
while it starts, a thread imports the pages' modules and opens the default model
(`ui.warm_start`), so the first visitor's first drawing is read as fast as the next.
"""

import threading

import streamlit as st
from starlette.middleware import Middleware

from app_ui.owner_cookie import OwnerCookieMiddleware

app = st.App("navigation.py", middleware=[Middleware(OwnerCookieMiddleware)])


def _warm_start() -> None:
    from app_ui import ui

    ui.warm_start()


threading.Thread(target=_warm_start, name="warm-start", daemon=True).start()
