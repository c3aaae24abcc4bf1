"""Core of the handwritten-digit recogniser: everything that is not UI. Nothing in here
imports Streamlit or Plotly.

Laid out by role, each package importing only those above it in this list:

- `model`: what a model is once made (its card, its "not sure" rule, its ONNX graph in
  a session, the three together as a `LoadedModel`);
- `reading`: from a drawing, a photo or a written number to a verdict (preprocessing,
  uploads, segmenting, inference, accuracy over a set);
- `shared`: state every replica and worker shares (SQLite or Redis), and the owner book;
- `store`: the model store (`models/` and the writable store), graphs, stored readings;
- `sources`: the data (MNIST, the pen writers' strokes and what is drawn from them);
- `training`: architectures, run settings, fitting, ensembles, distilling, calibrating,
  int8 graphs (TensorFlow is imported only here, and only when a network is built);
- `jobs`: training and other work queued from the app and run by worker processes.

`errors` holds the exceptions all of them raise; `python -m mnist_core` is the command
line (`__main__` parses, `commands` runs).
"""

__version__ = "0.1.0"
