"""Train page: pick an architecture and settings, queue a run, watch your runs learn.

Runs are jobs on the deployment's queue (`mnist_core.jobs`), trained by worker
processes, never in this server; each visitor sees and stops only their own. Leaving
the page or reloading keeps them (the owner id is in a cookie of the browser).
"""

import streamlit as st

from app_ui import run_views, teach_views, ui, visitor
from mnist_core.errors import (
    InvalidModelNameError,
    JobError,
    ModelProtectedError,
    QueueUnavailableError,
)
from mnist_core.jobs.queue import JobQueue
from mnist_core.jobs.records import QUEUED
from mnist_core.model.card import DIGIT
from mnist_core.sources.data import mnist_available
from mnist_core.sources.pendigits import (
    N_DIGITS,
    N_WRITERS,
    default_pendigits_path,
    pendigits_available,
)
from mnist_core.store import registry
from mnist_core.training.architectures import ARCHITECTURES, DEFAULT_ARCHITECTURE
from mnist_core.training.config import TAUGHT_NON_DIGITS, TrainConfig

MOST_EPOCHS = 50  # the slider's end, where the deployment's size limit allows it
BATCH_SIZES = [16, 32, 64, 128, 256, 512, 1024]
TRAIN_SIZES = [500, 1000, 2000, 5000, 10000, 20000, 30000, 0]  # 0: every image


def training_queue() -> JobQueue | None:
    """The deployment's queue; None, with the page's title and why, where it cannot be
    reached."""
    try:
        return ui.job_queue()
    except QueueUnavailableError as err:
        st.title("Train a model")
        st.error(f"Training is unavailable: {err}. Drawing, evaluating and the models work "
                 "as usual.")
        return None


def suggest_name(queue: JobQueue, wanted: str) -> None:
    """Put the first free name from `wanted` (`wanted`, `wanted-2`, ...) in the name box,
    remembered as a suggestion so that it follows the store until the person types their
    own: a name a stopped run never saved is offered again."""
    state = st.session_state
    state.train_name_base = wanted
    state.train_name = state.train_suggested = queue.free_name(wanted)


def use_architecture_defaults(queue: JobQueue) -> None:
    """Set epochs, batch size, augmentation and the name to the chosen architecture's.

    Called from the script when the chosen architecture differs from the one last applied,
    not as the picker's on_change: Streamlit fired that callback again when the runs'
    fragment reran the whole page, resetting what the person had set since."""
    arch = ARCHITECTURES[st.session_state.train_arch]
    st.session_state.train_arch_applied = arch.name
    st.session_state.train_epochs = arch.epochs
    st.session_state.train_batch_size = arch.batch_size
    st.session_state.train_augment = arch.augment
    suggest_name(queue, f"my-{arch.name}")


def first_settings_or_a_free_name(queue: JobQueue) -> None:
    """The settings' first values in a session; later, the suggested name kept free."""
    state = st.session_state
    if "train_arch" not in state:
        state.train_arch = DEFAULT_ARCHITECTURE
        state.train_val_split = 0.1
        state.train_seed = 0
        state.train_size = 0
        state.train_non_digits = False
        state.train_pen = False
        use_architecture_defaults(queue)
    elif (state.get("train_name") == state.get("train_suggested")
          and "train_name_base" in state
          and queue.free_name(state.train_name_base) != state.train_name):
        # not typed over, and the store has changed: follow it (a stopped run's name is free
        # again, say); the box is only written when its suggestion is out of date
        suggest_name(queue, state.train_name_base)


def title() -> None:
    """The page's title and where runs train."""
    st.title("Train a model")
    st.caption(
        "Runs wait in a queue and train in worker processes, not in this web server: you "
        "can leave this page, or close it, and come back later "
        + ("signed in: your runs follow your account" if visitor.account_owner_id() else
           "in this browser: your runs belong to it, not to the page's address")
        + ". Each model is saved when its run finishes, or when you stop it."
    )


