"""`app_ui.messages`: each verdict put into words that fit a drawing or an upload."""

from __future__ import annotations

from app_ui.messages import verdict_warning
from mnist_core.model.verdict import Kind, Verdict

DIGIT = Verdict(Kind.DIGIT, (7, 1), (0.98, 0.01))
UNSURE = Verdict(Kind.NOT_SURE, (4, 9), (0.52, 0.41))
NONE = Verdict(Kind.NOT_A_DIGIT, (0, 8), (0.2, 0.15))


def test_a_named_digit_needs_no_warning():
    assert verdict_warning(DIGIT) is None and verdict_warning(DIGIT, uploaded=True) is None


def test_not_sure_names_both_candidates_with_their_share():
    words = verdict_warning(UNSURE)
    assert words.startswith("Not sure — maybe 4 (52%) or 9 (41%).")
    assert "drawing it larger" in words
    assert "photo" in verdict_warning(UNSURE, uploaded=True)


def test_not_a_digit_tells_a_drawer_to_draw_and_an_uploader_to_upload():
    assert "Draw one digit" in verdict_warning(NONE)
    upload_words = verdict_warning(NONE, uploaded=True)
    assert "doesn't look like a digit" in upload_words and "Draw" not in upload_words


def test_an_error_shown_to_a_visitor_names_no_server_path():
    from app_ui.messages import for_visitor

    assert for_visitor("no model named 'x' in /srv/app/var/models (have: a, b)") == (
        "no model named 'x' in models (have: a, b)")
    assert for_visitor("model file /srv/models/x.keras cannot be loaded: bad zip") == (
        "model file x.keras cannot be loaded: bad zip")
    assert for_visitor(OSError(13, "Permission denied", "/srv/models/.x.tmp.keras")) == (
        "[Errno 13] Permission denied: '.x.tmp.keras'")
    assert for_visitor("the model store is full") == "the model store is full"
