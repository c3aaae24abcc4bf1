"""Soak: many visitors at once for minutes, a mix of everything they do; nothing lost.

    python -m bench.soak                        # 30 sessions for 300 s
    python -m bench.soak --sessions 10 --seconds 60
    python -m bench.soak --quick                # 3 sessions for 40 s

Starts the app as deployed (`bench.serving.App`: `streamlit run app.py` on a free local
port and one worker, private state folder and model store) and drives `--sessions`
headless Chromium sessions at once, each in its own browser context (so each has its
own owner cookie), for `--seconds`. Each session does a random (`--seed`) mix of:

- draw a digit on the Draw page's pad and wait for the ten bars (stroke to bars);
- upload an image with "Upload a photo": a digit PNG (bars expected), or now and then an
  image bomb from `tests/bombs.py` (the page's "Cannot read" error expected);
- write a two-digit number with "Write a number" (twenty bars expected);
- look at the Train page: it must list only this session's runs;
- open the Evaluate page and pick a random model (its confusion matrix, calibration and
  misread digits), or the Models page and pick a random model (its card);
- rarely (`--max-runs` in the whole soak: one each for the first sessions, early on)
  submit a tiny training run on the Train page, and stop about half of them.

Each session's first page (opened two at a time, as a class arrives) is a read too:
timed from opening to a pad ready to draw, within the step's 60 s. A read is answered
when its result is on screen, failed when it timed out or the page
showed an exception box (`stException`). The server's resident memory (VmRSS of the
`streamlit run` process, not of its children) is sampled every second; its idle figure
is taken before the soak, after a warm-up that visits each page once (a drawing, a model
picked on Evaluate and on Models): what a page's first visit loads once for the server's
life (its libraries, the models' stored test readings) is not growth with visitors. The
figure after the drawing alone is reported beside it. At the end the runs submitted are
looked up in the queue: finished, failed, stopped, or lost (the record vanished).
"Crossed" counts sessions that saw another session's run on their Train page.

Target: 0 lost, 0 crossed, 0 unanswered, server peak memory <= 1.5x idle. Localhost
only; every loop is bounded by the deadline and per-step timeouts.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import random
import sys
import tempfile
import threading
import time
from pathlib import Path

import cv2
import numpy as np

from bench import common
from bench.evaluate_page import pick, scores_shown
from bench.serving import (
    CHROMIUM,
    CHROMIUM_ARGS,
    STROKES,
    App,
    draw_once,
    idle,
    open_draw,
    until_read,
)
from mnist_core.model.card import DIGIT
from mnist_core.reading.segment import NUMBER_PAD
from mnist_core.store import registry
from tests import bombs
from tests.e2e.helpers import ONE, SEVEN, scaled

NAME = "soak"
STEP_TIMEOUT_MS = 60_000
LOST_STROKES_MS = 15_000  # no bars this long, the pad empty and idle: strokes lost
TARGET_PEAK_RATIO = 1.5
ACTIONS = ("draw", "upload", "number", "look", "evaluate", "models")
WEIGHTS = (0.42, 0.2, 0.14, 0.07, 0.1, 0.07)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.soak", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", help="MNIST folder (default: MNIST_DATA_DIR)")
    parser.add_argument("--sessions", type=int, help="browser sessions at once (default 30)")
    parser.add_argument("--seconds", type=float, help="how long they go on (default 300)")
    parser.add_argument("--max-runs", type=int,
                        help="training runs submitted in the whole soak (default 3)")
    parser.add_argument("--bomb-share", type=float, default=0.2,
                        help="share of uploads that are image bombs (default 0.2)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true",
                        help="3 sessions for 40 s, subset MNIST if the full set is missing")
    parser.add_argument("--results-dir", type=Path, default=common.RESULTS_DIR)
    args = parser.parse_args(argv)
    args.sessions = args.sessions or (3 if args.quick else 30)
    args.seconds = args.seconds or (40 if args.quick else 300)
    args.max_runs = args.max_runs if args.max_runs is not None else (1 if args.quick else 3)
    return args


def digit_png() -> bytes:
    """A photo-like digit: a dark 7 written on light paper, as a PNG."""
    image = np.full((200, 160), 235, np.uint8)
    cv2.putText(image, "7", (25, 170), cv2.FONT_HERSHEY_SIMPLEX, 6, 20, 14, cv2.LINE_AA)
    ok, data = cv2.imencode(".png", image)
    assert ok
    return data.tobytes()


def uploads() -> dict[str, tuple[str, str, bytes]]:
    """The files the sessions upload: name, MIME type, bytes."""
    return {
        "digit": ("digit-7.png", "image/png", digit_png()),
        "png_bomb": ("bomb.png", "image/png", bombs.png_bomb(20_000, 20_000)),
        "gif_bomb": ("bomb.gif", "image/gif", bombs.gif_bomb(16_000, 16_000)),
    }


class RssSampler:
    """VmRSS of one process every second, in a thread, until stopped."""

    def __init__(self, pid: int):
        self.pid, self.samples = pid, []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    @staticmethod
    def rss_mb(pid: int) -> float:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        raise RuntimeError(f"no VmRSS for process {pid}")

    def _loop(self) -> None:
        while not self._stop.is_set():
            with contextlib.suppress(OSError, RuntimeError):
                self.samples.append(self.rss_mb(self.pid))
            self._stop.wait(1.0)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(5)


class Soak:
    """What all sessions share: the app, the files, the run budget, the tallies."""

    def __init__(self, args, app: App, browser, files):
        self.args, self.app, self.browser, self.files = args, app, browser, files
        self.deadline = time.monotonic() + args.seconds
        self.reads: list[dict] = []  # kind, ok, seconds, error
        self.runs: list[dict] = []  # session, name, stopped
        self.crossed: list[dict] = []
        self.train_looks = 0
        self.models = [info.name for info in registry.list_models(  # the pickers' models
            registry.DEFAULT_SHIPPED_DIR, task=DIGIT)]
        # sessions open their first page two at a time, as a class arrives: 30 page
        # loads at once on a small machine time out before any visitor does anything
        self.opening = asyncio.Semaphore(2)

    async def session(self, index: int) -> None:
        rng = random.Random(f"{self.args.seed}-{index}")
        prefix = f"soak{self.args.seed}-s{index}-"
        async with self.opening:
            # the first page is a read like any other: timed, and counted when it fails
            context = await self.guarded(None, "first_page", self.open(), reset=False)
        if context is None:
            return
        context, page = context
        context.set_default_timeout(STEP_TIMEOUT_MS)
        try:
            # the first --max-runs sessions each submit one run, early on
            run_at = rng.randint(2, 4) if index < self.args.max_runs else -1
            n = 0
            while time.monotonic() < self.deadline:
                n += 1
                if n == run_at:
                    await self.guarded(page, "train", self.train(context, prefix, n, rng))
                    continue
                action = rng.choices(ACTIONS, WEIGHTS)[0]
                if action == "draw":
                    await self.guarded(page, "draw", draw_once(page, rng.choice(STROKES)))
                elif action == "upload":
                    kind = "digit" if rng.random() >= self.args.bomb_share else rng.choice(
                        ["png_bomb", "gif_bomb"])
                    await self.guarded(page, f"upload_{kind}", self.upload(page, kind))
                elif action == "number":
                    await self.guarded(page, "number", self.number(page))
                elif action in ("evaluate", "models"):
                    await self.guarded(page, action, self.browse(context, action, rng))
                else:
                    await self.guarded(page, "look", self.look(context, prefix))
                await asyncio.sleep(rng.uniform(0.2, 1.5))  # a person's pause
            await self.guarded(page, "look", self.look(context, prefix))
        finally:
            await context.close()

    async def open(self) -> tuple:
        started = time.perf_counter()
        context, page = await open_draw(self.browser, self.app.url, STEP_TIMEOUT_MS)
        return {"answer_s": time.perf_counter() - started, "opened": (context, page)}

    async def guarded(self, page, kind: str, step, reset: bool = True):
        """Run one step; count it answered, or failed with why. Returns what the step
        opened, if anything."""
        started = time.perf_counter()
        record = {"kind": kind, "ok": False}
        opened = None
        try:
            figures = await step or {}
            opened = figures.pop("opened", None)
            record |= {"ok": True, "seconds": time.perf_counter() - started} | figures
        except Exception as err:  # noqa: BLE001 - a failed read is a figure, not a crash
            # Playwright's message: what was expected, then the locator it waited for
            lines = [line.strip(" -") for line in str(err).splitlines() if line.strip()]
            waited = [line for line in lines if line.startswith("waiting for")][:1]
            record["error"] = f"{type(err).__name__}: {' / '.join(lines[:1] + waited)[:300]}"
        try:
            if page is None:
                raise LookupError("no page yet")
            shown = page.get_by_test_id("stException")
            if await shown.count():
                record["ok"] = False
                record["error"] = "exception shown: " + (await shown.first.inner_text())[:300]
            elif not record["ok"]:  # what the page said instead
                said = await page.get_by_test_id("stAlert").all_inner_texts()
                chosen = await page.locator('[data-testid="stRadio"] input:checked').count()
                record["page"] = {"alerts": [text[:120] for text in said],
                                  "title": await page.locator("h1").first.inner_text(),
                                  "input_chosen": chosen}
        except Exception:  # noqa: BLE001 - the page is gone; the error above says why
            pass
        self.reads.append(record)
        if not record["ok"]:
            print(f"  {kind} failed: {record['error']} {record.get('page', '')}", flush=True)
            if reset:
                await self.reset(page)
        return opened

    async def reset(self, page) -> None:
        try:
            await page.goto(self.app.url)
            await page.get_by_role("button", name="Clear").wait_for(timeout=STEP_TIMEOUT_MS)
            await idle(page)
        except Exception:  # noqa: BLE001 - the next step fails and says so
            pass

    async def choose_source(self, page, label: str, ready: str) -> None:
        from playwright.async_api import expect

        await page.get_by_test_id("stRadio").get_by_text(label, exact=True).click()
        await expect(page.get_by_text(ready)).to_be_visible(timeout=STEP_TIMEOUT_MS)
        await idle(page)

    async def upload(self, page, kind: str) -> dict:
        from playwright.async_api import expect

        name, mime, data = self.files[kind]
        await self.choose_source(page, "Upload a photo",
                                 "Upload a photo or scan of a single digit.")
        await page.locator('input[type="file"]').set_input_files(
            {"name": name, "mimeType": mime, "buffer": data})
        sent = time.perf_counter()
        if kind == "digit":
            bars = page.locator(".digit-bars .digit-bar")
            await expect(bars).to_have_count(10, timeout=STEP_TIMEOUT_MS)
        else:
            error = page.get_by_test_id("stAlertContentError").filter(
                has_text=f"Cannot read {name}")
            await expect(error).to_be_visible(timeout=STEP_TIMEOUT_MS)
        answered = time.perf_counter() - sent
        await idle(page)
        await self.choose_source(page, "Draw a digit", "Draw a digit in the black box")
        return {"answer_s": answered}

    async def number(self, page) -> dict:
        from playwright.async_api import expect

        await self.choose_source(page, "Write a number",
                                 "Write a number, digit after digit, in the black box.")
        canvas = page.locator('[data-testid="stBidiComponentIsolated"] canvas.upper-canvas')
        await expect(canvas).to_have_count(1, timeout=STEP_TIMEOUT_MS)
        height, width = NUMBER_PAD

        async def write() -> float:
            box = await self.number_pad_box(canvas, width)
            for stroke, left in ((ONE, 150), (SEVEN, 380)):
                points = [(box["x"] + x * box["width"] / width,
                           box["y"] + y * box["height"] / height)
                          for x, y in scaled(stroke, 170, (left, 35))]
                await page.mouse.move(*points[0])
                await page.mouse.down()
                for (x0, y0), (x1, y1) in zip(points, points[1:]):
                    for k in range(1, 9):
                        await page.mouse.move(x0 + (x1 - x0) * k / 8, y0 + (y1 - y0) * k / 8)
                await page.mouse.up()
                lifted = time.perf_counter()
                await idle(page)
            return lifted

        lifted, lost = await until_read(
            page, write, 20, "Write a number, digit after digit, in the black box.",
            lost_after_ms=LOST_STROKES_MS, timeout_ms=STEP_TIMEOUT_MS)
        answered = time.perf_counter() - lifted
        await self.choose_source(page, "Draw a digit", "Draw a digit in the black box")
        return {"answer_s": answered, "lost_strokes": lost}

    @staticmethod
    async def number_pad_box(canvas, width: int) -> dict:
        """The number pad's box on screen once it is the wide pad and holds still (the
        digit pad it replaces, or the page settling, moves it at first)."""
        deadline = time.perf_counter() + STEP_TIMEOUT_MS / 1000
        box = None
        while True:
            await canvas.scroll_into_view_if_needed(timeout=STEP_TIMEOUT_MS)
            before, box = box, await canvas.bounding_box()
            if box is not None and abs(box["width"] - width) <= 2 and box == before:
                return box
            assert time.perf_counter() < deadline, "the number pad did not appear"
            await asyncio.sleep(0.2)

    async def look(self, context, prefix: str) -> dict:
        """Open the Train page in another tab of this session; note others' runs."""
        from playwright.async_api import expect

        page = await context.new_page()
        try:
            await page.goto(f"{self.app.url}/Train")
            await expect(page.get_by_role("button", name="Start training")).to_be_visible(
                timeout=STEP_TIMEOUT_MS)
            await idle(page)
            seen = await self.seen_runs(page)
        finally:
            await page.close()
        self.note_seen(prefix, seen)
        return {"runs_seen": len(seen)}

    async def browse(self, context, where: str, rng: random.Random) -> dict:
        """Open the Evaluate or Models page in another tab of this session and pick a
        random model there; seconds from the pick to the model shown."""
        from playwright.async_api import expect

        page = await context.new_page()
        try:
            await page.goto(f"{self.app.url}/{where.capitalize()}")
            picker = page.get_by_role("combobox", name="Model", exact=True)
            await expect(picker).to_be_visible(timeout=STEP_TIMEOUT_MS)
            await idle(page)
            name = rng.choice(self.models)
            seconds, _ = await pick(page, name,
                                    scores_shown if where == "evaluate" else card_shown)
        finally:
            await page.close()
        return {"model": name, "answer_s": seconds}

    async def seen_runs(self, page) -> list[str]:
        titles = await page.locator('[data-testid="stHeading"] h3').all_inner_texts()
        return [t.strip() for t in titles if t.strip().startswith("soak")]

    def note_seen(self, prefix: str, seen: list[str]) -> None:
        self.train_looks += 1
        others = [name for name in seen if not name.startswith(prefix)]
        if others:
            self.crossed.append({"session": prefix, "saw": others})

    async def train(self, context, prefix: str, n: int, rng: random.Random) -> dict:
        """A tiny run (MLP, 1 epoch, 500 images) from the Train page; sometimes stopped."""
        from playwright.async_api import expect

        name = f"{prefix}r{n}"
        page = await context.new_page()
        try:
            await page.goto(f"{self.app.url}/Train")
            start = page.get_by_role("button", name="Start training")
            await expect(start).to_be_visible(timeout=STEP_TIMEOUT_MS)
            await idle(page)
            await page.get_by_role("combobox", name="Architecture").click()
            await page.get_by_role("option", name="mlp-16-16-relu", exact=True).click()
            await idle(page)
            for label, value in (("Epochs", "1"), ("Training images", "500")):
                slider = page.get_by_role("slider", name=label)
                await slider.focus()
                await page.keyboard.press("Home")
                await expect(slider).to_have_attribute("aria-valuetext", value)
                await idle(page)
            box = page.get_by_role("textbox", name="New model name")
            await box.fill(name)
            await box.press("Enter")
            await idle(page)
            await start.click()
            heading = page.locator('[data-testid="stHeading"] h3').filter(has_text=name)
            await expect(heading).to_be_visible(timeout=STEP_TIMEOUT_MS)
            stop = rng.random() < 0.5
            self.runs.append({"session": prefix, "name": name, "stop_clicked": False})
            if stop:
                button = page.get_by_role("button", name="Stop")
                if await button.count():
                    await button.first.click()
                    self.runs[-1]["stop_clicked"] = True
            await idle(page)
            self.note_seen(prefix, await self.seen_runs(page))
        finally:
            await page.close()
        return {}


