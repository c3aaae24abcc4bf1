"""The layers import only what they need: checked in fresh processes, one per rule."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

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
        ["mnist_core.__main__", "mnist_core.shared.state", "mnist_core.shared.owners",
         "mnist_core.jobs", "mnist_core.jobs.records",
         "mnist_core.jobs.store", "mnist_core.jobs.queue", "mnist_core.jobs.worker",
         "mnist_core.jobs.run"], NETWORKS + UI),
    "the queue's client imports no worker": (
        ["mnist_core.jobs", "mnist_core.jobs.queue"],
        ["mnist_core.jobs.worker", "mnist_core.jobs.run"]),
    # The web server's pages never train (each job trains in a process of its own) and
    # read with ONNX Runtime, never TensorFlow.
    "the pages' helpers import no training loop and no network library": (
        ["app_ui.ui", "app_ui.charts", "app_ui.messages", "mnist_core.training.models",
         "mnist_core.reading.inference", "mnist_core.reading.evaluate", "mnist_core.store.registry",
         "mnist_core.training.ensemble", "mnist_core.model.runtime", "mnist_core.store.compare",
         "mnist_core.training.run_data"],
        ["mnist_core.training.train", "mnist_core.training.augment",
         "mnist_core.training.objective", *NETWORKS]),
    # A web replica may have only the web set (requirements-web.txt): nothing it imports
    # as it serves may need what only the full install (training, exporting) has.
    "the web server imports nothing only the full install has": (
        _web_modules(), [*NETWORKS, "tf2onnx", "onnx"]),
    # A run's settings and a model's card and verdict are checked without Keras or OpenCV.
    "settings, cards and verdicts import no network library or OpenCV": (
        ["mnist_core.training.config", "mnist_core.training.architectures", "mnist_core.model.card",
         "mnist_core.model.verdict", "mnist_core.training.calibration"], NETWORKS + ["cv2"]),
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


def _module_name(path: Path, root: Path) -> str:
    """`mnist_core/jobs/queue.py` -> 'mnist_core.jobs.queue'; a package's `__init__.py`
    is the package."""
    parts = path.relative_to(root).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(tree: ast.AST) -> list[str]:
    """Every module an import statement anywhere in `tree` names (at the top, inside
    functions or classes: an import that runs later is still an import), except those
    under `if TYPE_CHECKING:`, which never run. `from a import b` names `a` and `a.b`."""
    found = []
    pending = [tree]
    while pending:
        node = pending.pop()
        if isinstance(node, ast.If) and (
            getattr(node.test, "id", None) == "TYPE_CHECKING"
            or getattr(node.test, "attr", None) == "TYPE_CHECKING"
        ):
            pending.extend(node.orelse)
            continue
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found += [node.module, *(f"{node.module}.{alias.name}" for alias in node.names)]
        elif isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        pending.extend(ast.iter_child_nodes(node))
    return found


def import_graph(root: Path, packages=("mnist_core", "app_ui")) -> dict[str, set[str]]:
    """Which of the project's modules each of them imports, wherever the import sits."""
    paths = {_module_name(path, root): path
             for package in packages for path in sorted((root / package).rglob("*.py"))}
    return {
        module: {name for name in _imports(ast.parse(path.read_text(encoding="utf-8")))
                 if name in paths and name != module}
        for module, path in paths.items()
    }


def import_loop(graph: dict[str, set[str]]) -> list[str] | None:
    """A loop of imports (`[a, b, ..., a]`), or None when there is none."""
    state: dict[str, str] = {}

    def visit(module: str, trail: list[str]) -> list[str] | None:
        state[module] = "open"
        for target in sorted(graph.get(module, ())):
            if state.get(target) == "open":  # on the trail being walked: a loop
                return [*trail[trail.index(target):], target]
            if target not in state and (loop := visit(target, [*trail, target])):
                return loop
        state[module] = "done"
        return None

    for module in sorted(graph):
        if module not in state and (loop := visit(module, [module])):
            return loop
    return None


def test_no_module_imports_itself_back_even_from_inside_a_function():
    loop = import_loop(import_graph(ROOT))
    assert loop is None, "import loop: " + " -> ".join(loop)


def test_the_loop_finder_sees_imports_inside_functions_and_skips_type_checking(tmp_path):
    package = tmp_path / "mnist_core"
    (package / "jobs").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "jobs" / "__init__.py").write_text("")
    (package / "jobs" / "a.py").write_text("from mnist_core.jobs import b\n")
    (package / "jobs" / "b.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import mnist_core.jobs.a\n"
        "def later():\n    from mnist_core.jobs.c import go\n")
    (package / "jobs" / "c.py").write_text("def go():\n    import mnist_core.jobs.b\n")
    graph = import_graph(tmp_path, ("mnist_core",))
    assert graph["mnist_core.jobs.b"] == {"mnist_core.jobs.c"}  # TYPE_CHECKING: not run
    assert import_loop(graph) == ["mnist_core.jobs.b", "mnist_core.jobs.c",
                                  "mnist_core.jobs.b"]
    (package / "jobs" / "c.py").write_text("def go():\n    pass\n")
    assert import_loop(import_graph(tmp_path, ("mnist_core",))) is None


# The core's packages by role, each importing only those before it (docs/code.md).
PACKAGE_ORDER = ("model", "reading", "shared", "store", "sources", "training", "jobs")


def upward_imports(graph: dict[str, set[str]], order=PACKAGE_ORDER) -> list[str]:
    """Imports from a core package to one after it in `order`, as 'module -> module'."""
    def package(module: str) -> str | None:
        parts = module.split(".")
        return parts[1] if len(parts) > 2 and parts[0] == "mnist_core" \
            and parts[1] in order else None

    return sorted(
        f"{module} -> {target}"
        for module, targets in graph.items() if package(module)
        for target in targets
        if package(target) and order.index(package(target)) > order.index(package(module))
    )


def test_each_core_package_imports_only_the_packages_before_it():
    packages = {path.parent.name for path in (ROOT / "mnist_core").glob("*/__init__.py")}
    assert packages == set(PACKAGE_ORDER)  # a new package takes its place in the order
    assert upward_imports(import_graph(ROOT)) == []


def test_the_package_check_sees_an_import_from_a_later_package(tmp_path):
    for package, code in (("model", "def later():\n    from mnist_core.store import a\n"),
                          ("store", "from mnist_core.model import b\n")):
        (tmp_path / "mnist_core" / package).mkdir(parents=True)
        (tmp_path / "mnist_core" / package / "__init__.py").write_text("")
        (tmp_path / "mnist_core" / package / ("b.py" if package == "model" else "a.py")
         ).write_text(code)
    (tmp_path / "mnist_core" / "__init__.py").write_text("")
    graph = import_graph(tmp_path, ("mnist_core",))
    assert upward_imports(graph) == ["mnist_core.model.b -> mnist_core.store.a"]


LONGEST_FILE = 400  # lines: a module past it holds more than one role


def test_no_file_of_the_core_or_the_app_is_longer_than_the_limit():
    long = {str(path.relative_to(ROOT)): lines
            for package in ("mnist_core", "app_ui") for path in (ROOT / package).rglob("*.py")
            if (lines := len(path.read_text(encoding="utf-8").splitlines())) > LONGEST_FILE}
    assert long == {}
