"""An int8 graph for serving: a stored model's ONNX graph with its weights and
activations in 8-bit integers, which reads a drawing in about half the time.

The float graph (`<name>.onnx`) gives the Keras network's own probabilities; the int8
graph (`<name>.int8.onnx`, static quantization, per-channel weights) gives them to
within a few hundredths. So it is scored before it is kept: on the validation digits
of the model's recipe it must read as many right as the float graph, and it gets its
own reading policy fitted there, since the "not sure" threshold was fitted on the float
graph's probabilities. The card's `int8` entry records all of it, and the web server
reads through the int8 graph when the card names one (`registry.open_model`).

Workers and the command line only (`python -m mnist_core quantize NAME`): quantizing
needs the `onnx` package, which the web server never imports.
"""

from __future__ import annotations

import dataclasses
import hashlib
import tempfile
import time
from pathlib import Path

import numpy as np

from mnist_core.errors import MnistCoreError
from mnist_core.model.card import Int8Entry, ModelCard
from mnist_core.store import registry, saving
from mnist_core.training.config import TrainConfig

# Images whose activations set each layer's int8 range: enough to cover drawings and
# non-digits, few enough that quantizing takes seconds.
CALIBRATION_DIGITS = 768
CALIBRATION_NON_DIGITS = 256
CALIBRATION_BATCH = 64
# More validation digits read wrongly than the float graph reads wrongly: not kept.
ALLOWED_EXTRA_ERRORS = 0


class QuantizationRejected(MnistCoreError):
    """The int8 graph reads worse than the float one on the recipe's validation digits."""


def int8_graph(float_graph: bytes, images: np.ndarray) -> bytes:
    """`float_graph` quantized to int8 (QDQ, per-channel signed weights and signed
    activations), the activation ranges set on `images`, `(N, 28, 28)` float32.

    The layer that gives the class scores, the softmax and all after it (an
    ensemble's average) stay in float: a softmax in int8 rounds the small
    probabilities away, which the reading policy and "not sure" depend on. The graph
    keeps the float graph's named outputs (`runtime.OUTPUTS`), the features among them
    (int8 activations, given in float).
    """
    import onnx
    import onnxruntime as ort
    from onnxruntime.quantization import (
        CalibrationDataReader,
        QuantFormat,
        QuantType,
        quant_pre_process,
        quantize_static,
    )

    input_name = ort.InferenceSession(
        float_graph, providers=["CPUExecutionProvider"]).get_inputs()[0].name

    class Batches(CalibrationDataReader):
        def __init__(self) -> None:
            self.batches = iter(range(0, len(images), CALIBRATION_BATCH))

        def get_next(self):
            start = next(self.batches, None)
            if start is None:
                return None
            batch = images[start:start + CALIBRATION_BATCH]
            return {input_name: np.ascontiguousarray(batch, dtype=np.float32)}

    with tempfile.TemporaryDirectory(prefix="quantize-") as scratch:
        source, prepared, quantized = (Path(scratch) / f for f in
                                       ("float.onnx", "prepared.onnx", "int8.onnx"))
        source.write_bytes(float_graph)
        # shapes inferred and the graph simplified, as quantize_static expects
        quant_pre_process(str(source), str(prepared), skip_symbolic_shape=True)
        quantize_static(str(prepared), str(quantized), Batches(),
                        quant_format=QuantFormat.QDQ, per_channel=True,
                        activation_type=QuantType.QInt8, weight_type=QuantType.QInt8,
                        nodes_to_exclude=float_head(onnx.load(str(prepared)).graph))
        return quantized.read_bytes()


def float_head(graph) -> list[str]:
    """The names of the nodes kept in float: each softmax, the class-score layer
    before it (back to its MatMul or Gemm), and every node after a softmax."""
    producer = {output: node for node in graph.node for output in node.output}
    consumers: dict[str, list] = {}
    for node in graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
    kept: list[str] = []
    softmaxes = [node for node in graph.node if node.op_type == "Softmax"]
    for softmax in softmaxes:
        node = producer.get(softmax.input[0])
        while node is not None and node.op_type in ("Add", "Gemm", "MatMul"):
            kept.append(node.name)
            if node.op_type != "Add":
                break
            node = next((producer[name] for name in node.input if name in producer), None)
    later = [output for softmax in softmaxes for output in softmax.output]
    while later:
        for node in consumers.get(later.pop(), []):
            if node.name not in kept:
                kept.append(node.name)
                later.extend(node.output)
    return kept + [softmax.name for softmax in softmaxes]


