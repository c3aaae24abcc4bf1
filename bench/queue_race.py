"""Racing submits: do the queue's limits hold when 20 submits arrive at once?

    python -m bench.queue_race                                   # SQLite, 5 trials
    python -m bench.queue_race --redis-url redis://127.0.0.1:6379/9

Each trial releases `--threads` threads together (a barrier), each submitting one run
with its own queue client, as separate web replicas would, into a fresh private state
folder (or a fresh Redis queue name): one owner against its limit of 2; 20 owners into
a queue of 60 holding 55 already; 20 owners against a queue limit of 12; and, where the
code has it, 20 owner ids from one address against its limit of 4. It reports the runs
accepted and the active records after each race against the limit. Nothing trains (no
worker). To measure older code, run this file from an older checkout (copy it there).
"""

from __future__ import annotations

import argparse
import inspect
import os
import tempfile
import threading
import time

from bench import common

NAME = "queue_race"


def run(args) -> dict:
    tmp = tempfile.mkdtemp(prefix="queue-race-")
    for key, value in {"MNIST_STATE_DIR": f"{tmp}/state", "MNIST_MODELS_DIR": f"{tmp}/trained",
                       "MNIST_SHIPPED_MODELS_DIR": f"{tmp}/shipped"}.items():
        os.environ[key] = value
    os.makedirs(f"{tmp}/shipped")
    from mnist_core.errors import JobError
    from mnist_core.jobs.queue import JobQueue
    from mnist_core.jobs.records import ACTIVE, QUEUED, Limits
    from mnist_core.training.config import TrainConfig

    tiny = TrainConfig("mlp-16-16-relu", epochs=2, batch_size=64, train_size=300, seed=2)
    by_address = "address" in inspect.signature(JobQueue.submit).parameters
    owners = [f"o_owner-{i:026d}" for i in range(args.threads)]

    def race(limits, who, prefill=0, address=None) -> tuple[int, int]:
        name = f"race{time.time_ns()}"
        queues = [JobQueue(args.redis_url, f"{tmp}/{name}", name=name, limits=limits)
                  for _ in who]
        for i in range(prefill):
            queues[0].store.create({
                "id": f"{name}-{i}", "owner": f"earlier-{i:04d}", "name": f"old-{i}",
                "config": tiny.to_dict(), "status": QUEUED, "created": time.time(),
            })
        start, accepted = threading.Barrier(len(who)), []
        extra = {"address": address} if address else {}

        def submit(i: int) -> None:
            start.wait()
            try:
                queues[i].submit(tiny, f"race-{i}", who[i], **extra)
                accepted.append(i)
            except JobError:
                pass

        threads = [threading.Thread(target=submit, args=(i,)) for i in range(len(who))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        active = [r for r in queues[0].store.all() if r["status"] in ACTIVE]
        return len(accepted), len(active)

    cases = [
        ("one owner, limit 2 per owner", 2, lambda: race(Limits(runs_per_owner=2),
                                                         ["o_alice-" + "1" * 26] * args.threads)),
        ("20 owners, queue of 60 holding 55", 60, lambda: race(Limits(queue_length=60),
                                                               owners, prefill=55)),
        ("20 owners, queue limit 12", 12, lambda: race(Limits(queue_length=12), owners)),
    ]
    if by_address:
        cases.append(("20 owner ids, one address, limit 4", 4, lambda: race(
            Limits(runs_per_address=4), owners, address="192.0.2.1")))
    rows, found = [], {}
    for label, limit, trial in cases:
        counts = [trial() for _ in range(args.trials)]
        found[label] = {"limit": limit, "accepted": [c[0] for c in counts],
                        "active_records": [c[1] for c in counts]}
        rows.append((label, limit, " ".join(str(c[0]) for c in counts),
                     " ".join(str(c[1]) for c in counts)))
    backend = "Redis" if args.redis_url else "SQLite"
    common.print_table(["race", "limit", "accepted per trial", "active records per trial"],
                       rows, f"{args.threads} threads at once, {backend}")
    return {"machine": common.machine_info(), "backend": backend, "threads": args.threads,
            "trials": args.trials, "races": found}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--redis-url", help="race on this Redis (default: SQLite)")
    parser.add_argument("--threads", type=int, default=20)
    parser.add_argument("--trials", type=int, default=5)
    parser.add_argument("--results-dir", help="where the JSON goes (default bench/results)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    return common.run_main(NAME, run, parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
