"""`mnist_core.training.ensemble`: runs of one recipe from different seeds, read as one model."""

from __future__ import annotations

import numpy as np
import pytest

from mnist_core.__main__ import main
from mnist_core.errors import ModelNotFoundError
from mnist_core.model.card import ModelCard
from mnist_core.model.runtime import OUTPUTS
from mnist_core.reading.inference import predict_proba
from mnist_core.reading.preprocess import prepare_mnist
from mnist_core.store import compare, registry
from mnist_core.store.compare import member_histories
from mnist_core.store.registry import ModelInfo
from mnist_core.training.calibration import negative_log_likelihood
from mnist_core.training.ensemble import make_ensemble, shared_recipe
from mnist_core.training.run_data import validation_digits
from mnist_core.training.train import TrainConfig, train_model

RECIPE = dict(architecture="mlp-16-16-relu", epochs=2, batch_size=64, train_size=600, seed=5)


@pytest.fixture(scope="module")
def runs(mnist_subset, tmp_path_factory):
    """Three runs of one recipe from seeds 5 (the split's own), 1 and 2, in one folder."""
    folder = tmp_path_factory.mktemp("runs")
    for name, init_seed in (("run-a", None), ("run-b", 1), ("run-c", 2)):
        train_model(TrainConfig(**RECIPE, init_seed=init_seed), data=mnist_subset,
                    save_as=name, models_dir=folder)
    return folder


def test_runs_from_other_seeds_hold_out_the_same_digits_but_differ(runs, mnist_subset):
    cards = [registry.read_card(name, runs) for name in ("run-a", "run-b", "run-c")]
    x_val, y_val = validation_digits(TrainConfig(**RECIPE).resolved(), mnist_subset[0])
    for name, card in zip(("run-a", "run-b", "run-c"), cards):
        model = registry.load_model(name, runs)
        accuracy = (predict_proba(model, x_val).argmax(axis=1) == y_val).mean()
        assert accuracy == pytest.approx(card.val_accuracy, abs=1e-6), name
    weights = [registry.load_model(name, runs).network.get_weights()[0]
               for name in ("run-a", "run-b")]
    assert not np.allclose(weights[0], weights[1])  # another start, another model
    recipe = shared_recipe([c.replace(name=n) for c, n in zip(cards, "abc")])
    assert recipe.init_seed is None and recipe.seed == 5 and recipe.epochs == 2


def test_the_ensemble_reads_the_mean_of_its_runs_and_is_judged_on_their_validation(
    runs, mnist_subset, tmp_path
):
    names = ["run-a", "run-b", "run-c"]
    card = make_ensemble(names, "trio", data=mnist_subset, members_dir=runs,
                         models_dir=tmp_path)
    ensemble = registry.load_model("trio", tmp_path)
    x_test = prepare_mnist(mnist_subset[1][0][:50])
    mean = np.mean([predict_proba(registry.load_model(n, runs), x_test) for n in names], 0)
    np.testing.assert_allclose(predict_proba(ensemble, x_test), mean, atol=1e-5)
    assert predict_proba(ensemble, x_test[:1]) == pytest.approx(mean[:1], abs=1e-5)

    x_val, y_val = validation_digits(TrainConfig(**RECIPE).resolved(), mnist_subset[0])
    assert card.val_images == len(x_val) == 60
    assert card.val_accuracy == pytest.approx(
        (predict_proba(ensemble, x_val).argmax(axis=1) == y_val).mean()
    )
    assert card.val_negative_log_likelihood == pytest.approx(
        negative_log_likelihood(predict_proba(ensemble, x_val), y_val), rel=1e-4
    )
    stored = registry.read_card("trio", tmp_path)
    assert stored.architecture == "ensemble"
    assert [m.init_seed for m in stored.members] == [5, 1, 2]
    assert stored.members[0].history == registry.read_card("run-a", runs).history
    assert stored.reading.fitted_on.startswith("60 validation images")
    assert ensemble.policy.min_probability == stored.reading.min_probability
    assert stored.trained_on == registry.read_card("run-a", runs).trained_on
    curves = member_histories("trio", stored)
    assert list(curves) == ["trio · run 1", "trio · run 2", "trio · run 3"]
    assert len(curves["trio · run 2"].val_accuracy) == 2

    # its graph: the mean of the runs' probabilities, and their features side by side
    graph = registry.open_model("trio", tmp_path).network
    assert graph.output_names == OUTPUTS
    found = graph.outputs(x_test)
    np.testing.assert_allclose(found["probabilities"], mean, atol=1e-5)
    runs_features = [registry.open_model(n, runs).network.outputs(x_test, "features")
                     ["features"] for n in names]
    assert found["features"].shape == (50, 3 * 16)  # three mlp-16-16 runs
    np.testing.assert_allclose(found["features"], np.concatenate(runs_features, axis=1),
                               atol=1e-5)


