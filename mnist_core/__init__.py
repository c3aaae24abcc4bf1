"""Core of the handwritten-digit recogniser: data, preprocessing, models, training,
evaluation, inference and the model store. Nothing in here imports Streamlit."""

__version__ = "0.1.0"
