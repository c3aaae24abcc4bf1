"""Streamlit helpers shared by the pages: cached loaders, the shared state and the job
queue with its local worker, and a few small renderings (who the visitor is:
`visitor.py`).

Models are read with ONNX Runtime (`registry.open_model`): the web server imports no
TensorFlow or Keras. They are cached per file version (path, modification time, size),
so a model retrained under the same name is opened afresh. A model's readings of the
MNIST test set are read from the file stored beside it (`mnist_core.store.scores`), never
computed per visitor.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path

import streamlit as st

from app_ui import messages, server
from mnist_core.errors import InvalidModelError, ModelNotFoundError, ModelProtectedError
from mnist_core.jobs import worker
from mnist_core.jobs.queue import JobQueue
from mnist_core.model.card import DIGIT, NUMBER, ModelCard
from mnist_core.model.loaded_model import LoadedModel
from mnist_core.model.verdict import ReadingPolicy
from mnist_core.reading.evaluate import Evaluation
from mnist_core.reading.inference import warm_up
from mnist_core.reading.preprocess import prepare_mnist
from mnist_core.shared.state import QUEUE_URL_ENV, STATE_DIR_ENV, Backend, open_backend
from mnist_core.sources import data
from mnist_core.sources.data import DATA_DIR_ENV, load_mnist, mnist_source_description
from mnist_core.store import registry, saving, scores
from mnist_core.training import calibration
from mnist_core.training.calibration import CalibrationReport

log = logging.getLogger(__name__)


# On a phone (Streamlit stacks columns below 640 px) the page's top padding and title
# take a fifth of the screen: less of both keeps the Draw page's bars in view under the pad.
PHONE_STYLE = """<style>
@media (max-width: 640px) {
  [data-testid="stMainBlockContainer"] { padding-top: 3.75rem; }
  [data-testid="stMainBlockContainer"] h1 { font-size: 1.9rem; padding: 0.25rem 0 0.75rem; }
}
</style>"""


def on_a_phone() -> bool:
    """Whether the browser says it is a phone ("Mobi" in its user agent, as phones'
    browsers send and tablets' do not): the pages start phones on layouts that fit."""
    return "Mobi" in (st.context.headers.get("User-Agent") or "")


def phone_style() -> None:
    """Tighten the page's top on narrow screens (`navigation.py` calls it for every page)."""
    st.html(PHONE_STYLE)


def remember(*keys: str) -> None:
    """Keep these widgets' values when the user visits another page and comes back.

    Streamlit drops a widget's state when a page without that widget runs, so each
    page copies its widgets' values aside and puts them back. Call it at the top of
    the page, before the widgets are made.
    """
    kept = st.session_state.setdefault("ui_remembered", {})
    for key in keys:
        if key in st.session_state:
            kept[key] = st.session_state[key]
        elif key in kept:
            st.session_state[key] = kept[key]


def where_state_is() -> tuple[str, str]:
    """The settings that say where shared state lives: the queue URL, the state folder."""
    return os.environ.get(QUEUE_URL_ENV, ""), os.environ.get(STATE_DIR_ENV, "")


@st.cache_resource(show_spinner=False)
def shared_state(url: str, state: str) -> Backend:
    """The one opening of the shared state (SQLite or Redis) per server process, which
    the job queue and the owner book share; opening Redis logs whether it persists."""
    return open_backend(url, state or None)


def job_queue() -> JobQueue:
    """The deployment's training queue (SQLite in the state folder, or Redis), one
    connection per server process, opened again if its files were damaged meanwhile
    (which sets them aside). Raises `QueueUnavailableError` when it cannot be used."""
    where = where_state_is()
    queue = _job_queue(*where)
    if not queue.sound():
        _job_queue.clear()
        queue = _job_queue(*where)
    return queue


def tell_if_records_set_aside(queue: JobQueue) -> None:
    """Say once per visit that damaged run records were set aside (the queue reopened)."""
    if queue.set_aside and not st.session_state.get("ui_told_set_aside"):
        st.session_state.ui_told_set_aside = True
        st.warning(
            "The server found its training records damaged and set them aside, so runs "
            "queued or trained before that are no longer listed here. Trained models are "
            "unaffected, and new runs work as usual."
        )


def persistence_note(queue: JobQueue) -> tuple[bool, str] | None:
    """For whoever runs the server, when the queue's Redis would lose runs in a crash
    (not append-only) or cannot be asked: (whether it surely does not persist, words)."""
    durability = queue.backend.durability()
    if durability.message is None:
        return None
    return durability.kept is False, f"For whoever runs this server: {durability.message}."


@st.cache_resource(show_spinner=False)
def _job_queue(url: str, state: str) -> JobQueue:
    return JobQueue(shared_state(url, state))


def ensure_local_worker(queue: JobQueue) -> None:
    """Start a worker beside this server if the deployment wants one here (a SQLite
    queue, unless `MNIST_AUTOSTART_WORKER=0`) and none is alive: submitting never
    starts one, so the page calls this after a submit and while runs wait unserved."""
    if worker.wants_local_worker(queue):
        worker.ensure_worker(queue)


def model_table(rows: list[dict], columns: Sequence[str]) -> None:
    """The store's models as a table (`charts.comparison_rows`), these columns in this
    order: numbers formatted, a dash where a card has no value (never "None"), every
    column as wide as its name and its longest cell, so no name is cut."""
    from app_ui import charts

    widths = charts.column_widths(rows, columns)
    formats = {column: st.column_config.NumberColumn(format=charts.TABLE_NUMBER_FORMATS[column],
                                                     width=widths[column])
               for column in columns if column in charts.TABLE_NUMBER_FORMATS}
    st.dataframe(
        [{column: row.get(column) for column in columns} for row in rows],
        hide_index=True, height=charts.table_height(len(rows)), placeholder=charts.MISSING,
        column_config={column: formats.get(column) or st.column_config.Column(width=widths[column])
                       for column in columns},
    )


def warm_start() -> None:
    """Import what the Draw page reads with and open the default model once, then the
    other pages' libraries, so that the first visitor's first page waits for neither
    (`app.py` runs this in a thread while the server starts; the page's own cached copy
    then opens from warm files and a started ONNX Runtime). A failure here is only
    logged: the page shows it.

    Loaded here too, or the first reading after a start waits 0.1 s for them: Pillow's
    file formats, which it imports on its first open or save (the pad's PNG, the images
    shown), and the table of file types the media files' addresses are named from."""
    try:
        import mimetypes

        from PIL import Image

        from mnist_core.reading import images, segment  # noqa: F401 (the Draw page's)

        Image.preinit()
        mimetypes.init()
        warm_up(registry.open_model(registry.default_model_name()))
        # then the other pages' libraries, which a first visit to Train, Evaluate or
        # Models would otherwise wait for: Plotly (the charts) and pandas (the tables)
        import pandas  # noqa: F401

        from app_ui import charts  # noqa: F401
    except Exception:  # noqa: BLE001 (the page meets the same problem and explains it)
        logging.getLogger(__name__).warning("warm start failed", exc_info=True)


def load_model(name: str) -> LoadedModel:
    """The named model from the store, its ONNX graph opened once per version of its
    file.

    Raises `ModelNotFoundError` or `InvalidModelError` (`OnnxMissingError` for a model
    saved before models were exported; not cached, so a fixed file loads on the next try).
    """
    return _load_model(*file_version(name))


def model_problem(info: registry.ModelInfo) -> str | None:
    """Why a model of the store cannot be used, or None if its card and file load."""
    if info.card_error:
        return messages.for_visitor(info.card_error)
    try:
        problem = _model_problem(*file_version(info.name))
    except (ModelNotFoundError, InvalidModelError) as err:
        problem = str(err)
    return None if problem is None else messages.for_visitor(problem)


def test_readings(name: str) -> tuple[scores.Scores, Evaluation]:
    """The named model's readings of the MNIST test set and what they score, read once
    per version of its files from those stored beside it. A model stored without them
    (saved before they were) is read once here, in a session that gives its memory back,
    and they are stored for the next time where its folder may be written.

    Raises `DatasetError` when they have to be made and MNIST is not here,
    `ModelNotFoundError` or `InvalidModelError` as `load_model`."""
    return _test_readings(*file_version(name), os.environ.get(DATA_DIR_ENV, ""))


def reading_policy(name: str) -> ReadingPolicy:
    """The calibration the named model reads with (its card's `reading`)."""
    return load_model(name).policy


def calibration_report(name: str) -> CalibrationReport:
    """The named model's calibration on the MNIST test set, which it was never fitted
    on: reliability before and after, and how many digits it names."""
    _, result = test_readings(name)
    return calibration.report(result.probabilities, result.labels, reading_policy(name))


def card_facts(card: ModelCard) -> list[tuple[str, str]]:
    """A few labelled facts about a model: what it is, its size, score, data and date."""
    what = card.architecture or "unknown"
    if card.is_ensemble:
        recipe = (card.hyperparameters or {}).get("architecture", "?")
        what = f"{len(card.members)} `{recipe}` networks, their probabilities averaged"
    facts = [("Network", what)]
    if card.params is not None:
        facts.append(("Parameters", f"{card.params:,}"))
    if card.test_accuracy is not None:
        what = "Test numbers read exactly" if card.task == NUMBER else "MNIST test accuracy"
        facts.append((what, f"{card.test_accuracy:.2%}"))
    if card.trained_on:
        images = f" ({card.train_images:,} images)" if card.train_images else ""
        facts.append(("Trained on", card.trained_on + images))
    if card.epochs_run is not None:
        facts.append(("Epochs", str(card.epochs_run) + (" each" if card.is_ensemble else "")))
    if card.int8:
        int8 = card.int8
        # no speed-up claimed here: how much quicker depends on the machine and on what
        # else a reading does (docs/results.md has the figures measured)
        facts.append(("Read through", f"its int8 graph, quicker than its float one: "
                      f"{_or_unknown(int8.val_errors)} of {int8.val_images or 0:,} "
                      f"validation digits wrong, {_or_unknown(int8.float_val_errors)} in float"))
    if card.created:
        facts.append(("Trained", card.created[:10]))
    return facts


def _or_unknown(count: int | None) -> str:
    return "?" if count is None else str(count)


def card_markdown(card: ModelCard) -> str:
    """The card's facts, one labelled line each, for `st.markdown`."""
    if not card.to_json().keys() - {"name", "task", "onnx_sha256"}:
        return "No model card: architecture and scores unknown."
    return "  \n".join(f"**{label}:** {value}" for label, value in card_facts(card))


@st.cache_data(ttl=600, show_spinner=False)
def mnist_downloadable() -> bool:
    """Whether this server could download MNIST now (asked again every ten minutes)."""
    return data.mnist_downloadable()


def mnist_missing_message() -> str:
    """How to make MNIST available, for pages that need it and cannot find it."""
    return (
        f"The MNIST data set is not available here (looked in "
        f"{mnist_source_description()}). Set the `{DATA_DIR_ENV}` environment variable "
        "to a folder holding the four IDX files (`train-images-idx3-ubyte.gz`, "
        "`train-labels-idx1-ubyte.gz`, `t10k-images-idx3-ubyte.gz`, "
        "`t10k-labels-idx1-ubyte.gz`) and restart the app, or allow internet access "
        "so Keras can download it (about 11 MB)."
    )


def file_version(name: str) -> tuple[str, int, int, int]:
    """The model's path, and what tells one version of it from another: its `.keras`
    file's modification time and size, and the latest time of its card and graphs (a
    graph exported or quantized later, a policy calibrated again, is read without a
    restart)."""
    path = registry.model_path(name)
    try:
        stat = path.stat()
    except FileNotFoundError:
        raise ModelNotFoundError(f"no model named {name!r} in {path.parent}") from None
    beside = (path.with_suffix(".json"), path.with_suffix(".onnx"),
              registry.int8_path(name), registry.scores_path(name))
    return str(path), stat.st_mtime_ns, stat.st_size, max(map(mtime_ns, beside))


def mtime_ns(path: Path) -> int:
    """A file's modification time, 0 while it is not there."""
    try:
        return path.stat().st_mtime_ns
    except FileNotFoundError:
        return 0


@st.cache_resource(max_entries=32, show_spinner="Loading the model…")
def _load_model(path: str, mtime_ns: int, size: int, beside_mtime_ns: int):
    file = Path(path)
    model = registry.open_model(file.stem, file.parent)
    if model.card.task == DIGIT:  # a whole-number reader reads too fast to need one
        warm_up(model)  # with the load, not on the visitor's first stroke
    return model


@st.cache_resource(max_entries=64, show_spinner=False)
def _model_problem(path: str, mtime_ns: int, size: int, beside_mtime_ns: int) -> str | None:
    # opened and dropped: listing the store keeps no model's session in memory
    file = Path(path)
    try:
        registry.check_model(file.stem, file.parent)
        server.return_freed_memory()
    except (ModelNotFoundError, InvalidModelError) as err:
        return str(err)
    return None


@st.cache_resource(max_entries=64, show_spinner="Reading the model's MNIST test results…")
def _test_readings(path: str, mtime_ns: int, size: int, beside_mtime_ns: int,
                   data_dir: str) -> tuple[scores.Scores, Evaluation]:
    name = Path(path).stem
    stored = registry.read_scores(name)
    if stored is None:
        stored = _score_now(name, data_dir)
    return stored, stored.evaluation()


def _score_now(name: str, data_dir: str) -> scores.Scores:
    """Read the test set with a model stored without its readings, and store them where
    its folder may be written (a shipped model's come with it)."""
    _, (x_test, y_test) = load_mnist(data_dir or None)
    made = scores.score_model(registry.open_model(name, memory_arena=False),
                              (prepare_mnist(x_test), y_test))
    del x_test
    server.return_freed_memory()
    try:
        saving.write_scores(name, made)
    except (OSError, ModelProtectedError) as err:
        log.warning("test readings of %s not stored (%s): read again after a restart",
                    name, err)
    return made


def run_curves(job_id: str, name: str, history: dict, metric: str):
    """A run's accuracy or loss curves, built once per finished epoch.

    The Train page redraws a watched run every second; building the figure costs about
    24 ms of the server's CPU (sending it, 1.5 ms), so the figure is kept until the next
    epoch ends rather than rebuilt on every poll.
    """
    return _run_curves(job_id, name, len(history.get("loss") or []), metric, history)


@st.cache_resource(max_entries=256, show_spinner=False)
def _run_curves(job_id: str, name: str, epochs: int, metric: str, _history: dict):
    from app_ui import charts  # Plotly loads only once a page draws a figure, never on Draw

    return charts.history_figure({name: _history}, metric, height=300)


def plural(count: int, noun: str) -> str:
    """'1 epoch', '3 epochs', '1,200 test images': a count with its noun."""
    return f"{count:,} {noun}{'' if count == 1 else 's'}"


def format_seconds(seconds: float | None) -> str:
    """A duration as '42 s', '3 min 05 s' or '1 h 02 min'; '—' when unknown."""
    if seconds is None:
        return "—"
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"
