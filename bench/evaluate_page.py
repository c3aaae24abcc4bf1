"""The Evaluate page under a visitor's clicks: how long a picked model takes to show,
and what the web server holds after each.

    python -m bench.evaluate_page               # every shipped model, twice
    python -m bench.evaluate_page --quick       # three models

Starts the app as deployed (`bench.serving.App`: `streamlit run app.py` on a free local
port, private state folder; the shipped models), opens the Evaluate page in headless
Chromium and picks each model in "Where a model goes wrong" in turn: once from a fresh
server (first), then again (warm). A pick is timed from the click on its option until
that model's figures are on screen, and until the page's script run has ended (its
charts and misread digits sent too). The server's
resident memory (VmRSS and its peak, VmHWM, of the `streamlit run` process) is read
after the page opens and after each pick.

Targets (issue 41): the server at most 400 MB resident after every shipped model was
picked, a picked model shown in at most 2 s the first time and 1 s warm.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

from bench import common
from bench.serving import CHROMIUM, CHROMIUM_ARGS, TIMEOUT_MS, App, idle
from mnist_core.model.card import DIGIT
from mnist_core.store import registry

NAME = "evaluate_page"
TARGET_RSS_MB = 400
TARGET_FIRST_S = 2.0
TARGET_WARM_S = 1.0


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.evaluate_page", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    common.add_common_args(parser)
    parser.add_argument("--data-dir", help="MNIST folder (default: MNIST_DATA_DIR); the page "
                        "needs it only for models stored without their test readings")
    parser.add_argument("--quick", action="store_true", help="the first three models only")
    return parser.parse_args(argv)


def vm_status(pid: int) -> dict:
    """The process's resident memory now and at its peak, in MB."""
    fields = dict(line.split(":", 1) for line in
                  Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line)
    return {"rss_mb": int(fields["VmRSS"].split()[0]) / 1024,
            "peak_rss_mb": int(fields["VmHWM"].split()[0]) / 1024}


def scores_shown(page, name: str):
    """The Evaluate page's test loss metric as it reads for model `name` (the figure
    that tells the shipped models apart), there once the picked model is shown."""
    loss = registry.read_scores(name).evaluation().loss
    return page.get_by_test_id("stMetric").filter(has_text="Test loss").filter(
        has_text=f"{loss:.4f}")


async def pick(page, name: str, shown=scores_shown) -> tuple[float, float]:
    """Choose `name` in the page's Model picker; seconds until `shown(page, name)` is on
    screen, and until the page's run has ended."""
    from playwright.async_api import expect

    picker = page.get_by_role("combobox", name="Model", exact=True)
    option = page.get_by_role("option", name=name, exact=True)
    await picker.click()
    await picker.press_sequentially(name)  # typing opens the list and filters it
    await option.wait_for(timeout=TIMEOUT_MS)
    started = time.perf_counter()
    await option.click()
    await expect(shown(page, name)).to_be_visible(timeout=TIMEOUT_MS)
    shown_s = time.perf_counter() - started
    await idle(page)  # the charts and digits below it sent too
    return shown_s, time.perf_counter() - started


async def visit(app: App, names: list[str]) -> dict:
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=str(CHROMIUM),
                                                   args=CHROMIUM_ARGS)
        context = await browser.new_context(viewport={"width": 1280, "height": 900})
        page = await context.new_page()
        started = time.perf_counter()
        await page.goto(f"{app.url}/Evaluate")
        await page.get_by_role("combobox", name="Model", exact=True).wait_for(timeout=TIMEOUT_MS)
        await idle(page)
        opened = {"seconds": time.perf_counter() - started} | vm_status(app.server.pid)
        picks = []
        # the page opens on the default, shown already: each pick is a change, the
        # default's too (last)
        default = registry.default_model_name()
        order = [name for name in names if name != default] + [default]
        for round_ in ("first", "warm"):
            for name in order:
                seconds, ended = await pick(page, name)
                picks.append({"model": name, "round": round_, "seconds": seconds,
                              "run_ended_s": ended} | vm_status(app.server.pid))
        errors = await page.get_by_test_id("stException").count()
        await browser.close()
    return {"opened": opened, "picks": picks, "exceptions": errors}


def run(args: argparse.Namespace) -> dict:
    names = [info.name for info in registry.list_models(registry.DEFAULT_SHIPPED_DIR, task=DIGIT)]
    if args.quick:
        names = names[:3]
    data_dir = common.mnist_dir(args.data_dir, quick=True)  # the subset will do
    with tempfile.TemporaryDirectory(prefix="bench-evaluate-") as folder, \
            App(data_dir or "", Path(folder)) as app:
        figures = asyncio.run(visit(app, names))
    return {"machine": common.machine_info(), "models": names} | figures


def summary(result: dict) -> dict:
    picks = result["picks"]
    first = [p["seconds"] for p in picks if p["round"] == "first"]
    warm = [p["seconds"] for p in picks if p["round"] == "warm"]
    return {
        "rss_mb_last": picks[-1]["rss_mb"],
        "rss_mb_max": max(p["rss_mb"] for p in picks),
        "peak_rss_mb": max(p["peak_rss_mb"] for p in picks),
        "first_s_max": max(first),
        "warm_s_max": max(warm),
        "first": common.stats(first),
        "warm": common.stats(warm),
    }


def report(result: dict) -> None:
    common.print_machine(result["machine"])
    opened = result["opened"]
    print(f"Evaluate opened in {opened['seconds']:.1f} s; server resident "
          f"{opened['rss_mb']:.0f} MB")
    common.print_table(
        ["model", "round", "shown in s", "run ended s", "resident MB", "peak MB"],
        [[p["model"], p["round"], f"{p['seconds']:.2f}", f"{p['run_ended_s']:.2f}",
          f"{p['rss_mb']:.0f}",
          f"{p['peak_rss_mb']:.0f}"] for p in result["picks"]],
    )
    s = result["summary"]
    print(f"exceptions shown: {result['exceptions']}")
    common.print_table(["target", "measured", "met"], [
        [f"resident <= {TARGET_RSS_MB} MB after every pick", f"{s['rss_mb_max']:.0f} MB",
         "yes" if s["rss_mb_max"] <= TARGET_RSS_MB else "NO"],
        [f"first pick shown <= {TARGET_FIRST_S:.0f} s", f"{s['first_s_max']:.2f} s (max)",
         "yes" if s["first_s_max"] <= TARGET_FIRST_S else "NO"],
        [f"warm pick shown <= {TARGET_WARM_S:.0f} s", f"{s['warm_s_max']:.2f} s (max)",
         "yes" if s["warm_s_max"] <= TARGET_WARM_S else "NO"],
    ])


def failed(result: dict) -> bool:
    return result["exceptions"] > 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)

    def measure(args):
        result = run(args)
        result |= {"summary": summary(result)}
        report(result)
        return result

    return common.run_main(NAME, measure, args, failed)


if __name__ == "__main__":
    sys.exit(main())
