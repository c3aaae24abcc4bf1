"""The app's pages: the one list, in the order the sidebar shows them.

`app.py` serves this script for every visitor; Streamlit runs the chosen page. A new
page is one file in `app_ui/pages/` and one line here.
"""

import streamlit as st

from app_ui import ui, visitor

PAGES = [
    st.Page("app_ui/pages/draw.py", title="Draw", icon=":material/draw:", default=True),
    st.Page("app_ui/pages/drawings.py", title="My drawings", icon=":material/gesture:",
            url_path="Drawings"),
    st.Page("app_ui/pages/train.py", title="Train", icon=":material/model_training:",
            url_path="Train"),
    st.Page("app_ui/pages/evaluate.py", title="Evaluate", icon=":material/monitoring:",
            url_path="Evaluate"),
    st.Page("app_ui/pages/models.py", title="Models", icon=":material/inventory_2:",
            url_path="Models"),
]

page = st.navigation(PAGES)
st.set_page_config(page_title=f"{page.title} · Digit recogniser", page_icon=page.icon,
                   layout="wide")
ui.phone_style()
visitor.settle_visitor()
page.run()
