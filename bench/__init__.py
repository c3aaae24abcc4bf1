"""Benchmarks of the digit recogniser: accuracy, latency and training throughput.

Run each from the repository root, e.g. `python -m bench.accuracy --quick`.
"""

import os

# Quiet TensorFlow's start-up log; set here so it precedes every script's imports.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
