"""Draw page, the app's landing page: draw a digit, write a number or upload a photo of
a digit, and watch the model read it.

    streamlit run app.py

The reading updates whenever a stroke ends. Train, Evaluate and Models are the other
pages (`app_ui/pages/`); the model store is `models/` (or `MNIST_MODELS_DIR`).
"""

import time

import streamlit as st
from streamlit.errors import StreamlitAPIException

from app_ui import messages, reading_views, ui, visitor
from mnist_core.errors import EmptyDrawingError, InvalidModelError, ModelNotFoundError
from mnist_core.model.card import DIGIT
from mnist_core.reading.images import ImageReadError, read_image
from mnist_core.reading.inference import UNREAD, read_drawing, read_number, read_upload
from mnist_core.reading.preprocess import PreprocessSteps
from mnist_core.reading.segment import NARROW_NUMBER_PAD, NUMBER_PAD
from mnist_core.store import registry

try:
    from streamlit_drawable_canvas import st_canvas
except (ImportError, StreamlitAPIException) as err:  # the component needs a running app
    st_canvas, CANVAS_ERROR = None, err

CANVAS_PX = 280
IMAGE_FORMATS = "PNG, JPEG, BMP, WebP, GIF or TIFF"  # what mnist_core.reading.images reads
DRAW, NUMBER, UPLOAD = "Draw a digit", "Write a number", "Upload a photo"
# each input's page title and how to use it
TITLES = {
    DRAW: ("Draw a digit", "Draw one digit, 0 to 9, with the mouse or a finger. The model "
           "reads it every time you lift the pen."),
    NUMBER: ("Write a number", "Write a number, digit after digit, with the mouse or a "
             "finger. The model reads it every time you lift the pen."),
    UPLOAD: ("Read a photo", "Upload a photo or a scan of one digit, 0 to 9. The model "
             "reads it as soon as it arrives."),
}
# what each input says while there is nothing to read: a new pad, one Clear emptied, or
# one wiped with its trash icon all say the same
PROMPTS = {
    DRAW: "Draw a digit in the black box to see what the model thinks it is.",
    NUMBER: "Write a number, digit after digit, in the black box.",
    UPLOAD: "Upload a photo or scan of a single digit.",
}

ui.remember("draw_model", "draw_stroke", "draw_narrow_pad")

if "draw_canvas_id" not in st.session_state:
    st.session_state.draw_canvas_id = 0  # a new id gives a new, empty canvas


def clear_canvas():
    st.session_state.draw_canvas_id += 1


def choose_model(infos) -> object | None:
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
    info = cards[name]
    if info.card_error:
        st.warning(f"The model card cannot be read: {messages.for_visitor(info.card_error)}")
    else:
        st.markdown(ui.card_markdown(info.card))
    try:
        return ui.load_model(name)
    except (ModelNotFoundError, InvalidModelError) as err:
        st.error(f"Model {name!r} cannot be used: {messages.for_visitor(err).rstrip('.')}. "
                 "Choose another model.")
        return None


def pen_and_clear(width: int, narrow_switch: bool = False) -> int:
    """The pen width slider and the Clear button under a pad (and, with `narrow_switch`,
    the number pad's Narrow pad switch beside them, where there is room); returns the
    pen width."""
    with st.container(horizontal=True, vertical_alignment="bottom", width=width):
        stroke = st.slider("Pen width", 6, 40, 18, key="draw_stroke", width=240)
        st.button(
            "Clear", key="draw_clear", on_click=clear_canvas, icon=":material/ink_eraser:"
        )
        if narrow_switch:
            st.toggle("Narrow pad", key="draw_narrow_pad", on_change=clear_canvas,
                      help="A pad that fits a phone held upright. The wide one has room "
                      "for more digits: turn the phone sideways and switch this off.")
    return stroke


def wiped(canvas) -> bool:
    """Whether a pad holds no strokes though it sent an image: wiped with its trash icon
    (or undone to nothing), which is an empty pad as Clear leaves it."""
    return not (canvas.json_data or {}).get("objects")


