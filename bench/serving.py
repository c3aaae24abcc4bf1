"""Serving while training: does the app stay responsive while people's runs train?

    MNIST_DATA_DIR=../shared/mnist python -m bench.serving
    python -m bench.serving --quick        # the committed MNIST subset, a few drawings

Starts the app the way users do (`streamlit run app.py`, on a free local port, with a
private state folder and trained-model store) and one worker
(`python -m mnist_core worker --threads 2`), then drives headless Chromium (Debian's)
with Playwright:

1. idle: one visitor draws digits on the Draw page;
2. the default run: another visitor presses **Start training** with the Train page's
   defaults and watches it (the page polls every second) while the first keeps
   drawing; reports the run's wall time from the click to "Saved model" and its test
   accuracy, and the server process's CPU seconds per second over the run;
3. load: `--sessions` visitors draw at once while two runs train.

For phases 2 and 3 it splits the machine's CPU time between the web server process,
the training processes and the headless browsers (all on this one machine here; a
real deployment's browsers are on the visitors' devices).

Each drawing: Clear, one mouse stroke, then the time from releasing the mouse until the
ten bars are on screen (stroke to bars, in the browser), and the page's own read time
("Read in N ms": preprocessing and inference in the server). Only loopback traffic;
every loop is bounded.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from bench import common
from mnist_core.jobs.queue import JobQueue
from mnist_core.shared.owners import new_owner_id
from mnist_core.training.config import TrainConfig

NAME = "serving"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
PAD = 280
PAD_CANVAS = '[data-testid="stBidiComponentIsolated"] canvas.upper-canvas'
STEP_PX = 6
# Strokes on the 280 px pad (a 1, a 7 and a 0), drawn in turn.
STROKES = [
    [(146, 50), (134, 232)],
    [(80, 58), (200, 56), (166, 118), (136, 178), (112, 236)],
    [(140 + 62 * math.sin(2 * math.pi * i / 40), 140 - 92 * math.cos(2 * math.pi * i / 40))
     for i in range(42)],
]
READ_RE = re.compile(r"Read in ([\d,.]+) ms")
TIMEOUT_MS = 120_000
# No bars this long after a stroke while the pad still shows its prompt and the app is
# idle: the stroke was lost on a pad still mounting, and is drawn again.
LOST_STROKE_MS = 30_000
RUN_TIMEOUT_S = 900


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.serving", description=__doc__)
    parser.add_argument("--data-dir", help="MNIST folder (default: MNIST_DATA_DIR)")
    parser.add_argument("--drawings", type=int, help="drawings per phase (default 30)")
    parser.add_argument("--sessions", type=int, help="visitors drawing at once (default 10)")
    parser.add_argument("--load-drawings", type=int,
                        help="drawings per visitor under load (default 5)")
    parser.add_argument("--skip-load", action="store_true", help="phases 1 and 2 only")
    parser.add_argument("--quick", action="store_true",
                        help="subset MNIST if the full set is missing; few drawings")
    parser.add_argument("--results-dir", type=Path, default=common.RESULTS_DIR)
    args = parser.parse_args(argv)
    quick = args.quick
    args.drawings = args.drawings or (4 if quick else 30)
    args.sessions = args.sessions or (2 if quick else 10)
    args.load_drawings = args.load_drawings or (2 if quick else 5)
    return args


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _stat_fields(pid: int) -> list[str]:
    """The fields of /proc/PID/stat after the command name: state, parent pid, ..."""
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def _cpu(fields: list[str], first: int = 11) -> float:
    return (int(fields[first]) + int(fields[first + 1])) / os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int, children: bool = False) -> float:
    """User + system CPU time of one process so far (Linux /proc); with `children`,
    that of its ended, reaped child processes instead."""
    return _cpu(_stat_fields(pid), 13 if children else 11)  # cutime, cstime: after utime, stime


def processes_matching(word: str) -> dict[int, float]:
    """CPU seconds so far of every process whose command line contains `word`."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if word in (entry / "cmdline").read_bytes().decode(errors="replace"):
                found[int(entry.name)] = cpu_seconds(int(entry.name))
        except (OSError, IndexError):
            continue  # ended while we looked
    return found


