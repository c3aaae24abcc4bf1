"""Remake docs/draw.png: the Draw page with a 7 drawn and its ten probability bars.

    python docs/screenshot.py            # writes docs/draw.png
    python docs/screenshot.py out.png    # or somewhere else

It serves the app with `streamlit run` on a free port and draws with the mouse in
Debian's Chromium, as the browser tests do (it reuses `tests/e2e`'s server start and
drawing helpers). The app reads the shipped models and the default model; what it would
write goes to a temporary folder, so `var/` is not touched and no worker starts.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from playwright.sync_api import sync_playwright  # noqa: E402

from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS, served_app  # noqa: E402
from tests.e2e.helpers import (  # noqa: E402
    SEVEN,
    app_idle,
    draw_with_mouse,
    expect_prediction,
    open_page,
    pad,
)

VIEWPORT = {"width": 1200, "height": 800}


def main(out: Path) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        settings = {
            "MNIST_STATE_DIR": tmp,
            "MNIST_MODELS_DIR": str(Path(tmp) / "models"),
            "MNIST_AUTOSTART_WORKER": "0",
        }
        with (served_app(settings, Path(tmp) / "streamlit.log") as url,
              sync_playwright() as playwright):
            browser = playwright.chromium.launch(
                executable_path=str(CHROMIUM), args=CHROMIUM_ARGS
            )
            page = browser.new_page(viewport=VIEWPORT)
            page.set_default_timeout(30_000)
            open_page(page, url, pad(page))
            draw_with_mouse(page, SEVEN)
            expect_prediction(page, 7)
            app_idle(page)
            page.mouse.move(5, VIEWPORT["height"] - 5)  # no hover toolbar in the shot
            page.wait_for_timeout(1000)  # the bars' transition
            page.screenshot(path=str(out), animations="disabled")
            browser.close()
    print(f"wrote {out}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "docs" / "draw.png")
