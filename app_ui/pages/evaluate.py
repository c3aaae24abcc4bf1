"""Evaluate page: compare the models' learning curves and scores, and see where one errs.

Curves and the comparison table come from the model cards; the confusion matrix, the
reliability diagram and the misclassified digits from the model's readings of the MNIST
test set, stored beside it when it was made (`mnist_core.store.scores`).
"""

import streamlit as st

from app_ui import charts, messages, reading_views, ui, why_views
from mnist_core.errors import DatasetError, InvalidModelError, ModelNotFoundError
from mnist_core.model.card import DIGIT
from mnist_core.reading.evaluate import Evaluation
from mnist_core.store import compare, registry
from mnist_core.store.scores import Scores

MAX_EXAMPLES = 40
PERCENT = st.column_config.NumberColumn(format="%.2f %%")


def digit_readers() -> list[registry.ModelInfo]:
    """The stored models that read digits; with none, says so."""
    infos = registry.list_models(task=DIGIT)
    if not infos:
        st.info("There are no models here yet: train one on the Train page.")
    return infos


def learning_curves(infos: list[registry.ModelInfo]) -> None:
    """The models and the split to draw, then their accuracy and loss curves."""
    st.header("Learning curves")
    # per-epoch histories by label: a model's own, or each run of an ensemble
    stored_curves = compare.learning_curves(infos)
    curves = {curve.label: curve.history for curve in stored_curves}
    if "eval_models" not in st.session_state:
        st.session_state.eval_models = compare.shown_first(
            stored_curves, infos, registry.default_model_name())
    # a model deleted since the last visit drops out of the choice
    st.session_state.eval_models = [n for n in st.session_state.eval_models if n in curves]
    pick, show = st.columns([2, 1], gap="medium", vertical_alignment="bottom")
    chosen = pick.multiselect(
        "Models", list(curves), key="eval_models",
        help="Curves come from each model's card: the history recorded while it trained "
        "(for an ensemble, each of its runs').",
    )
    split = show.segmented_control(
        "Split", list(charts.SPLITS), key="eval_split", default="validation",
        help="One split at a time: validation (held out while training) compares models "
        "best; train shows how well each fits what it learns from.",
    )
    if not (chosen and split):
        st.info("Choose at least one model and a split to draw the curves.")
        return
    histories = {label: curves[label] for label in chosen}
    # a training loss that also counts non-digits is no match for the others': left out
    apart = [curve.label for curve in stored_curves if curve.label in histories
             and split == "train" and curve.training_loss_counts_non_digits]
    accuracy, loss = st.columns(2)
    accuracy.plotly_chart(
        charts.history_figure(histories, "accuracy", [split]), key="eval_curve_accuracy",
        config={"displayModeBar": False},
    )
    compared = {label: h for label, h in histories.items() if label not in apart}
    if compared:
        loss.plotly_chart(
            charts.history_figure(compared, "loss", [split]), key="eval_curve_loss",
            config={"displayModeBar": False},
        )
    if apart:
        loss.caption(
            f"Training loss not drawn for {', '.join(apart)}: it also counts synthetic "
            "non-digits, pulled towards ten equal probabilities, so it sits near 0.5 and "
            "says nothing next to the others'. Their validation and test losses count "
            "digits only: choose one of those splits to compare."
        )


def all_models(infos: list[registry.ModelInfo]) -> dict[str, str | None]:
    """Every model's scores side by side, and a warning for each that cannot be used;
    returns each model's problem (None where it loads)."""
    st.header("All models")
    with st.spinner("Checking the model files…"):
        problems = {info.name: ui.model_problem(info) for info in infos}
    for name, problem in problems.items():
        if problem:
            st.warning(f"Model {name!r} cannot be used: {problem}")
    rows = charts.comparison_rows(infos, problems)
    # Status and Problem only when a model is broken; otherwise the scores get the room.
    ui.model_table(rows, [column for column in rows[0]
                          if any(problems.values()) or column not in ("Status", "Problem")])
    return problems


def where_a_model_goes_wrong(problems: dict[str, str | None]) -> None:
    """One model that loads, picked, and where it errs; with none that loads, says so."""
    st.header("Where a model goes wrong")
    usable = [name for name, problem in problems.items() if problem is None]
    if not usable:
        st.error("None of the models can be loaded; see the Status column above.")
        return
    default = registry.default_model_name()
    if st.session_state.get("eval_model") not in usable:
        st.session_state.eval_model = default if default in usable else usable[0]
    where_it_goes_wrong(usable)


@st.fragment
def where_it_goes_wrong(usable: list[str]) -> None:
    """One model's confusion matrix, calibration and misread digits: picking another
    reruns only this part of the page, not the curves and the table above."""
    name = st.selectbox("Model", usable, key="eval_model")
    try:
        readings, result = ui.test_readings(name)
    except DatasetError:
        st.info(f"{name!r} was stored without its results on the MNIST test set, and they "
                f"cannot be made here. {ui.mnist_missing_message()}")
        return
    except (ModelNotFoundError, InvalidModelError) as err:
        st.error(f"Cannot show {name!r} on the MNIST test set: {messages.for_visitor(err)}")
        return
    test_scores(result)
    confusion_matrix(result)
    calibration(name, total=len(result.labels))
    misclassified_digits(name, readings, result)


