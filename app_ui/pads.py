"""The Draw page's drawing pads: white ink on black, the pen width and Clear under each,
and a new, empty pad whenever Clear is pressed or another input is chosen.

The pad is a custom component (`streamlit_drawable_canvas`), which AppTest cannot drive:
tests set what a pad sends through its key in the session state.
"""

import streamlit as st
from streamlit.errors import StreamlitAPIException

try:
    from streamlit_drawable_canvas import st_canvas
except (ImportError, StreamlitAPIException) as err:  # the component needs a running app
    st_canvas, CANVAS_ERROR = None, err


def start() -> None:
    """The pads' id, the first time the page runs in a session."""
    if "draw_canvas_id" not in st.session_state:
        st.session_state.draw_canvas_id = 0  # a new id gives a new, empty canvas


def clear() -> None:
    """Start a new, empty pad (a new id gives a new canvas)."""
    st.session_state.draw_canvas_id += 1


def stop_unless_one_starts() -> None:
    """Where the drawing pad's component cannot start, say so and stop the page."""
    if st_canvas is None:
        st.error(f"The drawing pad cannot start: {CANVAS_ERROR}. Upload a photo instead.")
        st.stop()


def pen_and_clear(width: int, narrow_switch: bool = False) -> int:
    """The pen width slider and the Clear button under a pad (and, with `narrow_switch`,
    the number pad's Narrow pad switch beside them, where there is room); returns the
    pen width."""
    with st.container(horizontal=True, vertical_alignment="bottom", width=width):
        stroke = st.slider("Pen width", 6, 40, 18, key="draw_stroke", width=240)
        st.button("Clear", key="draw_clear", on_click=clear, icon=":material/ink_eraser:")
        if narrow_switch:
            st.toggle("Narrow pad", key="draw_narrow_pad", on_change=clear,
                      help="A pad that fits a phone held upright. The wide one has room "
                      "for more digits: turn the phone sideways and switch this off.")
    return stroke


def pad(key: str, height: int, width: int, controls_width: int, narrow_switch: bool = False):
    """A pad `height` x `width` pixels with the pen width and Clear under it (in
    `controls_width`); returns what the pad sends (`image_data`, `json_data`)."""
    st.space("xxsmall")  # room for the pad's toolbar, shown above it on hover
    area = st.container()
    stroke = pen_and_clear(controls_width, narrow_switch)
    with area:
        return st_canvas(
            stroke_width=stroke, stroke_color="#FFFFFF", background_color="#000000",
            width=width, height=height, drawing_mode="freedraw", return_image_data=True,
            key=f"{key}_{st.session_state.draw_canvas_id}",
        )


def wiped(canvas) -> bool:
    """Whether a pad holds no strokes though it sent an image: wiped with its trash icon
    (or undone to nothing), which is an empty pad as Clear leaves it."""
    return not (canvas.json_data or {}).get("objects")
