"""`app_ui.server`: what the web server does as it starts."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import ROOT


def test_malloc_arenas_are_limited_on_glibc():
    # in a fresh process: the setting is process-wide
    code = "from app_ui import server; print(server.limit_malloc_arenas())"
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "True"  # this project's servers run on glibc (Debian)


def test_warm_start_opens_the_default_model_without_tensorflow(monkeypatch, tmp_path):
    code = (
        "import sys\nfrom app_ui import server\n"
        "def warm():\n    from app_ui import ui\n    ui.warm_start()\n"  # as app.py's
        "server.warm_in_background(warm).join(120)\n"
        "from app_ui import ui\n"
        "assert 'onnxruntime' in sys.modules and 'mnist_core.reading.segment' in sys.modules\n"
        "assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules\n"
        "print('warm')"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                          text=True, timeout=180)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "warm" and "warm start failed" not in done.stderr
