"""Draw page, the app's landing page: draw a digit, write a number or upload a photo of
a digit, and watch the model read it.

    streamlit run app.py

The reading updates whenever a stroke ends. Train, Evaluate and Models are the other
pages (`app_ui/pages/`); the model store is `models/` (or `MNIST_MODELS_DIR`).
"""

import hashlib
import time
from dataclasses import dataclass

import numpy as np
import streamlit as st

from app_ui import kept, messages, pads, pickers, reading_views, ui, visitor, why_views
from app_ui.kept import LABEL_NAMES
from mnist_core.errors import EmptyDrawingError
from mnist_core.model.card import DIGIT, NUMBER
from mnist_core.model.loaded_model import LoadedModel
from mnist_core.model.verdict import Verdict
from mnist_core.reading.images import ImageReadError, read_image
from mnist_core.reading.inference import UNREAD, read_drawing, read_number, read_upload
from mnist_core.reading.number_reader import read_number_ctc
from mnist_core.reading.preprocess import PreprocessSteps
from mnist_core.reading.segment import NARROW_NUMBER_PAD, NUMBER_PAD
from mnist_core.store import registry

CANVAS_PX = 280
DIGIT_MARGIN_PX = 8  # the pad around a digit of a number that is kept with it
IMAGE_FORMATS = "PNG, JPEG, BMP, WebP, GIF or TIFF"  # what mnist_core.reading.images reads
DRAW, WRITE, UPLOAD = "Draw a digit", "Write a number", "Upload a photo"
# each input's page title and how to use it
TITLES = {
    DRAW: ("Draw a digit", "Draw one digit, 0 to 9, with the mouse or a finger. The model "
           "reads it every time you lift the pen."),
    WRITE: ("Write a number", "Write a number, digit after digit, with the mouse or a "
             "finger. The model reads it every time you lift the pen."),
    UPLOAD: ("Read a photo", "Upload a photo or a scan of one digit, 0 to 9. The model "
             "reads it as soon as it arrives."),
}
# what each input says while there is nothing to read: a new pad, one Clear emptied, or
# one wiped with its trash icon all say the same
PROMPTS = {
    DRAW: "Draw a digit in the black box to see what the model thinks it is.",
    WRITE: "Write a number, digit after digit, in the black box.",
    UPLOAD: "Upload a photo or scan of a single digit.",
}


@dataclass
class Given:
    """What the visitor gave the model to read: the image (None while there is none),
    what to say while there is nothing to read (None where an error has said why), and
    whether a pad was wiped with its trash icon (an empty pad, as Clear leaves it)."""

    image: np.ndarray | None
    prompt: str | None
    wiped: bool = False


def title() -> None:
    """The page's title and how to use the input chosen."""
    heading, caption = TITLES[st.session_state.get("draw_source", DRAW)]
    st.title(heading)
    st.caption(caption)


def digit_readers() -> list[registry.ModelInfo]:
    """The stored models that read digits; with none, a pointer to the Train page."""
    infos = registry.list_models(task=DIGIT)
    if not infos:
        st.info(
            "There are no trained models here yet. Train one on the "
            "Train page, or run `python -m mnist_core train`."
        )
        st.page_link("app_ui/pages/train.py", label="Go to the Train page",
                     icon=":material/model_training:")
    return infos


def choose_input() -> str:
    """The Draw a digit / Write a number / Upload a photo switch; returns the one chosen."""
    source = st.radio(
        "Input", [DRAW, WRITE, UPLOAD], horizontal=True, key="draw_source",
        label_visibility="collapsed", on_change=pads.clear,
    )
    if preload := reading_views.preload_html():  # what a reading shows, loaded meanwhile
        st.html(preload, unsafe_allow_javascript=True)
    return source


def write_a_number(infos: list[registry.ModelInfo]) -> None:
    """Number mode: a wide pad, the number read, a box over each digit and its bars."""
    pads.stop_unless_one_starts()
    if "draw_narrow_pad" not in st.session_state:  # a phone starts with a pad that fits it
        st.session_state.draw_narrow_pad = ui.on_a_phone()
    height, width = NARROW_NUMBER_PAD if st.session_state.draw_narrow_pad else NUMBER_PAD
    canvas = pads.pad("number_canvas", height, width, controls_width=width, narrow_switch=True)
    result_area, model_area = st.columns([1.6, 1], gap="medium")
    with model_area:
        model = pickers.choose_number_reader(infos)
    with result_area:
        number_reading(canvas, model)


