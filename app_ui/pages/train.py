"""Train page: pick an architecture and settings, queue a run, watch your runs learn.

Runs are jobs on the deployment's queue (`mnist_core.jobs`), trained by worker
processes, never in this server; each visitor sees and stops only their own. Leaving
the page or reloading keeps them (the owner id is in a cookie of the browser).
"""

import streamlit as st

from app_ui import ui, visitor
from mnist_core.errors import (
    InvalidModelNameError,
    JobError,
    ModelProtectedError,
    QueueUnavailableError,
)
from mnist_core.jobs.records import FAILED, FINISHED, QUEUED, RUNNING
from mnist_core.jobs.worker import trains_here
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
RECENT_RUNS = 5  # ended runs listed under the active ones

owner = visitor.owner_id()
try:
    queue = ui.job_queue()
except QueueUnavailableError as err:
    st.title("Train a model")
    st.error(f"Training is unavailable: {err}. Drawing, evaluating and the models work "
             "as usual.")
    st.stop()
ui.remember(
    "train_arch", "train_epochs", "train_batch_size", "train_val_split", "train_size",
    "train_augment", "train_non_digits", "train_pen", "train_seed", "train_name",
    "train_suggested", "train_name_base", "train_arch_applied",
)


def suggest_name(wanted: str) -> None:
    """Put the first free name from `wanted` (`wanted`, `wanted-2`, ...) in the name box,
    remembered as a suggestion so that it follows the store until the person types their
    own: a name a stopped run never saved is offered again."""
    state = st.session_state
    state.train_name_base = wanted
    state.train_name = state.train_suggested = queue.free_name(wanted)


def use_architecture_defaults():
    """Set epochs, batch size, augmentation and the name to the chosen architecture's.

    Called from the script when the chosen architecture differs from the one last applied,
    not as the picker's on_change: Streamlit fired that callback again when the runs'
    fragment reran the whole page, resetting what the person had set since."""
    arch = ARCHITECTURES[st.session_state.train_arch]
    st.session_state.train_arch_applied = arch.name
    st.session_state.train_epochs = arch.epochs
    st.session_state.train_batch_size = arch.batch_size
    st.session_state.train_augment = arch.augment
    suggest_name(f"my-{arch.name}")


def chosen_config() -> TrainConfig:
    """The run the settings describe as they are now (the widgets' state)."""
    state = st.session_state
    return TrainConfig(
        architecture=state.train_arch, epochs=state.train_epochs,
        batch_size=state.train_batch_size, validation_split=state.train_val_split,
        seed=int(state.train_seed), augment=state.train_augment,
        train_size=state.train_size or None,
        non_digits=TAUGHT_NON_DIGITS if state.train_non_digits else 0,
        pen_writers=tuple(range(1, N_WRITERS + 1)) if state.train_pen else None,
        pen_styles=True,
    )


def epochs_setting() -> str | None:
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


def start_run():
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
    suggest_name(name)
    # the run's own box, on the right, says how it goes from here: this only confirms
    st.toast(f"Queued {name!r}." if job.status == QUEUED else f"{name!r}: {job.status}.",
             icon=":material/schedule:")


if "train_arch" not in st.session_state:
    st.session_state.train_arch = DEFAULT_ARCHITECTURE
    st.session_state.train_val_split = 0.1
    st.session_state.train_seed = 0
    st.session_state.train_size = 0
    st.session_state.train_non_digits = False
    st.session_state.train_pen = False
    use_architecture_defaults()
elif (st.session_state.get("train_name") == st.session_state.get("train_suggested")
      and "train_name_base" in st.session_state
      and queue.free_name(st.session_state.train_name_base) != st.session_state.train_name):
    # not typed over, and the store has changed: follow it (a stopped run's name is free
    # again, say); the box is only written when its suggestion is out of date
    suggest_name(st.session_state.train_name_base)

st.title("Train a model")
st.caption(
    "Runs wait in a queue and train in worker processes, not in this web server: you "
    "can leave this page, or close it, and come back later "
    + ("signed in: your runs follow your account" if visitor.account_owner_id() else
       "in this browser: your runs belong to it, not to the page's address")
    + ". Each model is saved when its run finishes, or when you stop it."
)
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

settings, run_area = st.columns([1, 1.4], gap="large")

with settings:
    arch_name = st.selectbox(
        "Architecture", list(ARCHITECTURES), key="train_arch",
    )
    if st.session_state.get("train_arch_applied") != arch_name:  # a new choice
        use_architecture_defaults()
    arch = ARCHITECTURES[arch_name]
    st.caption(
        arch.description
        + (f" · with its defaults {arch.typical_time}" if arch.typical_time else "")
    )
    size_problem = epochs_setting()
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
    name = st.text_input("New model name", key="train_name", max_chars=64).strip()

    name_problem = None
    try:
        holder = registry.check_may_replace(name, owner)
    except (InvalidModelNameError, ModelProtectedError) as err:
        name_problem = str(err)
        st.error(f"Not this name: {name_problem}.")
    else:
        if holder is registry.NameHolder.YOU:
            st.warning(f"You already have a model named {name!r}.")
            if not st.checkbox(f"Replace my {name!r}", key=f"train_overwrite_{name}"):
                name_problem = "choose another name or tick the box to replace it"

    st.button(
        "Start training", type="primary", key="train_start",
        disabled=any(p is not None for p in (name_problem, data_problem, size_problem)),
        on_click=start_run,
        help="A run needs the MNIST data set: see the note above." if data_problem else None,
    )
    if data_problem is not None:
        st.caption("Start is off until the server has MNIST (see above).")
    if "train_flash" in st.session_state:
        st.error(st.session_state.pop("train_flash"))


