"""`TrainConfig`: everything that decides a training run, as plain data.

Kept apart from `mnist_core.training.train` (TensorFlow, data pipelines) so that the job queue,
the worker that only hands jobs to training processes, and the web pages can check and
store a run's settings without importing the training loop.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

from mnist_core.model.card import DIGIT
from mnist_core.training.architectures import get_architecture

MNIST_TRAIN_IMAGES = 60_000
PEN_DIGITS_PER_WRITER = 250  # about: 7,494 digits from 30 writers
# Kinds of synthetic non-digits a run may be taught (`mnist_core.training.negatives` draws them):
# by default the four a drawing pad meets; the rest on request. Pairs, touching digits
# and fragments are made of pen-drawn digits.
KINDS = ("letter", "scribble", "pair", "shape")
# How many non-digits a run fits when asked to learn what is no digit (the Train page's
# toggle; the command line's --non-digits takes any number).
TAUGHT_NON_DIGITS = 10_000
ALL_KINDS = (*KINDS, "touching", "fragment", "doodle")
NEEDS_DIGITS = ("pair", "touching", "fragment")
NUMBERS_PER_EPOCH = 24_000
NUMBER_PEN_WRITERS = tuple(range(1, 26))  # writers 26-30: a number reader's held-out hands


@dataclass
class TrainConfig:
    """Everything that decides a training run; stored on the model card."""

    architecture: str = "fast-cnn"
    epochs: int | None = None  # None: the architecture's default
    batch_size: int | None = None
    validation_split: float = 0.1
    seed: int = 0
    augment: bool | None = None
    learning_rate: float | None = None
    train_size: int | None = None  # use only the first N training images (quick runs)
    test_size: int | None = None  # score on only the first N test images each epoch
    # Writers (1-30) of ../shared/pendigits whose pen-drawn digits are added to the
    # training data, rendered as the pad draws them; the other writers stay unseen.
    pen_writers: tuple[int, ...] | None = None
    pen_renders: int = 2  # renders of each pen-drawn digit
    # Rewrite all renders but the first in other hands (`pen_styles`): continental 1s,
    # crossed 7s, open 4s, straight-tailed 9s, slant, stretch.
    pen_styles: bool = False
    # Synthetic drawings that are no digit (letters, scribbles, shapes; `negatives`)
    # added to the fitted images, taught as "unsure of every digit".
    non_digits: int = 0
    # Which kinds (`ALL_KINDS`); None: the four a drawing pad meets (`KINDS`). Add
    # "touching" and "fragment" for what a written number's reader meets when it weighs
    # cutting ink apart: digits touching one another, and digits cut in two.
    non_digit_kinds: tuple[str, ...] | None = None
    # Keep a moving average of the weights (Polyak averaging) with this momentum per
    # batch, and score, choose and save the averaged weights: they wander less from
    # epoch to epoch than the weights the optimiser steps. 0: off.
    ema_momentum: float = 0.0
    # Seed of the weights' start, the batch order and the augmentation; None: `seed`.
    # Runs that differ only here fit the same data and hold out the same validation
    # digits: members of one ensemble, which that validation can judge.
    init_seed: int | None = None
    # Keep all renders of one pen-drawn digit on the same side of the validation split,
    # so validation never scores a drawing the run fitted in another render. Off by
    # default: it fits fewer of the writers' digits and read unseen writers no better
    # (docs/results.md, the validation split).
    split_drawings: bool = False
    # A stored model whose network this run fits further, from its weights, instead of a
    # fresh network of `architecture` (which must be the model's own); None: fresh.
    start_from: str | None = None
    # A whole-number reader's run (`number_train`): this many numbers composed afresh
    # for each epoch (None: `NUMBERS_PER_EPOCH`), from `train_size` MNIST training digits
    # and the `pen_writers` (default `NUMBER_PEN_WRITERS`; the others are held out to
    # validate and test on). None for a digit reader's run.
    numbers_per_epoch: int | None = None

    def resolved(self) -> TrainConfig:
        """Fill unset fields from the architecture's defaults and check every value."""
        arch = get_architecture(self.architecture)
        cfg = TrainConfig(**asdict(self))
        cfg.epochs = arch.epochs if cfg.epochs is None else cfg.epochs
        cfg.batch_size = arch.batch_size if cfg.batch_size is None else cfg.batch_size
        cfg.augment = arch.augment if cfg.augment is None else cfg.augment
        cfg.learning_rate = (
            arch.learning_rate if cfg.learning_rate is None else cfg.learning_rate
        )
        if not 1 <= cfg.epochs <= 500:
            raise ValueError(f"epochs must be between 1 and 500, got {cfg.epochs}")
        if not 1 <= cfg.batch_size <= 8192:
            raise ValueError(f"batch_size must be between 1 and 8192, got {cfg.batch_size}")
        if not 0.0 <= cfg.validation_split < 0.9:
            raise ValueError(
                f"validation_split must be in [0, 0.9), got {cfg.validation_split}"
            )
        if not cfg.learning_rate > 0:
            raise ValueError(f"learning_rate must be positive, got {cfg.learning_rate}")
        if cfg.pen_writers is not None:
            cfg.pen_writers = tuple(sorted(set(int(w) for w in cfg.pen_writers)))
            if not cfg.pen_writers or not set(cfg.pen_writers) <= set(range(1, 31)):
                raise ValueError(f"pen_writers must be writers 1-30, got {cfg.pen_writers}")
        if not 0.0 <= cfg.ema_momentum < 1.0:
            raise ValueError(f"ema_momentum must be in [0, 1), got {cfg.ema_momentum}")
        if not 1 <= cfg.pen_renders <= 20:
            raise ValueError(f"pen_renders must be between 1 and 20, got {cfg.pen_renders}")
        if not 0 <= cfg.non_digits <= 200_000:
            raise ValueError(f"non_digits must be between 0 and 200,000, got {cfg.non_digits}")
        if cfg.non_digit_kinds is not None:
            cfg.non_digit_kinds = tuple(dict.fromkeys(cfg.non_digit_kinds))
            unknown = set(cfg.non_digit_kinds) - set(ALL_KINDS)
            if unknown or not cfg.non_digit_kinds:
                raise ValueError(f"non_digit_kinds must be some of {', '.join(ALL_KINDS)}, "
                                 f"got {', '.join(cfg.non_digit_kinds) or 'none'}")
            if cfg.non_digits and not cfg.pen_writers and set(cfg.non_digit_kinds) <= set(
                NEEDS_DIGITS
            ):
                raise ValueError(f"non-digits of kinds {', '.join(cfg.non_digit_kinds)} are "
                                 "made of pen-drawn digits: choose pen_writers too")
        for name in ("train_size", "test_size"):
            value = getattr(cfg, name)
            if value is not None and value < 10:
                raise ValueError(f"{name} must be at least 10, got {value}")
        if arch.task == DIGIT:
            if cfg.numbers_per_epoch is not None:
                raise ValueError(f"numbers_per_epoch is for whole-number readers; "
                                 f"{arch.name!r} reads one digit")
        else:
            cfg.numbers_per_epoch = cfg.numbers_per_epoch or NUMBERS_PER_EPOCH
            if not 100 <= cfg.numbers_per_epoch <= 1_000_000:
                raise ValueError("numbers_per_epoch must be between 100 and 1,000,000, "
                                 f"got {cfg.numbers_per_epoch}")
        if cfg.start_from is not None and (not isinstance(cfg.start_from, str)
                                           or not cfg.start_from.strip()):
            raise ValueError(f"start_from must name a stored model, got {cfg.start_from!r}")
        return cfg

    def check_start(self, architecture: str | None) -> None:
        """Raise ValueError unless the stored model `start_from`, whose card names
        `architecture`, can start this run: its network must be this run's architecture,
        the one its weights were shaped for."""
        wanted = get_architecture(self.architecture).name
        if architecture != wanted:
            found = f"a {architecture!r} network" if architecture else (
                "a network of unknown architecture (its card names none)")
            raise ValueError(
                f"model {self.start_from!r} is {found}, not {wanted!r}: a run can start "
                "only from a model of its own architecture; choose that architecture, or "
                "another model"
            )

    @property
    def fit_images(self) -> int:
        """How many images one epoch fits (before the validation split is taken out;
        a number reader's: the numbers composed for it)."""
        if get_architecture(self.architecture).task != DIGIT:
            return self.numbers_per_epoch or NUMBERS_PER_EPOCH
        images = min(self.train_size or MNIST_TRAIN_IMAGES, MNIST_TRAIN_IMAGES)
        if self.pen_writers:
            images += len(self.pen_writers) * PEN_DIGITS_PER_WRITER * self.pen_renders
        return round(images * (1 - self.validation_split)) + self.non_digits

    @property
    def image_epochs(self) -> int:
        """The run's size: images fitted per epoch times epochs (of a resolved config)."""
        return self.fit_images * (self.epochs or 1)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_card(cls, hyperparameters: dict) -> TrainConfig:
        """The settings a card's `hyperparameters` hold, the architecture's schedule
        (stored beside them) left out."""
        known = {k: v for k, v in hyperparameters.items() if k in cls.__dataclass_fields__}
        return cls.from_dict(known)

    @classmethod
    def from_dict(cls, values: dict) -> TrainConfig:
        """Rebuild a config stored as JSON (tuples come back as lists); unknown keys
        are an error, so a record from another version never trains the wrong thing."""
        known = {f.name for f in fields(cls)}
        unknown = set(values) - known
        if unknown:
            raise ValueError(f"unknown training settings: {', '.join(sorted(unknown))}")
        values = dict(values)
        for name in ("pen_writers", "non_digit_kinds"):
            if values.get(name) is not None:
                values[name] = tuple(values[name])
        return cls(**values)