def calibration_images(cfg: TrainConfig, train_data) -> np.ndarray:
    """Digits the run fitted on (never its validation digits, which judge the result)
    and non-digits of the kinds it fitted, prepared as it read them."""
    from mnist_core.training.run_data import non_digit_drawings, split_indices, training_digits

    x_train, _, n_drawn = training_digits(cfg, train_data)
    _, fit_idx = split_indices(len(x_train), cfg, n_drawn)
    chosen = np.random.default_rng(cfg.seed).choice(
        fit_idx, min(CALIBRATION_DIGITS, len(fit_idx)), replace=False)
    images = [x_train[np.sort(chosen)]]
    if cfg.non_digits:
        images.append(non_digit_drawings(
            dataclasses.replace(cfg, non_digits=CALIBRATION_NON_DIGITS)))
    return np.concatenate(images).astype(np.float32)


def quantize_model(name: str, *, data, directory=None) -> ModelCard:
    """Make `name`'s int8 graph, score it against the float graph on the validation
    digits of the model's recipe, fit its reading policy there and store both
    (`<name>.int8.onnx` and the card's `int8` entry). Returns the new card.

    `data` is `load_mnist()`'s ((x_train, y_train), (x_test, y_test)). Raises
    `QuantizationRejected`, storing nothing, if the int8 graph reads more validation
    digits wrongly than the float graph.
    """
    from mnist_core.model.runtime import OnnxNetwork
    from mnist_core.reading.inference import predict_proba
    from mnist_core.reading.preprocess import prepare_mnist
    from mnist_core.training.calibration import card_entry, fit_policy
    from mnist_core.training.run_data import validation_digits

    started = time.perf_counter()
    model = registry.open_model(name, directory, float_graph=True)
    if not model.card.hyperparameters:
        raise MnistCoreError(f"{name!r} has no recorded training settings, so there are "
                             "no validation digits to judge its int8 graph on")
    cfg = TrainConfig.from_card(model.card.hyperparameters).resolved()
    graph = int8_graph(model.network.path.read_bytes(),
                       calibration_images(cfg, data[0]))
    sha256 = hashlib.sha256(graph).hexdigest()
    x_val, y_val = validation_digits(cfg, data[0])
    p_float = predict_proba(model.network, x_val)
    with tempfile.TemporaryDirectory(prefix="quantize-") as scratch:
        path = Path(scratch) / "int8.onnx"
        path.write_bytes(graph)
        p_int8 = predict_proba(OnnxNetwork(path, sha256=sha256), x_val)
    errors = int((p_int8.argmax(axis=1) != y_val).sum())
    float_errors = int((p_float.argmax(axis=1) != y_val).sum())
    if errors > float_errors + ALLOWED_EXTRA_ERRORS:
        raise QuantizationRejected(
            f"{name!r} in int8 reads {errors} of {len(y_val):,} validation digits wrongly, "
            f"against {float_errors} in float: kept in float only")
    policy = fit_policy(p_int8, y_val)
    entry = Int8Entry(
        onnx_sha256=sha256,
        reading=card_entry(policy, f"{len(x_val):,} validation digits of its recipe, "
                           "read through the int8 graph"),
        val_images=int(len(y_val)),
        val_errors=errors,
        float_val_errors=float_errors,
        changed_readings=int((p_int8.argmax(axis=1) != p_float.argmax(axis=1)).sum()),
        max_difference=float(np.abs(p_int8 - p_float).max()),
        calibrated_on=f"{CALIBRATION_DIGITS:,} digits its run fitted on and "
                      f"{CALIBRATION_NON_DIGITS if cfg.non_digits else 0} non-digits",
        seconds=round(time.perf_counter() - started, 1),
        created=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    )
    x_test, y_test = data[1]
    return saving.write_int8_graph(name, graph, entry, directory,
                                     test_set=(prepare_mnist(x_test), y_test))
