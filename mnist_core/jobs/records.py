"""What a job is, as plain data: its record read as a `Job`, the statuses it
goes through, the queue as the pages see it, the limits of a shared deployment and
how long a run should take, and the fair order in which queued runs start. No Huey
and no process handling here."""

from __future__ import annotations

import hashlib
import time
from dataclasses import asdict, dataclass, field, fields

from mnist_core.model.card import ModelCard
from mnist_core.shared.settings import whole_number
from mnist_core.training.config import TeachConfig, TrainConfig

QUEUED, RUNNING, FINISHED, STOPPED, FAILED = "queued", "running", "finished", "stopped", "failed"
ACTIVE = (QUEUED, RUNNING)
ENDED = (FINISHED, STOPPED, FAILED)
# What a job does, named on its record: training a network (fresh, or from a stored
# model's weights, `TrainConfig.start_from`), teaching a stored model its owner's kept
# drawings (`TeachConfig`; `config` then holds the run as training settings, for what
# reads every job alike), or building a stored model's neighbour index (`INDEX`, queued
# after each saved run; it fits nothing: no `config`, read as the default settings). A
# record without a kind is a training run.
TRAIN, TEACH, INDEX = "train", "teach", "index"
INDEX_SECONDS = 30.0  # what an index job takes (a CNN's: 29 s on 2 cores), for estimates

# Images fitted per second on 2 CPU cores, by architecture, for queue time estimates
# until a finished run of that architecture gives a measured figure; plus start-up.
TYPICAL_IMAGES_PER_S = {
    "fast-cnn": 2700, "cnn": 1000, "seed-cnn": 4500, "mlp-784-784-256-128-relu": 1900,
}
OTHER_IMAGES_PER_S = 8000
START_SECONDS = 15.0


@dataclass(frozen=True)
class Limits:
    """What one visitor may ask of a shared deployment; each set by an environment
    variable (`MNIST_MAX_RUNS_PER_OWNER`, `MNIST_MAX_RUNS_PER_ADDRESS`,
    `MNIST_MAX_IMAGE_EPOCHS`, `MNIST_MAX_QUEUE`)."""

    runs_per_owner: int = 2  # queued or training at once
    # queued or training at once from one client address, whatever owner ids it uses
    # (each new browser tab gets a new owner id)
    runs_per_address: int = 4
    image_epochs: int = 1_000_000  # images fitted per epoch x epochs; the full `cnn` fits
    queue_length: int = 60  # queued or training, all visitors together

    @classmethod
    def from_env(cls) -> Limits:
        return cls(
            runs_per_owner=whole_number("MNIST_MAX_RUNS_PER_OWNER", cls.runs_per_owner),
            runs_per_address=whole_number("MNIST_MAX_RUNS_PER_ADDRESS", cls.runs_per_address),
            image_epochs=whole_number("MNIST_MAX_IMAGE_EPOCHS", cls.image_epochs),
            queue_length=whole_number("MNIST_MAX_QUEUE", cls.queue_length),
        )

    def most_epochs(self, config: TrainConfig) -> int:
        """The most epochs a run of `config`'s images may have under `image_epochs`
        (0: not even one), as the queue counts a run's size (`TrainConfig.image_epochs`)."""
        return self.image_epochs // max(config.fit_images, 1)


