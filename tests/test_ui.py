"""`app_ui.ui`: the Keras reset Streamlit makes after each script run is skipped; the
one-line summary of a model card."""

from __future__ import annotations

import keras

import app_ui.ui  # installs the skip on import


def _clean_problem_modules():
    """Stands in for Streamlit's post-run hook of the same name."""
    keras.backend.clear_session()


def test_streamlit_post_run_reset_is_skipped_but_explicit_calls_work():
    keras.backend.get_uid("probe")
    before = keras.backend.get_uid("probe")
    _clean_problem_modules()
    assert keras.backend.get_uid("probe") == before + 1  # counters survived
    keras.backend.clear_session()
    assert keras.backend.get_uid("probe") == 1  # a direct call still resets them


def test_a_card_summary_says_what_the_model_is():
    card = {"architecture": "cnn", "params": 289066, "test_accuracy": 0.9946,
            "trained_on": "MNIST training set", "train_images": 54000, "epochs_run": 15}
    assert app_ui.ui.card_summary(card) == (
        "**cnn** · 289,066 parameters · test accuracy 99.46% · trained on MNIST training "
        "set (54,000 images) · 15 epochs"
    )
    ensemble = card | {"architecture": "ensemble", "params": 867198,
                       "hyperparameters": {"architecture": "cnn"},
                       "members": [{"init_seed": seed} for seed in (0, 1, 2)]}
    assert app_ui.ui.card_summary(ensemble).startswith(
        "**ensemble** of 3 `cnn` runs, their probabilities averaged · 867,198 parameters"
    )
    assert app_ui.ui.card_summary(ensemble).endswith("15 epochs each")
