"""Ensembles: several training runs of one recipe, read as one model that averages
their probabilities.

The runs differ only in `TrainConfig.init_seed` (where the weights start, the batch
order, the augmentation), so they fit the same digits and hold out the same validation
digits: that validation judges the ensemble as it judged each run and fits the
ensemble's reading policy; the test set is only reported. The ensemble is one Keras
model (each run a sub-model, then `Average`) stored like any other, so the pages,
`inference.read_digits` and the benchmarks read it unchanged; its graph's features are
its runs' side by side (`export.with_features`). Reading cards needs no Keras: it is
imported only to build one.

    card = make_ensemble(["cnn-drawn-all-24ep", "cnn-drawn-all-24ep-init1"],
                         "cnn-drawn-all-24ep-x2", data=load_mnist(), members_dir="var/long")

(the default, `cnn-drawn-all-24ep-x4`, averages four such runs).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

from mnist_core.errors import ModelNotFoundError
from mnist_core.model.card import ENSEMBLE, Member, ModelCard
from mnist_core.store import registry, saving
from mnist_core.training.config import TrainConfig

if TYPE_CHECKING:
    import keras



def average_model(members: Sequence[keras.Model], name: str = "ensemble") -> keras.Model:
    """One model whose output is the mean of the members' probabilities."""
    if len(members) < 2:
        raise ValueError(f"an ensemble needs at least two models, got {len(members)}")
    import keras  # here, so that pages reading only cards stay light

    image = keras.Input(members[0].input_shape[1:], name="image")
    outputs = [
        keras.Model(member.input, member.output, name=f"run_{i}")(image)
        for i, member in enumerate(members, start=1)
    ]
    probabilities = keras.layers.Average(name="probabilities")(outputs)
    return keras.Model(image, probabilities, name=name)


def effective_init_seed(cfg: TrainConfig) -> int:
    """The seed a run's weights, batches and augmentation started from."""
    return cfg.seed if cfg.init_seed is None else cfg.init_seed


def member_config(card: ModelCard) -> TrainConfig:
    """A run's resolved settings from its card; ValueError if it has none usable."""
    stored = card.hyperparameters or {}
    if card.architecture == ENSEMBLE or "architecture" not in stored:
        raise ValueError(f"{card.name or 'a model'!r} is not one training run with "
                         "recorded settings, so it cannot be an ensemble's member")
    return TrainConfig.from_card(stored).resolved()


def shared_recipe(cards: Sequence[ModelCard]) -> TrainConfig:
    """The one recipe the member runs share (`init_seed` unset). ValueError, naming the
    setting, if they differ in anything but their start, or two started alike."""
    configs = [member_config(card) for card in cards]
    names = [card.name or f"model {i}" for i, card in enumerate(cards, start=1)]
    recipe = configs[0].to_dict() | {"init_seed": None}
    for name, cfg in zip(names[1:], configs[1:]):
        differ = [key for key, value in (cfg.to_dict() | {"init_seed": None}).items()
                  if recipe[key] != value]
        if differ:
            raise ValueError(f"{name!r} was trained with other settings than {names[0]!r} "
                             f"({', '.join(differ)}): an ensemble's runs must share all "
                             "but init_seed, so that they share their validation digits")
    seeds = [effective_init_seed(cfg) for cfg in configs]
    if len(set(seeds)) < len(seeds):
        raise ValueError(f"two runs started from the same seed ({seeds}): they are the "
                         "same model; train the others with another --init-seed")
    versions = {card.preprocess_version for card in cards}
    if len(versions) > 1:
        raise ValueError(f"the runs prepare images differently ({sorted(map(str, versions))})")
    return TrainConfig.from_dict(recipe)


def make_ensemble(member_names: Sequence[str], save_as: str, *, data,
                  members_dir=None, models_dir=None, overwrite: bool = False) -> ModelCard:
    """Average the named runs (from `members_dir`, else the store) into one model, score
    it on their shared validation digits and the MNIST test set, fit its reading policy
    on that validation and save it as `save_as` (in `models_dir`). Returns its card.

    `data` is `load_mnist()`'s ((x_train, y_train), (x_test, y_test)).
    """
    from mnist_core.reading.inference import predict_proba
    from mnist_core.reading.preprocess import prepare_mnist
    from mnist_core.training.calibration import card_entry, fit_policy, negative_log_likelihood
    from mnist_core.training.run_data import validation_digits

    if len(set(member_names)) != len(member_names):
        raise ValueError(f"a run is named twice: {', '.join(member_names)}")
    for name in member_names:
        if not registry.model_exists(name, members_dir):
            where = members_dir or "the model store"
            raise ModelNotFoundError(f"no model named {name!r} in {where}")
    cards = [registry.read_card(name, members_dir).replace(name=name) for name in member_names]
    recipe = shared_recipe(cards)
    members = [registry.load_model(name, members_dir).network for name in member_names]
    model = average_model(members)
    (x_train, y_train), (x_test, y_test) = data
    x_val, y_val = validation_digits(recipe.resolved(), (x_train, y_train))
    p_val = predict_proba(model, x_val)
    x_test = prepare_mnist(x_test)
    p_test = predict_proba(model, x_test)
    policy = fit_policy(p_val, y_val)
    card = ensemble_card(cards, model, recipe).replace(
        val_accuracy=float((p_val.argmax(axis=1) == y_val).mean()),
        # what more runs buy beyond the few digits they flip: surer when right
        val_negative_log_likelihood=negative_log_likelihood(p_val, y_val),
        test_accuracy=float((p_test.argmax(axis=1) == y_test).mean()),
        val_images=int(len(x_val)),
        test_images=int(len(x_test)),
        reading=card_entry(
            policy, f"{len(x_val):,} validation images its runs held out (the same for each)"
        ),
        name=save_as,
    )
    saving.save_model(model, save_as, card, directory=models_dir, overwrite=overwrite,
                        test_set=(x_test, y_test))
    return card


def ensemble_card(cards: Sequence[ModelCard], model: keras.Model,
                  recipe: TrainConfig) -> ModelCard:
    """The card of an ensemble of these runs: the recipe they share, what it was trained
    on, and each run's own card (its history among it)."""
    first = cards[0]
    members = [
        Member(name=card.name, best_epoch=card.best_epoch, epochs_run=card.epochs_run,
               train_accuracy=card.train_accuracy, val_accuracy=card.val_accuracy,
               test_accuracy=card.test_accuracy, training_seconds=card.training_seconds,
               created=card.created, history=card.history,
               init_seed=effective_init_seed(member_config(card)))
        for card in cards
    ]
    return ModelCard(
        architecture=ENSEMBLE,
        description=f"Average of {len(cards)} runs of the {first.architecture} "
                    "recipe, started from different seeds",
        activation=first.activation,
        params=int(model.count_params()),
        hyperparameters=(first.hyperparameters or {}) | recipe.to_dict(),
        members=members,
        epochs_run=first.epochs_run,
        training_seconds=round(sum(card.training_seconds or 0 for card in cards), 1),
        train_images=first.train_images,
        trained_on=first.trained_on,
        pen_writers=first.pen_writers or [],
        preprocess_version=first.preprocess_version,
        versions=first.versions,
        created=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    )