def children_cpu_seconds(parent: int) -> dict[int, float]:
    """CPU seconds so far of every child process of `parent`. Found by parent id, not by
    command line: a child that is exiting has lost its command line but not its stat."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = _stat_fields(int(entry.name))
        except (OSError, IndexError):
            continue  # ended while we looked
        if int(fields[1]) == parent:
            found[int(entry.name)] = _cpu(fields)
    return found


class CpuMeter:
    """Where the CPU went over a window: the web server, the training processes (live
    ones, and those the worker reaped meanwhile) and the headless browsers."""

    def __init__(self, app: App):
        self.app = app
        self.start = self._snapshot()

    def _snapshot(self) -> dict:
        return {
            "time": time.perf_counter(),
            "server": cpu_seconds(self.app.server.pid),
            "reaped": cpu_seconds(self.app.worker.pid, children=True),
            "training": children_cpu_seconds(self.app.worker.pid),  # the jobs' training processes
            "browsers": processes_matching("chromium"),
        }

    def shares(self) -> dict:
        """CPU seconds per second of each, since the meter started."""
        end, start = self._snapshot(), self.start
        window = end["time"] - start["time"]

        def grown(kind: str) -> float:
            return sum(cpu - start[kind].get(pid, 0.0) for pid, cpu in end[kind].items())

        return {
            "window_s": window,
            "server_cpu_s_per_s": (end["server"] - start["server"]) / window,
            "training_cpu_s_per_s": (
                grown("training") + end["reaped"] - start["reaped"]
                - sum(cpu for pid, cpu in start["training"].items()
                      if pid not in end["training"])
            ) / window,
            "browsers_cpu_s_per_s": grown("browsers") / window,
        }


class App:
    """The app server and a worker, as a deployment runs them; stopped on exit."""

    def __init__(self, data_dir: str, folder: Path):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = os.environ | {
            "MNIST_DATA_DIR": data_dir,
            "MNIST_STATE_DIR": str(folder / "state"),
            "MNIST_MODELS_DIR": str(folder / "trained"),
            "MNIST_AUTOSTART_WORKER": "0",  # the worker below is the only one
            "TF_CPP_MIN_LOG_LEVEL": "2",
        }
        self.log = (folder / "app.log").open("wb")
        self.processes: list[subprocess.Popen] = []

    def __enter__(self) -> App:
        self.server = self._start([
            sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true",
            "--server.port", str(self.port), "--server.address", "127.0.0.1",
            "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none",
        ])
        self.worker = self._start([sys.executable, "-m", "mnist_core", "worker",
                                   "--threads", "2"])
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(f"{self.url}/_stcore/health", timeout=5) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline or self.server.poll() is not None:
                raise RuntimeError(f"the app did not start; see {self.log.name}")
            time.sleep(0.5)
        return self

    def _start(self, command) -> subprocess.Popen:
        process = subprocess.Popen(command, cwd=common.ROOT, env=self.env, stdout=self.log,
                                   stderr=subprocess.STDOUT, start_new_session=True)
        self.processes.append(process)
        return process

    def queue(self) -> JobQueue:
        return JobQueue(state=self.env["MNIST_STATE_DIR"])

    def __exit__(self, *exc) -> None:
        for process in self.processes:
            try:
                os.killpg(process.pid, 15)
                process.wait(20)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                os.killpg(process.pid, 9)
        self.log.close()


async def idle(page) -> None:
    """Wait until the page's script run has ended."""
    from playwright.async_api import expect

    app = page.locator('[data-testid="stApp"]')
    await expect(app).to_have_attribute("data-test-script-state", "notRunning",
                                         timeout=TIMEOUT_MS)


async def draw_once(page, stroke, clear: bool = True) -> dict:
    """Clear the pad (unless `clear` is False: a page just opened has an empty one), draw
    `stroke`, and time the bars' arrival; returns the figures."""
    from playwright.async_api import Error as PlaywrightError
    from playwright.async_api import expect

    if clear:
        await page.get_by_role("button", name="Clear").click()
    await expect(page.get_by_text("Draw a digit in the black box")).to_be_visible(
        timeout=TIMEOUT_MS
    )
    await idle(page)
    canvas = page.locator(PAD_CANVAS)
    box = None
    for _ in range(100):  # the new, empty pad may still be mounting after Clear
        try:
            # for a moment after Clear the old pad and the new one are both on the page
            await expect(canvas).to_have_count(1, timeout=TIMEOUT_MS)
            await expect(canvas).to_be_visible(timeout=TIMEOUT_MS)
            await canvas.scroll_into_view_if_needed(timeout=5_000)
            box = await canvas.bounding_box()
        except (PlaywrightError, AssertionError):  # it went while we looked: look again
            box = None
        if box is not None:
            break
        await asyncio.sleep(0.1)
    assert box is not None, "the drawing pad has no box on screen"
    points = [(box["x"] + x * box["width"] / PAD, box["y"] + y * box["height"] / PAD)
              for x, y in stroke]
    path = [points[0]]
    for start, end in zip(points, points[1:]):
        steps = max(1, math.ceil(math.dist(start, end) / STEP_PX))
        path += [(start[0] + (end[0] - start[0]) * k / steps,
                  start[1] + (end[1] - start[1]) * k / steps) for k in range(1, steps + 1)]
    async def draw() -> float:
        await page.mouse.move(*path[0])
        await page.mouse.down()
        for x, y in path[1:]:
            await page.mouse.move(x, y)
        await page.mouse.up()
        return time.perf_counter()

    lifted, lost = await until_read(page, draw, 10, "Draw a digit in the black box",
                                    lost_after_ms=LOST_STROKE_MS, timeout_ms=TIMEOUT_MS)
    arrived = time.perf_counter()
    read = page.get_by_text(READ_RE)
    await expect(read).to_be_visible(timeout=TIMEOUT_MS)
    read_ms = float(READ_RE.search(await read.inner_text()).group(1).replace(",", ""))
    return {"stroke_to_bars_s": arrived - lifted, "read_s": read_ms / 1000, "lost_strokes": lost}