def card_shown(page, name: str):
    """The Models page's card of model `name`: its parameters and test accuracy."""
    card = registry.read_card(name)
    return page.get_by_test_id("stMarkdown").filter(
        has_text=f"Parameters: {card.params:,}").filter(
        has_text=f"MNIST test accuracy: {card.test_accuracy:.2%}")


def pct_stats(values: list[float]) -> dict | None:
    return common.stats(values) if values else None


async def soak(args, app: App, files) -> dict:
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=str(CHROMIUM),
                                                   args=CHROMIUM_ARGS)
        print("warm-up: one drawing, then each page once; the server's idle memory", flush=True)
        state = Soak(args, app, browser, files)
        context, page = await open_draw(browser, app.url)
        await draw_once(page, STROKES[0])
        after_drawing_mb = await settled_rss(app)
        for where in ("evaluate", "models"):
            await state.browse(context, where, random.Random(f"{args.seed}-warm-up"))
        await context.close()
        idle_mb = await settled_rss(app)
        print(f"{args.sessions} sessions for {args.seconds:.0f} s", flush=True)
        with RssSampler(app.server.pid) as sampler:
            state.deadline = time.monotonic() + args.seconds  # from now, not the warm-up
            started = time.monotonic()
            outcomes = await asyncio.gather(*(state.session(i) for i in range(args.sessions)),
                                            return_exceptions=True)
            wall = time.monotonic() - started
            broken = [f"{type(o).__name__}: {o}" for o in outcomes if isinstance(o, Exception)]
        await browser.close()
    runs = settle_runs(app, state.runs)
    return {"idle_rss_mb": idle_mb, "after_drawing_rss_mb": after_drawing_mb,
            "rss_samples_mb": sampler.samples, "wall_s": wall,
            "state": state, "runs": runs, "sessions_broken": broken}


