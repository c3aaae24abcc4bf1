"""The model store: the shipped `models/` and the writable store, where each model is
found, who may replace it and how it is opened (`registry`), how it is saved, changed and
removed (`saving`), its ONNX graph and layers graph (`export`; `layers` opens the
latter for the web server), its stored readings of the MNIST test set
(`scores`), its index of the training digits most like a drawing (`neighbours`), and
the learning curves its cards hold (`compare`)."""