async def until_read(page, draw, bars: int, prompt: str, *, lost_after_ms: int,
                     timeout_ms: int) -> tuple[float, int]:
    """Call `draw()` (strokes on the pad; it returns when the pen lifted) until `bars`
    probability bars are on the page. Strokes that never reached the app (the pad
    still starting: no bars after `lost_after_ms`, the empty pad's `prompt` still shown,
    the app idle) are drawn again, twice at most. Returns when the pen last lifted and
    how many times the strokes were drawn again."""
    from playwright.async_api import expect

    found = page.locator(".digit-bars .digit-bar")
    lost = 0
    while True:
        lifted = await draw()
        try:
            await expect(found).to_have_count(bars, timeout=lost_after_ms)
            return lifted, lost
        except AssertionError:
            if (lost < 2 and await page.get_by_text(prompt).is_visible()
                    and await idle_now(page)):
                lost += 1
                continue
        await expect(found).to_have_count(bars, timeout=timeout_ms - lost_after_ms)
        return lifted, lost


async def idle_now(page) -> bool:
    """Whether the app is connected and no script run is going on right now."""
    app = page.locator('[data-testid="stApp"]')
    return (await app.get_attribute("data-test-connection-state") == "CONNECTED"
            and await app.get_attribute("data-test-script-state") == "notRunning")


async def open_draw(browser, url: str, timeout_ms: int = TIMEOUT_MS):
    """A new browser context (its own cookies and cache) on the Draw page, ready to draw;
    the context is closed again if the page does not come within `timeout_ms`."""
    context = await browser.new_context(viewport={"width": 1280, "height": 800})
    try:
        page = await context.new_page()
        await page.goto(url, timeout=timeout_ms)
        await page.get_by_role("button", name="Clear").wait_for(timeout=timeout_ms)
        await idle(page)
    except BaseException:
        await context.close()
        raise
    return context, page


async def draw_until(page, count: int | None, until=None) -> list[dict]:
    """Draw `count` digits, or until `until()` is true (at most 500)."""
    samples = []
    for i in range(count or 500):
        if until is not None and until():
            break
        samples.append(await draw_once(page, STROKES[i % len(STROKES)]))
    return samples


async def default_run(page, url: str) -> dict:
    """Press Start training with the page's defaults; wait for the model to be saved."""
    from playwright.async_api import expect

    await page.goto(f"{url}/Train")
    start = page.get_by_role("button", name="Start training")
    await start.wait_for(timeout=TIMEOUT_MS)
    await idle(page)
    architecture = await page.get_by_role("combobox", name="Architecture").input_value()
    await start.click()
    clicked = time.perf_counter()
    saved = page.get_by_test_id("stAlertContentSuccess").filter(has_text="Saved model")
    await expect(saved).to_be_visible(timeout=RUN_TIMEOUT_S * 1000)
    seconds = time.perf_counter() - clicked
    message = await saved.inner_text()
    accuracy = float(re.search(r"test accuracy ([\d.]+)%", message).group(1)) / 100
    return {"architecture": architecture, "wall_s": seconds, "test_accuracy": accuracy,
            "message": message}


def summary(samples: list[dict]) -> dict:
    return {
        "drawings": len(samples),
        "stroke_to_bars": common.stats([s["stroke_to_bars_s"] for s in samples]),
        "read": common.stats([s["read_s"] for s in samples]),
        "lost_strokes": sum(s["lost_strokes"] for s in samples),
    }


