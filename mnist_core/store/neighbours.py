"""The training digits most like a drawing: a model's neighbour index, kept beside it as
`<name>.neighbours.npz`, and the search over it.

The index holds training images (MNIST training digits the model fitted, and its pen
writers' digits drawn as the pad draws them) with their labels, where each came from,
and their embeddings: the model's `features` output, the activations its class-score
layer reads, made unit length (float16), so a dot product is their cosine similarity.
For an ensemble only its first run's block of features is kept (its runs' features lie
side by side); `note` says so. The images travel in the file, so the web server needs
no MNIST on disk, and the file is read without pickles.

An index belongs to the float graph it was built from (`graph_sha256`, the card's
`onnx_sha256`): once the model is replaced it is stale and `open_neighbours` does not
use it. Building one needs the training data (`training.neighbour_index`); reading and
searching need only numpy:

    index, why_not = open_neighbours(name)      # cached by the caller
    found = nearest(index, features[0], k=8)     # the model's features of one drawing
    found.labels, found.sources, found.similarities
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from mnist_core.errors import InvalidModelError, MnistCoreError
from mnist_core.reading.personal import KeptExamples
from mnist_core.store import registry
from mnist_core.store.npz_file import read_npz, to_npz

log = logging.getLogger(__name__)

NEIGHBOURS_SUFFIX = ".neighbours.npz"
FORMAT_VERSION = 1
NEAREST = 8  # neighbours shown for a drawing
# Where an indexed image came from (`NeighbourIndex.source`), and a visitor's own.
MNIST_TRAIN, PEN_WRITER = 0, 1
YOURS = "your drawing"


class NeighbourIndexError(MnistCoreError, ValueError):
    """A neighbour index that cannot be read (damaged, or of another format), or
    features that do not fit it."""


@dataclass(frozen=True, eq=False)
class NeighbourIndex:
    """Training images and their unit-length embeddings in one model's features.

    `embeddings` `(N, width)` float16; `images` `(N, 28, 28)` uint8 as the model saw
    them; `labels` `(N,)` digits; `source` `(N,)` `MNIST_TRAIN` or `PEN_WRITER`;
    `number` `(N,)` the MNIST training index or the pen writer; `graph_sha256` the float
    graph the embeddings came from; `runs` how many runs' features the model gives side
    by side (the first one's are embedded). `matrix` is the float32 copy searched.
    """

    embeddings: np.ndarray
    images: np.ndarray
    labels: np.ndarray
    source: np.ndarray
    number: np.ndarray
    graph_sha256: str
    runs: int = 1
    matrix: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        count = len(self.labels)
        shapes = (self.embeddings.shape[:1], self.images.shape, self.source.shape,
                  self.number.shape, self.labels.shape)
        if (self.embeddings.ndim != 2 or not count or self.runs < 1
                or shapes != ((count,), (count, 28, 28), (count,), (count,), (count,))):
            raise NeighbourIndexError(
                f"an index of {count} images holds embeddings shaped "
                f"{self.embeddings.shape}, images {self.images.shape}, sources "
                f"{self.source.shape} and numbers {self.number.shape}")
        object.__setattr__(self, "matrix", self.embeddings.astype(np.float32))

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def width(self) -> int:
        """How many features each embedding has (one run's, for an ensemble)."""
        return self.embeddings.shape[1]

    @property
    def note(self) -> str:
        """Whose features these are, where the model has several runs: "run 1 of 4"."""
        return f"run 1 of {self.runs}" if self.runs > 1 else ""

    def source_words(self, i: int) -> str:
        """Where image `i` came from: "MNIST train #123", "pen writer 7"."""
        number = int(self.number[i])
        return f"MNIST train #{number}" if self.source[i] == MNIST_TRAIN else \
            f"pen writer {number}"

    def counts(self) -> dict[str, int]:
        """How many images came from each source."""
        return {"MNIST": int((self.source == MNIST_TRAIN).sum()),
                "pen": int((self.source == PEN_WRITER).sum())}

    def to_bytes(self) -> bytes:
        """The `.npz` file's bytes (compressed; no pickled objects)."""
        return to_npz(FORMAT_VERSION, embeddings=self.embeddings, images=self.images,
                      labels=self.labels, source=self.source, number=self.number,
                      graph_sha256=np.array(self.graph_sha256), runs=np.array(self.runs))

    @classmethod
    def from_bytes(cls, data: bytes) -> NeighbourIndex:
        """Read an index file's bytes; `NeighbourIndexError` if they are no such file."""
        with read_npz(data, FORMAT_VERSION, NeighbourIndexError, "neighbour index") as stored:
            return cls(
                embeddings=stored["embeddings"].astype(np.float16),
                images=stored["images"].astype(np.uint8),
                labels=stored["labels"].astype(np.uint8),
                source=stored["source"].astype(np.uint8),
                number=stored["number"].astype(np.int32),
                graph_sha256=str(stored["graph_sha256"]), runs=int(stored["runs"]),
            )


@dataclass(frozen=True, eq=False)
class Neighbours:
    """The images nearest a drawing, nearest first: `images` `(k, 28, 28)` uint8, their
    `labels` (10: a kept "not a digit"), `sources` in words, cosine `similarities`,
    `yours` (the visitor's own kept drawings) and `note` ("run 1 of 4" or "")."""

    images: np.ndarray
    labels: np.ndarray
    sources: list[str]
    similarities: np.ndarray
    yours: np.ndarray
    note: str = ""

    def __len__(self) -> int:
        return len(self.labels)


def first_run(features: np.ndarray, runs: int, width: int) -> np.ndarray:
    """`(N, width)` float32 unit rows: the first run's block of a model's features, as
    given (`(N, runs * width)` or one `(runs * width,)`), or features already that
    narrow. `NeighbourIndexError` for features of any other width."""
    x = np.asarray(features, dtype=np.float32)
    x = x[np.newaxis] if x.ndim == 1 else x
    if x.ndim != 2 or x.shape[1] not in (width, runs * width):
        raise NeighbourIndexError(
            f"features shaped {np.shape(features)} do not fit an index of {width} features "
            f"per run and {runs} run{'s' if runs != 1 else ''}: is it another model's?")
    block = x[:, :width]
    return block / np.maximum(np.linalg.norm(block, axis=1, keepdims=True), 1e-12)


def unit_embeddings(features: np.ndarray, runs: int) -> np.ndarray:
    """What an index keeps of a model's `(N, runs * width)` features: the first run's
    block, unit length, float16."""
    width = np.shape(features)[1] // runs
    if width * runs != np.shape(features)[1] or not width:
        raise NeighbourIndexError(f"features shaped {np.shape(features)} are not {runs} "
                                  "equal blocks side by side")
    return first_run(features, runs, width).astype(np.float16)


def nearest(index: NeighbourIndex, features: np.ndarray, k: int = NEAREST) -> Neighbours:
    """The `k` indexed images nearest one drawing, given the model's `features` of it
    (the full output, or its first run's block): a matrix-vector product over the
    index's float32 copy, then the top `k` by cosine similarity."""
    query = first_run(features, index.runs, index.width)
    if len(query) != 1:
        raise NeighbourIndexError(f"nearest takes one drawing's features, got {len(query)}")
    # numpy's own loop, not BLAS: on a busy server BLAS's threads wait on one another
    # (8 ms against 1 ms for the default's 37,494 rows on two cores)
    similarities = np.einsum("ij,j->i", index.matrix, query[0])
    k = min(k, len(index))
    top = np.argpartition(-similarities, k - 1)[:k]
    top = top[np.argsort(-similarities[top], kind="stable")]
    return Neighbours(index.images[top], index.labels[top].astype(np.int64),
                      [index.source_words(i) for i in top], similarities[top],
                      np.zeros(k, dtype=bool), index.note)


def nearest_with_kept(index: NeighbourIndex, features: np.ndarray, kept: KeptExamples | None,
                      kept_images: np.ndarray | None, k: int = NEAREST) -> Neighbours:
    """`nearest`, with the visitor's kept drawings searched too: those nearer than the
    `k`-th training image take its place, marked `yours`. `kept` is `reading.personal`'s
    `KeptExamples` for the same model (its features, the first run's block of which is
    used) and `kept_images` their `(K, 28, 28)` images (uint8, or float in [0, 1])."""
    found = nearest(index, features, k)
    if kept is None or not len(kept):
        return found
    images = np.asarray(kept_images)
    if images.shape != (len(kept), 28, 28):
        raise NeighbourIndexError(f"{len(kept)} kept drawings need as many 28x28 images, got "
                                  f"{images.shape}")
    if images.dtype != np.uint8:
        images = np.round(np.clip(images, 0.0, 1.0) * 255).astype(np.uint8)
    query = first_run(features, index.runs, index.width)[0]
    mine = first_run(kept.features, index.runs, index.width) @ query
    order = np.argsort(-np.concatenate([found.similarities, mine]), kind="stable")[:k]
    theirs = order < len(found)
    pick = order - len(found)
    return Neighbours(
        np.stack([found.images[i] if t else images[j] for i, j, t in zip(order, pick, theirs)]),
        np.array([found.labels[i] if t else kept.labels[j]
                  for i, j, t in zip(order, pick, theirs)], dtype=np.int64),
        [found.sources[i] if t else YOURS for i, t in zip(order, theirs)],
        np.array([found.similarities[i] if t else mine[j]
                  for i, j, t in zip(order, pick, theirs)], dtype=np.float32),
        ~theirs, found.note)


def neighbours_path(name: str, directory=None) -> Path:
    """Where the model's neighbour index is (beside its `.keras` file)."""
    return registry.model_path(name, directory).with_suffix(NEIGHBOURS_SUFFIX)


def open_neighbours(name: str, directory=None) -> tuple[NeighbourIndex | None, str | None]:
    """A stored model's neighbour index and None, or None and why there is none in words
    (none built yet, built for the model it replaced, damaged). Reads the whole file:
    the web server caches what this returns."""
    path = neighbours_path(name, directory)
    rebuild = f"`python -m mnist_core index --name {name}` builds it"
    try:
        index = NeighbourIndex.from_bytes(path.read_bytes())
    except FileNotFoundError:
        return None, f"no index of its training digits is built for {name!r} yet"
    except (OSError, NeighbourIndexError) as err:
        log.warning("neighbour index %s cannot be read: %s", path, err)
        return None, f"the index of {name!r}'s training digits cannot be read; {rebuild}"
    try:
        graph = registry.read_card(name, directory).onnx_sha256
    except InvalidModelError:
        graph = None
    if graph is None or index.graph_sha256 != graph:
        return None, (f"the index of {name!r}'s training digits was built for an earlier "
                      f"version of the model; {rebuild} again")
    return index, None
