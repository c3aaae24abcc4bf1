"""The layers import only what they need: checked in fresh processes, one per rule."""

from __future__ import annotations

import ast
import subprocess
import sys

import pytest

from tests.conftest import ROOT

UI = ["streamlit", "plotly"]
NETWORKS = ["tensorflow", "keras"]
CORE_MODULES = sorted(
    "mnist_core." + ".".join(path.relative_to(ROOT / "mnist_core").with_suffix("").parts)
    for path in (ROOT / "mnist_core").rglob("*.py")
    if path.name != "__init__.py"
)


def _web_modules() -> list[str]:
    """What a web replica imports as it serves: the app's helper modules, and every
    `mnist_core` module its scripts (`app.py`, `navigation.py`, the pages) and helpers
    import at their top level."""
    scripts = [ROOT / "app.py", ROOT / "navigation.py", *sorted((ROOT / "app_ui").rglob("*.py"))]
    helpers = {f"app_ui.{path.stem}" for path in (ROOT / "app_ui").glob("*.py")
               if path.name != "__init__.py"}
    found = set()
    for path in scripts:
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                found |= {node.module, *(f"{node.module}.{a.name}" for a in node.names)}
            elif isinstance(node, ast.Import):
                found |= {alias.name for alias in node.names}
    return sorted(helpers | (found & set(CORE_MODULES)))


RULES = {
    # A training worker on another host needs neither Streamlit nor Plotly.
    "the core imports no UI": (CORE_MODULES, UI),
    # A worker only hands jobs on: TensorFlow loads in a job's own process, when it trains.
    "the queue and its worker import no network library": (
        ["mnist_core.__main__", "mnist_core.jobs", "mnist_core.jobs.records",
         "mnist_core.jobs.store", "mnist_core.jobs.queue", "mnist_core.jobs.worker",
         "mnist_core.jobs.run"], NETWORKS + UI),
    "the queue's client imports no worker": (
        ["mnist_core.jobs", "mnist_core.jobs.queue"],
        ["mnist_core.jobs.worker", "mnist_core.jobs.run"]),
    # The web server's pages never train (each job trains in a process of its own) and
    # read with ONNX Runtime, never TensorFlow.
    "the pages' helpers import no training loop and no network library": (
        ["app_ui.ui", "app_ui.charts", "app_ui.messages", "mnist_core.models",
         "mnist_core.inference", "mnist_core.evaluate", "mnist_core.registry",
         "mnist_core.ensemble", "mnist_core.runtime", "mnist_core.compare",
         "mnist_core.run_data"],
        ["mnist_core.train", "mnist_core.augment", "mnist_core.objective", *NETWORKS]),
    # A web replica may have only the web set (requirements-web.txt): nothing it imports
    # as it serves may need what only the full install (training, exporting) has.
    "the web server imports nothing only the full install has": (
        _web_modules(), [*NETWORKS, "tf2onnx", "onnx"]),
    # A run's settings and a model's card and verdict are checked without Keras or OpenCV.
    "settings, cards and verdicts import no network library or OpenCV": (
        ["mnist_core.config", "mnist_core.architectures", "mnist_core.card",
         "mnist_core.verdict", "mnist_core.calibration"], NETWORKS + ["cv2"]),
}


@pytest.mark.parametrize("rule", sorted(RULES))
def test_layer_imports_only_what_it_needs(rule):
    modules, banned = RULES[rule]
    code = (f"import sys\nfor m in {modules!r}: __import__(m)\n"
            f"loaded = sorted(m for m in {banned!r} if m in sys.modules)\n"
            "assert not loaded, loaded")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                          text=True, timeout=180)
    assert done.returncode == 0, done.stderr[-2000:]


def _imports_at_load(path) -> set[str]:
    """The mnist_core modules a file imports at its top level (not inside functions)."""
    found = set()
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [f"{node.module}.{alias.name}" for alias in node.names]
            found |= {n for n in [node.module, *names] if n in CORE_MODULES}
        elif isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name in CORE_MODULES}
    return found


def test_the_core_has_no_import_cycles():
    graph = {}
    for module in CORE_MODULES:
        path = ROOT / (module.replace(".", "/") + ".py")
        graph[module] = _imports_at_load(path) - {module}
    state: dict[str, str] = {}

    def visit(module, trail):
        state[module] = "open"
        for target in graph.get(module, ()):
            if state.get(target) == "open":
                pytest.fail(" -> ".join([*trail, module, target]))
            if target not in state:
                visit(target, [*trail, module])
        state[module] = "done"

    for module in graph:
        if module not in state:
            visit(module, [])