def test_runs_of_other_recipes_or_the_same_seed_are_refused(runs, mnist_subset, tmp_path):
    train_model(TrainConfig(**RECIPE | {"epochs": 1}, init_seed=3), data=mnist_subset,
                save_as="shorter", models_dir=runs)
    with pytest.raises(ValueError, match="other settings.*epochs"):
        make_ensemble(["run-a", "shorter"], "bad", data=mnist_subset, members_dir=runs,
                      models_dir=tmp_path)
    train_model(TrainConfig(**RECIPE, init_seed=RECIPE["seed"]), data=mnist_subset,
                save_as="run-a-again", models_dir=runs)
    with pytest.raises(ValueError, match="same seed"):
        make_ensemble(["run-a", "run-a-again"], "bad", data=mnist_subset, members_dir=runs,
                      models_dir=tmp_path)
    with pytest.raises(ModelNotFoundError, match="'run-z'"):
        make_ensemble(["run-a", "run-z"], "bad", data=mnist_subset, members_dir=runs,
                      models_dir=tmp_path)
    with pytest.raises(ValueError, match="named twice"):
        make_ensemble(["run-b", "run-b"], "bad", data=mnist_subset, members_dir=runs,
                      models_dir=tmp_path)
    assert registry.list_models(tmp_path) == []


def test_the_command_line_builds_and_calibrates_an_ensemble(runs, tmp_path, capsys):
    from tests.conftest import SUBSET_DIR

    code = main(["--models-dir", str(tmp_path), "--data-dir", str(SUBSET_DIR), "ensemble",
                 "--name", "pair", "--members", "run-b", "run-c", "--members-dir", str(runs)])
    assert code == 0, capsys.readouterr().err
    out = capsys.readouterr().out
    assert "saved pair: validation" in out and "MNIST test: ECE" in out
    assert "2,000 synthetic non-digits: refuses" in out
    held_out = registry.read_card("pair", tmp_path).reading.held_out
    assert 0 <= held_out["synthetic non-digits"]["refused_share"] <= 1


def test_evaluate_shows_the_default_and_the_best_others_first(tmp_path):
    def info(name, accuracy, runs=0):
        history = {"accuracy": [accuracy]}
        card = ModelCard(test_accuracy=accuracy, history=history)
        if runs:
            card = card.replace(architecture="ensemble", history=None,
                                members=[{"history": history}] * runs)
        return ModelInfo(name, tmp_path / f"{name}.keras", card)

    infos = [info("a-weak", 0.90), info("b-best", 0.99), info("c-default", 0.95, runs=2),
             info("d-good", 0.98), ModelInfo("e-no-card", tmp_path, ModelCard())]
    curves = compare.learning_curves(infos)
    assert [c.label for c in curves] == ["a-weak", "b-best", "c-default · run 1",
                                         "c-default · run 2", "d-good"]
    assert {c.model for c in curves[2:4]} == {"c-default"}
    assert compare.shown_first(curves, infos, "c-default", most=3) == [
        "b-best", "c-default · run 1", "c-default · run 2"]
    assert compare.shown_first(curves, infos, "a-weak", most=2) == ["a-weak", "b-best"]
