"""What the pages say of a verdict: the core decides (`mnist_core.model.verdict`), this words it."""

from __future__ import annotations

import re

from mnist_core.model.verdict import Kind, Verdict

PREDICTION_LABEL = "Prediction"


def verdict_warning(verdict: Verdict, uploaded: bool = False) -> str | None:
    """The warning shown where no digit is named (None where one is): "not sure" with
    the two candidates, or "not a digit", told what to do for a drawing or an upload."""
    if verdict.kind is Kind.DIGIT:
        return None
    if verdict.kind is Kind.NOT_SURE:
        (first, second), (p_first, p_second) = verdict.candidates, verdict.probabilities
        advice = ("Try a sharper photo, cropped to the digit." if uploaded
                  else "Try drawing it larger and clearer.")
        return (f"Not sure — maybe {first} ({p_first:.0%}) or {second} ({p_second:.0%}). "
                + advice)
    if uploaded:
        return "This doesn't look like a digit. Upload a photo or scan of one digit, 0 to 9."
    return "This doesn't look like a digit. Draw one digit, 0 to 9, to fill the box."


def nothing_to_read(error: Exception | str) -> str:
    """Why a drawing or an upload gives nothing to read, in one sentence and its advice
    ("Nothing to read yet: the drawing is only a dot or a blot. Draw a digit."): the
    core's "what: advice" gets no second colon."""
    what, _, advice = str(error).rstrip(".").partition(": ")
    advice = f" {advice[:1].upper()}{advice[1:]}." if advice else ""
    return f"Nothing to read yet: {what}.{advice}"


# A server path in an error's text: what follows it (a quote, a colon, a space) ends it.
_SERVER_PATH = re.compile(r"(?:/[^/\s'\":()]+)+/?")


def for_visitor(error: Exception | str) -> str:
    """An error's text with every server path cut to its last part ("no model named 'x'
    in /srv/app/var/models" reads "... in models"): a visitor learns what went wrong,
    never where the server keeps its files. The server's log keeps the whole text."""
    return _SERVER_PATH.sub(lambda m: m.group(0).rstrip("/").rsplit("/", 1)[-1] or "/",
                            str(error))
