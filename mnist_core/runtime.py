"""Reading with ONNX Runtime: a stored model's exported graph (`<name>.onnx`), run
without TensorFlow or Keras, as the web server reads every drawing.

Training, calibration and ensembling build and change Keras networks in workers; each
save also exports the network to ONNX (`registry.save_model`), so the server only
opens that graph here: `import onnxruntime` and a session take a tenth of a second and
tens of MB, where Keras and TensorFlow take seconds and hundreds of MB.

    network = OnnxNetwork(path, sha256=card.onnx_sha256)
    probabilities = network(images)  # (N, 28, 28) float32 -> (N, 10)
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from mnist_core.errors import InvalidModelError

# A web server reads one drawing at a time for many visitors, each on its own thread:
# a single-image pass of these small networks is too short to gain from more threads,
# and a batch (a written number, the test set) gains little on two cores.
INTRA_OP_THREADS = 1
INTER_OP_THREADS = 1
ACCEPTED_INPUT_SHAPES = ((28, 28), (28, 28, 1), (784,))


def checked_graph(path: Path, sha256: str | None, data: bytes | None = None) -> bytes:
    """The graph at `path` (or `data`, the one about to be saved there), which must have
    the SHA-256 its card gives it: `InvalidModelError` if it cannot be read or has not."""
    try:
        data = path.read_bytes() if data is None else data
    except OSError as err:
        raise InvalidModelError(f"ONNX file {path} cannot be read: {err}") from err
    found = hashlib.sha256(data).hexdigest()
    if sha256 != found:
        raise InvalidModelError(
            f"ONNX file {path} has SHA-256 {found[:12]}…, but its card says "
            f"{sha256[:12] + '…' if sha256 else 'none'}: it is not this model's graph"
        )
    return data


class OnnxNetwork:
    """A model's ONNX graph in an onnxruntime session on the CPU: calling it maps
    `(N, 28, 28)` float32 images in [0, 1] to the network's `(N, 10)` probabilities.

    `sha256`, the card's checksum, must match the file's (`InvalidModelError` if not),
    so a graph left from another version of the model is never read with. `data`, where
    given, is the graph itself (one about to be saved at `path`). `memory_arena=False`
    frees what a batch needed once it is read, for a session that reads one large set
    and is then dropped.
    """

    def __init__(self, path: str | Path, *, sha256: str | None,
                 intra_op_threads: int = INTRA_OP_THREADS, data: bytes | None = None,
                 memory_arena: bool = True) -> None:
        # imported here: training workers import this module's callers but never read
        # with ONNX Runtime
        import onnxruntime as ort
        from onnxruntime.capi import onnxruntime_pybind11_state as ort_errors

        self.path = Path(path)
        data = checked_graph(self.path, sha256, data)
        options = ort.SessionOptions()
        options.intra_op_num_threads = intra_op_threads
        options.inter_op_num_threads = INTER_OP_THREADS
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.enable_cpu_mem_arena = memory_arena
        options.log_severity_level = 3  # errors only; warnings would fill a server's log
        try:
            self.session = ort.InferenceSession(data, options,
                                                providers=["CPUExecutionProvider"])
        except (ort_errors.InvalidProtobuf, ort_errors.InvalidGraph, ort_errors.Fail,
                ort_errors.NotImplemented, ort_errors.InvalidArgument,
                ort_errors.RuntimeException) as err:
            raise InvalidModelError(f"ONNX file {self.path} cannot be opened: {err}") from err
        inputs, outputs = self.session.get_inputs(), self.session.get_outputs()
        if len(inputs) != 1 or len(outputs) != 1:
            raise InvalidModelError(f"ONNX file {self.path} has no single input and output")
        self.input_name = inputs[0].name
        self.input_shape = tuple(inputs[0].shape[1:])
        if self.input_shape not in ACCEPTED_INPUT_SHAPES:
            raise InvalidModelError(
                f"ONNX file {self.path} takes inputs shaped {self.input_shape}, expected one "
                f"of {ACCEPTED_INPUT_SHAPES} (28x28 images)"
            )
        if tuple(outputs[0].shape[1:]) != (10,):
            raise InvalidModelError(
                f"ONNX file {self.path} gives outputs shaped {tuple(outputs[0].shape[1:])}, "
                "expected (10,) class scores"
            )

    def __call__(self, images: np.ndarray) -> np.ndarray:
        """The network's `(N, 10)` float32 probabilities for checked `(N, 28, 28)`
        float32 images (`inference.predict_proba` checks them)."""
        x = np.ascontiguousarray(images, dtype=np.float32).reshape(len(images), *self.input_shape)
        return self.session.run(None, {self.input_name: x})[0]

    def __repr__(self) -> str:
        return f"OnnxNetwork({str(self.path)!r})"
