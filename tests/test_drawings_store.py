"""`mnist_core.shared.drawings`: the drawings visitors keep, on SQLite and on a real
`redis-server`, each opened through the shared-state backend (`state.open_backend`):
read back exactly, newest first, relabelled, deleted, shared only by choice, private to
their owner, within limits, never half kept, and gone from the file when deleted."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time

import cv2
import numpy as np
import pytest

from mnist_core.errors import DrawingRefused, OwnerError
from mnist_core.shared.drawings import (
    NOT_A_DIGIT,
    DrawingLimits,
    DrawingsStore,
    open_drawings_store,
)
from mnist_core.shared.state import REDIS, open_backend

from .conftest import ROOT

ALICE, BOB, CAROL = "o_alice-" + "0" * 26, "o_bob-" + "0" * 28, "o_carol-" + "0" * 26
NO_SUCH = "no such drawing among yours: it may have been deleted"


@pytest.fixture(params=["sqlite", "redis"])
def backend(request, tmp_path):
    """The shared-state backend of each kind: SQLite in a private state folder, or Redis."""
    url = request.getfixturevalue("redis_url") if request.param == "redis" else ""
    return open_backend(url, tmp_path / "state")


@pytest.fixture
def store(backend):
    return DrawingsStore(backend, limits=DrawingLimits())


def pad(seed: int, shape: tuple[int, int] = (280, 280)) -> np.ndarray:
    """A pad's drawing: a few anti-aliased white strokes on black, different per seed."""
    rng = np.random.default_rng(seed)
    image = np.zeros(shape, np.uint8)
    height, width = shape
    points = rng.integers(0, (width, height), size=(4, 2))
    for start, end in zip(points[:-1], points[1:]):
        cv2.line(image, tuple(map(int, start)), tuple(map(int, end)), 255,
                 int(rng.integers(8, 30)), cv2.LINE_AA)
    return image


def small(image: np.ndarray) -> np.ndarray:
    return cv2.resize(image, (28, 28), interpolation=cv2.INTER_AREA)


def reading(digit: int) -> tuple[float, ...]:
    values = np.full(10, 0.1 / 9)
    values[digit % 10] = 0.9
    return tuple(values)


def keep(store, owner=ALICE, seed=0, label=7, shape=(280, 280)):
    drawing = pad(seed, shape)
    return store.keep(owner, drawing, small(drawing), label, "cnn", reading(label))


def test_a_kept_drawing_reads_back_exactly_in_a_store_opened_again(backend, store):
    wide = pad(1, (240, 720))
    probabilities = (0.01, 0.02, 0.03, 0.04, 0.05, 0.06, 0.07, 0.6, 0.08, 0.04000000000000001)
    before = time.time()
    kept = store.keep(ALICE, wide, small(wide), 7, "cnn-drawn-all", probabilities)
    largest = keep(store, seed=2, label=NOT_A_DIGIT, shape=(1000, 1000))

    again = DrawingsStore(open_backend(backend.url or "", backend.folder))
    newest, first = again.drawings(ALICE)
    assert (newest.id, first.id) == (largest.id, kept.id)
    assert len(first.id) == 32 and int(first.id, 16) >= 0 and first.id != newest.id
    assert first.owner == ALICE and first.label == 7 and first.model == "cnn-drawn-all"
    assert first.probabilities == probabilities  # every bit of every value
    assert first.drawing.dtype == np.uint8 and first.drawing.shape == (240, 720)
    assert np.array_equal(first.drawing, wide)
    assert np.array_equal(first.image28, small(wide)) and first.image28.shape == (28, 28)
    assert before <= first.created == kept.created <= time.time()
    assert newest.label == NOT_A_DIGIT and np.array_equal(newest.drawing, pad(2, (1000, 1000)))
    with pytest.raises(ValueError, match="read-only"):
        first.drawing[0, 0] = 1  # what was kept cannot be changed by accident
    wide[:] = 0  # nor by the caller's array changing afterwards
    assert np.array_equal(again.drawings(ALICE)[1].drawing, pad(1, (240, 720)))
    assert np.array_equal(kept.drawing, pad(1, (240, 720)))


