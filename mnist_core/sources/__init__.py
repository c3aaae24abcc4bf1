"""The data: MNIST from a folder or the Keras cache (`data`), the UCI pen writers'
trajectories (`pendigits_source`, `lzw`), rendered as the pad draws them and composed
into numbers (`pendigits`), and rewritten in styles MNIST lacks (`pen_styles`); a
visitor's drawings as one `.npz` file, written and read back safely (`drawings_file`)."""
