"""`app_ui.ui`: the Keras reset Streamlit makes after each script run is skipped."""

from __future__ import annotations

import keras

import app_ui.ui  # noqa: F401  (installs the skip on import)


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