def test_newest_first_and_counts_per_label(store):
    labels = [3, 3, 7, NOT_A_DIGIT, 0]
    kept = [keep(store, seed=i, label=label) for i, label in enumerate(labels)]
    found = store.drawings(ALICE)
    assert [d.id for d in found] == [d.id for d in reversed(kept)]
    assert [d.label for d in found] == labels[::-1]
    times = [d.created for d in found]
    assert times == sorted(times, reverse=True) and len(set(times)) == len(times)
    assert store.counts(ALICE) == {0: 1, 1: 0, 2: 0, 3: 2, 4: 0, 5: 0, 6: 0, 7: 1, 8: 0,
                                   9: 0, NOT_A_DIGIT: 1}
    assert store.counts(BOB) == dict.fromkeys(range(11), 0)


def test_relabel_changes_the_label_only(store):
    first, second = keep(store, seed=1, label=1), keep(store, seed=2, label=7)
    store.relabel(ALICE, first.id, NOT_A_DIGIT)
    after = {d.id: d for d in store.drawings(ALICE)}
    assert after[first.id].label == NOT_A_DIGIT and after[second.id].label == 7
    assert np.array_equal(after[first.id].drawing, pad(1))
    assert after[first.id].created == first.created  # its place in the order stays
    assert store.counts(ALICE)[1] == 0 and store.counts(ALICE)[NOT_A_DIGIT] == 1
    with pytest.raises(DrawingRefused, match="11 is not a label a drawing can have"):
        store.relabel(ALICE, first.id, 11)
    assert store.drawings(ALICE)[1].label == NOT_A_DIGIT


def test_delete_and_delete_all(store):
    kept = [keep(store, seed=i) for i in range(4)]
    store.delete(ALICE, kept[1].id)
    assert [d.id for d in store.drawings(ALICE)] == [kept[3].id, kept[2].id, kept[0].id]
    with pytest.raises(DrawingRefused, match=NO_SUCH):
        store.delete(ALICE, kept[1].id)
    with pytest.raises(DrawingRefused, match=NO_SUCH):
        store.relabel(ALICE, kept[1].id, 3)
    keep(store, BOB, seed=9)
    assert store.delete_all(ALICE) == 3
    assert store.drawings(ALICE) == [] and sum(store.counts(ALICE).values()) == 0
    assert store.delete_all(ALICE) == 0
    assert len(store.drawings(BOB)) == 1  # only Alice's went
    assert keep(store, seed=5).id in {d.id for d in store.drawings(ALICE)}  # keeps again


def test_others_train_on_a_drawing_only_while_its_owner_shares(store):
    alice = keep(store, ALICE, seed=1)
    bob = [keep(store, BOB, seed=2), keep(store, BOB, seed=3)]
    carol = keep(store, CAROL, seed=4)
    assert not any(store.is_shared(o) for o in (ALICE, BOB, CAROL))  # off until chosen

    def trains_on(owner, include_shared):
        return {d.id for d in store.for_training(owner, include_shared)}

    assert trains_on(ALICE, True) == {alice.id}
    store.set_shared(BOB, True)
    assert store.is_shared(BOB) and not store.is_shared(CAROL)
    assert trains_on(ALICE, True) == {alice.id} | {d.id for d in bob}  # never Carol's
    assert trains_on(ALICE, False) == {alice.id}
    assert trains_on(CAROL, True) == {carol.id} | {d.id for d in bob}
    mine = store.for_training(BOB, include_shared=True)
    assert sorted(d.id for d in mine) == sorted(d.id for d in bob)  # own ones once
    store.set_shared(ALICE, True)
    assert trains_on(CAROL, True) == {alice.id, carol.id} | {d.id for d in bob}
    store.set_shared(BOB, False)
    assert not store.is_shared(BOB) and trains_on(CAROL, True) == {alice.id, carol.id}
    shared = {d.id: d for d in store.for_training(CAROL, True)}
    assert np.array_equal(shared[alice.id].drawing, pad(1)) and shared[alice.id].owner == ALICE
    with pytest.raises(DrawingRefused, match="on or off"):
        store.set_shared(ALICE, "yes")


