"""`python -m mnist_core predict FILE.npz --drawings KEPT.npz`: a drawings file read as the
Draw page reads a visitor's drawings, with their kept drawings in mind."""

from __future__ import annotations

import numpy as np

from mnist_core.__main__ import main
from mnist_core.sources.drawings_file import make_drawings, write_drawings


def test_predict_reads_a_drawings_file_with_kept_drawings_in_mind(subset_model_store,
                                                                  mnist_subset, tmp_path,
                                                                  capsys):
    (x_train, y_train), _ = mnist_subset
    chosen = [i for digit in range(10) for i in np.flatnonzero(y_train == digit)[:3]]
    pads = [np.kron(x_train[i], np.ones((10, 10), np.uint8)) for i in chosen]
    labels = [int(y_train[i]) for i in chosen]
    drawings = write_drawings(tmp_path / "mine.npz", make_drawings(pads, labels))
    common = ["--models-dir", str(subset_model_store), "predict", str(drawings),
              "--name", "seed-cnn"]

    assert main(common) == 0
    alone = capsys.readouterr().out.strip().splitlines()
    assert main([*common, "--drawings", str(drawings)]) == 0
    said, *kept = capsys.readouterr().out.strip().splitlines()
    assert said == "with 30 kept drawings of mine.npz in mind"
    assert [line.split()[0] for line in kept] == [str(i) for i in range(30)]
    wrong = {name: sum(line.split()[1] not in ("?", str(label))
                       for line, label in zip(lines, labels))
             for name, lines in (("alone", alone), ("kept", kept))}
    # the very drawings kept, read again, are never named as another digit
    assert wrong["kept"] == 0 and wrong["kept"] <= wrong["alone"]
    assert [line.split()[1:3] for line in kept] != [line.split()[1:3] for line in alone]

    photo = tmp_path / "one.png"
    photo.write_bytes(b"\x89PNG")
    assert main(["--models-dir", str(subset_model_store), "predict", str(photo),
                 "--drawings", str(drawings)]) == 2
    assert "give a drawings file" in capsys.readouterr().err