@dataclass(frozen=True)
class Progress:
    """How far a running job is, as its training process last wrote it."""

    epoch: int  # 1-based, the epoch under way
    epochs: int
    step: int  # batches done in this epoch
    steps: int
    elapsed: float  # s since training began
    fraction: float  # of the whole run, 0-1
    eta: float | None  # s left at the pace so far; None before there is a pace
    written: float  # when, in time.time() seconds

    @classmethod
    def from_json(cls, data: dict) -> Progress:
        return cls(**{f.name: data.get(f.name) for f in fields(cls)})

    def to_json(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Job:
    """One job as its record says, with its place in the queue worked out."""

    id: str
    owner: str
    name: str
    config: TrainConfig
    status: str
    created: float
    kind: str = TRAIN
    started: float | None = None
    ended: float | None = None
    message: str | None = None
    progress: Progress | None = None  # while it trains
    history: dict = field(default_factory=dict)
    card: ModelCard | None = None  # the saved model's, once it is saved
    stop_requested: float | None = None
    worker: str | None = None
    position: int | None = None  # 1 = next to start (queued jobs only)
    starts_in: float | None = None  # estimated seconds until it starts (queued jobs)
    estimate: float | None = None  # estimated seconds the whole run takes
    teach: TeachConfig | None = None  # a teach job's settings
    drawings: int | None = None  # how many drawings a teach job was queued with

    @classmethod
    def from_record(cls, record: dict, **extra) -> Job:
        return cls(
            id=record["id"], owner=record["owner"], name=record["name"],
            config=TrainConfig.from_dict(record.get("config") or {}), status=record["status"],
            created=record["created"], kind=kind_of(record), started=record.get("started"),
            ended=record.get("ended"), message=record.get("message"),
            progress=Progress.from_json(record["progress"]) if record.get("progress") else None,
            history=record.get("history") or {},
            card=ModelCard.from_json(record["card"]) if record.get("card") else None,
            stop_requested=record.get("stop_requested"),
            worker=record.get("worker"),
            teach=TeachConfig.from_dict(record["teach"]) if record.get("teach") else None,
            drawings=record.get("drawings"), **extra,
        )

    @property
    def active(self) -> bool:
        return self.status in ACTIVE

    @property
    def stopping(self) -> bool:
        return self.status == RUNNING and self.stop_requested is not None

    @property
    def elapsed(self) -> float:
        if self.started is None:
            return 0.0
        return (self.ended or time.time()) - self.started

    @property
    def since_submitted(self) -> float:
        """Seconds from Start (the submit) to the end, or to now: what the person waited."""
        return (self.ended or time.time()) - self.created

    @property
    def fraction(self) -> float:
        return float(self.progress.fraction) if self.progress else 0.0

    @property
    def eta(self) -> float | None:
        """Seconds left at the pace so far (None before the first batches)."""
        if self.status != RUNNING:
            return None
        # The pace of the first few batches says little; the estimate says more then.
        if self.progress and self.progress.eta is not None and self.fraction >= 0.05:
            behind = time.time() - (self.progress.written or time.time())
            return max(0.0, self.progress.eta - behind)
        if self.estimate is not None:
            return max(0.0, self.estimate - self.elapsed)
        return None


@dataclass(frozen=True)
class QueueView:
    """Every job (oldest first), the live workers and the queue's length."""

    jobs: list[Job]
    workers: list[dict]

    @property
    def waiting(self) -> int:
        return sum(job.status == QUEUED for job in self.jobs)

    @property
    def training(self) -> int:
        return sum(job.status == RUNNING for job in self.jobs)

    def owned_by(self, owner: str) -> list[Job]:
        """`owner`'s jobs, newest first."""
        return [job for job in reversed(self.jobs) if job.owner == owner]


def kind_of(record: dict) -> str:
    """The kind of job a record names; one written before jobs had kinds trains."""
    return record.get("kind") or TRAIN


def next_turn(records: list[dict], owner: str) -> int:
    """The turn a new run of `owner`'s takes in the fair order (round-robin by owner).

    One after the owner's latest queued or started run, and never before the turn now
    being served (the latest of any started run): so nobody's second run starts before
    every waiting owner's first, and someone who queues one run at a time still
    alternates with someone who queued several."""
    own = [r.get("turn", 0) for r in records
           if r["owner"] == owner and (r["status"] == QUEUED or r.get("started"))]
    return max([serving_turn(records)] + [turn + 1 for turn in own])


def serving_turn(records: list[dict]) -> int:
    """The turn being served: the latest of any started job. An index job takes it, so
    a saved model's index is built before runs queued for later turns."""
    return max((r.get("turn", 0) for r in records if r.get("started")), default=0)


def refusal(record: dict, records: list[dict], limits: Limits) -> str | None:
    """Why `record` may not join the active ones among `records` under `limits`, in
    words; None when it may. An index job is always admitted and counts against no
    limit: it follows a run that was admitted and saved (at most one per saved model),
    and must not refuse its owner's next run, nor hold its name."""
    if kind_of(record) == INDEX:
        return None
    active = [r for r in records if r["status"] in ACTIVE and kind_of(r) != INDEX]
    name, owner, address = record["name"], record["owner"], record["address"]
    if any(r["name"] == name for r in active):
        return f"a run is already training a model named {name!r}; choose another name"
    mine = sum(r["owner"] == owner for r in active)
    if mine >= limits.runs_per_owner:
        return (f"you already have {mine} runs queued or training (the limit is "
                f"{limits.runs_per_owner}); wait for one to finish or stop one")
    ours = sum(address is not None and r.get("address") == address for r in active)
    if ours >= limits.runs_per_address:
        return (f"{ours} runs from your network address are already queued or training, "
                f"from this and other tabs or people (the limit is "
                f"{limits.runs_per_address}); wait for one to finish or stop one")
    if len(active) >= limits.queue_length:
        return f"the queue is full ({len(active)} runs queued or training); try again later"
    return None


def fair_order(records: list[dict]) -> list[dict]:
    """The queued records in the order workers start them: by turn (`next_turn`), then
    oldest first."""
    queued = [r for r in records if r["status"] == QUEUED]
    return sorted(queued, key=lambda r: (r.get("turn", 0), r["created"], r["id"]))


def address_key(address: str | None) -> str | None:
    """What a record keeps of a client address: enough to count its runs, not the address."""
    if not address:
        return None
    return hashlib.sha256(f"mnist-jobs:{address}".encode()).hexdigest()[:16]


def measured_rates(records: list[dict]) -> dict[tuple[str, str], float]:
    """Images fitted per second by kind of job and architecture (a teach run fits only
    part of a network: its own pace), from the latest finished runs here."""
    rates = {}
    for r in records:
        card = r.get("card") or {}
        seconds, images = card.get("training_seconds"), card.get("train_images")
        if r["status"] == FINISHED and seconds and images:
            key = kind_of(r), card.get("architecture")
            rates[key] = images * card["epochs_run"] / seconds
    return rates


def estimate(record: dict, rates: dict[tuple[str, str], float]) -> float:
    """Seconds the run should take: its images x epochs at the architecture's pace (a
    teach run's: the replayed digits and the drawings' copies, in each of its runs; an
    index job's: `INDEX_SECONDS`)."""
    if kind_of(record) == INDEX:
        return INDEX_SECONDS
    config = TrainConfig.from_dict(record["config"])
    rate = rates.get((kind_of(record), config.architecture)) or TYPICAL_IMAGES_PER_S.get(
        config.architecture, OTHER_IMAGES_PER_S
    )
    images = config.image_epochs
    if kind_of(record) == TEACH and record.get("teach"):
        images = TeachConfig.from_dict(record["teach"]).images(record.get("drawings") or 0)
    return START_SECONDS + images / rate