def test_nobody_sees_relabels_or_deletes_another_owners_drawing(store):
    alice = keep(store, ALICE, seed=1, label=4)
    missing = "0" * 32

    def refusal(call, *args) -> str:
        with pytest.raises(DrawingRefused) as caught:
            call(*args)
        return str(caught.value)

    assert store.drawings(BOB) == [] and sum(store.counts(BOB).values()) == 0
    assert store.for_training(BOB, include_shared=True) == []
    for drawing_id in (alice.id, missing, "../" + alice.id, alice.id.upper(), 42):
        # someone else's drawing reads exactly as one that does not exist
        assert refusal(store.relabel, BOB, drawing_id, 9) == NO_SUCH
        assert refusal(store.delete, BOB, drawing_id) == NO_SUCH
    assert store.delete_all(BOB) == 0
    (still,) = store.drawings(ALICE)
    assert still.id == alice.id and still.label == 4 and np.array_equal(still.drawing, pad(1))


def test_owner_ids_are_checked_on_every_call(store):
    kept = keep(store)
    calls = [
        lambda o: store.keep(o, pad(0), small(pad(0)), 1, "cnn", reading(1)),
        store.drawings, store.counts, store.delete_all, store.is_shared,
        lambda o: store.relabel(o, kept.id, 1), lambda o: store.delete(o, kept.id),
        lambda o: store.set_shared(o, True), lambda o: store.for_training(o, True),
    ]
    for call in calls:
        for bad in ("alice", "", None, ALICE + "x"):
            with pytest.raises(OwnerError, match="invalid owner id"):
                call(bad)
    assert [d.id for d in store.drawings(ALICE)] == [kept.id]


def test_each_limit_is_refused_in_words_and_keeps_nothing(backend):
    store = DrawingsStore(backend, limits=DrawingLimits(per_owner=3))
    kept = [keep(store, seed=i) for i in range(3)]
    with pytest.raises(DrawingRefused, match="you have kept 3 drawings, the most anyone may "
                       "keep here: delete some to keep this one"):
        keep(store, seed=3)
    keep(store, BOB, seed=3)  # the limit is per owner
    store.delete(ALICE, kept[0].id)
    keep(store, seed=4)  # room again
    assert len(store.drawings(ALICE)) == 3

    noise = np.random.default_rng(0).integers(0, 256, (400, 400), dtype=np.uint8)
    with pytest.raises(DrawingRefused, match=r"this drawing takes 16\d,\d{3} bytes as stored,"
                       " more than the 100,000 a kept drawing may take"):
        store.keep(CAROL, noise, small(noise), 1, "cnn", reading(1))
    for shape in ((1001, 10), (10, 1001)):
        wide = pad(0, shape)
        with pytest.raises(DrawingRefused, match=f"this drawing is {shape[1]}x{shape[0]} "
                           "pixels, larger than the 1000x1000 a kept drawing may be"):
            store.keep(CAROL, wide, small(wide), 1, "cnn", reading(1))
    assert store.drawings(CAROL) == []


def test_the_limits_come_from_the_environment(backend, monkeypatch):
    monkeypatch.setenv("MNIST_DRAWINGS_PER_OWNER", "2")
    monkeypatch.setenv("MNIST_DRAWING_MAX_BYTES", "3000")
    monkeypatch.setenv("MNIST_DRAWING_MAX_SIDE", "300")
    store = open_drawings_store(backend.url or "", backend.folder)
    assert store.limits == DrawingLimits(per_owner=2, max_bytes=3000, max_side=300)
    keep(store, seed=0, shape=(100, 100)), keep(store, seed=1, shape=(100, 100))
    with pytest.raises(DrawingRefused, match="you have kept 2 drawings"):
        keep(store, seed=2, shape=(100, 100))
    with pytest.raises(DrawingRefused, match="more than the 3,000 a kept drawing may take"):
        keep(store, BOB, seed=3, shape=(300, 300))
    with pytest.raises(DrawingRefused, match="larger than the 300x300"):
        keep(store, BOB, seed=3, shape=(240, 301))
    monkeypatch.setenv("MNIST_DRAWINGS_PER_OWNER", "many")
    with pytest.raises(ValueError, match="MNIST_DRAWINGS_PER_OWNER must be a whole number"):
        DrawingLimits.from_env()
    monkeypatch.setenv("MNIST_DRAWINGS_PER_OWNER", "0")
    with pytest.raises(ValueError, match="MNIST_DRAWINGS_PER_OWNER must be at least 1"):
        DrawingLimits.from_env()
    monkeypatch.delenv("MNIST_DRAWINGS_PER_OWNER")
    assert DrawingLimits.from_env().per_owner == 500


