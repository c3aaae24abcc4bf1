"""What a model is once made: its card (`card`), the one "not sure" rule (`verdict`), its
ONNX graph in an onnxruntime session (`runtime`), its layers graph likewise
(`layers_graph`), and the first three together, ready to read with (`loaded_model`).
Plain data and onnxruntime: no TensorFlow, no OpenCV."""