def number_reading(canvas, model: LoadedModel | None) -> None:
    """The number, its digits' bars and where it was cut, or why there is none yet."""
    st.session_state.pop("draw_read_ms", None)
    if canvas.image_data is None:
        st.info(PROMPTS[WRITE])
        return
    if model is None:
        return
    started = time.perf_counter()
    try:
        if model.card.task == NUMBER:
            reading = read_number_ctc(model, canvas.image_data)
        else:
            reading = read_number(model, canvas.image_data)
    except EmptyDrawingError as err:
        st.info(PROMPTS[WRITE] if pads.wiped(canvas) else messages.nothing_to_read(err))
        return
    st.session_state.draw_read_ms = read_ms = (time.perf_counter() - started) * 1000
    labels = [UNREAD if d.digit < 0 else d.digit for d in reading.digits]
    # The number and its bars first, right under the pad, so that they are in view
    # while writing (a 1280x900 window, a phone); then where the number was cut.
    st.metric("Number", reading.text, help="The digits read, left to right; ? marks "
              "a digit the model is not sure of.")
    st.html(reading_views.number_bars_html([d.probabilities for d in reading.digits], labels))
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
    a_digit_of_the_number(canvas.image_data, reading, labels, model)


def a_digit_of_the_number(pad: np.ndarray, reading, labels: list, model: LoadedModel) -> None:
    """For the digit of the number the visitor picks: "Right — keep it" and "Wrong? It
    was a …" (that digit's part of the pad is kept, with the 28x28 the model read), and
    why the model read it so."""
    options = list(range(len(reading.digits)))
    picked = st.segmented_control(
        "Pick a digit to keep it, correct it or see why", options, key="draw_number_digit",
        format_func=lambda i: f"Digit {i + 1}: {labels[i]}",
        help="Pick a digit of the number to keep it, or to say what it really was.")
    if picked is None or picked >= len(reading.digits):
        return
    digit = reading.digits[picked]
    top, bottom, left, right = digit.box
    margin = DIGIT_MARGIN_PX
    part = pad[max(top - margin, 0): bottom + margin, max(left - margin, 0): right + margin]
    keep_or_correct(part, digit.image, digit.probabilities,
                    None if digit.digit < 0 else digit.digit, model.name)
    if why_views.why_toggle("draw_number_why"):
        explainer = model
        if model.card.task == NUMBER:  # its digits' pictures are a digit model's to explain
            explainer = ui.load_model(registry.default_model_name())
            st.caption(f"Explained by the digit model {explainer.name}.")
        why_views.why_it_said(explainer, digit.image, digit.probabilities,
                              kept=kept.examples_with_images(visitor.owner_id(), explainer))


def read_a_digit(source: str, infos: list[registry.ModelInfo]) -> None:
    """Draw or upload mode: the pad or the uploader on the left; the reading, then the
    model picker, on the right."""
    left, right = st.columns([1, 1.25], gap="medium")
    with left:
        given = draw_a_digit() if source == DRAW else upload_a_photo()
    with right:
        result_area, model_area = st.container(), st.container()
    with model_area:
        model = pickers.choose_model(infos)
    with result_area:
        digit_reading(given, model, uploaded=source == UPLOAD)


def draw_a_digit() -> Given:
    """The square pad; what it holds."""
    pads.stop_unless_one_starts()
    canvas = pads.pad("draw_canvas", CANVAS_PX, CANVAS_PX, controls_width=CANVAS_PX + 80)
    return Given(canvas.image_data, PROMPTS[DRAW], wiped=pads.wiped(canvas))


def upload_a_photo() -> Given:
    """The uploader, and the photo it holds, shown small (or why it cannot be read)."""
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
    if upload is None:
        return Given(None, PROMPTS[UPLOAD])
    try:
        image = read_image(upload.getvalue())
    except ImageReadError as err:
        st.error(f"Cannot read {upload.name}: {err}.")
        return Given(None, None)
    st.image(image, caption=upload.name, width=200)
    return Given(image, PROMPTS[UPLOAD])