def write_a_number(infos) -> None:
    """Number mode: a wide pad, the number read, a box over each digit and its bars."""
    if st_canvas is None:
        st.error(f"The drawing pad cannot start: {CANVAS_ERROR}. Upload a photo instead.")
        st.stop()
    if "draw_narrow_pad" not in st.session_state:  # a phone starts with a pad that fits it
        st.session_state.draw_narrow_pad = ui.on_a_phone()
    narrow = st.session_state.draw_narrow_pad
    height, width = NARROW_NUMBER_PAD if narrow else NUMBER_PAD
    st.space("xxsmall")  # room for the pad's toolbar
    pad = st.container()
    stroke = pen_and_clear(width, narrow_switch=True)
    with pad:
        canvas = st_canvas(
            stroke_width=stroke, stroke_color="#FFFFFF", background_color="#000000",
            width=width, height=height, drawing_mode="freedraw", return_image_data=True,
            key=f"number_canvas_{st.session_state.draw_canvas_id}",
        )
    result_area, model_area = st.columns([1.6, 1], gap="medium")
    with model_area:
        model = choose_model(infos)
    with result_area:
        st.session_state.pop("draw_read_ms", None)
        if canvas.image_data is None:
            st.info(PROMPTS[NUMBER])
            st.stop()
        if model is None:
            st.stop()
        started = time.perf_counter()
        try:
            reading = read_number(model, canvas.image_data)
        except EmptyDrawingError as err:
            st.info(PROMPTS[NUMBER] if wiped(canvas) else messages.nothing_to_read(err))
            st.stop()
        st.session_state.draw_read_ms = read_ms = (time.perf_counter() - started) * 1000
        labels = [UNREAD if d.digit < 0 else d.digit for d in reading.digits]
        # The number and its bars first, right under the pad, so that they are in view
        # while writing (a 1280x900 window, a phone); then where the number was cut.
        st.metric("Number", reading.text, help="The digits read, left to right; ? marks "
                  "a digit the model is not sure of.")
        st.html(reading_views.number_bars_html([d.probabilities for d in reading.digits],
                                               labels))
        if UNREAD in reading.text:
            st.warning("Not sure of the digits marked ?: write them larger and clearer, "
                       "with a little space between digits.")
        st.image(reading_views.number_preview(canvas.image_data, [d.box for d in reading.digits],
                                       labels),
                 caption="Where the number was cut into digits", width="stretch")
        st.caption(f"Read in {read_ms:,.0f} ms")
        with st.expander("What the model sees"), st.container(horizontal=True):
            for digit, label in zip(reading.digits, labels):
                st.image(reading_views.enlarge(digit.image, 84), caption=str(label), width=84)


title, caption = TITLES[st.session_state.get("draw_source", DRAW)]
st.title(title)
st.caption(caption)

infos = registry.list_models(task=DIGIT)
if not infos:
    st.info(
        "There are no trained models here yet. Train one on the "
        "Train page, or run `python -m mnist_core train`."
    )
    st.page_link("app_ui/pages/train.py", label="Go to the Train page",
                 icon=":material/model_training:")
    st.stop()

source = st.radio(
    "Input", [DRAW, NUMBER, UPLOAD], horizontal=True, key="draw_source",
    label_visibility="collapsed", on_change=clear_canvas,
)
if preload := reading_views.preload_html():  # what a reading shows, loaded meanwhile
    st.html(preload, unsafe_allow_javascript=True)
if source == NUMBER:
    write_a_number(infos)
    st.stop()

left, right = st.columns([1, 1.25], gap="medium")

