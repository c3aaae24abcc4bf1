"""Reading with ONNX Runtime: a stored model's exported graph (`<name>.onnx`), run
without TensorFlow or Keras, as the web server reads every drawing.

Training, calibration and ensembling build and change Keras networks in workers; each
save also exports the network to ONNX (`saving.save_model`), so the server only
opens that graph here: `import onnxruntime` and a session take a tenth of a second and
tens of MB, where Keras and TensorFlow take seconds and hundreds of MB.

    network = OnnxNetwork(path, sha256=card.onnx_sha256)
    probabilities = network(images)  # (N, 28, 28) float32 -> (N, 10)
    features = network.outputs(images, "features")["features"]  # (N, d)

A graph names its outputs (`OUTPUTS`, `export.onnx_graph` writes them), probabilities
first; one saved before outputs had names gives only probabilities, under whatever
name its exporter chose.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from mnist_core.errors import InvalidModelError, MissingOutputError

# A web server reads one drawing at a time for many visitors, each on its own thread:
# a single-image pass of these small networks is too short to gain from more threads,
# and a batch (a written number, the test set) gains little on two cores.
INTRA_OP_THREADS = 1
INTER_OP_THREADS = 1
ACCEPTED_INPUT_SHAPES = ((28, 28), (28, 28, 1), (784,))
# The outputs a model's graph gives, in this order: its (N, 10) probabilities and the
# (N, d) activations its class-score layer reads. More may follow; none go before.
PROBABILITIES = "probabilities"
FEATURES = "features"
OUTPUTS = (PROBABILITIES, FEATURES)


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
    `(N, 28, 28)` float32 images in [0, 1] to the network's `(N, 10)` probabilities;
    `outputs(images, *names)` gives the named outputs the graph has (`output_names`).

    `sha256`, the card's checksum, must match the file's (`InvalidModelError` if not),
    so a graph left from another version of the model is never read with. `data`, where
    given, is the graph itself (one about to be saved at `path`). `memory_arena=False`
    frees what a batch needed once it is read, for a session that reads one large set
    and is then dropped.
    """

    # What the graph must take and give, for one image: another kind of model's graph
    # (a whole-number reader's, `number_network.NumberNetwork`) names its own.
    input_shapes: tuple[tuple, ...] = ACCEPTED_INPUT_SHAPES
    output_shape: tuple[int, ...] = (10,)
    inputs_are = "28x28 images"
    outputs_are = "class scores"

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
        if len(inputs) != 1 or not outputs:
            raise InvalidModelError(f"ONNX file {self.path} has no single input and an output")
        self.input_name = inputs[0].name
        self.input_shape = tuple(inputs[0].shape[1:])
        if self.input_shape not in self.input_shapes:
            raise InvalidModelError(
                f"ONNX file {self.path} takes inputs shaped {self.input_shape}, expected one "
                f"of {self.input_shapes} ({self.inputs_are})"
            )
        # a graph from before outputs were named gives probabilities alone, named anyhow
        names = [output.name for output in outputs]
        if len(outputs) == 1 and names[0] != PROBABILITIES:
            self._graph_names = {PROBABILITIES: names[0]}
        elif names[0] == PROBABILITIES and len(set(names)) == len(names):
            self._graph_names = {name: name for name in names}
        else:
            raise InvalidModelError(f"ONNX file {self.path} gives outputs {names}: the first "
                                    f"must be {PROBABILITIES!r}, and no name twice")
        if not self.gives_output_shape(tuple(outputs[0].shape[1:])):
            raise InvalidModelError(
                f"ONNX file {self.path} gives outputs shaped {tuple(outputs[0].shape[1:])}, "
                f"expected {self.output_shape} {self.outputs_are}"
            )
        self._probabilities = [names[0]]

    @classmethod
    def gives_output_shape(cls, shape: tuple) -> bool:
        """Whether a graph's first output, shaped `shape` for one image, is what this
        kind of graph gives (`output_shape`); a size the graph leaves unnamed (a string)
        fits any."""
        return len(shape) == len(cls.output_shape) and all(
            isinstance(size, str) or size == wanted
            for size, wanted in zip(shape, cls.output_shape))

    @property
    def output_names(self) -> tuple[str, ...]:
        """The outputs this graph gives, `probabilities` first."""
        return tuple(self._graph_names)

    def __call__(self, images: np.ndarray) -> np.ndarray:
        """The network's `(N, 10)` float32 probabilities for checked `(N, 28, 28)`
        float32 images (`inference.predict_proba` checks them)."""
        x = np.ascontiguousarray(images, dtype=np.float32).reshape(len(images), *self.input_shape)
        return self.session.run(self._probabilities, {self.input_name: x})[0]

    def outputs(self, images: np.ndarray, *names: str) -> dict[str, np.ndarray]:
        """The named outputs (`OUTPUTS`; all the graph gives if none are named) for
        checked `(N, 28, 28)` float32 images, each computed once in one pass.
        `MissingOutputError` names an output the graph does not give (a graph saved
        before it had features gives probabilities only)."""
        names = names or self.output_names
        missing = [name for name in names if name not in self._graph_names]
        if missing:
            raise MissingOutputError(
                f"ONNX file {self.path} gives no {', '.join(map(repr, missing))}: it gives "
                f"{', '.join(map(repr, self.output_names))}"
                + ("; it was exported before graphs had features, so export it again "
                   "(`python -m mnist_core export NAME`)" if len(self._graph_names) == 1
                   else ""))
        found = self.session.run([self._graph_names[name] for name in names],
                                 {self.input_name: self._input(images)})
        return dict(zip(names, found))

    def _input(self, images: np.ndarray) -> np.ndarray:
        return np.ascontiguousarray(images, dtype=np.float32).reshape(len(images),
                                                                      *self.input_shape)

    def __repr__(self) -> str:
        return f"OnnxNetwork({str(self.path)!r})"
