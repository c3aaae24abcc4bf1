"""What is checked before a job is queued, each refusal a `JobError` (or, for another
owner's model or a shipped one, `ModelProtectedError`) in words for the visitor: a
training run's settings and the model it starts from, the name it saves under, and a
teach run's base and drawings. Its process checks again what may change meanwhile."""

from __future__ import annotations

from mnist_core.errors import InvalidModelError, InvalidModelNameError, JobError
from mnist_core.model.card import ModelCard
from mnist_core.shared.drawings import DrawingsStore
from mnist_core.store import registry
from mnist_core.training.config import TeachConfig, TrainConfig, missing_drawings


def checked_run(config: TrainConfig) -> TrainConfig:
    """`config` resolved, and the stored model it starts from (if any) there and of
    its architecture."""
    try:
        cfg = config.resolved()
    except ValueError as err:
        raise JobError(str(err)) from err
    if cfg.start_from is not None:
        try:
            cfg.check_start(_card(cfg.start_from, "start from").architecture)
        except ValueError as err:
            raise JobError(str(err)) from err
    return cfg


def check_name(name: str, owner: str, overwrite: bool) -> None:
    """Refuse a name that is a shipped model's or another owner's, or the owner's own
    model's unless `overwrite`."""
    holder = registry.check_may_replace(name, owner)
    if holder is registry.NameHolder.YOU and not overwrite:
        raise JobError(f"a model named {name!r} already exists; choose another name")


def checked_teach(config: TeachConfig, owner: str, drawings: DrawingsStore
                  ) -> tuple[TeachConfig, TrainConfig, int]:
    """A teach run's settings checked, as training settings too (`run_config`), and how
    many drawings it would fit: refused when its base is missing or cannot be taught, or
    when some digit has too few of them (saying how many are needed)."""
    try:
        config = config.checked()
    except ValueError as err:
        raise JobError(str(err)) from err
    card = _card(config.base, "teach")
    architecture = (card.hyperparameters or {}).get("architecture") if card.is_ensemble \
        else card.architecture
    try:
        run = config.run_config(architecture or "").resolved()
    except ValueError:
        raise JobError(f"model {config.base!r} cannot be taught: its card does not say "
                       "which network it is; choose another model") from None
    if config.include_shared:
        labels = [kept.label for kept in drawings.for_training(owner, True)]
        per_label = [labels.count(label) for label in range(11)]
    else:
        counts = drawings.counts(owner)
        per_label = [counts.get(label, 0) for label in range(11)]
    problem = missing_drawings(per_label)
    if problem:
        raise JobError(problem)
    return config, run, sum(per_label)


def _card(name: str, doing: str) -> ModelCard:
    """The card of the stored model `name` a run would `doing` ("start from", "teach")."""
    try:
        card = registry.read_card(name) if registry.model_exists(name) else None
    except (InvalidModelNameError, InvalidModelError) as err:
        raise JobError(str(err)) from err
    if card is None:
        raise JobError(f"there is no model named {name!r} to {doing}")
    return card