def server_notes(queue: JobQueue) -> str | None:
    """What the server lacks or may lose: MNIST, set-aside records, a queue a crash
    empties. Returns why no run can start (MNIST missing), or None."""
    data_problem = None
    if not mnist_available():
        if ui.mnist_downloadable():
            st.info("MNIST is not on this server yet: the first run downloads it (about "
                    "11 MB) into the Keras cache.", icon=":material/download:")
        else:
            data_problem = ui.mnist_missing_message()
            st.warning(data_problem)
    ui.tell_if_records_set_aside(queue)
    if note := ui.persistence_note(queue):
        lost, words = note
        if lost:
            st.warning(words, icon=":material/database:")
        else:
            st.caption(words)
    return data_problem


def new_run(queue: JobQueue, owner: str, data_problem: str | None) -> None:
    """A new run's settings, its name and the Start training button."""
    architecture(queue)
    size_problem = epochs_setting(queue)
    fitting_settings()
    name_problem = model_name(owner)
    start_button(queue, owner, data_problem, name_problem, size_problem)


def architecture(queue: JobQueue) -> None:
    """The architecture picker and what the architecture is; a new choice brings its
    defaults."""
    arch_name = st.selectbox(
        "Architecture", list(ARCHITECTURES), key="train_arch",
    )
    if st.session_state.get("train_arch_applied") != arch_name:  # a new choice
        use_architecture_defaults(queue)
    arch = ARCHITECTURES[arch_name]
    st.caption(
        arch.description
        + (f" · with its defaults {arch.typical_time}" if arch.typical_time else "")
    )


def chosen_config() -> TrainConfig:
    """The run the settings describe as they are now (the widgets' state)."""
    state = st.session_state
    digits = ARCHITECTURES[state.train_arch].task == DIGIT  # a number reader has its own
    return TrainConfig(
        architecture=state.train_arch, epochs=state.train_epochs,
        batch_size=state.train_batch_size, validation_split=state.train_val_split,
        seed=int(state.train_seed), augment=state.train_augment,
        train_size=state.train_size or None,
        non_digits=TAUGHT_NON_DIGITS if digits and state.get("train_non_digits") else 0,
        pen_writers=tuple(range(1, N_WRITERS + 1)) if digits and state.get("train_pen")
        else None,
        pen_styles=True,
    )


def epochs_setting(queue: JobQueue) -> str | None:
    """The Epochs slider, ending where the deployment's size limit (images x epochs)
    ends for the images the other settings fit; an earlier choice beyond it comes down
    to it. Returns why no run can start, when not even one epoch fits."""
    state = st.session_state
    config = chosen_config()
    fitting = queue.limits.most_epochs(config)  # the queue's own count of a run's size
    top = min(MOST_EPOCHS, fitting)
    # set each time, not only when too high: a new end makes the slider a new widget,
    # which would otherwise forget the choice
    state.train_epochs = max(1, min(state.train_epochs, top))
    limit = (f"a run may train on {queue.limits.image_epochs:,} images in all, and these "
             f"settings give {config.fit_images:,} an epoch")
    if top >= 2:
        st.slider("Epochs", 1, top, key="train_epochs")
        if fitting < MOST_EPOCHS:
            st.caption(f"Up to {top} epochs here: {limit}.")
        return None
    st.markdown(f"**Epochs:** {top or 1}")
    if fitting == 1:
        st.caption(f"One epoch only here: {limit}.")
        return None
    problem = f"not even one epoch fits here: {limit}; choose fewer training images"
    st.caption(f"No run with these settings: {problem}.")
    return problem


