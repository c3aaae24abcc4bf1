"""Import TensorFlow without its start-up noise.

On a machine without a GPU, TensorFlow prints a page of start-up lines as it loads
(oneDNN, CPU instructions, "Could not find cuda drivers", and a "failed call to cuInit"
error), written before its own log level is read. They alarm people and say nothing is
wrong, so the command line and a job's training process import TensorFlow through
`quiet_tensorflow`: those lines are hidden, and everything it prints afterwards, real
errors among it, reaches stderr as before.
"""

from __future__ import annotations

import os
import sys


def quiet_tensorflow() -> None:
    """Import TensorFlow (and probe its devices) with stderr silenced; a no-op once loaded."""
    if "tensorflow" in sys.modules:
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    sys.stderr.flush()
    saved, devnull = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        import tensorflow as tf

        tf.config.list_physical_devices()  # the CUDA probe prints here, or at the first op
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)
