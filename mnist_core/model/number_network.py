"""What a whole-number reader takes and gives, and its ONNX graph in a session.

A number reader (a card whose `task` is `card.NUMBER`) reads a whole written number at
once: a `(NUMBER_HEIGHT, NUMBER_WIDTH)` image of its ink (`number_input.prepare_number`)
becomes `(NUMBER_STEPS, CLASSES)` probabilities, one row per `STEP_PX` columns of the
image: the ten digits and `BLANK` (no digit starts here), as a network trained with the
CTC loss gives them. `number_reader` decodes them into digits.
"""

from __future__ import annotations

from mnist_core.model.card import DIGIT, NUMBER
from mnist_core.model.runtime import OnnxNetwork

NUMBER_HEIGHT = 32
NUMBER_WIDTH = 128
STEP_PX = 4  # image columns per output step: the network pools its width by 4
NUMBER_STEPS = NUMBER_WIDTH // STEP_PX
BLANK = 10  # the output that says "no new digit here", after the ten digits
CLASSES = 11
NUMBER_INPUT_SHAPE = (NUMBER_HEIGHT, NUMBER_WIDTH)
NUMBER_OUTPUT_SHAPE = (NUMBER_STEPS, CLASSES)


class NumberNetwork(OnnxNetwork):
    """A number reader's ONNX graph in an onnxruntime session (one thread, like every
    graph the web server reads): calling it maps `(N, NUMBER_HEIGHT, NUMBER_WIDTH)`
    float32 images in [0, 1] to `(N, NUMBER_STEPS, CLASSES)` probabilities; `outputs`
    gives its named outputs (`probabilities`, `features`: what its last layer reads at
    each step). Opened and checked as `OnnxNetwork` is, with these shapes."""

    input_shapes = (NUMBER_INPUT_SHAPE,)
    output_shape = NUMBER_OUTPUT_SHAPE
    inputs_are = f"{NUMBER_HEIGHT}x{NUMBER_WIDTH} images of a written number"
    outputs_are = f"digit-or-blank probabilities at each of {NUMBER_STEPS} steps"


def shape_problem(input_shape: tuple, output_shape: tuple, task: str = DIGIT) -> str | None:
    """What keeps a network from doing `task`, given its input and output shapes for one
    image, in words ("takes inputs shaped ..."); None if nothing. A digit reader maps
    28x28 images to ten class scores, a number reader (`NUMBER`) a number's image to
    `NUMBER_OUTPUT_SHAPE`."""
    if task == NUMBER:
        inputs, output = (NUMBER_INPUT_SHAPE,), NUMBER_OUTPUT_SHAPE
        inputs_are, outputs_are = NumberNetwork.inputs_are, NumberNetwork.outputs_are
    else:
        inputs, output = OnnxNetwork.input_shapes, OnnxNetwork.output_shape
        inputs_are, outputs_are = OnnxNetwork.inputs_are, OnnxNetwork.outputs_are
    if tuple(input_shape) not in inputs:
        return (f"takes inputs shaped {tuple(input_shape)}, expected one of {inputs} "
                f"({inputs_are})")
    if tuple(output_shape) != output:
        return f"gives outputs shaped {tuple(output_shape)}, expected {output} {outputs_are}"
    return None