async def measure(args, app: App) -> dict:
    from playwright.async_api import async_playwright

    result = {}
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=str(CHROMIUM),
                                                   args=CHROMIUM_ARGS)
        print("0. the Train page's default run, nobody else on the app", flush=True)
        alone_context = await browser.new_context(viewport={"width": 1280, "height": 800})
        meter = CpuMeter(app)
        run_result = await default_run(await alone_context.new_page(), app.url)
        result["alone"] = meter.shares() | {"default_run": run_result}
        await alone_context.close()

        drawer_context, drawer = await open_draw(browser, app.url)
        await draw_until(drawer, 2)  # warm up the page and the model
        print("1. idle: one visitor draws", flush=True)
        result["idle"] = summary(await draw_until(drawer, args.drawings))

        print("2. the Train page's default run, one visitor drawing meanwhile", flush=True)
        trainer_context = await browser.new_context(viewport={"width": 1280, "height": 800})
        trainer = await trainer_context.new_page()
        meter = CpuMeter(app)
        run = asyncio.ensure_future(default_run(trainer, app.url))
        samples = await draw_until(drawer, None, until=run.done)
        run_result = await run
        result["training"] = summary(samples) | meter.shares() | {"default_run": run_result}
        await trainer_context.close()

        if not args.skip_load:
            print(f"3. {args.sessions} visitors draw while two runs train", flush=True)
            queue = app.queue()
            jobs = [queue.submit(TrainConfig("fast-cnn", epochs=6), f"load-{i}",
                                 new_owner_id())
                    for i in range(2)]
            deadline = time.monotonic() + 120
            while sum(j.status == "running" for j in queue.view().jobs) < 2:
                assert time.monotonic() < deadline, "the two runs did not start"
                await asyncio.sleep(0.5)
            opened = [await open_draw(browser, app.url) for _ in range(args.sessions)]
            meter = CpuMeter(app)
            per_session = await asyncio.gather(
                *(draw_until(page, args.load_drawings) for _, page in opened)
            )
            shares = meter.shares()
            still_training = sum(j.status == "running" for j in queue.view().jobs)
            samples = [s for session in per_session for s in session]
            result["load"] = summary(samples) | shares | {
                "sessions": args.sessions, "runs_training_at_end": still_training,
            }
            for job in jobs:
                queue.stop(job.id, job.owner)
            for context, _ in opened:
                await context.close()
        await drawer_context.close()
        await browser.close()
    return result


def run(args: argparse.Namespace) -> dict:
    if not CHROMIUM.is_file():
        raise FileNotFoundError(f"{CHROMIUM} is missing: apt-get install chromium")
    data_dir = common.mnist_dir(args.data_dir, args.quick)
    machine = common.machine_info()
    common.print_machine(machine)
    with tempfile.TemporaryDirectory(prefix="bench-serving-") as folder, \
            App(data_dir or "", Path(folder)) as app:
        figures = asyncio.run(measure(args, app))
    result = {
        "machine": machine,
        "settings": {k: getattr(args, k) for k in
                     ("drawings", "sessions", "load_drawings", "skip_load", "quick")}
        | {"data_dir": data_dir},
    } | figures
    report(result)
    return result


PHASE_LABELS = {
    "idle": "idle", "training": "default run training",
    "load": "load: visitors drawing, 2 runs training",
}


def report(result: dict) -> None:
    rows = []
    for phase, label in PHASE_LABELS.items():
        if phase not in result:
            continue
        figures = result[phase]
        bars, read = figures["stroke_to_bars"], figures["read"]
        sessions = figures.get("sessions", 1)
        cpu = [
            "-" if f"{kind}_cpu_s_per_s" not in figures
            else f"{figures[f'{kind}_cpu_s_per_s']:.2f}"
            for kind in ("server", "training", "browsers")
        ]
        rows.append([
            label, str(sessions), str(figures["drawings"]),
            f"{bars['p50_ms']:.0f}", f"{bars['p95_ms']:.0f}", f"{read['p50_ms']:.1f}",
            f"{read['p95_ms']:.1f}", *cpu,
        ])
    common.print_table(
        ["phase", "visitors", "drawings", "stroke->bars p50 ms", "p95", "read p50 ms", "p95",
         "CPU s/s: server", "training", "browsers"],
        rows,
    )
    lost = sum(result[phase].get("lost_strokes", 0) for phase in PHASE_LABELS if phase in result)
    if lost:
        print(f"{lost} stroke(s) never reached the app (the pad was still mounting) and "
              "were drawn again; their time counts from the second stroke")
    for phase, label in (("alone", "nobody else on the app"),
                         ("training", "one visitor drawing meanwhile")):
        run = result[phase]["default_run"]
        print(f"the Train page's default run ({run['architecture']}), {label}: "
              f"{run['wall_s']:.1f} s from Start to saved, test accuracy "
              f"{run['test_accuracy']:.2%}; CPU s/s: server "
              f"{result[phase]['server_cpu_s_per_s']:.2f}, training "
              f"{result[phase]['training_cpu_s_per_s']:.2f}, browsers "
              f"{result[phase]['browsers_cpu_s_per_s']:.2f}")


def main(argv: list[str] | None = None) -> int:
    return common.run_main(NAME, run, parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