def fitting_settings() -> None:
    """Batch size, validation split, training images, what else to learn from, the seed."""
    st.select_slider("Batch size", BATCH_SIZES, key="train_batch_size")
    st.slider(
        "Validation split", 0.0, 0.3, step=0.05, key="train_val_split",
        help="Share of the training images held out to pick the best epoch.",
    )
    st.select_slider(
        "Training images", TRAIN_SIZES, key="train_size",
        format_func=lambda n: f"{n:,}" if n else "All",
        help="Use only the first N training images for a quick run.",
    )
    st.toggle(
        "Augment training images", key="train_augment",
        help="Random shifts, rotations, zoom and stroke width, so drawings vary like "
        "real handwriting.",
    )
    if ARCHITECTURES[st.session_state.train_arch].task != DIGIT:
        st.caption("A whole-number reader learns from numbers composed of MNIST digits and "
                   "pen writers 1-25's strokes, with letters and scribbles to read as "
                   "nothing; writers 26-30 are kept for its validation.")
        st.number_input("Random seed", 0, 2**31 - 1, step=1, key="train_seed")
        return
    st.toggle(
        "Learn what is not a digit", key="train_non_digits",
        help=f"Also fit {TAUGHT_NON_DIGITS:,} synthetic letters, scribbles and shapes, taught as "
        "'none of the digits', so the model says it is not sure when shown one. "
        "Preparing them adds about half a minute.",
    )
    st.toggle(
        "Learn from real pen-drawn digits", key="train_pen",
        help=f"Also fit the {N_DIGITS:,} digits that {N_WRITERS} people wrote with a pen "
        "(UCI pendigits), drawn as this app's pad draws them, twice each, the second time "
        "in another hand (flagged 1s, crossed 7s, open 4s, straight-tailed 9s, slant), "
        "so the model reads drawings better. Preparing them adds about a minute."
        + ("" if pendigits_available() else
           f" They are not on this server yet: the run downloads them once from UCI "
           f"into {default_pendigits_path().parent} (offline, set PENDIGITS_PATH)."),
    )
    st.number_input("Random seed", 0, 2**31 - 1, step=1, key="train_seed")


def model_name(owner: str) -> str | None:
    """The new model's name box, and what is wrong with the name; returns that (None
    where the name can be used)."""
    name = st.text_input("New model name", key="train_name", max_chars=64).strip()
    try:
        holder = registry.check_may_replace(name, owner)
    except (InvalidModelNameError, ModelProtectedError) as err:
        st.error(f"Not this name: {err}.")
        return str(err)
    if holder is registry.NameHolder.YOU:
        st.warning(f"You already have a model named {name!r}.")
        if not st.checkbox(f"Replace my {name!r}", key=f"train_overwrite_{name}"):
            return "choose another name or tick the box to replace it"
    return None


def start_button(queue: JobQueue, owner: str, data_problem: str | None,
                 *problems: str | None) -> None:
    """Start training, off while MNIST is missing or any of `problems` stands, and why
    the last press started nothing."""
    st.button(
        "Start training", type="primary", key="train_start",
        disabled=any(p is not None for p in (data_problem, *problems)),
        on_click=start_run, args=(queue, owner),
        help="A run needs the MNIST data set: see the note above." if data_problem else None,
    )
    if data_problem is not None:
        st.caption("Start is off until the server has MNIST (see above).")
    if "train_flash" in st.session_state:
        st.error(st.session_state.pop("train_flash"))


def start_run(queue: JobQueue, owner: str) -> None:
    """Queue a run with the settings as they are now; on success offer a fresh name.

    Reads the widgets' state when the button is pressed, so a value typed just before
    the click counts."""
    state = st.session_state
    name = state.train_name.strip()
    config = chosen_config()
    try:
        job = queue.submit(
            config, name, owner, overwrite=state.get(f"train_overwrite_{name}", False),
            address=visitor.client_address(),
        )
    except (JobError, ModelProtectedError, InvalidModelNameError) as err:
        state.train_flash = f"Not started: {err}."
        return
    ui.ensure_local_worker(queue)
    suggest_name(queue, name)
    # the run's own box, on the right, says how it goes from here: this only confirms
    st.toast(f"Queued {name!r}." if job.status == QUEUED else f"{name!r}: {job.status}.",
             icon=":material/schedule:")


owner = visitor.owner_id()
if (queue := training_queue()) is not None:
    ui.remember(
        "train_arch", "train_epochs", "train_batch_size", "train_val_split", "train_size",
        "train_augment", "train_non_digits", "train_pen", "train_seed", "train_name",
        "train_suggested", "train_name_base", "train_arch_applied",
    )
    first_settings_or_a_free_name(queue)
    title()
    data_problem = server_notes(queue)
    settings, run_area = st.columns([1, 1.4], gap="large")
    with settings:
        a_new_model, teach_it = st.tabs(["A new model", "Teach it my drawings"])
        with a_new_model:
            new_run(queue, owner, data_problem)
        with teach_it:
            teach_views.teach_my_drawings(queue, owner, data_problem)
    with run_area:
        run_views.your_runs(queue, owner)