def digit_reading(given: Given, model: LoadedModel | None, uploaded: bool) -> None:
    """The probability bars, the verdict beside what the model sees, the time it took and
    how the image was prepared; or why there is nothing to read yet."""
    steps = PreprocessSteps()
    st.session_state.pop("draw_read_ms", None)  # the figure belongs to the drawing shown
    if given.image is None:
        if given.prompt:
            st.info(given.prompt)
        return
    if model is None:
        return
    started = time.perf_counter()  # the server's part: preprocessing and inference
    try:
        if uploaded:  # a scan may have been stretched to fill its frame: read_upload checks
            x, readings = read_upload(model, given.image, steps)
        else:
            mine = kept.examples_for(visitor.owner_id(), model)
            x, readings = read_drawing(model, given.image, steps, kept=mine)
    except EmptyDrawingError as err:
        st.info(given.prompt if given.wiped else messages.nothing_to_read(err))
        return
    st.session_state.draw_read_ms = read_ms = (time.perf_counter() - started) * 1000
    verdict = readings.verdict(0)
    # The bars first, right beside the pad (or, on a phone, right under it), so that they
    # stay in view while drawing; then the verdict beside what the model sees.
    probability_bars(readings.probabilities[0], verdict)
    if readings.used_kept:
        st.caption(f"Read with your {ui.plural(readings.used_kept, 'kept drawing')} in mind "
                   "(My drawings).")
    if not uploaded:
        keep_or_correct(given.image, x, readings.probabilities[0], verdict.digit, model.name)
    verdict_and_what_the_model_sees(verdict, x, uploaded)
    read_time(read_ms)
    if why_views.why_toggle("draw_why"):
        why_views.why_it_said(model, x, readings.probabilities[0],
                              None if uploaded else given.image, steps,
                              kept.examples_with_images(visitor.owner_id(), model))
    how_the_image_was_prepared(steps)


def probability_bars(probabilities: np.ndarray, verdict: Verdict) -> None:
    """A bar for each digit, the one named highlighted."""
    st.html(reading_views.probability_bars_html(probabilities, verdict.digit))


def keep_or_correct(pad: np.ndarray, x: np.ndarray, probabilities: np.ndarray,
                    named: int | None, model: str) -> None:
    """"Right — keep it" and "Wrong? It was a …": the visitor keeps this drawing (the
    model named `named`, None for none), with the label they give it, under My drawings;
    nothing is kept unless they press one."""
    drawn = hashlib.blake2b(pad.tobytes(), digest_size=8).hexdigest()  # this drawing
    if said := st.session_state.get("draw_kept", {}).get(drawn):
        st.success(said, icon=":material/bookmark_added:")
        return
    choice = None
    with st.container(horizontal=True, gap="small", vertical_alignment="bottom"):
        if named is not None and st.button(
                f"Right — keep it as {named}", key=f"draw_right_{drawn}",
                icon=":material/bookmark_add:"):
            choice = named
        wrong = st.pills("Wrong? It was a …", list(LABEL_NAMES), format_func=LABEL_NAMES.get,
                         key=f"draw_wrong_{drawn}")
        choice = wrong if wrong is not None else choice
    st.caption("Keeping is up to you: a kept drawing is yours alone (My drawings), and "
               "teaches a model of yours on the Train page.")
    if choice is not None:
        said = kept.keep(visitor.owner_id(), pad, x, choice, model, probabilities)
        st.session_state["draw_kept"] = {drawn: said}
        st.rerun()


def verdict_and_what_the_model_sees(verdict: Verdict, x: np.ndarray, uploaded: bool) -> None:
    """The digit named and its probability (or why none is named), beside the 28x28
    image the model read."""
    with st.container(horizontal=True, gap="medium", wrap=False):
        with st.container():
            warning = messages.verdict_warning(verdict, uploaded=uploaded)
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


def read_time(read_ms: float) -> None:
    """How long the server took to read the drawing."""
    st.caption(
        f"Read in {read_ms:,.0f} ms", help="The server's time for this drawing, from the "
        "image arriving to the probabilities: preparing it (see below), then the model."
    )


def how_the_image_was_prepared(steps: PreprocessSteps) -> None:
    """The cropped, scaled and centred images, folded away."""
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


ui.remember("draw_model", "draw_stroke", "draw_narrow_pad", "draw_number_reader")
pads.start()
title()
if infos := digit_readers():
    source = choose_input()
    if source == WRITE:
        write_a_number(infos)
    else:
        read_a_digit(source, infos)
