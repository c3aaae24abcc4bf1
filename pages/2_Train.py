"""Train page: pick an architecture and settings, train in the background, watch it learn.

The run lives in the server process (`mnist_core.jobs`), so leaving the page or
reloading the browser does not stop it; one run at a time.
"""

import streamlit as st

from mnist_core import charts, registry, ui
from mnist_core.data import mnist_available
from mnist_core.errors import InvalidModelNameError
from mnist_core.jobs import FAILED, FINISHED, IDLE, STOPPING, JobRunningError
from mnist_core.models import ARCHITECTURES, DEFAULT_ARCHITECTURE
from mnist_core.train import TrainConfig

BATCH_SIZES = [16, 32, 64, 128, 256, 512, 1024]
TRAIN_SIZES = [500, 1000, 2000, 5000, 10000, 20000, 30000, 0]  # 0: every image

ui.setup_page("Train")
training_job = ui.training_job()
ui.remember(
    "train_arch", "train_epochs", "train_batch_size", "train_val_split", "train_size",
    "train_augment", "train_seed", "train_name",
)


def use_architecture_defaults():
    """Set epochs, batch size, augmentation and the name to the chosen architecture's."""
    arch = ARCHITECTURES[st.session_state.train_arch]
    st.session_state.train_epochs = arch.epochs
    st.session_state.train_batch_size = arch.batch_size
    st.session_state.train_augment = arch.augment
    st.session_state.train_name = f"my-{arch.name}"


def free_name(saved: str) -> str:
    """A name for the next run after `saved`: my-cnn -> my-cnn-2, my-cnn-2 -> my-cnn-3."""
    stem, _, number = saved.rpartition("-")
    if not (stem and number.isdigit() and registry.model_exists(stem)):
        stem = saved
    n = 2
    while registry.model_exists(candidate := f"{stem[:63 - len(str(n))]}-{n}"):
        n += 1
    return candidate


if "train_arch" not in st.session_state:
    st.session_state.train_arch = DEFAULT_ARCHITECTURE
    st.session_state.train_val_split = 0.1
    st.session_state.train_seed = 0
    st.session_state.train_size = 0
    use_architecture_defaults()

last_run = training_job.state()
# Once a run has saved its model, offer a fresh name for the next one (once per run, so
# a name typed back on purpose, to replace that model, stays).
if last_run.card is not None and st.session_state.get("train_renamed_run") != last_run.run:
    st.session_state.train_renamed_run = last_run.run
    if st.session_state.train_name.strip() == last_run.name:
        st.session_state.train_name = free_name(last_run.name)

st.title("Train a model")
st.caption(
    "Training runs in the background on this server: you can leave this page and come "
    "back. The model is saved to the store when it finishes, or when you stop it."
)
if not mnist_available():
    st.warning(ui.mnist_missing_message())

settings, run_area = st.columns([1, 1.4], gap="large")

with settings:
    arch_name = st.selectbox(
        "Architecture", list(ARCHITECTURES), key="train_arch",
        on_change=use_architecture_defaults,
    )
    st.caption(ARCHITECTURES[arch_name].description)
    epochs = st.slider("Epochs", 1, 50, key="train_epochs")
    batch_size = st.select_slider("Batch size", BATCH_SIZES, key="train_batch_size")
    validation_split = st.slider(
        "Validation split", 0.0, 0.3, step=0.05, key="train_val_split",
        help="Share of the training images held out to pick the best epoch.",
    )
    train_size = st.select_slider(
        "Training images", TRAIN_SIZES, key="train_size",
        format_func=lambda n: f"{n:,}" if n else "All",
        help="Use only the first N training images for a quick run.",
    )
    augment = st.toggle(
        "Augment training images", key="train_augment",
        help="Random shifts, rotations, zoom and stroke width, so drawings vary like "
        "real handwriting.",
    )
    seed = st.number_input("Random seed", 0, 2**31 - 1, step=1, key="train_seed")
    name = st.text_input("New model name", key="train_name", max_chars=64).strip()

    name_problem, overwrite = None, False
    try:
        registry.validate_name(name)
    except InvalidModelNameError as err:
        name_problem = str(err)
        st.error(name_problem)
    if name_problem is None and registry.model_exists(name):
        st.warning(f"A model named {name!r} already exists.")
        overwrite = st.checkbox(f"Replace the existing {name!r}", key="train_overwrite")
        if not overwrite:
            name_problem = "choose another name or tick the box to replace it"

    if st.button(
        "Start training", type="primary", key="train_start",
        disabled=name_problem is not None or last_run.active,  # one run at a time
    ):
        config = TrainConfig(
            architecture=arch_name, epochs=epochs, batch_size=batch_size,
            validation_split=validation_split, seed=int(seed), augment=augment,
            train_size=train_size or None,
        )
        busy = training_job.state()
        if busy.active:
            st.warning(
                f"Not started: a training run is already in progress (model {busy.name!r}); "
                "wait for it to finish or stop it first."
            )
        else:
            try:
                training_job.start(config, name, overwrite=overwrite)
            except JobRunningError as err:  # another session started one just now
                st.warning(f"Not started: {err}.")
            else:
                st.rerun()  # redraw the page with Start disabled while the run is active


