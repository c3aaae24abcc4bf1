"""`mnist_core.card`: one typed card, read and written the same way everywhere."""

from __future__ import annotations

import json

import pytest

from mnist_core import registry
from mnist_core.card import CardError, ModelCard
from mnist_core.errors import InvalidModelError
from mnist_core.verdict import ReadingPolicy


def test_every_shipped_card_loads_and_writes_back_unchanged():
    paths = sorted(registry.DEFAULT_SHIPPED_DIR.glob("*.json"))
    assert len(paths) >= 12
    for path in paths:
        stored = json.loads(path.read_text(encoding="utf-8"))
        card = ModelCard.from_json(stored)
        assert card.extra == {}, path.name  # every field it holds is a known one
        assert card.to_json() == stored, path.name
        assert card.name == path.stem


def test_fields_this_version_does_not_know_are_kept():
    card = ModelCard.from_json({"architecture": "cnn", "future_field": [1, 2]})
    assert card.architecture == "cnn" and card.extra == {"future_field": [1, 2]}
    assert card.to_json() == {"architecture": "cnn", "future_field": [1, 2]}


@pytest.mark.parametrize("data, message", [
    ([1, 2], "JSON object"),
    ({"params": "many"}, "'params' is 'many', not a int"),
    ({"test_accuracy": True}, "'test_accuracy' is True"),
    ({"history": [0.9]}, "'history'"),
])
def test_a_field_of_the_wrong_type_is_named(data, message):
    with pytest.raises(CardError, match=message):
        ModelCard.from_json(data)


def test_a_card_of_the_wrong_shape_makes_its_model_unreadable_not_the_store(tmp_path):
    (tmp_path / "odd.keras").write_bytes(b"")
    (tmp_path / "odd.json").write_text(json.dumps({"epochs_run": "three"}), encoding="utf-8")
    with pytest.raises(InvalidModelError, match="'epochs_run' is 'three'"):
        registry.read_card("odd", tmp_path)
    [info] = registry.list_models(tmp_path)
    assert info.card_error and "epochs_run" in info.card_error


def test_the_reading_policy_and_ensemble_flag_come_from_the_card():
    card = ModelCard(reading={"temperature": 1.5, "min_probability": 0.8, "target": 0.998})
    assert card.policy == ReadingPolicy(1.5, 0.8)
    assert ModelCard().policy == ReadingPolicy()
    assert ModelCard(architecture="ensemble", members=[{"name": "a"}]).is_ensemble
    assert not ModelCard(architecture="ensemble").is_ensemble
