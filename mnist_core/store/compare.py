"""Which models the Evaluate page compares: every stored learning curve, and the few it
shows before a person picks."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from mnist_core.model.card import History, ModelCard
from mnist_core.store.registry import ModelInfo

# Curves drawn before a person picks: more overlapping lines stop being readable.
SHOWN_FIRST = 6


@dataclass(frozen=True)
class Curve:
    """One learning curve: its label, the stored model it belongs to, its per-epoch
    history (a model's own, or one run's of an ensemble)."""

    label: str
    model: str
    history: History
    # Its training loss also counts synthetic non-digits pulled towards uniform (about
    # 0.5 where a digit's is 0.02): only its validation and test losses, which count
    # digits alone, compare with other models'.
    training_loss_counts_non_digits: bool = False


def learning_curves(infos: Sequence[ModelInfo]) -> list[Curve]:
    """Every curve the store's cards hold, models in store order."""
    return [
        Curve(label, info.name, history,
              bool((info.card.hyperparameters or {}).get("non_digits")))
        for info in infos
        for label, history in member_histories(info.name, info.card).items()
    ]


def shown_first(curves: Sequence[Curve], infos: Sequence[ModelInfo], default: str,
                most: int = SHOWN_FIRST) -> list[str]:
    """The labels drawn before a person picks: the default model's, then the best
    others by test accuracy (a weak model would stretch the accuracy axis and flatten
    the rest), in store order."""
    score = {info.name: info.card.test_accuracy or 0.0 for info in infos}
    best = sorted(curves, key=lambda c: (c.model != default, -score.get(c.model, 0.0)))
    chosen = {c.label for c in best[:most]}
    return [c.label for c in curves if c.label in chosen]


def member_histories(name: str, card: ModelCard) -> dict[str, History]:
    """Per-epoch histories to draw for a model: its own, or one per run of an ensemble
    (labelled "name · run i")."""
    if card.is_ensemble:
        return {
            f"{name} · run {i}": member.history
            for i, member in enumerate(card.members, start=1)
            if member.history
        }
    return {name: card.history} if card.history else {}