async def settled_rss(app: App) -> float:
    """The server's resident memory once a visit is over: the most of three readings."""
    await asyncio.sleep(2)
    samples = []
    for _ in range(3):
        samples.append(RssSampler.rss_mb(app.server.pid))
        await asyncio.sleep(1)
    return max(samples)


def settle_runs(app: App, submitted: list[dict], wait_s: float = 90) -> dict:
    """Stop what still trains, wait for every run to end, and look each one up."""
    queue = app.queue()
    deadline = time.monotonic() + wait_s
    while True:
        jobs = {job.name: job for job in queue.view().jobs}
        active = [jobs[r["name"]] for r in submitted if r["name"] in jobs
                  and jobs[r["name"]].active]
        if not active or time.monotonic() > deadline:
            break
        time.sleep(1)
    counts = {"submitted": len(submitted), "finished": 0, "failed": 0, "stopped": 0,
              "still_active": 0, "lost": 0}
    for record in submitted:
        job = jobs.get(record["name"])
        if job is None:
            counts["lost"] += 1
        elif job.active:
            counts["still_active"] += 1
            queue.stop(job.id, job.owner)
        elif job.status in ("finished", "failed", "stopped"):
            counts[job.status] += 1
        else:
            counts["stopped"] += 1
        record["status"] = None if job is None else job.status
    return counts | {"runs": submitted}