def test_malformed_input_is_refused_and_keeps_nothing(store):
    drawing = pad(0)
    good = dict(drawing=drawing, image28=small(drawing), label=3, model="cnn",
                probabilities=reading(3))
    rgba = np.dstack([drawing] * 4)
    bad = [
        (dict(drawing=drawing.astype(np.float32)), r"2-D uint8 array\), got float32 of shape"),
        (dict(drawing=rgba), r"got uint8 of shape \(280, 280, 4\)"),
        (dict(drawing=np.zeros((0, 5), np.uint8)), "2-D uint8 array"),
        (dict(drawing=drawing.tolist()), r"2-D uint8 array\), got list"),
        (dict(image28=small(drawing)[:27]), r"28x28 uint8 image, got uint8 of shape \(27, 28\)"),
        (dict(image28=small(drawing) / 255.0), "28x28 uint8 image, got float64"),
        (dict(label=11), "11 is not a label a drawing can have: a digit 0-9, or 10 for not"),
        (dict(label=-1), "-1 is not a label"),
        (dict(label=True), "True is not a label"),
        (dict(label=7.0), "float is not a label"),
        (dict(label="7"), "str is not a label"),
        (dict(probabilities=(float("nan"),) + reading(3)[1:]), "a value that is not a number"),
        (dict(probabilities=(float("inf"),) * 10), "a value that is not a number"),
        (dict(probabilities=reading(3)[:9]), "got 9 values"),
        (dict(probabilities=(1.5,) + (0.0,) * 9), "a value outside 0-1"),
        (dict(probabilities=["high"] * 10), "got something else"),
        (dict(model=""), "1 to 200 printable characters"),
        (dict(model="cnn\nforged log line"), "1 to 200 printable characters"),
        (dict(model=None), "1 to 200 printable characters"),
    ]
    for change, message in bad:
        with pytest.raises(DrawingRefused, match=message):
            store.keep(ALICE, **(good | change))
    assert store.drawings(ALICE) == []
    assert store.keep(ALICE, **(good | dict(label=np.uint8(3)))).label == 3  # numpy ints do


