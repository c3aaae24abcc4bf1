"""The Train page's list of the visitor's runs: the queue in a line, then each run in a
box (where it stands, its Stop button, its curves), refreshed every second while one of
them is queued or training."""

import streamlit as st

from app_ui import teach_views, ui
from mnist_core.errors import JobError, ModelProtectedError, QueueUnavailableError
from mnist_core.jobs import worker
from mnist_core.jobs.queue import JobQueue
from mnist_core.jobs.records import FAILED, FINISHED, INDEX, QUEUED, RUNNING, TEACH, Job
from mnist_core.store import registry
from mnist_core.training.config import TrainConfig

RECENT_RUNS = 5  # ended runs listed under the active ones
INDEX_LINE = ("Finding its training digits most like a drawing, which the Draw page "
              "shows: queued after each saved run")


def your_runs(queue: JobQueue, owner: str) -> None:
    """The visitor's runs and the queue; polled every second while one is active."""
    watching = any(job.active for job in queue.view().owned_by(owner))
    st.fragment(show_runs, run_every=1 if watching else None)(queue, owner, watching)


def show_runs(queue: JobQueue, owner: str, polling: bool) -> None:
    """The queue in a line, then the visitor's active runs and the latest ended ones."""
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
    if not workers and not worker.trains_here():
        st.info("This server has the web install only (no TensorFlow), so it starts no "
                "worker itself: runs wait for a worker with the full install on this queue "
                "(`pip install -r requirements.txt`, then `python -m mnist_core worker`).",
                icon=":material/dns:")
    if not mine:
        st.info("You have no runs yet. Choose the settings and press **Start training**.")
        return
    # an ended index job is listed only when it failed: the run before it says the rest
    ended = [job for job in mine if not job.active
             and (job.kind != INDEX or job.status == FAILED)]
    shown = active + ended[:RECENT_RUNS]
    newest = next((job for job in shown if job.kind != INDEX), None)
    for job in shown:
        with st.container(border=True):
            show_job(queue, job, owner, newest=job is newest)


def show_job(queue: JobQueue, job: Job, owner: str, newest: bool) -> None:
    """One of the visitor's runs: where it stands, its Stop button, its curves."""
    st.subheader(job.name)
    st.caption(teach_views.teach_line(job) if job.kind == TEACH else INDEX_LINE
               if job.kind == INDEX else settings_line(job.config))
    if job.status == QUEUED:
        starts = (
            "next to start" if job.position == 1 and not job.starts_in
            else f"starts in about {ui.format_seconds(job.starts_in)}"
        )
        with st.container(horizontal=True, vertical_alignment="center", gap="medium"):
            st.markdown(f"**Queued** · position {job.position} · {starts}")
            st.button("Stop", key=f"train_stop_{job.id}", on_click=stop_run,
                      args=(queue, job.id, owner), icon=":material/stop:",
                      help="Takes it out of the queue.")
        return
    if job.status == RUNNING:
        progress = job.progress
        if progress is None:
            st.progress(0.0, text="Starting: preparing the data and building the model…"
                        if job.kind != INDEX else "Starting: preparing the training digits…")
        elif job.kind == INDEX:
            st.progress(job.fraction, text=f"Read {progress.step:,} of {progress.steps:,} "
                        "training digits")
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
                "Stop", key=f"train_stop_{job.id}", on_click=stop_run,
                args=(queue, job.id, owner), icon=":material/stop:", disabled=job.stopping,
                help="Ends after the current batch; the best finished epoch is saved."
                if job.kind != INDEX else "Ends it; no index is saved.",
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
        if job.kind == TEACH and job.card is not None:
            teach_views.what_it_gained(job.card)
        if newest:
            try_it(job.name)
    elif job.status == FAILED:
        st.error(f"{'Indexing' if job.kind == INDEX else 'Training'} failed: {job.message}")
    else:
        st.warning(job.message)
        if job.card is not None and newest:
            try_it(job.name)
    if job.history.get("loss") and (newest or job.active):
        show_curves(job, job.id)
    elif job.status == RUNNING:
        st.caption("The accuracy and loss curves appear when the first epoch ends.")


def try_it(name: str) -> None:
    """A link that opens the Draw page with this model chosen."""
    st.page_link("app_ui/pages/draw.py", label=f"Try {name} on the Draw page",
                 icon=":material/draw:", query_params={"model": name})


def stop_run(queue: JobQueue, job_id: str, owner: str) -> None:
    """Stop one of the visitor's runs (the Stop button's callback); why not, if refused."""
    try:
        queue.stop(job_id, owner)
    except (JobError, ModelProtectedError) as err:
        st.session_state.train_flash = f"Not stopped: {err}."


def settings_line(config: TrainConfig) -> str:
    """A run's settings in one line."""
    return (
        f"{config.architecture} · {ui.plural(config.epochs, 'epoch')} · "
        f"batch {config.batch_size} · validation {config.validation_split:.0%} · "
        f"{'augmented' if config.augment else 'no augmentation'} · "
        f"{f'{config.train_size:,} images' if config.train_size else 'all images'}"
        + (f" · {config.non_digits:,} non-digits" if config.non_digits else "")
        + (f" · pen-drawn digits of {len(config.pen_writers)} writers"
           if config.pen_writers else "")
    )


def show_curves(job: Job, key: str) -> None:
    """A run's latest accuracies, then its accuracy and loss curves by epoch."""
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
