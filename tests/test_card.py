"""`mnist_core.model.card`: one typed card, read and written the same way everywhere."""

from __future__ import annotations

import json

import pytest

from mnist_core.__main__ import main
from mnist_core.errors import InvalidModelError
from mnist_core.model.card import DIGIT, CardError, History, Int8Entry, Member, ModelCard, Reading
from mnist_core.model.verdict import ReadingPolicy
from mnist_core.store import registry


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
    assert card.to_json() == {"architecture": "cnn", "task": DIGIT, "future_field": [1, 2]}


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


def test_nested_entries_are_typed_and_write_back_as_they_were_read():
    stored = json.loads((registry.DEFAULT_SHIPPED_DIR / "cnn-drawn-all-24ep-x4.json")
                        .read_text(encoding="utf-8"))
    card = ModelCard.from_json(stored)
    assert isinstance(card.reading, Reading) and isinstance(card.int8, Int8Entry)
    assert isinstance(card.int8.reading, Reading)
    assert card.int8.val_errors == stored["int8"]["val_errors"]
    assert card.int8.policy == ReadingPolicy(stored["int8"]["reading"]["temperature"],
                                             stored["int8"]["reading"]["min_probability"])
    assert card.reading.held_out["MNIST test"] == stored["reading"]["held_out"]["MNIST test"]
    assert all(isinstance(member, Member) for member in card.members)
    assert [member.init_seed for member in card.members] == [0, 1, 2, 3]
    history = card.members[0].history
    assert isinstance(history, History) and history.epochs == 24
    assert history.series("val_accuracy") == stored["members"][0]["history"]["val_accuracy"]
    assert ModelCard.from_json(json.loads(json.dumps(card.to_json()))) == card
    assert card.to_json() == stored


def test_nested_entries_given_as_json_objects_are_read_into_their_types():
    card = ModelCard(reading={"temperature": 1.2, "min_probability": 0.7},
                     int8={"onnx_sha256": "ab", "reading": {"temperature": 1.1},
                           "future": 1},
                     history={"loss": [0.5, 0.3], "val_accuracy": [None, 0.9]},
                     members=[{"name": "a", "history": {"loss": [1.0]}}])
    assert card.reading == Reading(temperature=1.2, min_probability=0.7)
    assert card.int8.reading.policy == ReadingPolicy(1.1, ReadingPolicy().min_probability)
    assert card.int8.extra == {"future": 1}
    assert card.history.series("val_accuracy") == [None, 0.9]
    assert card.history.series("test_seconds") == []  # not recorded
    assert card.members[0].history.epochs == 1
    assert card.to_json()["int8"] == {"onnx_sha256": "ab", "reading": {"temperature": 1.1},
                                      "future": 1}


@pytest.mark.parametrize("data, message", [
    ({"int8": {"val_errors": "few"}}, "int8 entry's 'val_errors' is 'few'"),
    ({"reading": {"temperature": "hot"}}, "reading's 'temperature' is 'hot'"),
    ({"int8": {"reading": [1]}}, "int8 entry's 'reading' is \\[1\\]"),
    ({"members": [{"init_seed": 1.5}]}, "run's 'init_seed' is 1.5"),
    ({"members": ["a"]}, "an ensemble's run must be a JSON object"),
    ({"history": {"loss": 0.5}}, "history's 'loss' is 0.5"),
])
def test_a_nested_field_of_the_wrong_type_is_named(data, message):
    with pytest.raises(CardError, match=message):
        ModelCard.from_json(data)


def test_a_card_says_its_task_and_an_old_card_reads_as_a_digit_model(tmp_path):
    old = {"architecture": "cnn", "test_accuracy": 0.99}  # written before cards had a task
    assert ModelCard.from_json(old).task == DIGIT
    assert ModelCard.from_json(old).to_json() == old | {"task": DIGIT}
    later = ModelCard.from_json({"architecture": "crnn", "task": "number"})
    assert later.task == "number" and later.to_json()["task"] == "number"
    for name, card in (("reader", later), ("digits", ModelCard.from_json(old))):
        (tmp_path / f"{name}.keras").write_bytes(b"")
        (tmp_path / f"{name}.json").write_text(json.dumps(card.to_json()), encoding="utf-8")
    (tmp_path / "old.keras").write_bytes(b"")
    (tmp_path / "old.json").write_text(json.dumps(old), encoding="utf-8")
    assert [info.name for info in registry.list_models(tmp_path)] == ["digits", "old", "reader"]
    assert [info.name for info in registry.list_models(tmp_path, task=DIGIT)] == ["digits", "old"]
    assert [info.name for info in registry.list_models(tmp_path, task="number")] == ["reader"]
    # the default is a digit reader, even where another kind scores higher
    (tmp_path / "reader.json").write_text(json.dumps(later.replace(test_accuracy=1.0)
                                                     .to_json()), encoding="utf-8")
    assert registry.default_model_name(tmp_path) == "digits"


def test_the_command_line_lists_each_models_task(tmp_path, capsys):
    for name, task in (("reader", "number"), ("digits", None)):
        (tmp_path / f"{name}.keras").write_bytes(b"")
        card = {"architecture": "cnn"} | ({"task": task} if task else {})
        (tmp_path / f"{name}.json").write_text(json.dumps(card), encoding="utf-8")
    assert main(["--models-dir", str(tmp_path), "list"]) == 0
    rows = [line.split()[:2] for line in capsys.readouterr().out.splitlines()]
    assert rows == [["digits", DIGIT], ["reader", "number"]]
