"""Limits an operator sets in the environment, read the one way every store reads them."""

from __future__ import annotations

import os


def whole_number(name: str, default: int) -> int:
    """The environment variable `name` as a whole number of at least 1, or `default`
    where it is unset or empty; `ValueError` naming it when it is anything else."""
    text = os.environ.get(name)
    if not text:
        return default
    try:
        value = int(text)
    except ValueError:
        raise ValueError(f"{name} must be a whole number, got {text!r}") from None
    if value < 1:
        raise ValueError(f"{name} must be at least 1, got {value}")
    return value
