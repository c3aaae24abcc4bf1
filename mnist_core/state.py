"""Where the app keeps what it writes at run time: the job queue, job records, the
worker's log and the models trained here.

`MNIST_STATE_DIR` names the folder; by default it is `var/` in the repository (git
ignores it). Shipped files (`models/`) are never written there.
"""

from __future__ import annotations

import os
from pathlib import Path

STATE_DIR_ENV = "MNIST_STATE_DIR"
DEFAULT_STATE_DIR = Path(__file__).resolve().parent.parent / "var"


def state_dir() -> Path:
    """The state folder: `MNIST_STATE_DIR`, else `var/` beside `mnist_core`."""
    return Path(os.environ.get(STATE_DIR_ENV) or DEFAULT_STATE_DIR)
