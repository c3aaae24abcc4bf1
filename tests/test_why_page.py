"""The Draw page's "Why did it say that?" (AppTest): closed, nothing of it is worked out;
open, the map over what the model saw and over the drawing, and one picture per layer
labelled with the layer's name and shape, as the model's layers graph gives them."""

from __future__ import annotations

import json

import numpy as np

from mnist_core.store import layers, registry
from tests.test_app import ALICE, BOB, DRAW, app, pad_sends, store  # noqa: F401 (a fixture)


def a_one() -> np.ndarray:
    pad = np.zeros((280, 280), np.uint8)
    pad[40:240, 130:150] = 255
    return np.dstack([pad, pad, pad, np.full_like(pad, 255)])


def captions(at) -> list[str]:
    return [image.caption for element in at.get("image") for image in element.proto.imgs]


def test_why_it_said_shows_where_it_looked_and_each_layer(store):  # noqa: F811
    at = pad_sends(app(DRAW, ALICE), "draw_canvas_0", a_one(), strokes=1)
    assert not at.exception
    assert not at.toggle(key="draw_why").value  # closed: nothing of it on the page
    assert "Over what the model saw" not in captions(at)

    at.toggle(key="draw_why").set_value(True).run()
    assert not at.exception, [e.value for e in at.exception]
    shown = captions(at)
    assert "Over what the model saw" in shown and "Over your drawing" in shown
    graph = layers.open_layers(at.session_state["draw_model"])
    expected = [f"{layer.name} · {' × '.join(map(str, layer.shape))}"
                for layer in graph.layers]
    assert len(expected) >= 2  # a CNN: convolutions and a dense layer
    assert [c for c in shown if " · " in c] == expected
    assert any(c.value.startswith("Worked out in") for c in at.caption)

    pad_sends(at, "draw_canvas_0", np.roll(a_one(), 40, axis=1), strokes=2)
    assert at.toggle(key="draw_why").value  # stays open for the next drawing
    assert "Over what the model saw" in captions(at)


def test_a_model_without_a_layers_graph_says_so_and_still_shows_the_map(store):  # noqa: F811
    name = registry.default_model_name()
    card = registry.model_path(name).with_suffix(".json")
    data = json.loads(card.read_text())
    data.pop("layers")
    card.write_text(json.dumps(data))
    at = pad_sends(app(DRAW, ALICE), "draw_canvas_0", a_one(), strokes=1)
    at.toggle(key="draw_why").set_value(True).run()
    assert not at.exception, [e.value for e in at.exception]
    assert "Over what the model saw" in captions(at)
    assert any("saved before models kept a graph of their layers" in c.value
               for c in at.caption)


def test_the_evaluate_gallery_shows_where_it_looked_on_request(store):  # noqa: F811
    from tests.test_app import EVALUATE

    at = app(EVALUATE, ALICE)
    galleries = at.get("image")
    assert galleries and not at.exception
    shown = len(galleries[-1].proto.imgs)  # the misread digits of the pair picked
    assert shown >= 1
    at.toggle(key="eval_why").set_value(True).run()
    assert not at.exception, [e.value for e in at.exception]
    assert len(at.get("image")) == len(galleries) + 1  # the maps below the gallery
    maps = at.get("image")[-1].proto.imgs
    assert len(maps) == shown  # a map for each misread digit


def test_the_training_digits_most_like_it_and_the_visitors_own(store, mnist_subset):  # noqa: F811
    from mnist_core.training.neighbour_index import index_model

    name = registry.default_model_name()
    at = pad_sends(app(DRAW, ALICE), "draw_canvas_0", a_one(), strokes=1)
    at.toggle(key="draw_why").set_value(True).run()
    assert any(c.value.startswith("Not shown: no index") for c in at.caption)

    index, _ = index_model(name, store, data=mnist_subset)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    shown = [c for c in captions(at) if "MNIST train #" in c or "yours" in c]
    assert len(shown) == 8 and not any("yours" in c for c in shown)
    named = at.metric[0].value
    assert any(c.value.startswith(f"{sum(c.startswith(named + ' ') for c in shown)} of the 8 "
                                  "digits nearest yours") for c in at.caption)

    [b for b in at.button if b.label.startswith("Right — keep it")][0].click().run()
    shown = [c for c in captions(at) if "MNIST train #" in c or "yours" in c]
    assert shown[0] == f"{named} · yours"  # the very drawing kept: nearest of all
    bob = pad_sends(app(DRAW, BOB), "draw_canvas_0", a_one(), strokes=1)
    bob.toggle(key="draw_why").set_value(True).run()
    assert not any("yours" in c for c in captions(bob))  # hers alone