def try_it(name: str):
    st.page_link("app_ui/pages/draw.py", label=f"Try {name} on the Draw page",
                 icon=":material/draw:", query_params={"model": name})


def stop_run(job_id: str):
    try:
        queue.stop(job_id, owner)
    except (JobError, ModelProtectedError) as err:
        st.session_state.train_flash = f"Not stopped: {err}."


def settings_line(config: TrainConfig) -> str:
    return (
        f"{config.architecture} · {ui.plural(config.epochs, 'epoch')} · "
        f"batch {config.batch_size} · validation {config.validation_split:.0%} · "
        f"{'augmented' if config.augment else 'no augmentation'} · "
        f"{f'{config.train_size:,} images' if config.train_size else 'all images'}"
        + (f" · {config.non_digits:,} non-digits" if config.non_digits else "")
        + (f" · pen-drawn digits of {len(config.pen_writers)} writers"
           if config.pen_writers else "")
    )


def show_curves(job, key: str):
    history = job.history
    last = {k: values[-1] for k, values in history.items() if values}
    st.caption(
        f"After epoch {len(history['loss'])}: "
        + " · ".join(
            f"{split} accuracy {last[k]:.2%}"
            for split, k in (("train", "accuracy"), ("validation", "val_accuracy"),
                             ("test", "test_accuracy"))
            if last.get(k) is not None
        )
    )
    for metric in ("accuracy", "loss"):
        st.plotly_chart(
            ui.run_curves(job.id, job.name, history, metric),
            key=f"train_curve_{metric}_{key}", config={"displayModeBar": False},
        )


def show_job(job, newest: bool):
    """One of the visitor's runs: where it stands, its Stop button, its curves."""
    st.subheader(job.name)
    st.caption(settings_line(job.config))
    if job.status == QUEUED:
        starts = (
            "next to start" if job.position == 1 and not job.starts_in
            else f"starts in about {ui.format_seconds(job.starts_in)}"
        )
        with st.container(horizontal=True, vertical_alignment="center", gap="medium"):
            st.markdown(f"**Queued** · position {job.position} · {starts}")
            st.button("Stop", key=f"train_stop_{job.id}", on_click=stop_run, args=(job.id,),
                      icon=":material/stop:", help="Takes it out of the queue.")
        return
    if job.status == RUNNING:
        progress = job.progress
        if progress is None:
            st.progress(0.0, text="Starting: preparing the data and building the model…")
        else:
            st.progress(
                job.fraction,
                text=f"Epoch {progress.epoch} of {progress.epochs} · "
                f"batch {progress.step} of {progress.steps}",
            )
        with st.container(horizontal=True, vertical_alignment="center", gap="medium"):
            st.markdown(
                f"**Since Start** {ui.format_seconds(job.since_submitted)} · **Time left** "
                f"{ui.format_seconds(job.eta)}"
            )
            st.button(
                "Stop", key=f"train_stop_{job.id}", on_click=stop_run, args=(job.id,),
                icon=":material/stop:", disabled=job.stopping,
                help="Ends after the current batch; the best finished epoch is saved.",
            )
        if job.stopping:
            st.info("Stopping after the current batch…")
    elif job.card is not None and not registry.holds_run(job.name, job.id):
        # the history follows the store: this run's model is gone
        st.info(f"{job.message} That model has since been deleted, or replaced by a "
                "later run of the same name.", icon=":material/history:")
        return
    elif job.status == FINISHED:
        training = job.card.training_seconds if job.card else None
        st.success(
            f"{job.message} {ui.format_seconds(job.since_submitted)} from Start to saved"
            + (f", {ui.format_seconds(training)} of it training." if training else ".")
        )
        if newest:
            try_it(job.name)
    elif job.status == FAILED:
        st.error(f"Training failed: {job.message}")
    else:
        st.warning(job.message)
        if job.card is not None and newest:
            try_it(job.name)
    if job.history.get("loss") and (newest or job.active):
        show_curves(job, job.id)
    elif job.status == RUNNING:
        st.caption("The accuracy and loss curves appear when the first epoch ends.")


watching = any(job.active for job in queue.view().owned_by(owner))


@st.fragment(run_every=1 if watching else None)
def show_runs(polling: bool):
    """The visitor's runs and the queue, refreshed every second while one is active."""
    try:
        view = queue.view()
    except QueueUnavailableError as err:
        st.warning(f"Your runs cannot be shown just now: {err}. Runs already training "
                   "go on; reload the page in a moment.")
        return
    mine = view.owned_by(owner)
    active = [job for job in mine if job.active]
    if polling and not active:
        st.rerun()  # the last run ended: redraw the page once, and stop polling
    if view.waiting and not view.workers:
        ui.ensure_local_worker(queue)  # the local worker is gone (or never started)
    workers = len(view.workers)
    st.caption(
        f"Queue ({queue.backend.kind}): {view.waiting} waiting · {view.training} training · "
        + (f"{ui.plural(workers, 'worker')} online" if workers else "no worker online yet")
    )
    if not workers and not trains_here():
        st.info("This server has the web install only (no TensorFlow), so it starts no "
                "worker itself: runs wait for a worker with the full install on this queue "
                "(`pip install -r requirements.txt`, then `python -m mnist_core worker`).",
                icon=":material/dns:")
    if not mine:
        st.info("You have no runs yet. Choose the settings and press **Start training**.")
        return
    shown = active + [job for job in mine if not job.active][:RECENT_RUNS]
    for i, job in enumerate(shown):
        with st.container(border=True):
            show_job(job, newest=i == 0)


with run_area:
    show_runs(watching)
