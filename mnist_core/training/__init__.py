"""Making models: architectures as data (`architectures`) and as networks (`models`), a
run's settings (`config`), its images (`run_data`, `negatives`, `augment`), the fit
(`objective`, `train`, `run_card`), and what is made from stored models (`ensemble`,
`distill`, `calibration`, `quantize`, `neighbour_index`: the training digits a model
finds most like a drawing, and `teach`: a model taught a visitor's kept drawings, on
what `teach_data` chooses). TensorFlow is imported only to build or fit a
network (`tensorflow_setup` quietens it)."""