def summarise(args, figures: dict) -> dict:
    state = figures["state"]
    reads = state.reads
    by_kind = {}
    for kind in sorted({r["kind"] for r in reads}):
        mine = [r for r in reads if r["kind"] == kind]
        by_kind[kind] = {"answered": sum(r["ok"] for r in mine),
                         "failed": sum(not r["ok"] for r in mine)}
    draws = [r for r in reads if r["kind"] == "draw" and r["ok"]]
    peak = max(figures["rss_samples_mb"], default=figures["idle_rss_mb"])
    answered = sum(r["ok"] for r in reads)
    return {
        "reads": {"answered": answered, "failed": len(reads) - answered, "by_kind": by_kind,
                  "failures": [r for r in reads if not r["ok"]][:50]},
        "stroke_to_bars": pct_stats([r["stroke_to_bars_s"] for r in draws]),
        "server_read": pct_stats([r["read_s"] for r in draws]),
        "upload_answer": pct_stats([r["answer_s"] for r in reads
                                    if r["kind"].startswith("upload") and r["ok"]]),
        "number_answer": pct_stats([r["answer_s"] for r in reads
                                    if r["kind"] == "number" and r["ok"]]),
        "evaluate_answer": pct_stats([r["answer_s"] for r in reads
                                      if r["kind"] == "evaluate" and r["ok"]]),
        "models_answer": pct_stats([r["answer_s"] for r in reads
                                    if r["kind"] == "models" and r["ok"]]),
        "first_page": pct_stats([r["answer_s"] for r in reads
                                 if r["kind"] == "first_page" and r["ok"]]),
        "memory": {"idle_rss_mb": figures["idle_rss_mb"], "peak_rss_mb": peak,
                   "after_drawing_rss_mb": figures["after_drawing_rss_mb"],
                   "peak_over_after_drawing": peak / figures["after_drawing_rss_mb"],
                   "peak_over_idle": peak / figures["idle_rss_mb"],
                   "samples": len(figures["rss_samples_mb"]),
                   # every 30th sample (about every 30 s): growth or a plateau
                   "every_30_s_mb": [round(mb) for mb in figures["rss_samples_mb"][::30]]},
        # strokes drawn again because the pad they went to was still starting: the
        # browser's timing, not the server's (each is counted, none hidden)
        "strokes_drawn_again": sum(r.get("lost_strokes", 0) for r in reads if r["ok"]),
        "runs": figures["runs"],
        "crossed": len(state.crossed), "crossed_detail": state.crossed,
        "train_page_looks": state.train_looks,
        "sessions_broken": figures["sessions_broken"],
        "wall_s": figures["wall_s"],
    }