def test_scores(result: Evaluation) -> None:
    """Test accuracy, the digits misread and the test loss."""
    total, wrong = len(result.labels), len(result.misclassified)
    scores = st.columns(3)
    scores[0].metric("Test accuracy", f"{result.accuracy:.2%}")
    scores[1].metric("Misclassified", f"{wrong:,} of {total:,}")
    scores[2].metric("Test loss", f"{result.loss:.4f}")


def confusion_matrix(result: Evaluation) -> None:
    """The confusion matrix, raw or row-normalised, beside each digit's precision and recall."""
    matrix, report = st.columns([1.3, 1], gap="medium")
    with matrix:
        normalise = st.toggle("Row-normalised (share of each true digit)", key="eval_normalise")
        st.plotly_chart(
            charts.confusion_figure(result.confusion, normalise), key="eval_confusion",
            config={"displayModeBar": False},
        )
    with report:
        st.dataframe(
            charts.class_report_rows(result), hide_index=True,
            column_config={"Precision": PERCENT, "Recall": PERCENT},
        )


def calibration(name: str, total: int) -> None:
    """The reliability diagram beside the calibration error and how many test digits the
    model names rather than saying it is not sure."""
    st.subheader("Does its confidence mean what it says?")
    report = ui.calibration_report(name)
    policy = ui.reading_policy(name)
    left, right = st.columns([1.3, 1], gap="medium")
    with left:
        st.plotly_chart(
            charts.reliability_figure(report), key="eval_reliability",
            config={"displayModeBar": False},
        )
    with right:
        st.metric("Calibration error (ECE), as shown", f"{report.ece:.2%}",
                  help="How far the bars' top probability is from the share right, in 15 "
                  "confidence bins weighted by the digits each holds (the numbers by the "
                  "points); 0 is perfect.")
        st.caption(f"As trained: {report.ece_raw:.2%}. Temperature {policy.temperature:.2f}.")
        named = round(report.named_share * total)
        st.metric("Test digits it names", f"{named:,} of {total:,}",
                  help=f"It names a digit when the top probability reaches "
                  f"{policy.min_probability:.1%}; otherwise it says it is not sure.")
        if report.accuracy_named is not None:
            st.caption(f"Right on {report.accuracy_named:.2%} of the digits it names; "
                       f"for the other {ui.plural(total - named, 'digit')} it says “not sure”.")


def misclassified_digits(name: str, readings: Scores, result: Evaluation) -> None:
    """A true digit and the digit it was misread as, picked, and the test images misread
    so; on request, where the model looked in each."""
    st.subheader("Misclassified test digits")
    top = result.top_confusions(1)
    if "eval_true" not in st.session_state:
        st.session_state.eval_true, st.session_state.eval_pred = top[0][:2] if top else (4, 9)
    true_col, pred_col = st.columns(2)
    true = true_col.selectbox("True digit", range(10), key="eval_true")
    predicted = pred_col.selectbox("Predicted as", range(10), key="eval_pred")
    if top:
        st.caption(
            "Most frequent mistakes: "
            + ", ".join(f"{t} → {p} ({n})" for t, p, n in result.top_confusions(5))
        )
    indices = result.misclassified_as(true, predicted)
    if true == predicted:
        st.info(f"Choose two different digits: these are the {len(indices):,} {true}s read right.")
    elif not len(indices):
        st.success(f"No test image of a {true} was read as {predicted}.")
    else:
        shown = indices[:MAX_EXAMPLES]
        st.caption(
            f"{ui.plural(len(indices), 'test image')} of a {true} "
            f"{'was' if len(indices) == 1 else 'were'} read as {predicted}"
            + (f"; the first {len(shown)} shown" if len(shown) < len(indices) else "")
            + f". Under each: the model's probability for {predicted}, then for {true}."
        )
        st.image(
            [reading_views.enlarge(readings.image(i), 112) for i in shown],
            caption=[
                f"{predicted}: {result.probabilities[i, predicted]:.0%} · "
                f"{true}: {result.probabilities[i, true]:.0%}"
                for i in shown
            ],
            width=112,
        )
        if st.toggle("Where it looked", key="eval_why", help="Each place of each image "
                     "covered in turn and the image read again: red where the place made "
                     f"it read {predicted} rather than {true}, blue where it spoke for {true}."):
            why_views.looked_at_each(name, [readings.image(i) for i in shown], predicted, true)


ui.remember("eval_models", "eval_split", "eval_model", "eval_normalise", "eval_true", "eval_pred",
            "eval_why")
st.title("Evaluate and compare")
if infos := digit_readers():
    learning_curves(infos)
    problems = all_models(infos)
    where_a_model_goes_wrong(problems)