# Teaching a stored model a visitor's drawings (`mnist_core.training.teach`): the base it
# starts from unless told otherwise, and the drawings it needs of every digit. Some are
# held out to show how the new model reads drawings it never fitted: of many, a share
# once; of fewer than `CROSS_VALIDATE_BELOW`, each in turn (`FOLDS` runs, then one that
# fits them all).
TEACH_BASE = "cnn-drawn-all"
MIN_PER_DIGIT = 1
HOLD_OUT_SHARE = 0.1
CROSS_VALIDATE_BELOW = 50
FOLDS = 3
TEACH_LAYERS = ("head", "all")
MAX_DRAWING_IMAGES = 1000  # copies of drawings an epoch shows, unless each is shown once


@dataclass
class TeachConfig:
    """Everything that decides a teach run, as plain data: a teach job's record holds it.

    The base model's network is fitted further on the drawings, each shown `copies`
    times an epoch (fewer where they would be more than `MAX_DRAWING_IMAGES`; shifted,
    rotated, thickened: `augment`), among `replay` MNIST training digits the base
    fitted and `pen_replay` digits of the pen writers it fitted, drawn as the pad draws,
    so that it keeps reading everyone else's digits, drawn ones too. With `layers`
    "head" only the layers after its last `Flatten` (the dense head) are fitted, the
    features under them kept as the base learnt them; with "all", every layer. Batch
    normalisation keeps the base's statistics either way."""

    base: str = TEACH_BASE  # the stored model to start from (an ensemble: its first run)
    include_shared: bool = False  # also the drawings others shared with the class
    epochs: int = 4
    replay: int = 3000
    pen_replay: int = 1000
    copies: int = 10
    batch_size: int = 64
    learning_rate: float = 1e-3
    layers: str = "head"  # which layers are fitted: "head" or "all"
    seed: int = 0

    def checked(self) -> TeachConfig:
        """This config, every value checked (ValueError names the bad one)."""
        if not isinstance(self.base, str) or not self.base.strip():
            raise ValueError(f"base must name a stored model, got {self.base!r}")
        for name, low, high in (("epochs", 1, 50), ("replay", 10, 60_000),
                                ("pen_replay", 0, 7_500), ("copies", 1, 100),
                                ("batch_size", 1, 1024)):
            value = getattr(self, name)
            if not (isinstance(value, int) and low <= value <= high):
                raise ValueError(f"{name} must be a whole number from {low} to {high:,}, "
                                 f"got {value!r}")
        if not 0 < self.learning_rate <= 0.1:
            raise ValueError(f"learning_rate must be in (0, 0.1], got {self.learning_rate}")
        if self.layers not in TEACH_LAYERS:
            raise ValueError(f"layers must be one of {', '.join(TEACH_LAYERS)}, got "
                             f"{self.layers!r}")
        return self

    def run_config(self, architecture: str) -> TrainConfig:
        """The run as training settings, for what reads every job alike (the pages, the
        queue's estimates): the base's `architecture`, fitted further on the replay."""
        return TrainConfig(architecture, epochs=self.epochs, batch_size=self.batch_size,
                           validation_split=0.0, seed=self.seed, augment=True,
                           learning_rate=self.learning_rate, train_size=self.replay,
                           start_from=self.base)

    def copies_of(self, drawings: int) -> int:
        """How many times an epoch shows each of this many drawings."""
        return max(1, min(self.copies, MAX_DRAWING_IMAGES // max(drawings, 1)))

    def images(self, drawings: int) -> int:
        """Images a teach run of this many drawings fits, all its runs together."""
        per_epoch = self.replay + self.pen_replay + self.copies_of(drawings) * drawings
        return teach_runs(drawings) * self.epochs * per_epoch

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> TeachConfig:
        """A config stored as JSON; unknown keys are an error, as for `TrainConfig`."""
        unknown = set(values) - {f.name for f in fields(cls)}
        if unknown:
            raise ValueError(f"unknown teach settings: {', '.join(sorted(unknown))}")
        return cls(**values)


def teach_runs(drawings: int) -> int:
    """How many times a teach run of this many drawings fits its network."""
    return 1 if drawings >= CROSS_VALIDATE_BELOW else FOLDS + 1


def missing_drawings(per_label) -> str | None:
    """What a teach run lacks, in words, given how many drawings there are of each label
    (digits 0-9 first); None when there are `MIN_PER_DIGIT` of every digit."""
    counts = [int(per_label[digit]) if digit < len(per_label) else 0 for digit in range(10)]
    short = [str(digit) for digit, count in enumerate(counts) if count < MIN_PER_DIGIT]
    if not short:
        return None
    have = ", ".join(f"{counts[int(d)]} of {d}" for d in short)
    return (f"teaching a model needs at least {MIN_PER_DIGIT} kept drawing"
            f"{'s' if MIN_PER_DIGIT > 1 else ''} of every digit 0-9; there "
            f"{'is' if len(short) == 1 else 'are'} only {have}: keep more on the Draw page")
