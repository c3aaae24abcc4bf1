"""Why a model read a drawing as it did: the occlusion map, the layers graph beside a
stored model (saved, made for a model saved before, deleted, checked), and what its
layers saw, against the shipped models and their Keras networks."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from mnist_core.__main__ import main
from mnist_core.errors import InvalidModelError, InvalidModelNameError
from mnist_core.model.card import DIGIT, LayersEntry, ModelCard
from mnist_core.reading.preprocess import (
    INK_LEVEL,
    PreprocessSteps,
    canvas_to_mnist,
    ink_from_image,
)
from mnist_core.reading.why import (
    NO_INK,
    SEPARATOR,
    channel_grid,
    layer_activations,
    map_to_drawing,
    occlusion_map,
    overlay,
    overlay_on_drawing,
    patch_positions,
)
from mnist_core.store import registry, saving
from mnist_core.store.layers import layers_path, no_layers_graph, open_layers
from tests.drawing import draw_strokes

DEFAULT = "cnn-drawn-all-24ep-x4"


@pytest.fixture(scope="module")
def cnn():
    return registry.open_model("cnn")


@pytest.fixture(scope="module")
def drawn_one():
    """A 1 drawn on the pad off its centre, as the pad gives it (RGBA), its 28x28 and
    the steps that made it."""
    drawing = draw_strokes([[(70, 40), (60, 240)]], rgba=True)
    steps = PreprocessSteps()
    return drawing, canvas_to_mnist(drawing, steps), steps


def test_a_drawn_one_is_supported_most_where_its_stroke_is(cnn, drawn_one):
    _, image, _ = drawn_one
    probabilities = cnn.network(image[np.newaxis])[0]
    digit, against = np.argsort(probabilities)[::-1][:2]
    assert digit == 1
    values = occlusion_map(cnn.network, image, int(digit), int(against))
    stroke, background = image > 0.5, image == 0
    strongest = values >= values.max() - 1e-6  # a 3 x 3 cell or a few: stride 3
    assert stroke[strongest].any() and (image[strongest] > INK_LEVEL).mean() >= 0.5
    rows, cols = np.indices(values.shape)
    support = np.maximum(values, 0)
    assert abs((cols * support).sum() / support.sum() - cols[stroke].mean()) < 1
    assert abs((rows * support).sum() / support.sum() - rows[stroke].mean()) < 2
    assert values[stroke].mean() > 3 * values[background].mean() > 0
    # covering the stroke lowers the 1's log-odds: the map is positive there, strongly
    assert values[stroke].min() > 0 and values.max() > 2


def test_places_no_patch_with_ink_covers_are_zero(cnn, drawn_one):
    _, image, _ = drawn_one
    values = occlusion_map(cnn.network, image, 1, 7)
    far = np.ones((28, 28), bool)
    for top in patch_positions():
        for left in patch_positions():
            if image[top:top + 6, left:left + 6].any():
                far[top:top + 6, left:left + 6] = False
    assert far.sum() > 100 and (values[far] == 0).all()


def test_the_covered_images_are_read_in_one_call(cnn, drawn_one, rng):
    _, image, _ = drawn_one
    batches = []

    def counted(images):
        batches.append(images.copy())
        return cnn.network(images)

    occlusion_map(counted, image, 1, 7)
    assert len(batches) == 1
    (batch,) = batches
    np.testing.assert_array_equal(batch[0], image)  # the drawing itself, uncovered
    covered = (batch[1:] != image).any(axis=(1, 2))
    assert covered.all() and 10 < len(batch) - 1 < 81  # blank places are not read
    assert (batch[1:][batch[1:] != image] == NO_INK).all()
    batches.clear()
    occlusion_map(counted, rng.uniform(0.2, 1, (28, 28)).astype(np.float32), 3, 5)
    assert len(batches) == 1 and len(batches[0]) == 1 + 81
    batches.clear()
    occlusion_map(counted, image, 1, 7, stride=2)
    assert len(batches) == 1 and 10 < len(batches[0]) - 1 < 144


def test_patch_positions_cover_every_pixel():
    assert patch_positions() == [0, 3, 6, 9, 12, 15, 18, 21, 22]  # 9 x 9 = 81 places
    assert patch_positions(6, 2) == list(range(0, 23, 2))  # 12 x 12 = 144
    with pytest.raises(ValueError, match="patch"):
        patch_positions(30, 2)


def test_a_map_needs_two_different_digits_and_a_28x28_image(cnn, drawn_one):
    _, image, _ = drawn_one
    with pytest.raises(ValueError, match="two different digits"):
        occlusion_map(cnn.network, image, 1, 1)
    with pytest.raises(ValueError, match="28, 28"):
        occlusion_map(cnn.network, image[:20], 1, 7)


def test_the_map_on_the_drawing_lies_over_the_ink_it_covered(cnn, drawn_one):
    drawing, image, steps = drawn_one
    ink = ink_from_image(drawing)
    # the 28x28 itself carried back lands on the drawing's own ink
    back = map_to_drawing(image, steps, ink.shape)
    drawn, returned = ink > 0.5, back > 0.5
    assert (drawn & returned).sum() / (drawn | returned).sum() > 0.8
    values = occlusion_map(cnn.network, image, 1, 7)
    spread = map_to_drawing(values, steps, ink.shape)
    strongest = drawn & (spread >= 0.95 * spread.max())
    assert strongest.any()  # the strongest support lies over the stroke
    cols = np.indices(spread.shape)[1]
    support = np.maximum(spread, 0)
    assert abs((cols * support).sum() / support.sum() - cols[drawn].mean()) < 10  # of 280
    picture = overlay_on_drawing(values, drawing)  # steps made again
    assert picture.shape == (*ink.shape, 3) and picture.dtype == np.uint8
    np.testing.assert_array_equal(picture, overlay_on_drawing(values, drawing, steps))
    red, blue = picture[..., 0].astype(int), picture[..., 2].astype(int)
    assert (red[strongest] > blue[strongest] + 100).all()  # support is red
    assert (picture[:, 200:] == 0).all()  # blank and far from the stroke: untouched


def test_overlay_colours_support_red_and_the_rest_blue():
    image = np.zeros((28, 28), np.float32)
    image[10:18, 12:16] = 1.0
    values = np.zeros((28, 28), np.float32)
    values[10:14] = 2.0
    values[14:18] = -1.0
    picture = overlay(values, image)
    assert picture.shape == (28, 28, 3) and picture.dtype == np.uint8
    assert picture[12, 13, 0] > picture[12, 13, 2] and picture[16, 13, 2] > picture[16, 13, 0]
    np.testing.assert_array_equal(picture[20:], 0)  # no ink, no colour: black
    assert picture[5, 5].tolist() == [0, 0, 0] and picture[11, 0, 0] > 100  # colour on black
    assert overlay(values, image, enlarge=4).shape == (112, 112, 3)


def test_channel_grid_tiles_each_map_normalised_between_grey_lines():
    maps = np.zeros((3, 2, 2), np.float32)
    maps[0] = [[0, 1], [2, 4]]
    maps[1] = 5.0  # flat: black
    maps[2] = [[-1, 0], [0, 1]]
    grid = channel_grid(maps)
    assert grid.shape == (5, 5) and grid.dtype == np.uint8  # 2 x 2 cells, 1-px lines
    assert grid[:2, :2].tolist() == [[0, 64], [128, 255]]
    assert (grid[:2, 3:] == 0).all()
    assert grid[3:, :2].tolist() == [[0, 128], [128, 255]]
    assert (grid[2] == SEPARATOR).all() and (grid[:, 2] == SEPARATOR).all()
    assert (grid[3:, 3:] == SEPARATOR).all()  # the empty fourth cell


@pytest.mark.parametrize("name", ["cnn", "mlp-16-16-relu"])
def test_layer_grids_have_the_keras_layers_shapes(name, drawn_one):
    import keras

    _, image, _ = drawn_one
    network = registry.load_model(name).network
    seen = layer_activations(open_layers(name), image)
    assert seen.network == "the model"
    shown = [layer.name for layer in network.layers
             if isinstance(layer, keras.layers.Conv2D)
             or (isinstance(layer, keras.layers.Dense) and layer is not network.layers[-1])]
    assert [view.name for view in seen.layers] == shown and shown
    for view in seen.layers:
        shape = tuple(network.get_layer(view.name).output.shape[1:])
        assert view.shape == shape
        if view.kind == "conv":
            height, width, channels = shape
            assert view.values.shape == (channels, height, width)
            columns = math.ceil(math.sqrt(channels))
            rows = math.ceil(channels / columns)
            assert channel_grid(view.values).shape == (rows * (height + 1) - 1,
                                                       columns * (width + 1) - 1)
        else:
            assert view.kind == "dense" and view.values.shape == shape


def test_the_layers_are_the_keras_networks_activations_after_their_activation(drawn_one):
    import keras

    _, image, _ = drawn_one
    network = registry.load_model("cnn").network
    seen = {view.name: view for view in layer_activations(open_layers("cnn"), image).layers}
    # the default CNN's convolutions have no activation of their own: batch norm, ReLU
    after = keras.Model(network.input, [network.get_layer("re_lu_3").output,
                                        network.get_layer("re_lu_5").output])
    maps, dense = (value.numpy()[0] for value in after(image[np.newaxis], training=False))
    np.testing.assert_allclose(seen["conv2d_3"].values, np.moveaxis(maps, -1, 0), atol=1e-4)
    np.testing.assert_allclose(seen["dense"].values, dense, atol=1e-4)
    assert maps.min() == 0 and maps.max() > 0


def test_the_layers_graph_reads_as_the_model_does(cnn, mnist_subset):
    images = mnist_subset[1][0][:8].astype(np.float32) / 255
    graph = open_layers("cnn")
    np.testing.assert_allclose(graph(images), cnn.network(images), atol=1e-5)
    keras_network = registry.load_model("cnn").network
    np.testing.assert_allclose(graph(images), keras_network(images, training=False),
                               atol=1e-5)


def test_the_defaults_layers_graph_is_its_first_run_labelled_so(mnist_subset, drawn_one):
    images = np.concatenate([drawn_one[1][np.newaxis],
                             mnist_subset[1][0][:7].astype(np.float32) / 255])
    graph = open_layers(DEFAULT)
    assert graph.label == "run 1 of 4"
    ensemble = registry.load_model(DEFAULT).network
    first_run = ensemble.get_layer("run_1")(images, training=False).numpy()
    np.testing.assert_allclose(graph(images), first_run, atol=1e-5)
    # not the ensemble's: on the drawn 1 its runs differ
    assert np.abs(first_run - ensemble(images, training=False).numpy()).max() > 1e-3
    seen = layer_activations(graph, images[0])
    assert seen.network == "run 1 of 4"
    np.testing.assert_allclose(seen.probabilities, first_run[0], atol=1e-5)


def test_every_shipped_model_has_a_layers_graph_its_card_names():
    for info in registry.list_models(registry.shipped_dir(), task=DIGIT):
        graph = open_layers(info.name, registry.shipped_dir())
        assert graph is not None, info.name
        assert graph.layers, info.name  # at least one convolution or hidden dense layer


@pytest.fixture(scope="module")
def small_network():
    """The shipped 16-16 MLP's network, to save into stores of the tests' own."""
    return registry.load_model("mlp-16-16-relu").network


def test_a_saved_model_gets_a_layers_graph_replaced_and_deleted_with_it(
        tmp_path, small_network, mnist_subset):
    card = ModelCard(architecture="mlp-16-16-relu")
    saving.save_model(small_network, "mine", card, directory=tmp_path)
    first = registry.read_card("mine", tmp_path).layers
    assert isinstance(first, LayersEntry) and first.network == "the model"
    assert [(o.name, o.kind, o.shape) for o in first.outputs] == [
        ("probabilities", "probabilities", [10]), ("features", "features", [16]),
        ("dense_1", "dense", [16]), ("dense_2", "dense", [16])]
    images = mnist_subset[1][0][:4].astype(np.float32) / 255
    np.testing.assert_allclose(open_layers("mine", tmp_path)(images),
                               small_network(images, training=False), atol=1e-5)

    changed = registry.load_model("mlp-16-16-relu").network
    changed.set_weights([weight * 0.5 for weight in changed.get_weights()])
    saving.save_model(changed, "mine", card, directory=tmp_path, overwrite=True)
    second = registry.read_card("mine", tmp_path).layers
    assert second.onnx_sha256 != first.onnx_sha256
    np.testing.assert_allclose(open_layers("mine", tmp_path)(images),
                               changed(images, training=False), atol=1e-5)

    saving.delete_model("mine", tmp_path)
    assert not layers_path("mine", tmp_path).exists()
    assert not any(tmp_path.iterdir())


def test_an_ensemble_saved_here_shows_its_first_run(tmp_path, small_network, mnist_subset):
    from mnist_core.training.ensemble import average_model

    second = registry.load_model("mlp-16-16-relu").network
    second.set_weights([weight * 0.5 for weight in second.get_weights()])
    pair = average_model([small_network, second], "pair")
    saving.save_model(pair, "pair", ModelCard(architecture="ensemble"), directory=tmp_path)
    graph = open_layers("pair", tmp_path)
    assert graph.label == "run 1 of 2" and graph.layer_names == ("dense_1", "dense_2")
    images = mnist_subset[1][0][:4].astype(np.float32) / 255
    first = small_network(images, training=False).numpy()
    np.testing.assert_allclose(graph(images), first, atol=1e-5)
    assert np.abs(first - pair(images, training=False).numpy()).max() > 1e-3


def test_a_tampered_or_missing_layers_graph_is_refused(tmp_path, small_network):
    saving.save_model(small_network, "mine", ModelCard(), directory=tmp_path)
    path = layers_path("mine", tmp_path)
    data = path.read_bytes()
    path.write_bytes(data[:-10] + bytes(10))
    with pytest.raises(InvalidModelError, match="SHA-256.*not this model's graph"):
        open_layers("mine", tmp_path)
    path.unlink()
    with pytest.raises(InvalidModelError, match="no layers graph .*layers --name mine"):
        open_layers("mine", tmp_path)


def test_the_layers_command_makes_one_for_a_model_saved_before(tmp_path, small_network,
                                                                capsys):
    saving.save_model(small_network, "old", ModelCard(), directory=tmp_path)
    card_file = registry.card_path("old", tmp_path)
    card = json.loads(card_file.read_text())
    del card["layers"]
    card_file.write_text(json.dumps(card))
    layers_path("old", tmp_path).unlink()
    assert open_layers("old", tmp_path) is None
    assert "python -m mnist_core layers --name old" in no_layers_graph("old")

    assert main(["--models-dir", str(tmp_path), "layers", "--name", "old"]) == 0
    assert "old: wrote old.layers.onnx" in capsys.readouterr().out
    assert open_layers("old", tmp_path).layer_names == ("dense_1", "dense_2")
    after = json.loads(card_file.read_text())
    assert after == card | {"layers": after["layers"]}  # the entry added alone
    assert main(["--models-dir", str(tmp_path), "layers", "--all"]) == 0
    assert "for the model: dense_1 16, dense_2 16" in capsys.readouterr().out


def test_a_shipped_model_is_not_changed_by_the_layers_command(capsys):
    assert main(["layers", "--name", "cnn"]) == 2
    assert "shipped model" in capsys.readouterr().err


def test_no_model_may_take_the_name_of_a_layers_graph():
    with pytest.raises(InvalidModelNameError, match="'.layers'"):
        registry.validate_name("cnn.layers")


def test_the_layers_entry_goes_to_json_and_back():
    entry = {"onnx_sha256": "ab", "network": "run 1 of 4", "created": "2026-12-07T00:00:00Z",
             "outputs": [{"name": "conv2d", "kind": "conv", "shape": [28, 28, 32]}]}
    card = ModelCard.from_json({"layers": entry})
    assert card.layers.outputs[0].shape == [28, 28, 32]
    assert card.to_json()["layers"] == entry