def try_it(name: str):
    st.page_link("app.py", label=f"Try {name} on the Draw page", icon=":material/draw:")


@st.fragment(run_every=1 if training_job.state().active else None)
def show_run(polling: bool):
    """The current (or last) run: progress, curves and outcome, refreshed every second."""
    state = training_job.state()
    if polling and not state.active:
        st.rerun()  # the run ended: redraw the page once, and stop polling
    if state.status == IDLE:
        st.info("No training run yet. Choose the settings and press **Start training**.")
        return
    config = state.config
    st.subheader(f"Run {state.run}: {state.name}")
    st.caption(
        f"{config.architecture} · {ui.plural(config.epochs, 'epoch')} · "
        f"batch {config.batch_size} · "
        f"validation {config.validation_split:.0%} · "
        f"{'augmented' if config.augment else 'no augmentation'} · "
        f"{f'{config.train_size:,} images' if config.train_size else 'all images'}"
    )
    progress = state.progress
    if state.active:
        if progress is None:
            st.progress(0.0, text="Preparing the data and building the model…")
        else:
            st.progress(
                progress.fraction,
                text=f"Epoch {progress.epoch} of {progress.epochs} · "
                f"batch {progress.step} of {progress.steps}",
            )
        with st.container(horizontal=True, vertical_alignment="center", gap="medium"):
            st.markdown(
                f"**Elapsed** {ui.format_seconds(state.elapsed)} · **Time left** "
                f"{ui.format_seconds(progress.eta if progress else None)}"
            )
            st.button(
                "Stop", key="train_stop", on_click=training_job.stop, icon=":material/stop:",
                disabled=state.status == STOPPING,
                help="Ends after the current batch; the best finished epoch is saved.",
            )
        if state.status == STOPPING:
            st.info("Stopping after the current batch…")
    elif state.status == FINISHED:
        st.success(state.message)
        try_it(state.name)
    elif state.status == FAILED:
        st.error(f"Training failed: {state.message}")
    else:
        st.warning(state.message)
        if state.card is not None:
            try_it(state.name)

    history = state.history
    if history.get("loss"):
        last = {key: values[-1] for key, values in history.items() if values}
        st.caption(
            f"After epoch {len(history['loss'])}: "
            + " · ".join(
                f"{split} accuracy {last[key]:.2%}"
                for split, key in (("train", "accuracy"), ("validation", "val_accuracy"),
                                   ("test", "test_accuracy"))
                if last.get(key) is not None
            )
        )
        st.plotly_chart(
            charts.history_figure({state.name: history}, "accuracy", height=300),
            key="train_curve_accuracy", config={"displayModeBar": False},
        )
        st.plotly_chart(
            charts.history_figure({state.name: history}, "loss", height=300),
            key="train_curve_loss", config={"displayModeBar": False},
        )
    elif state.active:
        st.caption("The accuracy and loss curves appear when the first epoch ends.")


with run_area:
    show_run(training_job.state().active)