def met(result: dict) -> bool:
    return (result["runs"]["lost"] == 0 and result["crossed"] == 0
            and result["reads"]["failed"] == 0 and not result["sessions_broken"]
            and result["memory"]["peak_over_idle"] <= TARGET_PEAK_RATIO)


def run(args: argparse.Namespace) -> dict:
    if not CHROMIUM.is_file():
        raise FileNotFoundError(f"{CHROMIUM} is missing: apt-get install chromium")
    data_dir = common.mnist_dir(args.data_dir, args.quick)
    machine = common.machine_info()
    common.print_machine(machine)
    files = uploads()
    with tempfile.TemporaryDirectory(prefix="bench-soak-") as folder, \
            App(data_dir or "", Path(folder)) as app:
        figures = asyncio.run(soak(args, app, files))
    result = {
        "machine": machine,
        "settings": {k: getattr(args, k) for k in
                     ("sessions", "seconds", "max_runs", "bomb_share", "seed", "quick")}
        | {"data_dir": data_dir},
    } | summarise(args, figures)
    result["target_met"] = met(result)
    report(result)
    return result


def report(result: dict) -> None:
    s = result["settings"]
    reads, runs, memory = result["reads"], result["runs"], result["memory"]
    print(f"\n{s['sessions']} sessions for {s['seconds']:.0f} s (wall {result['wall_s']:.0f} s)")
    common.print_table(["read", "answered", "failed"],
                       [[k, v["answered"], v["failed"]] for k, v in reads["by_kind"].items()]
                       + [["all", reads["answered"], reads["failed"]]])
    for label, key in (("a session's first page, open to ready", "first_page"),
                       ("stroke to bars", "stroke_to_bars"), ("server read", "server_read"),
                       ("upload to answer", "upload_answer"),
                       ("number: last stroke to bars", "number_answer"),
                       ("Evaluate: pick to model shown", "evaluate_answer"),
                       ("Models: pick to card shown", "models_answer")):
        if result[key]:
            print(f"{label}: p50 {result[key]['p50_ms']:.0f} ms, "
                  f"p95 {result[key]['p95_ms']:.0f} ms (n={result[key]['n']})")
    if result["strokes_drawn_again"]:
        print(f"strokes drawn again (the pad was still starting): "
              f"{result['strokes_drawn_again']}")
    print(f"server resident memory: idle {memory['idle_rss_mb']:.0f} MB (each page visited "
          f"once; {memory['after_drawing_rss_mb']:.0f} MB after one drawing), peak "
          f"{memory['peak_rss_mb']:.0f} MB ({memory['peak_over_idle']:.2f}x idle, "
          f"{memory['peak_over_after_drawing']:.2f}x after one drawing); every 30 s: "
          + " ".join(str(mb) for mb in memory["every_30_s_mb"]))
    print(f"runs: {runs['submitted']} submitted, {runs['finished']} finished, "
          f"{runs['failed']} failed, {runs['stopped']} stopped, {runs['lost']} lost")
    print(f"crossed: {result['crossed']} (Train page looked at {result['train_page_looks']} "
          "times)")
    if result["sessions_broken"]:
        print(f"sessions broken: {result['sessions_broken']}")
    print(f"target: 0 lost, 0 crossed, 0 unanswered, peak <= {TARGET_PEAK_RATIO}x idle: "
          f"{runs['lost']} lost, {result['crossed']} crossed, {reads['failed']} unanswered, "
          f"peak {memory['peak_over_idle']:.2f}x -> "
          f"{'met' if result['target_met'] else 'NOT met'}")


def main(argv: list[str] | None = None) -> int:
    return common.run_main(NAME, run, parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