with left:
    image, unreadable = None, False
    if source == DRAW:
        if st_canvas is None:
            st.error(f"The drawing pad cannot start: {CANVAS_ERROR}. Upload a photo instead.")
            st.stop()
        st.space("xxsmall")  # room for the pad's toolbar, shown above it on hover
        pad = st.container()
        stroke = pen_and_clear(CANVAS_PX + 80)
        with pad:
            canvas = st_canvas(
                stroke_width=stroke, stroke_color="#FFFFFF", background_color="#000000",
                width=CANVAS_PX, height=CANVAS_PX, drawing_mode="freedraw",
                return_image_data=True, key=f"draw_canvas_{st.session_state.draw_canvas_id}",
            )
        image = canvas.image_data
    else:
        # Any file is taken and judged here: Streamlit's uploader refuses a file of a type
        # not in its list in the browser alone, leaving the one before (and its reading)
        # on screen beside its "not allowed"; read_image names what it takes instead.
        upload = st.file_uploader(
            f"Photo or scan of one digit ({IMAGE_FORMATS})",
            # a new uploader each time this input is chosen: none shows a file from before
            key=f"draw_upload_{st.session_state.draw_canvas_id}",
            help="Dark ink on light paper or light on dark both work, in a shadow too; crop it "
            "to one digit.",
        )
        if upload is not None:
            try:
                image = read_image(upload.getvalue())
            except ImageReadError as err:
                st.error(f"Cannot read {upload.name}: {err}.")
                unreadable = True
            else:
                st.image(image, caption=upload.name, width=200)

with right:
    result_area, model_area = st.container(), st.container()

with model_area:
    model = choose_model(infos)

with result_area:
    steps = PreprocessSteps()
    st.session_state.pop("draw_read_ms", None)  # the figure belongs to the drawing shown
    if image is None:
        if not unreadable:
            st.info(PROMPTS[source])
        st.stop()
    if model is None:
        st.stop()
    started = time.perf_counter()  # the server's part: preprocessing and inference
    try:
        if source == DRAW:
            x, readings = read_drawing(model, image, steps)
        else:  # a scan may have been stretched to fill its frame: read_upload checks
            x, readings = read_upload(model, image, steps)
    except EmptyDrawingError as err:
        st.info(PROMPTS[DRAW] if source == DRAW and wiped(canvas)
                else messages.nothing_to_read(err))
        st.stop()
    st.session_state.draw_read_ms = read_ms = (time.perf_counter() - started) * 1000
    probabilities = readings.probabilities[0]
    verdict = readings.verdict(0)
    # The bars first, right beside the pad (or, on a phone, right under it), so that they
    # stay in view while drawing; then the verdict beside what the model sees.
    st.html(reading_views.probability_bars_html(probabilities, verdict.digit))
    with st.container(horizontal=True, gap="medium", wrap=False):
        with st.container():
            warning = messages.verdict_warning(verdict, uploaded=source == UPLOAD)
            if warning is None:
                st.metric(
                    messages.PREDICTION_LABEL, str(verdict.digit),
                    delta=f"{verdict.probabilities[0]:.1%} probability",
                    delta_color="off", delta_arrow="off",
                    help="The digit with the highest probability, and how much of it.",
                )
            else:
                st.warning(warning)
        with st.container(width=140):
            st.image(reading_views.enlarge(x, 140), caption="What the model sees", width=140)
    st.caption(
        f"Read in {read_ms:,.0f} ms", help="The server's time for this drawing, from the "
        "image arriving to the probabilities: preparing it (see below), then the model."
    )
    with st.expander("How the image was prepared"):
        st.caption(
            "Cropped to the ink, scaled so the longer side is 20 px, then placed in "
            "28×28 with its centre of mass in the middle — the way MNIST was made."
        )
        crop, boxed, centred = st.columns(3)
        crop.image(reading_views.enlarge(steps.crop, 112), caption="Cropped ink")
        boxed.image(reading_views.enlarge(steps.boxed, 112), caption="Scaled to 20 px")
        centred.image(
            reading_views.enlarge(steps.centred, 112),
            caption=f"Centred (shift {steps.shift[0]:+d}, {steps.shift[1]:+d} px)",
        )
