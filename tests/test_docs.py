"""The README and docs/: CI's test command stays in the README, and every relative link
in them points at a file that is there."""

from __future__ import annotations

import re

import pytest

from .conftest import ROOT

DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"\]\(([^)\s]+)\)")


def test_readme_holds_the_test_command_that_ci_runs() -> None:
    lines = (ROOT / ".ci" / "run").read_text().strip().splitlines()
    (ci,) = [line for line in lines if line.startswith("python3 -m venv .venv &&")]
    assert ci.endswith("python -m pytest"), ci
    assert ci in (ROOT / "README.md").read_text()


@pytest.mark.parametrize("doc", DOCS, ids=lambda path: path.name)
def test_relative_links_point_at_files(doc) -> None:
    targets = [
        target.partition("#")[0] for target in LINK.findall(doc.read_text())
        if not re.match(r"[a-z]+:", target)
    ]
    missing = [target for target in targets if target and not (doc.parent / target).exists()]
    assert not missing, f"{doc.name} links to missing files: {missing}"