def test_limits_hold_when_keeps_race(backend):
    """Threads keeping at once never pass the per-owner limit: the count and the save are
    one atomic step."""
    store = DrawingsStore(backend, limits=DrawingLimits(per_owner=10))
    outcomes = []

    def keep_some(seed: int) -> None:
        for i in range(6):
            try:
                outcomes.append(keep(store, seed=seed * 10 + i, shape=(60, 60)).id)
            except DrawingRefused:
                outcomes.append(None)

    threads = [threading.Thread(target=keep_some, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    kept = [i for i in outcomes if i]
    assert len(kept) == 10 and outcomes.count(None) == 14
    assert sorted(d.id for d in store.drawings(ALICE)) == sorted(kept)


def test_nothing_about_a_drawing_is_logged(store, caplog):
    caplog.set_level(logging.DEBUG)
    kept = keep(store)
    store.relabel(ALICE, kept.id, 2)
    store.set_shared(ALICE, True)
    store.for_training(BOB, include_shared=True)
    store.delete(ALICE, kept.id)
    keep(store)
    store.delete_all(ALICE)
    text = caplog.text
    assert ALICE not in text and BOB not in text and kept.id not in text


# The kill test's child: keeps drawings in a loop, printing each id once kept; the seed
# of each rides in its model name, so every row found can be checked whole.
KEEPER = """
import sys
from tests.test_drawings_store import ALICE, pad, reading, small
from mnist_core.shared.drawings import DrawingLimits, DrawingsStore
from mnist_core.shared.state import open_backend

store = DrawingsStore(open_backend("", sys.argv[1]), limits=DrawingLimits(per_owner=10**6))
seed = int(sys.argv[2])
while True:
    drawing = pad(seed, (240, 720))
    kept = store.keep(ALICE, drawing, small(drawing), seed % 11, f"m{seed}", reading(seed))
    print(seed, kept.id, flush=True)
    seed += 1
"""


KILLS = 10


def test_a_process_killed_while_keeping_loses_nothing_it_reported_kept(tmp_path):
    state = tmp_path / "state"
    reported: dict[str, int] = {}
    rng = np.random.default_rng(0)
    for round_ in range(KILLS):
        child = subprocess.Popen(
            [sys.executable, "-c", KEEPER, str(state), str(1000 * round_)], cwd=ROOT,
            stdout=subprocess.PIPE, text=True, env=os.environ | {"MNIST_QUEUE_URL": ""})
        for _ in range(10):
            seed, drawing_id = child.stdout.readline().split()
            reported[drawing_id] = int(seed)
        time.sleep(rng.uniform(0, 0.02))  # somewhere inside a later keep
        child.send_signal(signal.SIGKILL)
        child.wait(10)
        for line in child.stdout:  # kept before the kill, read after it
            seed, drawing_id = line.split()
            reported[drawing_id] = int(seed)

    store = DrawingsStore(open_backend("", state))
    assert store.set_aside is None  # the file is sound: nothing set aside
    found = {d.id: d for d in store.drawings(ALICE)}
    assert set(reported) <= set(found)
    assert len(found) - len(reported) <= KILLS  # at most one per kill kept, not reported
    for drawing in found.values():  # every row whole, reported or not
        seed = int(drawing.model[1:])
        assert reported.get(drawing.id, seed) == seed
        assert np.array_equal(drawing.drawing, pad(seed, (240, 720)))
        assert np.array_equal(drawing.image28, small(pad(seed, (240, 720))))
        assert drawing.label == seed % 11 and drawing.probabilities == reading(seed)
    keep(store, seed=1)  # and it keeps on working


def _state_bytes(folder) -> bytes:
    """Everything SQLite holds of drawings.db on disk: the file, its log, its index."""
    return b"".join(path.read_bytes() for path in sorted(folder.glob("drawings.db*")))


def test_deleted_pixels_are_not_left_in_the_sqlite_files(tmp_path):
    state = tmp_path / "state"
    store = DrawingsStore(open_backend("", state))
    noises = [np.random.default_rng(seed).integers(0, 256, (150, 150), dtype=np.uint8)
              for seed in range(4)]
    # a stretch of each one's PNG: noise compresses to nothing else in the file
    marks = [cv2.imencode(".png", n)[1].tobytes()[5000:5064] for n in noises]
    kept = [store.keep(ALICE, n, small(n), 1, "cnn", reading(1)) for n in noises]
    keep(store, BOB, seed=1)
    assert all(mark in _state_bytes(state) for mark in marks)  # found while kept

    store.delete(ALICE, kept[0].id)
    held = _state_bytes(state)
    assert marks[0] not in held and all(mark in held for mark in marks[1:])
    assert store.delete_all(ALICE) == 3
    held = _state_bytes(state)
    assert not any(mark in held for mark in marks)
    assert len(store.drawings(BOB)) == 1  # Bob's drawing untouched


def test_deleted_drawings_leave_no_key_in_redis(redis_url, tmp_path):
    backend = open_backend(redis_url, tmp_path / "state")
    store = DrawingsStore(backend)
    kept = [keep(store, seed=i) for i in range(3)]
    other = keep(store, BOB, seed=5)
    client = backend.redis
    assert len(client.keys("mnist-training:drawings:*")) == 6  # four drawings, two lists
    store.delete(ALICE, kept[0].id)
    assert not client.keys(f"*{kept[0].id}*")
    assert kept[0].id.encode() not in client.zrange(f"mnist-training:drawings:of:{ALICE}",
                                                    0, -1)
    store.delete_all(ALICE)
    left = sorted(key.decode() for key in client.keys("*"))
    assert left == [f"mnist-training:drawings:drawing:{other.id}",
                    f"mnist-training:drawings:of:{BOB}"]
    assert backend.kind == REDIS


def test_a_damaged_drawings_file_is_set_aside_and_a_fresh_one_starts(tmp_path, caplog):
    state = tmp_path / "state"
    state.mkdir()
    (state / "drawings.db").write_bytes(b"not a database at all " * 100)
    store = DrawingsStore(open_backend("", state))
    assert store.set_aside is not None and store.set_aside.name.startswith(
        "drawings.db.damaged-")
    assert store.set_aside.read_bytes().startswith(b"not a database")  # kept, not deleted
    assert "drawings.db is damaged" in caplog.text
    keep(store)
    assert len(store.drawings(ALICE)) == 1
